import Core
import Crypto
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Storage
import TestSupport
import Testing

@testable import SickLeave
@testable import Web

/// A doctor opens, extends and closes a certificate through the API; an employer verifies every
/// version and gets the verdict that version deserves.
@Suite("Sick-leave certificates over HTTP")
struct SickLeaveHTTPTests {
    static let clinicBIN = "940140000385"

    /// A registered clinic in Astana and an API token for one of its doctors.
    func doctor(_ fixture: WebFixture) async throws -> String {
        let (user, token) = try await fixture.account("doctor", name: "Doctor", role: .clinicDoctor)
        let logger = fixture.databases.owner.logger
        let astana = fixture.astana.id
        try await fixture.databases.owner.withTenant(astana) { connection in
            let clinic = try await Clinic.register(
                bin: Self.clinicBIN,
                name: "Қалалық емхана №4",
                tenantID: astana,
                on: connection,
                logger: logger
            )
            try await clinic.addStaff(userID: user.id, tenantID: astana, on: connection, logger: logger)
        }
        return token
    }

    func call(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String? = nil,
        json: String? = nil
    ) async throws -> TestResponse {
        try await client.api(method, uri, token: token, json: json)
    }

    func verify(
        _ client: any TestClientProtocol,
        _ token: String,
        city: String = "astana"
    ) async throws -> [String: Any] {
        let body = String(decoding: try JSONEncoder().encode(["token": token]), as: UTF8.self)
        let response = try await call(client, .post, "/api/\(city)/sick-leave/verify", json: body)
        #expect(response.status == .ok)
        return try response.json()
    }

    func versions(_ client: any TestClientProtocol, _ instance: String, doctor: String) async throws -> [String] {
        let response = try await call(client, .get, "/api/astana/sick-leave/certificates/\(instance)", token: doctor)
        #expect(response.status == .ok)
        let certificate = try response.json()["certificate"] as? [String: Any] ?? [:]
        return (certificate["versions"] as? [[String: Any]] ?? []).compactMap { $0["token"] as? String }
    }

    static let opening = """
        {"input": {"clinic_bin": "940140000385", "patient_iin": "791028302728", "patient_name": "Әлия Нұрланова",
          "date_of_birth": "1979-10-28", "employer_bin": "070941024691", "start_date": "2026-11-16",
          "expected_end": "2026-11-20"}}
        """

    /// A doctor opens a certificate; its instance id.
    func openCertificate(_ client: any TestClientProtocol, doctor: String) async throws -> String {
        let opened = try await call(
            client,
            .post,
            "/api/astana/services/sick-leave/instances",
            token: doctor,
            json: Self.opening
        )
        #expect(opened.status == .created, "\(opened.text)")
        return try #require(try opened.json()["instance"] as? String)
    }

    @Test("open, extend, close: each version gets the right verdict; revoked, forged and foreign tokens fail")
    func lifecycle() async throws {
        try await WebFixture.with { fixture, client in
            let doctor = try await doctor(fixture)
            let instance = try await openCertificate(client, doctor: doctor)

            var tokens = try await versions(client, instance, doctor: doctor)
            #expect(tokens.count == 1)
            var answer = try await verify(client, tokens[0])
            #expect(answer["verdict"] as? String == "in_force")
            #expect(answer["genuine"] as? Bool == true)
            #expect(answer["name"] as? String == "Әлия Нұрланова")
            #expect(answer["periodEnd"] as? String == "2026-11-20")
            // Nothing beyond what the employer needs: no IIN, no employer, no reason.
            #expect(
                Set(answer.keys).isSubset(of: [
                    "verdict", "genuine", "reason", "name", "dateOfBirth", "periodStart", "periodEnd", "clinic",
                    "version", "currentVersion",
                ])
            )

            let extended = try await call(
                client,
                .post,
                "/api/astana/instances/\(instance)/events/extend",
                token: doctor,
                json: #"{"input": {"new_end": "2026-11-27"}}"#
            )
            #expect(extended.status == .ok, "\(extended.text)")
            let shortened = try await call(
                client,
                .post,
                "/api/astana/instances/\(instance)/events/extend",
                token: doctor,
                json: #"{"input": {"new_end": "2026-11-19"}}"#
            )
            #expect(shortened.status == .unprocessableContent)
            let closed = try await call(
                client,
                .post,
                "/api/astana/instances/\(instance)/events/close",
                token: doctor,
                json: #"{"input": {"actual_end": "2026-11-25"}}"#
            )
            #expect(closed.status == .ok, "\(closed.text)")

            tokens = try await versions(client, instance, doctor: doctor)
            #expect(tokens.count == 3)
            answer = try await verify(client, tokens[0])
            #expect(answer["verdict"] as? String == "superseded")
            #expect(answer["currentVersion"] as? Int == 3)
            answer = try await verify(client, tokens[1])
            #expect(answer["verdict"] as? String == "superseded")
            #expect(answer["periodEnd"] as? String == "2026-11-27")
            answer = try await verify(client, tokens[2])
            #expect(answer["verdict"] as? String == "closed")
            #expect(answer["periodEnd"] as? String == "2026-11-25")

            // The employer's page, in Kazakh by default: the verdict and the person, no more.
            let query = tokens[2].addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let page = try await call(client, .get, "/astana/verify?token=\(query)&lang=ru")
            #expect(page.status == .ok)
            #expect(page.main.contains("Подлинный; лист закрыт") && page.main.contains("Әлия Нұрланова"))
            #expect(!page.main.contains("791028302728") && !page.main.contains("070941024691"))
            let empty = try await call(client, .get, "/astana/verify")
            #expect(empty.status == .ok && empty.main.contains("SL1:") && !empty.main.contains("verdict"))

            // The QR codes of a version: SVG for the page, PNG for print.
            let svg = try await call(
                client,
                .get,
                "/api/astana/sick-leave/certificates/\(instance)/versions/3/qr.svg",
                token: doctor
            )
            #expect(svg.status == .ok && svg.headers[.contentType] == "image/svg+xml")
            let png = try await call(
                client,
                .get,
                "/api/astana/sick-leave/certificates/\(instance)/versions/3/qr.png",
                token: doctor
            )
            #expect(png.status == .ok && Array(png.body.readableBytesView.prefix(4)) == [0x89, 0x50, 0x4e, 0x47])
            // An independent reader finds the link that opens the verification page, and the
            // city-less endpoint an HR system scans into takes the link as it is.
            let scanned = try ZBar.read(Array(png.body.readableBytesView))
            #expect(scanned == CertificateLink.text(token: tokens[2], base: fixture.dependencies.publicBase))
            let anyCity = try await call(
                client,
                .post,
                "/api/v1/verify",
                json: String(decoding: try JSONEncoder().encode(["token": scanned]), as: UTF8.self)
            )
            #expect(try anyCity.json()["verdict"] as? String == "closed")
            // A picture of the code (upload on the verify page) is read back to the same link;
            // other bytes, and a picture without a code, are refused with the reason.
            func read(_ bytes: [UInt8], type: String) async throws -> TestResponse {
                try await client.execute(
                    uri: "/api/v1/qr/read",
                    method: .post,
                    headers: [.contentType: type],
                    body: ByteBuffer(bytes: bytes)
                )
            }
            let picture = try await read(Array(png.body.readableBytesView), type: "image/png")
            #expect(picture.status == .ok)
            #expect(try picture.json()["text"] as? String == scanned)
            let notAnImage = try await read(Array("GIF89a".utf8), type: "image/gif")
            #expect(notAnImage.status == .unprocessableContent && notAnImage.text.contains("PNG or JPEG"))
            var blank: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
            var header: [UInt8] = []
            header.appendBigEndian(64)
            header.appendBigEndian(64)
            header += [8, 0, 0, 0, 0]
            blank.appendChunk("IHDR", header)
            blank.appendChunk(
                "IDAT",
                ZlibStored.wrap((0..<64).flatMap { _ in [0] + [UInt8](repeating: 0xff, count: 64) })
            )
            blank.appendChunk("IEND", [])
            let noCode = try await read(blank, type: "image/png")
            #expect(noCode.status == .unprocessableContent && noCode.text.contains("no QR code"), "\(noCode.text)")

            let linkPage = try await call(client, .get, "/V")
            #expect(linkPage.status == .ok && linkPage.text.contains("/static/verify-link.js"))
            #expect(linkPage.text.contains(#"id="picture-file""#))
            let anyCityPage = try await call(client, .get, "/verify?token=\(query)&lang=ru")
            #expect(anyCityPage.main.contains("Подлинный; лист закрыт"))

            // Revoked: the last version no longer counts.
            let revoked = try await call(
                client,
                .post,
                "/api/astana/instances/\(instance)/events/revoke",
                token: doctor,
                json: #"{"input": {"reason": "issued_in_error"}}"#
            )
            #expect(revoked.status == .ok, "\(revoked.text)")
            answer = try await verify(client, tokens[2])
            #expect(answer["verdict"] as? String == "revoked")

            // A forgery: the same content signed by a key the city never trusted, under the clinic's key id.
            let parsed = try SickLeaveToken.parse(tokens[0])
            let forged = try parsed.token.signed(
                keyID: try #require(parsed.message.keyID),
                key: .p256(P256.Signing.PrivateKey())
            )
            answer = try await verify(client, forged)
            #expect(answer["verdict"] as? String == "forged")
            let forgedPage = try await call(
                client,
                .get,
                "/astana/verify?token=\(forged.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
            )
            #expect(forgedPage.main.contains("Түпнұсқа емес") && !forgedPage.main.contains("Әлия"))
            #expect(answer["genuine"] as? Bool == false)
            #expect(answer["name"] == nil)

            // Another city does not trust Astana's clinic keys; damaged text is unreadable.
            answer = try await verify(client, tokens[0], city: "shymkent")
            #expect(answer["verdict"] as? String == "unknown_key")
            answer = try await verify(client, "SL1:" + String(tokens[0].dropFirst(4).prefix(30)))
            #expect(answer["verdict"] as? String == "unreadable")

            // The clinic's view is not for parents, and not by another city's path.
            let parent = try await fixture.dependencies.accounts.issueToken(
                login: "parent",
                name: "t",
                roles: [.parent],
                tenantID: fixture.astana.id
            ).0.text
            let hidden = try await call(client, .get, "/api/astana/sick-leave/certificates/\(instance)", token: parent)
            #expect(hidden.status == .notFound)
        }
    }

    @Test("offline: the signed trust and status lists give each version its standing; a removed key stops verifying")
    func offline() async throws {
        try await WebFixture.with { fixture, client in
            let doctor = try await doctor(fixture)
            let instance = try await openCertificate(client, doctor: doctor)
            _ = try await call(
                client,
                .post,
                "/api/astana/instances/\(instance)/events/extend",
                token: doctor,
                json: #"{"input": {"new_end": "2026-11-27"}}"#
            )
            let tokens = try await versions(client, instance, doctor: doctor)
            let rootText = try await call(client, .get, "/api/astana/sick-leave/root-key").text
            let root = Array(
                try #require(Data(base64Encoded: rootText.trimmingCharacters(in: .whitespacesAndNewlines)))
            )

            func offlineVerifier() async throws -> OfflineVerifier {
                let now = Int64(Date().timeIntervalSince1970)
                let trust = try await call(client, .get, "/api/astana/sick-leave/trust-list")
                #expect(trust.headers[.contentType] == "application/cose")
                let status = try await call(client, .get, "/api/astana/sick-leave/status-list")
                return OfflineVerifier(
                    trust: try TrustList(
                        verifying: Array(trust.body.readableBytesView),
                        rootKey: root,
                        now: now,
                        maximumAge: CityLists.maximumAge
                    ),
                    status: try StatusList(
                        verifying: Array(status.body.readableBytesView),
                        rootKey: root,
                        now: now,
                        maximumAge: CityLists.maximumAge
                    )
                )
            }
            var verifier = try await offlineVerifier()
            #expect(verifier.verify(tokens[0]).standing == .superseded)
            #expect(verifier.verify(tokens[1]).standing == .inForce)

            // The same with `adal cert verify`, from downloaded files.
            let folder = NSTemporaryDirectory() + "adal-cert-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            for name in ["trust-list", "status-list"] {
                let body = try await call(client, .get, "/api/astana/sick-leave/\(name)").body
                try Data(body.readableBytesView).write(to: URL(fileURLWithPath: folder + "/" + name))
            }
            func command(_ token: String) throws -> (status: Int32, output: String) {
                let process = Process()
                process.executableURL = URL(fileURLWithPath: ServerProcess.binary)
                process.arguments = [
                    "cert", "verify", token, "--trust-list", folder + "/trust-list", "--status-list",
                    folder + "/status-list", "--root-key", Data(root).base64EncodedString(),
                ]
                let output = Pipe()
                process.standardOutput = output
                try process.run()
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                return (process.terminationStatus, text)
            }
            let current = try command(tokens[1])
            #expect(current.status == 0 && current.output.contains("in force"), "\(current.output)")
            let old = try command(tokens[0])
            #expect(old.status == 2 && old.output.contains("superseded"), "\(old.output)")
            let junk = try command("SL1:XYZ")
            #expect(junk.status == 1 && junk.output.hasPrefix("unreadable"), "\(junk.output)")

            // Revoked, and the clinic's key removed: the next fetch of the lists says so.
            _ = try await call(
                client,
                .post,
                "/api/astana/instances/\(instance)/events/revoke",
                token: doctor,
                json: #"{"input": {"reason": "duplicate"}}"#
            )
            await fixture.dependencies.sickLeaveLists.invalidate(tenantID: fixture.astana.id)
            verifier = try await offlineVerifier()
            #expect(verifier.verify(tokens[1]).standing == .revoked)

            let keyID = try #require(try SickLeaveToken.parse(tokens[1]).message.keyID)
            #expect(
                try await ClinicKeys.remove(
                    keyID: keyID,
                    tenantID: fixture.astana.id,
                    database: fixture.dependencies.database
                )
            )
            let online = try await verify(client, tokens[1])
            #expect(online["verdict"] as? String == "unknown_key")
            await fixture.dependencies.sickLeaveLists.invalidate(tenantID: fixture.astana.id)
            verifier = try await offlineVerifier()
            #expect(verifier.verify(tokens[1]).verdict == .unknownKey)
        }
    }

    @Test("the patient sees their certificate and when and by whom it was checked; others see nothing")
    func patientSeesChecks() async throws {
        try await WebFixture.with { fixture, client in
            let doctor = try await doctor(fixture)
            let instance = try await openCertificate(client, doctor: doctor)
            let token = try #require(try await versions(client, instance, doctor: doctor).first)
            _ = try await verify(client, token)
            // An employer's HR system signs its checks with its API token; a token that is not
            // valid in the city is refused rather than silently made anonymous.
            let employer = try await fixture.account("employer", name: "ТОО Employer HR", role: .employer).token
            let body = String(decoding: try JSONEncoder().encode(["token": token]), as: UTF8.self)
            let signed = try await call(client, .post, "/api/astana/sick-leave/verify", token: employer, json: body)
            #expect(try signed.json()["verdict"] as? String == "in_force")
            let wrong = try await call(
                client,
                .post,
                "/api/astana/sick-leave/verify",
                token: "adal_nonsense",
                json: body
            )
            #expect(wrong.status == .unauthorized)
            // A forgery is not recorded against the certificate.
            let parsed = try SickLeaveToken.parse(token)
            _ = try await verify(
                client,
                try parsed.token.signed(
                    keyID: try #require(parsed.message.keyID),
                    key: .p256(P256.Signing.PrivateKey())
                )
            )

            func mine(_ login: String, iin: String) async throws -> [[String: Any]] {
                let token = try await fixture.account(login, name: login, role: .parent, iin: iin).token
                let response = try await call(client, .get, "/api/astana/sick-leave/my-certificates", token: token)
                #expect(response.status == .ok)
                return try response.json()["certificates"] as? [[String: Any]] ?? []
            }
            let own = try await mine("patient", iin: "791028302728")
            #expect(own.count == 1)
            let checks = own.first?["checks"] as? [[String: Any]] ?? []
            #expect(checks.count == 2)
            #expect(checks.contains { $0["by"] as? String == "ТОО Employer HR" })
            #expect(checks.contains { $0["by"] == nil })
            #expect(try await mine("stranger", iin: "061211600012").isEmpty)
        }
    }

    @Test("only doctors the clinic lists may open, extend or revoke its certificates; nothing is written otherwise")
    func onlyTheClinicsDoctors() async throws {
        try await WebFixture.with { fixture, client in
            let doctor = try await doctor(fixture)
            let instance = try await openCertificate(client, doctor: doctor)
            let outsider = try await fixture.account("elsewhere", name: "Another clinic's doctor", role: .clinicDoctor)
                .token
            func count(_ table: String) async throws -> Int {
                let astana = fixture.astana.id
                return try await fixture.databases.owner.withTenant(astana) { connection in
                    var total = 0
                    let rows = try await connection.query(
                        PostgresQuery(unsafeSQL: "SELECT count(*)::int FROM \(table)"),
                        logger: fixture.databases.owner.logger
                    )
                    for try await value in rows.decode(Int.self) { total = value }
                    return total
                }
            }
            let before = (try await count("workflow_instances"), try await count("certificate_versions"))
            let opened = try await call(
                client,
                .post,
                "/api/astana/services/sick-leave/instances",
                token: outsider,
                json: Self.opening
            )
            #expect(opened.status == .forbidden && opened.text.contains("940140000385"), "\(opened.text)")
            for (event, input) in [("extend", #"{"new_end": "2026-11-27"}"#), ("revoke", #"{"reason": "fraud"}"#)] {
                let refused = try await call(
                    client,
                    .post,
                    "/api/astana/instances/\(instance)/events/\(event)",
                    token: outsider,
                    json: #"{"input": \#(input)}"#
                )
                #expect(refused.status == .forbidden, "\(event): \(refused.text)")
            }
            #expect(try await count("workflow_instances") == before.0)
            #expect(try await count("certificate_versions") == before.1)
            // Nor may they read it by its id on the generic instance pages, nor may an employer:
            // the patient's IIN and date of birth are in its steps.
            let employer = try await fixture.account("employer", name: "Employer", role: .employer).token
            for (who, token, status) in [
                ("its doctor", doctor, HTTPResponse.Status.ok), ("another clinic's doctor", outsider, .notFound),
                ("an employer", employer, .notFound),
            ] {
                let read = try await call(client, .get, "/api/astana/instances/\(instance)", token: token)
                #expect(read.status == status, "\(who): \(read.status)")
                #expect(read.text.contains("791028302728") == (status == .ok), "\(who)")
            }
            let answer = try await verify(
                client,
                try #require(try await versions(client, instance, doctor: doctor).first)
            )
            #expect(answer["verdict"] as? String == "in_force")
        }
    }

    @Test("keys rotate ahead of expiry, and a new key signs only after a day in the trust list")
    func rotation() async throws {
        try await WebFixture.with { fixture, _ in
            _ = try await doctor(fixture)
            let (rotation, astana, owner) = (
                fixture.dependencies.keyRotation, fixture.astana.id, fixture.databases.owner
            )
            let now = Date()
            /// The key that signs at `time`.
            func signer(at time: Date) async throws -> [UInt8] {
                try await owner.withTenant(astana) { connection in
                    let clinic = try #require(
                        try await Clinic.find(bin: Self.clinicBIN, tenantID: astana, on: connection, owner.logger)
                    )
                    return try await ClinicKeys.current(
                        for: clinic,
                        tenantID: astana,
                        at: time,
                        sealer: rotation.sealer,
                        on: connection,
                        logger: owner.logger
                    ).keyID
                }
            }
            func trusted() async throws -> [[UInt8]] {
                try await owner.withTenant(astana) { connection in
                    try await ClinicKeys.trusted(tenantID: astana, on: connection, logger: owner.logger).map(\.keyID)
                }
            }
            // A new clinic's first key is made and published before its first certificate.
            #expect(try await rotation.rotateAll(at: now) == 1)
            #expect(try await rotation.rotateAll(at: now) == 0)
            let first = try await trusted()
            #expect(first.count == 1)
            // Newly published, but the only key valid: it signs.
            #expect(try await signer(at: now) == first[0])
            // Nothing to do until 14 days before it expires (90 days).
            #expect(try await rotation.rotateAll(at: now.addingTimeInterval(75 * 86_400)) == 0)
            let near = now.addingTimeInterval(80 * 86_400)
            #expect(try await rotation.rotateAll(at: near) == 1)
            let both = try await trusted()
            #expect(both.count == 2)
            let next = try #require(both.first { $0 != first[0] })
            // The old key signs until the new one has been in the trust list for a day.
            #expect(try await signer(at: near.addingTimeInterval(3_600)) == first[0])
            #expect(try await signer(at: near.addingTimeInterval(2 * 86_400)) == next)
            // A removed key never signs again: the clinic's next certificate gets a fresh key.
            #expect(try await ClinicKeys.remove(keyID: next, tenantID: astana, database: owner))
            #expect(try await ClinicKeys.remove(keyID: first[0], tenantID: astana, database: owner))
            let fresh = try await signer(at: near.addingTimeInterval(2 * 86_400))
            #expect(fresh != next && fresh != first[0])
        }
    }

    @Test("a request body larger than a token is refused before parsing")
    func oversized() async throws {
        try await WebFixture.with { _, client in
            let body = #"{"token": "SL1:\#(String(repeating: "A", count: 10_000))"}"#
            let response = try await call(client, .post, "/api/astana/sick-leave/verify", json: body)
            #expect(response.status == .contentTooLarge)
        }
    }
}
