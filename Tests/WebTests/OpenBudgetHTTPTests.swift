import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OpenBudget
import PostgresNIO
import Storage
import TestSupport
import Testing
import Workflow

@testable import Web

/// A city with the open budget on: two districts, three objects, an akimat official and a
/// resident with API tokens.
struct BudgetCity {
    static let base = "/api/astana"
    let fixture: WebFixture
    let client: any TestClientProtocol
    let admin: String
    let resident: String
    let residentID: UUID

    static let districts = #"""
        {"type":"FeatureCollection","features":[
        {"type":"Feature","properties":{"name":"Есіл"},"geometry":{"type":"Polygon","coordinates":[[[71.40,51.05],[71.50,51.05],[71.50,51.12],[71.40,51.12],[71.40,51.05]]]}},
        {"type":"Feature","properties":{"name":"Алматы"},"geometry":{"type":"MultiPolygon","coordinates":[[[[71.40,51.12],[71.50,51.12],[71.50,51.20],[71.40,51.20],[71.40,51.12]]]]}}]}
        """#

    static let file =
        [
            BudgetCSV.header.joined(separator: ","),
            "AST-SCH-001,090000400002,№1 мектеп-лицей,school,№1 мектеп-лицей,Есіл,\"Есіл ауданы, 3\",51.08,71.45,2026,repair,1250000",
            "AST-SCH-001,090000400002,№1 мектеп-лицей,school,№1 мектеп-лицей,Есіл,\"Есіл ауданы, 3\",51.08,71.45,2026,meals,900000.50",
            "AST-CLI-001,070941024691,№4 емхана,clinic,№4 емхана,Алматы,,51.15,71.47,2026,maintenance,300000",
            "AST-SPO-001,940140000385,Спорт басқармасы,sports,Спорт алаңы,Алматы,,51.16,71.42,2025,construction,75000000",
        ].joined(separator: "\r\n") + "\r\n"

    static func prepare(_ fixture: WebFixture, _ client: any TestClientProtocol) async throws -> BudgetCity {
        let owner = PostgresTenantStore(database: fixture.databases.owner)
        for tenant in [fixture.astana, fixture.shymkent] {
            for service in [ServiceKey.openBudget, .citizenReport] {
                try await owner.enable(service, tenantID: tenant.id)
            }
        }
        let admin = try await fixture.account("budget-admin", name: "Budget official", role: .akimatAdmin)
        let resident = try await fixture.account("resident-1", name: "A resident", role: .resident)
        let city = BudgetCity(
            fixture: fixture,
            client: client,
            admin: admin.token,
            resident: resident.token,
            residentID: resident.user.id
        )
        let districts = try await client.api(.put, base + "/budget/districts", token: admin.token, json: districts)
        #expect(districts.status == .ok, "\(districts.text)")
        let imported = try await city.importFile(file)
        #expect(imported.status == .ok, "\(imported.text)")
        return city
    }

    func importFile(_ text: String, token: String? = nil) async throws -> TestResponse {
        var headers = HTTPFields()
        headers[.authorization] = "Bearer \(token ?? admin)"
        headers[.contentType] = "text/csv"
        return try await client.execute(
            uri: Self.base + "/budget/import",
            method: .post,
            headers: headers,
            body: ByteBuffer(string: text)
        )
    }

    /// A multipart request with a bearer token (nil: anonymous).
    func multipart(
        _ uri: String,
        token: String?,
        fields: [(String, String)],
        files: [(field: String, name: String, type: String, bytes: [UInt8])]
    ) async throws -> TestResponse {
        let boundary = "adal-test-\(UUID().uuidString)"
        var body: [UInt8] = []
        func add(_ text: String) { body += Array(text.utf8) }
        for (name, value) in fields {
            add("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
        }
        for file in files {
            add(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.name)\"\r\n"
                    + "Content-Type: \(file.type)\r\n\r\n"
            )
            body += file.bytes
            add("\r\n")
        }
        add("--\(boundary)--\r\n")
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
        return try await client.execute(uri: uri, method: .post, headers: headers, body: ByteBuffer(bytes: body))
    }

    func object(_ code: String, city: String = "astana") async throws -> [String: Any] {
        try await client.api(.get, "/api/\(city)/budget/objects/\(code)").json()
    }

    func count(_ table: String) async throws -> Int {
        try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
            var count = 0
            for try await value in try await connection.query(
                PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"),
                logger: fixture.databases.owner.logger
            ).decode(Int32.self) { count = Int(value) }
            return count
        }
    }
}

@Suite("Open budget over HTTP")
struct OpenBudgetHTTPTests {
    @Test("a city's budget file is imported whole or not at all, and another city sees none of it")
    func importFile() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await BudgetCity.prepare(fixture, client)
            #expect(try await city.count("budget_objects") == 3)
            #expect(try await city.count("budget_lines") == 4)

            // A file with one bad row among good ones: the row is named, nothing changes.
            let bad =
                BudgetCity.file.replacingOccurrences(of: "300000", with: "3OO000")
                + "AST-NEW-001,090000400002,№1 мектеп-лицей,school,Жаңа,Нұра,,51.1,71.4,2026,repair,1\r\n"
            let refused = try await city.importFile(bad)
            #expect(refused.status == .unprocessableContent)
            let problems = try refused.json()["problems"] as? [[String: Any]] ?? []
            #expect(problems.contains { $0["line"] as? Int == 4 && $0["field"] as? String == "planned_tenge" })
            #expect(problems.contains { $0["line"] as? Int == 6 && $0["field"] as? String == "district" })
            #expect(try await city.count("budget_objects") == 3)
            let planned = try await city.object("AST-CLI-001")["lines"] as? [[String: Any]]
            #expect(planned?.first?["planned"] as? Int == 30_000_000)

            // Only the akimat imports.
            #expect(try await city.importFile(BudgetCity.file, token: city.resident).status == .forbidden)

            // Shymkent: no objects, and Astana's code finds nothing.
            let other = try await client.api(.get, "/api/shymkent/budget/objects").json()["objects"] as? [Any]
            #expect(other?.isEmpty == true)
            #expect(try await client.api(.get, "/api/shymkent/budget/objects/AST-SCH-001").status == .notFound)
            let filtered =
                try await client.api(.get, "/api/astana/budget/objects?kind=clinic").json()["objects"]
                as? [[String: Any]]
            #expect(filtered?.map { $0["code"] as? String } == ["AST-CLI-001"])
            #expect(try await client.api(.get, "/api/astana/budget/objects?kind=zoo").status == .unprocessableContent)
        }
    }

    @Test("spending is a recorded step with its document; a withdrawn entry stops counting; bad entries write nothing")
    func spending() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await BudgetCity.prepare(fixture, client)
            func spend(
                _ code: String,
                _ amount: String,
                document: [UInt8],
                type: String = "application/pdf"
            ) async throws
                -> TestResponse
            {
                try await city.multipart(
                    "/api/astana/budget/spending",
                    token: city.admin,
                    fields: [
                        ("object_code", code), ("year", "2026"), ("category", "repair"), ("amount", amount),
                        ("description", "Act of completed works No. 17"),
                    ],
                    files: [("document", "act-17.pdf", type, document)]
                )
            }
            let recorded = try await spend("AST-SCH-001", "1 000 000,25", document: CraftedMedia.pdf)
            #expect(recorded.status == .created, "\(recorded.text)")
            let body = try recorded.json()
            let instance = body["instance"] as? String ?? ""
            let detail = try await city.object("AST-SCH-001")
            let lines = detail["lines"] as? [[String: Any]] ?? []
            #expect(lines.first { $0["category"] as? String == "repair" }?["spent"] as? Int == 100_000_025)
            let entries = detail["spending"] as? [[String: Any]] ?? []
            #expect(entries.count == 1 && entries[0]["source"] as? String == "manual")

            // The document is served as stored, so nothing in it can run.
            let document = try await client.execute(
                uri: "/astana/media/\(body["document"] as? String ?? "")",
                method: .get
            )
            #expect(document.status == .ok)
            #expect(Array(buffer: document.body) == CraftedMedia.pdf)
            #expect(document.headers[.contentType] == "application/pdf")
            #expect(document.headers[.contentSecurityPolicy] == "default-src 'none'; sandbox")
            #expect(document.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")

            // The step is in the instance's log with the document's hash in its input.
            let step = try await client.api(.get, "/api/astana/instances/\(instance)", token: city.admin).text
            #expect(step.contains(body["document"] as? String ?? "-"))

            // Refused: an unknown object, a picture posing as a PDF, an amount in words. Nothing written.
            let before = (try await city.count("media_files"), try await city.count("budget_spending"))
            let unknown = try await spend("AST-XXX-404", "10", document: Array("%PDF-1.4 other".utf8))
            #expect(unknown.status == .unprocessableContent)
            #expect(unknown.text.contains("no object AST-XXX-404"))
            let gif = try await spend("AST-SCH-001", "10", document: CraftedMedia.gif)
            #expect(gif.status == .unsupportedMediaType)
            let lying = try await spend("AST-SCH-001", "10", document: CraftedMedia.png(), type: "application/pdf")
            #expect(lying.status == .unsupportedMediaType)
            #expect(try await spend("AST-SCH-001", "ten", document: CraftedMedia.pdf).status == .unprocessableContent)
            #expect((try await city.count("media_files"), try await city.count("budget_spending")) == before)

            // A correction: the entry is withdrawn (a step with its reason) and stops counting.
            let withdrawn = try await client.api(
                .post,
                "/api/astana/instances/\(instance)/events/withdraw",
                token: city.admin,
                json: #"{"input": {"reason": "entered twice"}}"#
            )
            #expect(withdrawn.status == .ok, "\(withdrawn.text)")
            let after = try await city.object("AST-SCH-001")
            #expect(
                (after["lines"] as? [[String: Any]])?.first { $0["category"] as? String == "repair" }?["spent"] as? Int
                    == 0
            )
            #expect((after["spending"] as? [[String: Any]])?.first?["withdrawn"] as? Bool == true)
        }
    }

    @Test("the open data validates with the Frictionless validator, and a damaged copy does not")
    func dataPackage() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            _ = try await BudgetCity.prepare(fixture, client)
            let folder = NSTemporaryDirectory() + "adal-package-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            for name in ["datapackage.json", BudgetExport.csvName, BudgetExport.jsonName] {
                let response = try await client.execute(uri: "/astana/open-data/\(name)", method: .get)
                #expect(response.status == .ok)
                try Data(buffer: response.body).write(to: URL(fileURLWithPath: folder + "/" + name))
            }
            let csv = try String(contentsOfFile: folder + "/" + BudgetExport.csvName, encoding: .utf8)
            #expect(csv.contains("AST-SPO-001") && csv.contains("750000.00") == false && csv.contains("75000000.00"))
            let valid = try ProjectTool.run(
                ProjectTool.venv("frictionless"),
                ["validate", "datapackage.json"],
                in: folder
            )
            #expect(valid.status == 0, "\(valid.output)")
            // The same check on a copy with a year that is not a number must fail.
            try Data(csv.replacingOccurrences(of: ",2026,", with: ",next year,").utf8).write(
                to: URL(fileURLWithPath: folder + "/" + BudgetExport.csvName)
            )
            let broken = try ProjectTool.run(
                ProjectTool.venv("frictionless"),
                ["validate", "datapackage.json"],
                in: folder
            )
            #expect(broken.status != 0, "\(broken.output)")
        }
    }

    @Test("a meal delivery's message is booked on the school's object once, however often it is delivered")
    func deliveryBooking() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await BudgetCity.prepare(fixture, client)
            // Any recorded step will do as the source; a report is at hand.
            let step = try await city.report(token: city.resident)
            let instance = (try step.json()["id"] as? String ?? "").lowercased()
            let payload = BudgetSpending.payload(
                bin: "090000400002",
                year: 2026,
                category: "meals",
                amount: 123_456,
                instanceID: try #require(UUID(uuidString: instance)),
                sequence: 1,
                description: "Lot 1: 2026-10"
            )
            let handler = try #require(
                OpenBudgetService.handlers(database: fixture.dependencies.database)[BudgetSpending.topic]
            )
            let message = OutboxMessage(
                topic: BudgetSpending.topic,
                payload: .object(payload.mapValues(InputValue.string))
            )
            try await handler(message, fixture.astana.id)
            try await handler(message, fixture.astana.id)
            let detail = try await city.object("AST-SCH-001")
            let entries = detail["spending"] as? [[String: Any]] ?? []
            #expect(entries.count == 1 && entries.first?["source"] as? String == "meal-delivery")
            #expect(
                (detail["lines"] as? [[String: Any]])?.first { $0["category"] as? String == "meals" }?["spent"] as? Int
                    == 123_456
            )
            // An organisation with no school on the map (this one runs a clinic) books nothing, and nothing fails.
            var elsewhere = payload
            elsewhere["bin"] = "070941024691"
            try await handler(
                OutboxMessage(topic: BudgetSpending.topic, payload: .object(elsewhere.mapValues(InputValue.string))),
                fixture.astana.id
            )
            #expect(try await city.count("budget_spending") == 1)
        }
    }
}
