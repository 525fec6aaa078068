import Core
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MealTenders
import Storage
import TestSupport
import Testing
import Workflow

@testable import Web

/// A city ready for a competition: the service on, an officer, an akimat administrator, a
/// commission of five (two officials, two parents, one NGO), three registered suppliers, and an
/// auditor — each with an API token.
struct CompetitionCity {
    static let base = "/api/astana"
    static let ceiling: Int64 = 95_000
    /// Prices chosen so that they appear nowhere else in any answer.
    static let prices: [Int64] = [87_613, 86_947, 93_781]
    static let pdf = Array("%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".utf8)

    let fixture: WebFixture
    let client: any TestClientProtocol
    let officer: String
    let admin: String
    let auditor: String
    let members: [(token: String, iin: String, id: UUID)]
    let outsider: (token: String, iin: String)
    let suppliers: [(token: String, bin: String)]

    static func identifier(_ prefix: String, _ index: Int) -> String {
        var n = index
        while true {
            let candidate = prefix + String(format: "%0\(11 - prefix.count)d", n)
            if let valid = NationalIdentifier.completing(candidate) { return valid }
            n += 100
        }
    }

    static func prepare(_ fixture: WebFixture, _ client: any TestClientProtocol) async throws -> CompetitionCity {
        let owner = PostgresTenantStore(database: fixture.databases.owner)
        for service in [ServiceKey.schoolMealCompetition, .mealDirectAward] {
            try await owner.enable(service, tenantID: fixture.astana.id)
        }
        let officer = try await fixture.account("procurement", name: "Procurement office", role: .procurementOfficer)
        let admin = try await fixture.account("akimat", name: "Akimat", role: .akimatAdmin)
        let auditor = try await fixture.account("auditor", name: "Auditor", role: .auditor)
        var members: [(String, String, UUID)] = []
        for index in 0..<6 {
            let iin = identifier("8001014", index + 1)
            let account = try await fixture.account(
                "member\(index)",
                name: "Commission member \(index + 1)",
                role: .commissionMember,
                iin: iin
            )
            members.append((account.token, iin, account.user.id))
        }
        var suppliers: [(String, String)] = []
        for index in 0..<3 {
            let bin = identifier("0904400", index + 1)
            let account = try await fixture.account("supplier\(index)", name: "Supplier \(index + 1)", role: .supplier)
            let registered = try await client.api(
                .post,
                base + "/suppliers",
                token: account.token,
                json: """
                    {"bin": "\(bin)", "name": "Дәмді ас \(index + 1) ЖШС",
                     "documents": [{"kind": "sanitary_permit", "name": "permit.pdf", "mediaType": "application/pdf",
                                    "content": "\(Data(pdf).base64EncodedString())"}]}
                    """
            )
            #expect(registered.status == .created, "\(registered.text)")
            suppliers.append((account.token, bin))
        }
        return CompetitionCity(
            fixture: fixture,
            client: client,
            officer: officer.token,
            admin: admin.token,
            auditor: auditor.token,
            members: Array(members.prefix(5)).map { (token: $0.0, iin: $0.1, id: $0.2) },
            outsider: (members[5].0, members[5].1),
            suppliers: suppliers.map { (token: $0.0, bin: $0.1) }
        )
    }

    /// A step through the generic instance API.
    func step(_ id: UUID, _ event: String, token: String, _ input: String = "{}") async throws -> TestResponse {
        try await client.api(
            .post,
            Self.base + "/instances/\(id)/events/\(event)",
            token: token,
            json: #"{"input": \#(input)}"#
        )
    }

    func state(_ id: UUID) async throws -> String {
        try await client.api(.get, Self.base + "/meal-competitions/\(id)").json()["state"] as? String ?? ""
    }

    /// A drafted lot of two schools with its commission of five; not yet announced.
    func draft(title: String = "Ыстық тамақ: Есіл ауданы, 1-лот") async throws -> UUID {
        let started = try await client.api(
            .post,
            Self.base + "/services/school-meal-competition/instances",
            token: officer,
            json: """
                {"input": {"title": "\(title)", "buyer_bin": "940140000385",
                 "buyer_name": "Астана қаласының білім басқармасы", "ceiling_price": \(Self.ceiling),
                 "school_days": 170, "meals_per_day": 1, "period_start": "2027-01-09", "period_end": "2027-05-25"}}
                """
        )
        #expect(started.status == .created, "\(started.text)")
        let id = try #require(UUID(uuidString: try started.json()["instance"] as? String ?? ""))
        for (bin, name, pupils) in [("070941024691", "№ 12 мектеп-гимназия", 640), ("940140000385", "№ 7 мектеп", 410)]
        {
            let added = try await step(
                id,
                "add_school",
                token: officer,
                #"{"school_bin": "\#(bin)", "school_name": "\#(name)", "pupils_1_4": \#(pupils), "pupils_5_9": 0, "pupils_10_11": 0}"#
            )
            #expect(added.status == .ok, "\(added.text)")
        }
        for (member, seat) in zip(members, ["official", "official", "parent", "parent", "ngo"]) {
            let appointed = try await step(
                id,
                "appoint_member",
                token: officer,
                #"{"member_iin": "\#(member.iin)", "seat": "\#(seat)"}"#
            )
            #expect(appointed.status == .ok, "\(appointed.text)")
        }
        return id
    }

    /// A bid over the API with the given price (tiyn) and claims.
    func bid(
        _ id: UUID,
        supplier: Int,
        price: Int64,
        ownProduction: Bool = true,
        documents: String? = nil,
        key: String? = nil
    ) async throws -> TestResponse {
        let files =
            documents
            ?? #"[{"name": "menu.pdf", "mediaType": "application/pdf", "content": "\#(Data(Self.pdf).base64EncodedString())"}]"#
        return try await client.api(
            .post,
            Self.base + "/meal-competitions/\(id)/bids",
            token: suppliers[supplier].token,
            json: """
                {"pricePerMeal": \(price), "documents": \(files),
                 "claims": {"experienceYears": \(3 + supplier), "qualifiedCooks": 6, "nutritionists": 1, "references": 4,
                            "ownProduction": \(ownProduction), "energySavingEquipment": true, "domesticSharePercent": 70}}
                """,
            key: key
        )
    }

    /// Moves time past a deadline the way the clock would: the competition's own deadline and
    /// the timer that waits for it are set to now, then the job runner does what is due.
    func passDeadline(_ id: UUID, column: String, event: String) async throws {
        try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
            try await connection.query(
                """
                UPDATE meal_competitions SET \(unescaped: column) = now() - interval '1 second'
                WHERE instance_id = \(id)
                """,
                logger: fixture.databases.owner.logger
            )
            try await connection.query(
                """
                UPDATE jobs SET run_at = now() - interval '1 second'
                WHERE instance_id = \(id) AND event = \(event) AND status = 'pending'
                """,
                logger: fixture.databases.owner.logger
            )
        }
        try await runJobs()
    }

    /// Runs every job that is due, including those the jobs queue while running.
    func runJobs() async throws {
        let dependencies = fixture.dependencies
        let runner = JobRunner(
            engine: dependencies.workflows,
            handlers: CompetitionOutbox.handlers(engine: dependencies.workflows, contracts: dependencies.mealSchools),
            logger: dependencies.database.logger
        )
        while try await runner.runDueJobs() > 0 {}
    }

    /// Marks every opened bid by every member: generous for `favoured`, modest for the rest.
    func markAll(_ id: UUID, favoured: Int, outlier: Int? = nil) async throws {
        let bids = try await client.api(.get, Self.base + "/meal-competitions/\(id)").json()["bids"] as? [[String: Any]]
        for bid in bids ?? [] {
            let number = bid["number"] as? Int ?? 0
            for (index, member) in members.enumerated() {
                let mark = index == outlier ? (number == favoured ? 0 : 10) : (number == favoured ? 10 : 0)
                let marked = try await step(
                    id,
                    "score",
                    token: member.token,
                    #"{"bid": \#(number), "experience": \#(mark), "staff": \#(mark), "references": \#(mark), "own_production": \#(mark), "energy_saving": \#(mark), "domestic_produce": \#(mark)}"#
                )
                #expect(marked.status == .ok, "\(marked.text)")
            }
        }
    }

    /// Every answer an officer, the auditor, or the public can get about the competition, as text.
    func everythingReadable(_ id: UUID) async throws -> [String] {
        var texts: [String] = []
        for token in [officer, auditor, admin, members[0].token, nil] {
            texts.append(try await client.api(.get, Self.base + "/meal-competitions/\(id)", token: token).text)
            texts.append(try await client.api(.get, Self.base + "/meal-competitions", token: token).text)
            if let token {
                texts.append(try await client.api(.get, Self.base + "/instances/\(id)", token: token).text)
                texts.append(
                    try await client.api(.get, Self.base + "/instances?service=school-meal-competition", token: token)
                        .text
                )
            }
            for number in 1...4 {
                texts.append(
                    try await client.api(
                        .get,
                        Self.base + "/meal-competitions/\(id)/bids/\(number)/documents/1",
                        token: token
                    ).text
                )
            }
        }
        texts.append(try await client.api(.get, "/astana/ocds/releases").text)
        // The pages, signed in as the officer and as the auditor, in every language.
        for login in ["procurement", "auditor", "akimat"] {
            var browser = Browser(client: client)
            try await browser.signIn("astana", login: login)
            for language in ["kk", "ru", "en"] {
                for page in [
                    "/astana/meal-competitions", "/astana/meal-competitions/\(id.uuidString.lowercased())",
                    "/astana/instances/\(id.uuidString.lowercased())",
                    "/astana/instances?service=school-meal-competition",
                    "/astana/inbox", "/astana/audit",
                ] {
                    let response = try await browser.get(page + (page.contains("?") ? "&" : "?") + "lang=" + language)
                    // The city-wide search is for administrators and auditors only.
                    #expect(response.status == .ok || (page.contains("service=") && login == "procurement"), "\(page)")
                    texts.append(response.text)
                }
            }
        }
        return texts
    }

    /// The standard's schema archive: `ADAL_OCDS_STANDARD_ZIP`, or `shared/ocds` beside the checkout.
    static var standardZip: String {
        let name = "standard-1__1__5-schema.zip"
        let candidates = [
            ProcessInfo.processInfo.environment["ADAL_OCDS_STANDARD_ZIP"],
            TestCluster.repositoryRoot + "/../shared/ocds/" + name, "/work/shared/ocds/" + name,
        ]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) } ?? candidates[1]!
    }

    /// The OCDS validator's verdict on a package: the list of schema errors (empty when valid).
    static func validate(_ package: String) throws -> [String] {
        let path = NSTemporaryDirectory() + "adal-ocds-\(UUID().uuidString).json"
        try Data(package.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let output = NSTemporaryDirectory() + "adal-ocds-out-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: TestCluster.repositoryRoot + "/.tools/venv/bin/libcoveocds")
        process.arguments = [
            "--standard-zip", standardZip,
            "--output-dir", output, "--additional-checks", "none", path,
        ]
        let (pipe, errors) = (Pipe(), Pipe())
        (process.standardOutput, process.standardError) = (pipe, errors)
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        let complaint = String(decoding: errors.fileHandleForReading.readDataToEndOfFile().suffix(2000), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
            let report = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else { return ["the validator failed (exit \(process.terminationStatus)): \(complaint)"] }
        var problems = (report["validation_errors"] as? [[String: Any]] ?? []).map {
            "\($0["path"] ?? $0["field"] ?? ""): \($0["description"] ?? "")"
        }
        if let closed = report["additional_closed_codelist_values"] as? [String: Any], !closed.isEmpty {
            problems.append("values outside closed codelists: \(closed.keys.sorted())")
        }
        return problems
    }
}

@Suite("School-meal competitions")
struct MealCompetitionTests {
    @Test(
        "a competition from lot to contract over HTTP: sealed bids opened by the timer, five members' marks, the complaint window, both signatures, the contract price reaching the canteens, valid OCDS"
    )
    func endToEnd() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await CompetitionCity.prepare(fixture, client)
            let base = CompetitionCity.base
            let id = try await city.draft()

            // Not announced without the whole commission; the refusal says what is missing.
            let dismissed = try await city.step(
                id,
                "dismiss_member",
                token: city.officer,
                #"{"member_iin": "\#(city.members[4].iin)"}"#
            )
            #expect(dismissed.status == .ok)
            let early = try await city.step(id, "announce", token: city.officer)
            #expect(early.status == .unprocessableContent)
            #expect(early.text.contains("NGO representative") && early.text.contains("at least 5"), "\(early.text)")
            _ = try await city.step(
                id,
                "appoint_member",
                token: city.officer,
                #"{"member_iin": "\#(city.members[4].iin)", "seat": "ngo"}"#
            )
            #expect(try await city.step(id, "announce", token: city.officer).status == .ok)
            #expect(try await city.state(id) == "announced")

            // Bad bids are refused with their reason and write nothing.
            let above = try await city.bid(id, supplier: 0, price: CompetitionCity.ceiling + 1)
            #expect(above.status == .unprocessableContent && above.text.contains("above the ceiling"), "\(above.text)")
            let gif = Data("GIF89a-not-a-pdf".utf8).base64EncodedString()
            let wrongType = try await city.bid(
                id,
                supplier: 0,
                price: 90_000,
                documents: #"[{"name": "menu.pdf", "mediaType": "application/pdf", "content": "\#(gif)"}]"#
            )
            #expect(
                wrongType.status == .unprocessableContent && wrongType.text.contains("not a PDF"),
                "\(wrongType.text)"
            )
            let big = Data([0x25, 0x50, 0x44, 0x46, 0x2D] + [UInt8](repeating: 0x20, count: Document.maximumBytes))
                .base64EncodedString()
            let tooBig = try await city.bid(
                id,
                supplier: 0,
                price: 90_000,
                documents: #"[{"name": "scan.pdf", "content": "\#(big)"}]"#
            )
            #expect(tooBig.status == .contentTooLarge, "\(tooBig.text)")
            let decimal = try await client.api(
                .post,
                base + "/meal-competitions/\(id)/bids",
                token: city.suppliers[0].token,
                json: #"{"pricePerMeal": 876.13, "claims": {}}"#
            )
            #expect(decimal.status == .unprocessableContent)
            let stranger = try await fixture.account("stranger", name: "Unregistered", role: .supplier)
            let unregistered = try await client.api(
                .post,
                base + "/meal-competitions/\(id)/bids",
                token: stranger.token,
                json:
                    #"{"pricePerMeal": 90000, "claims": {"experienceYears": 1, "qualifiedCooks": 1, "nutritionists": 0, "references": 0, "ownProduction": false, "energySavingEquipment": false, "domesticSharePercent": 10}}"#
            )
            #expect(unregistered.status == .forbidden)
            let badBIN = try await client.api(
                .post,
                base + "/suppliers",
                token: stranger.token,
                json: #"{"bin": "123456789012", "name": "Fake LLP"}"#
            )
            #expect(badBIN.status == .unprocessableContent && badBIN.text.contains("bin"), "\(badBIN.text)")

            // Three sealed bids; a retried request is one bid.
            var commitments: [String] = []
            for (index, price) in CompetitionCity.prices.enumerated() {
                let sent = try await city.bid(
                    id,
                    supplier: index,
                    price: price,
                    ownProduction: index != 2,
                    key: "bid-\(index)"
                )
                #expect(sent.status == .created, "\(sent.text)")
                commitments.append(try sent.json()["commitment"] as? String ?? "")
            }
            let retried = try await city.bid(id, supplier: 0, price: CompetitionCity.prices[0], key: "bid-0")
            #expect(retried.status == .ok)
            #expect(try retried.json()["replayed"] as? Bool == true)
            let second = try await city.bid(id, supplier: 0, price: 80_000)
            #expect(second.status == .unprocessableContent && second.text.contains("already submitted"))

            // Until the deadline nobody reads a price or a document through any route.
            for text in try await city.everythingReadable(id) {
                for price in CompetitionCity.prices {
                    #expect(!text.contains(String(price)) && !text.contains(JSONText.tenge(price).text))
                }
                #expect(!text.contains("menu.pdf"))
            }
            let sealedBytes = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                var all = Data()
                for try await (sealed, price) in try await connection.query(
                    "SELECT sealed, price_per_meal FROM meal_bids WHERE instance_id = \(id)",
                    logger: fixture.databases.owner.logger
                ).decode((Data, Int64?).self) {
                    #expect(price == nil)
                    all.append(sealed)
                }
                return all
            }
            #expect(!String(decoding: sealedBytes, as: UTF8.self).contains("pricePerMeal"))
            // The commitment is in the step's input, whose hash the audit leaf holds.
            let steps =
                try await client.api(.get, base + "/meal-competitions/\(id)").json()["steps"] as? [[String: Any]] ?? []
            let bidSteps = steps.filter { $0["event"] as? String == "submit_bid" }
            #expect(bidSteps.count == 3)
            #expect(
                Set(bidSteps.compactMap { ($0["input"] as? [String: Any])?["commitment"] as? String })
                    == Set(commitments)
            )

            // The deadline passes: a late bid is refused, then the timer opens the bids.
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "UPDATE meal_competitions SET bid_deadline = now() - interval '1 second' WHERE instance_id = \(id)",
                    logger: fixture.databases.owner.logger
                )
            }
            let late = try await city.bid(id, supplier: 0, price: 80_000)
            #expect(late.status == .unprocessableContent && late.text.contains("deadline"), "\(late.text)")
            try await city.passDeadline(id, column: "bid_deadline", event: "open_bids")
            #expect(try await city.state(id) == "scoring")
            let opened = try await client.api(.get, base + "/meal-competitions/\(id)").json()
            let bids = opened["bids"] as? [[String: Any]] ?? []
            #expect(bids.count == 3)
            #expect(bids.allSatisfy { $0["matchesCommitment"] as? Bool == true })
            #expect(
                Set(bids.compactMap { $0["pricePerMeal"] as? Int64 ?? ($0["pricePerMeal"] as? Int).map(Int64.init) })
                    == Set(CompetitionCity.prices)
            )
            #expect(Set(bids.compactMap { $0["commitment"] as? String }) == Set(commitments))
            #expect(try await city.bid(id, supplier: 0, price: 80_000).status == .conflict)
            let document = try await client.api(.get, base + "/meal-competitions/\(id)/bids/1/documents/1")
            #expect(document.status == .ok && Array(document.body.readableBytesView) == CompetitionCity.pdf)
            #expect(document.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")

            // Scoring: a non-member is refused; proposing before every mark names who is missing.
            let outsider = try await city.step(
                id,
                "score",
                token: city.outsider.token,
                #"{"bid": 1, "experience": 5, "staff": 5, "references": 5, "own_production": 5, "energy_saving": 5, "domestic_produce": 5}"#
            )
            #expect(
                outsider.status == .unprocessableContent && outsider.text.contains("only members"),
                "\(outsider.text)"
            )
            let unmarked = try await city.step(id, "propose_award", token: city.officer)
            #expect(unmarked.status == .unprocessableContent && unmarked.text.contains("Commission member 1"))
            // Bid 3 is the dearest but favoured by the marks; member 5 marks against everyone else.
            try await city.markAll(id, favoured: 3, outlier: 4)
            // Until the award is proposed nobody reads a member's marks, a supplier included.
            func scoreInputs(_ path: String, token: String?) async throws -> [[String: Any]] {
                let steps = try await client.api(.get, path, token: token).json()["steps"] as? [[String: Any]] ?? []
                return steps.filter { $0["event"] as? String == "score" }.compactMap { $0["input"] as? [String: Any] }
            }
            for (path, token) in [
                (base + "/meal-competitions/\(id)", nil), (base + "/instances/\(id)", city.suppliers[0].token),
                (base + "/instances/\(id)", city.members[1].token),
            ] {
                let inputs = try await scoreInputs(path, token: token)
                #expect(inputs.count == 15 && inputs.allSatisfy { $0["experience"] == nil }, "\(path)")
            }
            #expect(try await city.step(id, "propose_award", token: city.officer).status == .ok)
            #expect(
                try await scoreInputs(base + "/meal-competitions/\(id)", token: nil).allSatisfy {
                    $0["experience"] != nil
                }
            )
            let proposedResponse = try await client.api(.get, base + "/meal-competitions/\(id)")
            let proposed = try proposedResponse.json()
            // Independent arithmetic: discounts 3, 3, 1, 3, 1, 4 % at full marks; four members
            // mark the favoured bid 10 and the others 0, the fifth the other way round.
            let percents: [Double] = [3, 3, 1, 3, 1, 4]
            func conditional(_ price: Int64, _ marks: [Int]) -> Double {
                let mean = Double(marks.reduce(0, +)) / Double(marks.count)
                return Double(price) * (1 - percents.reduce(0, +) / 100 * mean / 10)
            }
            let expected = zip(1..., CompetitionCity.prices).map { number, price in
                (number, conditional(price, number == 3 ? [10, 10, 10, 10, 0] : [0, 0, 0, 0, 10]))
            }.min { $0.1 < $1.1 }!
            #expect(expected.0 == 3)
            #expect(proposed["awardSupplierBIN"] as? String == city.suppliers[2].bin)
            let ranked = (proposed["bids"] as? [[String: Any]] ?? []).first { $0["rank"] as? Int == 1 }
            #expect(abs(Double(ranked?["conditionalPrice"] as? Int ?? 0) - expected.1) < 1)
            #expect((proposed["marks"] as? [Any])?.count == 15)
            let flags = (proposed["flags"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
            #expect(flags.contains("outlier_member") && flags.contains("price_near_ceiling"), "\(flags)")

            // The award is not final before the complaint window ends.
            let tooSoon = try await city.step(id, "sign_as_supplier", token: city.suppliers[2].token)
            #expect(
                tooSoon.status == .unprocessableContent && tooSoon.text.contains("complaint window"),
                "\(tooSoon.text)"
            )
            try await city.passDeadline(id, column: "complaints_until", event: "complaint_window_closed")
            #expect(try await city.state(id) == "awarded")
            #expect(
                try await city.step(id, "sign_as_supplier", token: city.suppliers[0].token).status
                    == .unprocessableContent
            )
            #expect(try await city.step(id, "sign_as_supplier", token: city.suppliers[2].token).status == .ok)
            #expect(
                try await city.step(id, "sign_as_buyer", token: city.officer, #"{"contract_number": "42-ТП/2027"}"#)
                    .status == .ok
            )
            #expect(try await city.state(id) == "in_delivery")
            try await city.runJobs()
            let canteens = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                var rows: [String: Int64] = [:]
                for try await (bin, supplier, price) in try await connection.query(
                    "SELECT bin, supplier_bin, price_per_meal FROM meal_schools",
                    logger: fixture.databases.owner.logger
                ).decode((String, String, Int64).self) where supplier == city.suppliers[2].bin {
                    rows[bin] = price
                }
                return rows
            }
            #expect(canteens == ["070941024691": CompetitionCity.prices[2], "940140000385": CompetitionCity.prices[2]])
            let delivered = try await city.step(
                id,
                "report_delivery",
                token: city.officer,
                #"{"month": "2027-01-01", "meals": 15000, "amount": \#(15_000 * CompetitionCity.prices[2])}"#
            )
            #expect(delivered.status == .ok, "\(delivered.text)")
            let overbilled = try await city.step(
                id,
                "report_delivery",
                token: city.officer,
                #"{"month": "2027-02-01", "meals": 10, "amount": \#(11 * CompetitionCity.prices[2])}"#
            )
            #expect(overbilled.status == .unprocessableContent)

            // A direct award bridges a running competition only.
            let afterContract = try await client.api(
                .post,
                base + "/services/meal-direct-award/instances",
                token: city.officer,
                json:
                    #"{"input": {"competition": "\#(id)", "supplier_bin": "\#(city.suppliers[1].bin)", "price_per_meal": 90000, "starts_on": "2027-01-09", "ends_on": "2027-02-09", "reason": "Feeding pupils"}}"#
            )
            #expect(afterContract.status == .unprocessableContent && afterContract.text.contains("no longer running"))

            // Every stage is a valid OCDS release; the record compiles them.
            let releases = try await client.api(.get, "/astana/ocds/releases")
            #expect(releases.status == .ok)
            let tags = ((try releases.json()["releases"] as? [[String: Any]]) ?? []).flatMap {
                $0["tag"] as? [String] ?? []
            }
            for tag in ["planning", "tender", "tenderUpdate", "award", "awardUpdate", "contract", "implementation"] {
                #expect(tags.contains(tag), "no \(tag) release in \(tags)")
            }
            let problems = try CompetitionCity.validate(releases.text)
            #expect(problems.isEmpty, "\(problems)")
            let ocid = try #require(opened["ocid"] as? String)
            #expect(ocid.hasPrefix("ocds-adal00-"))
            let record = try await client.api(.get, "/astana/ocds/records/\(ocid)")
            #expect(record.status == .ok)
            // The validator resolves the record package schema's reference to the versioned
            // release schema over the network, so the record's releases and its compiled release
            // are checked as a release package (offline, against the same release schema).
            let compiled = try #require((try record.json()["records"] as? [[String: Any]])?.first)
            #expect(compiled["ocid"] as? String == ocid)
            let inner = (compiled["releases"] as? [Any] ?? []) + [compiled["compiledRelease"] ?? [:]]
            #expect(inner.count >= 8)
            let wrapped = String(
                decoding: try JSONSerialization.data(withJSONObject: [
                    "uri": "http://adal.test/record", "version": "1.1", "publishedDate": "2026-11-22T00:00:00Z",
                    "publisher": ["name": "Adal"], "releases": inner,
                ]),
                as: UTF8.self
            )
            let recordProblems = try CompetitionCity.validate(wrapped)
            #expect(recordProblems.isEmpty, "\(recordProblems)")
            #expect(record.text.contains("\"KZ-BIN-\(city.suppliers[2].bin)\""))
            #expect(try await client.api(.get, "/shymkent/ocds/records/\(ocid)").status == .notFound)
            #expect(try await client.api(.get, "/api/shymkent/meal-competitions/\(id)").status == .notFound)
        }
    }

    @Test("one bid fails the competition; a single-source award and a direct award follow, both published validly")
    func failedCompetition() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await CompetitionCity.prepare(fixture, client)
            let id = try await city.draft()
            #expect(try await city.step(id, "announce", token: city.officer).status == .ok)
            #expect(try await city.bid(id, supplier: 1, price: 94_000).status == .created)
            try await city.passDeadline(id, column: "bid_deadline", event: "open_bids")
            #expect(try await city.state(id) == "failed")
            // A direct award keeps children fed, but never beyond two months.
            let tooLong = try await client.api(
                .post,
                CompetitionCity.base + "/services/meal-direct-award/instances",
                token: city.officer,
                json:
                    #"{"input": {"competition": "\#(id)", "supplier_bin": "\#(city.suppliers[1].bin)", "price_per_meal": 90000, "starts_on": "2027-01-09", "ends_on": "2027-03-09", "reason": "Feeding pupils while the competition runs"}}"#
            )
            #expect(tooLong.status == .unprocessableContent && tooLong.text.contains("2 months"), "\(tooLong.text)")

            let direct = try await client.api(
                .post,
                CompetitionCity.base + "/services/meal-direct-award/instances",
                token: city.officer,
                json:
                    #"{"input": {"competition": "\#(id)", "supplier_bin": "\#(city.suppliers[1].bin)", "price_per_meal": 90000, "starts_on": "2027-01-09", "ends_on": "2027-03-08", "reason": "Feeding pupils while the competition is repeated"}}"#
            )
            #expect(direct.status == .created, "\(direct.text)")
            let above = try await city.step(
                id,
                "award_single_source",
                token: city.officer,
                #"{"supplier_bin": "\#(city.suppliers[1].bin)", "price_per_meal": 95001}"#
            )
            #expect(above.status == .unprocessableContent)
            let single = try await city.step(
                id,
                "award_single_source",
                token: city.officer,
                #"{"supplier_bin": "\#(city.suppliers[1].bin)", "price_per_meal": 94000}"#
            )
            #expect(single.status == .ok, "\(single.text)")
            let detail = try await client.api(.get, CompetitionCity.base + "/meal-competitions/\(id)").json()
            let flags = (detail["flags"] as? [[String: Any]] ?? []).compactMap { $0["code"] as? String }
            #expect(flags.contains("single_bidder") && flags.contains("price_near_ceiling"), "\(flags)")
            // The page says it in the reader's language, with the figures.
            let page = try await client.execute(
                uri: "/astana/meal-competitions/\(id.uuidString.lowercased())?lang=ru",
                method: .get
            )
            #expect(page.text.contains("Единственная заявка") && page.text.contains("цена победителя — 98.9 %"))
            let releases = try await client.api(.get, "/astana/ocds/releases")
            #expect(releases.text.contains("\"direct\"") && releases.text.contains("\"unsuccessful\""))
            let problems = try CompetitionCity.validate(releases.text)
            #expect(problems.isEmpty, "\(problems)")
        }
    }
}

@Suite("Competition ranking and checks")
struct CompetitionRankingTests {
    static let discounts: [Int64] = [300, 300, 100, 300, 100, 400]

    @Test("the lowest conditional price wins; ties go to the lower price, then to the earlier bid")
    func ties() {
        let member = UUID()
        let full = [10, 10, 10, 10, 10, 10]
        // 100,000 with the full 15 % discount equals 85,000 with none.
        let marks = [
            Marks(bid: 1, member: member, values: full), Marks(bid: 2, member: member, values: [0, 0, 0, 0, 0, 0]),
        ]
        let equal = Ranking(
            bids: [(1, 100_000, 5), (2, 85_000, 9)],
            marks: marks,
            members: 1,
            discounts: Self.discounts
        )
        #expect(equal.ranked.map(\.bid) == [2, 1])
        #expect(equal.ranked.map(\.conditionalPrice) == [85_000, 85_000])
        let samePrice = Ranking(
            bids: [(1, 90_000, 7), (2, 90_000, 3)],
            marks: [],
            members: 1,
            discounts: Self.discounts
        )
        #expect(samePrice.winner?.bid == 2)
        #expect(samePrice.winner?.discount == 0)
    }

    @Test("a member far from the others is named; a commission that agrees is not")
    func outliers() {
        let (a, b, c, d) = (UUID(), UUID(), UUID(), UUID())
        let agreeing = [a, b, c].map { Marks(bid: 1, member: $0, values: [5, 5, 5, 5, 5, 5]) }
        #expect(MarkDeviation.outliers(agreeing).isEmpty)
        let apart = agreeing + [Marks(bid: 1, member: d, values: [10, 10, 10, 10, 10, 10])]
        #expect(Set(MarkDeviation.outliers(apart).keys) == [d])
    }

    @Test("the OCDS check fails on a release the schema refuses")
    func validatorCatches() throws {
        let broken = """
            {"uri": "http://adal.test/p", "version": "1.1", "publishedDate": "2026-11-22T00:00:00Z",
             "publisher": {"name": "Adal"}, "releases": [{"ocid": "ocds-adal00-x", "id": "1",
             "date": "2026-11-22T00:00:00Z", "tag": ["tender"], "initiationType": "tender",
             "tender": {"id": "t", "status": "closing", "value": {"amount": "12,50", "currency": "KZT"}}}]}
            """
        let problems = try CompetitionCity.validate(broken)
        #expect(problems.contains { $0.contains("amount") }, "\(problems)")
        #expect(problems.contains { $0.contains("closed codelists") || $0.contains("status") }, "\(problems)")
    }
}

extension Browser {
    /// Posts a form with files as a browser does (`multipart/form-data`), with the page's
    /// anti-forgery token.
    @discardableResult
    mutating func postMultipart(
        _ uri: String,
        fields: [(String, String)],
        files: [(field: String, name: String, bytes: [UInt8])]
    ) async throws -> TestResponse {
        let boundary = "adal-test-\(UUID().uuidString)"
        var body: [UInt8] = []
        func add(_ text: String) { body += Array(text.utf8) }
        for (name, value) in fields + (jar["adal_csrf"].map { [("_csrf", $0)] } ?? []) {
            add("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n")
        }
        for file in files {
            add(
                "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(file.field)\"; filename=\"\(file.name)\"\r\n"
                    + "Content-Type: application/octet-stream\r\n\r\n"
            )
            body += file.bytes
            add("\r\n")
        }
        add("--\(boundary)--\r\n")
        var headers = jar.header
        headers[.contentType] = "multipart/form-data; boundary=\(boundary)"
        let response = try await client.execute(
            uri: uri,
            method: .post,
            headers: headers,
            body: ByteBuffer(bytes: body)
        )
        jar.take(from: response)
        return response
    }
}

@Suite("School-meal competition pages")
struct CompetitionPageTests {
    @Test(
        "the public reads the list and a sealed competition; a supplier registers and bids through forms with a PDF; a member marks on the page"
    )
    func pages() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await CompetitionCity.prepare(fixture, client)
            let id = try await city.draft()
            #expect(try await city.step(id, "announce", token: city.officer).status == .ok)
            let path = "/astana/meal-competitions/\(id.uuidString.lowercased())"

            var visitor = Browser(client: client)
            let list = try await visitor.get("/astana/meal-competitions?lang=en")
            #expect(list.status == .ok && list.text.contains("Ыстық тамақ: Есіл ауданы"))
            let sealed = try await visitor.get(path + "?lang=en")
            #expect(sealed.status == .ok && sealed.text.contains("Bids are sealed until the deadline."))
            #expect(!sealed.text.contains("Seal and submit the bid"))

            _ = try await fixture.account("supplier9", name: "Supplier nine", role: .supplier)
            var supplier = Browser(client: client)
            #expect(try await supplier.signIn("astana", login: "supplier9").status == .seeOther)
            #expect(try await supplier.get("/astana/suppliers/register?lang=en").status == .ok)
            let bin = CompetitionCity.identifier("0904400", 9)
            let wrong = try await supplier.postMultipart(
                "/astana/suppliers/register",
                fields: [("bin", bin), ("name", "Таза ас ЖШС"), ("kind", "sanitary_permit")],
                files: [("documents", "permit.pdf", Array("GIF89a not a pdf".utf8))]
            )
            #expect(wrong.status == .unprocessableContent && wrong.text.contains("not a PDF"), "\(wrong.status)")
            let registered = try await supplier.postMultipart(
                "/astana/suppliers/register",
                fields: [("bin", bin), ("name", "Таза ас ЖШС"), ("kind", "sanitary_permit")],
                files: [("documents", "permit.pdf", CompetitionCity.pdf)]
            )
            #expect(registered.status == .found, "\(registered.text)")

            let form = try await supplier.get(path + "?lang=en")
            #expect(form.text.contains("Seal and submit the bid"))
            let claims = [
                ("experienceYears", "6"), ("qualifiedCooks", "8"), ("nutritionists", "2"), ("references", "5"),
                ("ownProduction", "on"), ("domesticSharePercent", "80"),
            ]
            let above = try await supplier.postMultipart(
                path + "/bids",
                fields: [("_key", "page-bid-1"), ("price", "950,01")] + claims,
                files: []
            )
            #expect(above.status == .unprocessableContent && above.text.contains("above the ceiling"))
            let sent = try await supplier.postMultipart(
                path + "/bids",
                fields: [("_key", "page-bid-2"), ("price", "870,25")] + claims,
                files: [("documents", "menu.pdf", CompetitionCity.pdf)]
            )
            #expect(sent.status == .found, "\(sent.text)")
            let receipt = try await supplier.get(path + "?lang=en")
            #expect(receipt.text.contains("Bid received"))
            #expect(!receipt.text.contains("870,25") && !receipt.text.contains("870.25"))

            #expect(try await city.bid(id, supplier: 0, price: 90_000).status == .created)
            try await city.passDeadline(id, column: "bid_deadline", event: "open_bids")
            let opened = try await visitor.get(path + "?lang=en")
            #expect(opened.text.contains("870.25") || opened.text.contains("870,25"))
            #expect(opened.text.contains("menu.pdf"))

            var member = Browser(client: client)
            #expect(try await member.signIn("astana", login: "member0").status == .seeOther)
            let marking = try await member.get(path + "?lang=en")
            #expect(marking.text.contains("Save the marks"))
            var marks = ["bid": "1", "_key": "marks-1"]
            for criterion in Criterion.allCases { marks[criterion.rawValue] = "7" }
            let marked = try await member.post(
                "/astana/instances/\(id.uuidString.lowercased())/events/score",
                form: marks
            )
            #expect(marked.status == .seeOther || marked.status == .found, "\(marked.text)")
            let stored = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                var rows = 0
                for try await _ in try await connection.query(
                    "SELECT 1 FROM meal_scores WHERE instance_id = \(id) AND bid_number = 1 AND marks = '{7,7,7,7,7,7}'",
                    logger: fixture.databases.owner.logger
                ) {
                    rows += 1
                }
                return rows
            }
            #expect(stored == 1)
        }
    }
}
