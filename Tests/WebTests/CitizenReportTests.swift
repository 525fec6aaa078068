import Core
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OpenBudget
import TestSupport
import Testing
import Workflow

@testable import Web

extension BudgetCity {
    /// A report on `code` through the API; nil token: anonymous.
    func report(
        _ code: String? = "AST-SCH-001",
        token: String?,
        contact: String? = nil,
        files: [(name: String, type: String, bytes: [UInt8])] = []
    ) async throws -> TestResponse {
        var fields: [(String, String)] = [
            ("category", "not_done"), ("description", "The roof repair paid for in 2026 was not done; water comes in."),
        ]
        if let code { fields.append(("object_code", code)) }
        if let contact { fields.append(("contact", contact)) }
        return try await multipart(
            "/api/astana/reports",
            token: token,
            fields: fields,
            files: files.map { ("media", $0.name, $0.type, $0.bytes) }
        )
    }

    func step(_ id: String, _ event: String, _ input: String = "{}") async throws -> TestResponse {
        try await client.api(
            .post,
            "/api/astana/instances/\(id)/events/\(event)",
            token: admin,
            json: #"{"input": \#(input)}"#
        )
    }
}

@Suite("Citizens' reports")
struct CitizenReportTests {
    @Test(
        "a report from submission to a public answer: photos cleaned and hashed into the log, the reporter never shown"
    )
    func endToEnd() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await BudgetCity.prepare(fixture, client)
            let submitted = try await city.report(
                token: city.resident,
                files: [("roof.jpg", "image/jpeg", CraftedMedia.jpeg()), ("wall.png", "image/png", CraftedMedia.png())]
            )
            #expect(submitted.status == .created, "\(submitted.text)")
            let body = try submitted.json()
            let id = (body["id"] as? String ?? "").lowercased()
            let hashes = body["media"] as? [String] ?? []
            #expect(hashes.count == 2)

            // The stored photos carry none of what the phone wrote, and are served inertly.
            for hash in hashes {
                let photo = try await client.execute(uri: "/astana/media/\(hash)", method: .get)
                #expect(photo.status == .ok)
                let bytes = Array(buffer: photo.body)
                for secret in CraftedMedia.secrets { #expect(!CraftedMedia.contains(bytes, secret)) }
                #expect(MediaFile.hex(Array(SHA256.hash(data: bytes))) == hash)
                #expect(photo.headers[.contentSecurityPolicy] == "default-src 'none'; sandbox")
            }
            // The step's input names each file by its hash: the audit leaf commits to them.
            let instance = try await client.api(.get, "/api/astana/instances/\(id)", token: city.admin).text
            for hash in hashes { #expect(instance.contains(hash)) }

            // The akimat triages, refers, answers; each step public with its state.
            #expect(try await city.step(id, "triage").status == .ok)
            #expect(try await city.step(id, "refer", #"{"responsible_body": "Education department"}"#).status == .ok)
            let early = try await client.api(.get, "/api/astana/reports/\(id)").json()
            #expect(early["state"] as? String == "referred")
            #expect(early["dueAt"] != nil)
            // The body responsible lets the due date pass: the report is escalated by itself.
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    """
                    UPDATE jobs SET run_at = now() - interval '1 second'
                    WHERE instance_id = \(UUID(uuidString: id)!) AND event = 'escalate' AND status = 'pending'
                    """,
                    logger: fixture.databases.owner.logger
                )
            }
            let runner = JobRunner(
                engine: fixture.dependencies.workflows,
                handlers: [:],
                logger: fixture.databases.owner.logger
            )
            while try await runner.runDueJobs() > 0 {}
            let overdue = try await client.api(.get, "/api/astana/reports/\(id)").json()
            #expect(overdue["state"] as? String == "answer_overdue")
            let answered = try await city.step(
                id,
                "answer",
                #"{"verdict": "confirmed", "answer": "The contractor must finish within 30 days; payment is stopped."}"#
            )
            #expect(answered.status == .ok, "\(answered.text)")

            // Anyone reads the answer, on the API, the page and the object's page; nobody reads who asked.
            let public_ = try await client.api(.get, "/api/astana/reports/\(id)")
            let report = try public_.json()
            #expect(report["verdict"] as? String == "confirmed")
            #expect((report["answer"] as? String)?.contains("payment is stopped") == true)
            var browser = Browser(client: client)
            let page = try await browser.get("/astana/reports/\(id)?lang=en")
            #expect(page.status == .ok)
            #expect(page.text.contains("payment is stopped") && page.text.contains("Confirmed"))
            let object = try await browser.get("/astana/budget/objects/AST-SCH-001?lang=en")
            #expect(object.text.contains("/astana/reports/\(id)") && object.text.contains("/astana/media/\(hashes[0])"))
            for text in [public_.text, page.text, object.text] {
                #expect(
                    !text.contains("A resident") && !text.contains("resident-1")
                        && !text.contains(city.residentID.uuidString.lowercased())
                )
            }
            // The reporter follows their own reports.
            _ = try await browser.signIn("astana", login: "resident-1")
            let mine = try await browser.get("/astana/reports?mine=1")
            #expect(mine.text.contains("/astana/reports/\(id)"))

            // Another city finds neither the report nor its photos.
            #expect(try await client.api(.get, "/api/shymkent/reports/\(id)").status == .notFound)
            #expect(try await client.execute(uri: "/shymkent/media/\(hashes[0])", method: .get).status == .notFound)
            #expect(try await client.execute(uri: "/astana/media/not-a-hash", method: .get).status == .notFound)

            #expect(try await city.step(id, "close").status == .ok)
            let closed =
                try await client.api(.get, "/api/astana/reports?status=closed").json()["reports"] as? [[String: Any]]
            #expect(closed?.map { ($0["id"] as? String)?.lowercased() } == [id])
        }
    }

    @Test("anonymous reports need a contact, which only the akimat reads; a city may refuse them")
    func anonymous() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await BudgetCity.prepare(fixture, client)
            let before = try await city.count("citizen_reports")
            let noContact = try await city.report(token: nil)
            #expect(noContact.status == .unprocessableContent)
            #expect(noContact.text.contains("contact"))
            #expect(try await city.count("citizen_reports") == before)

            let anonymous = try await city.report(token: nil, contact: "+7 701 000 00 00")
            #expect(anonymous.status == .created, "\(anonymous.text)")
            let id = (try anonymous.json()["id"] as? String ?? "").lowercased()
            #expect(!(try await client.api(.get, "/api/astana/reports/\(id)").text.contains("701")))
            var visitor = Browser(client: client)
            #expect(!(try await visitor.get("/astana/reports/\(id)").text.contains("701")))
            var official = Browser(client: client)
            _ = try await official.signIn("astana", login: "budget-admin")
            #expect(try await official.get("/astana/reports/\(id)").text.contains("+7 701 000 00 00"))
            // Stored sealed: the contact's digits are nowhere in the row.
            let sealed = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                var found = Data()
                for try await value in try await connection.query(
                    "SELECT sealed_contact FROM citizen_reports WHERE instance_id = \(UUID(uuidString: id)!)",
                    logger: fixture.databases.owner.logger
                ).decode(Data.self) { found = value }
                return found
            }
            #expect(!sealed.isEmpty && !CraftedMedia.contains(Array(sealed), "701"))

            // The city turns anonymous reports off: refused, and a resident still reports.
            _ = try await fixture.dependencies.workflows.changeSettings(
                tenantID: fixture.astana.id,
                service: CitizenReportService.key,
                version: nil,
                changes: ["allow_anonymous": .bool(false)],
                actor: StepActor(id: UUID(), roles: [.akimatAdmin])
            )
            let refused = try await city.report(token: nil, contact: "someone@example.kz")
            #expect(refused.status == .unprocessableContent)
            #expect(refused.text.contains("only from signed-in residents"))
            #expect(try await city.report(token: city.resident).status == .created)
            // Not a resident: a supplier's token cannot report.
            let supplier = try await fixture.account("supplier-9", name: "Supplier", role: .supplier)
            #expect(try await city.report(token: supplier.token).status == .forbidden)
        }
    }

    @Test("hostile uploads are refused with the limit or the type named, and nothing is stored")
    func hostileUploads() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await BudgetCity.prepare(fixture, client)
            var jpegCut = CraftedMedia.jpeg()
            jpegCut.removeLast(2)
            var pngBadCRC = CraftedMedia.png()
            pngBadCRC[pngBadCRC.count - 20] ^= 0xFF
            var mp4Long = CraftedMedia.mp4()
            mp4Long[28] = 0x7F
            let bigPhoto = CraftedMedia.jpeg(afterScan: [UInt8](repeating: 0x11, count: (10 << 20) + 1))
            let bigVideo = CraftedMedia.mp4() + [UInt8](repeating: 0, count: 50 << 20)
            let cases: [(String, [(name: String, type: String, bytes: [UInt8])], HTTPResponse.Status, String)] = [
                (
                    "GIF named .jpg", [("a.jpg", "image/jpeg", CraftedMedia.gif)], .unsupportedMediaType,
                    "image/jpeg, image/png, video/mp4"
                ),
                (
                    "HTML named .jpg", [("a.jpg", "image/jpeg", CraftedMedia.html)], .unsupportedMediaType,
                    "not of a type taken"
                ),
                (
                    "SVG with a script", [("a.svg", "image/svg+xml", CraftedMedia.svg)], .unsupportedMediaType,
                    "not of a type taken"
                ),
                (
                    "a Windows program", [("a.png", "image/png", CraftedMedia.exe)], .unsupportedMediaType,
                    "not of a type taken"
                ),
                (
                    "a PDF on a report", [("a.pdf", "application/pdf", CraftedMedia.pdf)], .unsupportedMediaType,
                    "application/pdf is not taken"
                ),
                (
                    "PNG sent as JPEG", [("a.jpg", "image/jpeg", CraftedMedia.png())], .unsupportedMediaType,
                    "the bytes are image/png"
                ),
                (
                    "JPEG sent as MP4", [("a.mp4", "video/mp4", CraftedMedia.jpeg())], .unsupportedMediaType,
                    "the bytes are image/jpeg"
                ),
                (
                    "a ZIP named .jpg",
                    [("a.jpg", "image/jpeg", Array("PK\u{3}\u{4}".utf8) + [UInt8](repeating: 0, count: 40))],
                    .unsupportedMediaType, "not of a type taken"
                ),
                ("a JPEG with no end", [("a.jpg", "image/jpeg", jpegCut)], .unprocessableContent, "damaged"),
                ("a PNG with a bad checksum", [("a.png", "image/png", pngBadCRC)], .unprocessableContent, "checksum"),
                ("an MP4 box past the end", [("a.mp4", "video/mp4", mp4Long)], .unprocessableContent, "damaged"),
                (
                    "a JPEG segment past the end", [("a.jpg", "image/jpeg", [0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xF0, 0])],
                    .unprocessableContent, "damaged"
                ),
                ("a photo over 10 MiB", [("big.jpg", "image/jpeg", bigPhoto)], .contentTooLarge, "10485760"),
                ("a video over 50 MiB", [("big.mp4", "video/mp4", bigVideo)], .contentTooLarge, "52428800"),
                (
                    "six files", Array(repeating: ("a.png", "image/png", CraftedMedia.png()), count: 6),
                    .unprocessableContent, "at most 5"
                ),
                (
                    "a good photo with a bad one",
                    [("ok.png", "image/png", CraftedMedia.png()), ("b.jpg", "image/jpeg", CraftedMedia.gif)],
                    .unsupportedMediaType, "media[1]"
                ),
                (
                    "a path for a name", [("../../etc/passwd.jpg", "image/jpeg", CraftedMedia.gif)],
                    .unsupportedMediaType, "media[0]"
                ),
                (
                    "a type with parameters that lies", [("a.png", "image/jpeg; charset=binary", CraftedMedia.png())],
                    .unsupportedMediaType, "not image/jpeg"
                ),
            ]
            let before = (try await city.count("media_files"), try await city.count("citizen_reports"))
            for (name, files, status, says) in cases {
                let response = try await city.report(token: city.resident, files: files)
                #expect(response.status == status, "\(name): \(response.status) \(response.text.prefix(300))")
                #expect(response.text.contains(says), "\(name): \(response.text.prefix(300))")
            }
            // A body beyond the request limit is refused before it is read.
            var headers = HTTPFields()
            headers[.authorization] = "Bearer \(city.resident)"
            headers[.contentType] = "multipart/form-data; boundary=x"
            let huge = try await client.execute(
                uri: "/api/astana/reports",
                method: .post,
                headers: headers,
                body: ByteBuffer(repeating: 0x2D, count: UploadRoutes.maximumMediaRequestBytes + 1)
            )
            #expect(huge.status == .contentTooLarge)
            #expect((try await city.count("media_files"), try await city.count("citizen_reports")) == before)

            // A name with a path or quotes is only a label: the good file is stored by its hash.
            let odd = try await city.report(
                token: city.resident,
                files: [
                    ("../\"evil\"\r\n.png", "image/png", CraftedMedia.png()),
                    ("clip.mp4", "video/mp4", CraftedMedia.mp4()),
                ]
            )
            #expect(odd.status == .created, "\(odd.text)")
            let video = try await client.execute(
                uri: "/astana/media/\((try odd.json()["media"] as? [String] ?? ["", ""])[1])",
                method: .get
            )
            #expect(video.headers[.contentType] == "video/mp4")
            for secret in CraftedMedia.secrets { #expect(!CraftedMedia.contains(Array(buffer: video.body), secret)) }
        }
    }
}
