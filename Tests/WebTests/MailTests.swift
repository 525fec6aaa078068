import Core
import Foundation
import MealPayments
import Messaging
import PostgresNIO
import Storage
import TestSupport
import Testing

@testable import Web

@Suite("Email through a real SMTP server")
struct MailTests {
    static let sender = "adal@astana.gov.kz"

    @Test("a message crosses TLS and the sign-in and reads, in Python's mail parser, as it was written")
    func delivered() async throws {
        let server = try await TestSMTPServer(.implicitTLS, user: ("adal-mail", "p@ss word"))
        defer { server.stop() }
        let client = try SMTPClient(
            server: SMTPServer(
                url: "smtps://adal-mail:p%40ss%20word@localhost:\(server.port)",
                trustedCertificates: server.certificate
            ),
            heloName: "astana.gov.kz"
        )
        let id = UUID()
        let subject = "Adal: Әлия Серікқызының тамақ шотында 250,00 ₸ қалды — толтыруды ұмытпаңыз"
        // Lines of a dot, which SMTP's DATA would otherwise read as the end or strip, come back whole.
        let body = "Баланс төмен: 250,00 ₸.\n.\n.жасырын жол\nАдал"
        try await client.send(
            MailMessage(from: Self.sender, to: "mother@mail.kz", subject: subject, body: body, id: id),
            at: Date(timeIntervalSince1970: 1_795_000_000)
        )
        let received = try server.received()
        #expect(received.count == 1)
        let mail = try #require(received.first)
        #expect(mail.mail_from == Self.sender)
        #expect(mail.rcpt_tos == ["mother@mail.kz"])
        #expect(mail.subject == subject)
        // The text travels in its canonical form, lines ending CRLF (RFC 2046), and reads back whole.
        #expect(mail.body == body.replacingOccurrences(of: "\n", with: "\r\n"))
        #expect(mail.message_id == "<\(id.uuidString.lowercased())@astana.gov.kz>")
        #expect(mail.from == "Adal <adal@astana.gov.kz>")
        #expect(mail.to == "mother@mail.kz")
        #expect(mail.content_type == "text/plain" && mail.charset == "utf-8")
        #expect(mail.date == "Wed, 18 Nov 2026 11:06:40 +0000")
        #expect(mail.defects.isEmpty, "\(mail.defects)")
        // Every header line within 78 characters (RFC 5322), the subject folded into words.
        let headers = mail.raw.components(separatedBy: "\r\n\r\n")[0].components(separatedBy: "\r\n")
        #expect(headers.allSatisfy { $0.count <= 78 }, "\(headers)")
    }

    @Test("an address in Kazakh letters: its domain in Punycode, or whole where the server takes UTF-8")
    func internationalAddresses() async throws {
        let idna = try ProjectTool.run(
            ProjectTool.venv("python"),
            ["-c", "print('ana@' + 'почта.қаз'.encode('idna').decode())"]
        )
        let expected = idna.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(expected.hasPrefix("ana@xn--"), "\(idna.output)")

        let plain = try await TestSMTPServer(.plain)
        defer { plain.stop() }
        let ascii = try SMTPClient(server: SMTPServer(url: "smtp://127.0.0.1:\(plain.port)"), heloName: "astana.gov.kz")
        try await ascii.send(
            MailMessage(from: Self.sender, to: "ana@почта.қаз", subject: "Adal", body: "Сәлем", id: UUID())
        )
        #expect(try plain.received().map(\.rcpt_tos) == [[expected]])
        #expect(try plain.received().first?.smtputf8 == false)
        // Letters outside ASCII before the @ cannot be written for this server.
        await #expect(throws: SMTPError.self) {
            try await ascii.send(
                MailMessage(from: Self.sender, to: "ана@почта.қаз", subject: "Adal", body: "Сәлем", id: UUID())
            )
        }
        #expect(try plain.received().count == 1)

        let utf8 = try await TestSMTPServer(.plain, utf8: true)
        defer { utf8.stop() }
        let whole = try SMTPClient(server: SMTPServer(url: "smtp://127.0.0.1:\(utf8.port)"), heloName: "astana.gov.kz")
        try await whole.send(
            MailMessage(from: Self.sender, to: "ана@почта.қаз", subject: "Adal", body: "Сәлем", id: UUID())
        )
        let taken = try #require(try utf8.received().first)
        #expect(taken.rcpt_tos == ["ана@почта.қаз"] && taken.smtputf8)
        #expect(taken.body == "Сәлем")
    }

    @Test("a wrong password, an untrusted certificate and a malformed server address are refused")
    func refused() async throws {
        let server = try await TestSMTPServer(.implicitTLS, user: ("adal-mail", "right"))
        defer { server.stop() }
        let message = MailMessage(from: Self.sender, to: "mother@mail.kz", subject: "Adal", body: "Сәлем", id: UUID())
        let wrong = try SMTPClient(
            server: SMTPServer(
                url: "smtps://adal-mail:wrong@localhost:\(server.port)",
                trustedCertificates: server.certificate
            ),
            heloName: "astana.gov.kz"
        )
        let refusal = await #expect(throws: SMTPError.self) { try await wrong.send(message) }
        #expect(refusal?.description == "the mail server refused the sign-in (AUTH PLAIN) with 535 (5.7.8)")
        #expect(refusal?.description.contains("wrong") == false)
        #expect(refusal?.refusesAddress == false)
        // A mailbox that does not exist: the address refused for good, by the recipient's step.
        let right = try SMTPClient(
            server: SMTPServer(
                url: "smtps://adal-mail:right@localhost:\(server.port)",
                trustedCertificates: server.certificate
            ),
            heloName: "astana.gov.kz"
        )
        var toNobody = message
        toNobody.to = "nobody@mail.kz"
        let nobody = await #expect(throws: SMTPError.self) { try await right.send(toNobody) }
        #expect(nobody == .refused(step: SMTPError.recipientStep, code: 550, status: "5.1.1"))
        #expect(nobody?.refusesAddress == true)
        // The system's authorities do not vouch for the test server's own certificate.
        let untrusting = try SMTPClient(
            server: SMTPServer(url: "smtps://adal-mail:right@localhost:\(server.port)"),
            heloName: "astana.gov.kz"
        )
        await #expect(throws: (any Error).self) { try await untrusting.send(message) }
        #expect(try server.received().isEmpty)

        for (url, reason) in [
            ("https://mail.example.kz", "must start smtps:// or smtp://"),
            ("smtps://adal@mail.example.kz", "both a user name and a password"),
            ("smtps://mail.example.kz:465/inbox", "no path"),
        ] {
            #expect(throws: SMTPError.self) { try SMTPServer(url: url) }
            do {
                _ = try SMTPServer(url: url)
            } catch {
                #expect(error.description.contains(reason), "\(url): \(error)")
            }
        }
    }

    @Test("STARTTLS before anything else on smtp://, and nothing sent to a server that does not offer it")
    func startTLS() async throws {
        let server = try await TestSMTPServer(.startTLS, user: ("adal-mail", "secret"))
        defer { server.stop() }
        let submission = try SMTPServer(url: "smtp://adal-mail:secret@localhost:\(server.port)")
        #expect(submission.security == .startTLS)
        #expect(try SMTPServer(url: "smtp://smtp.example.kz").port == 587)
        #expect(try SMTPServer(url: "smtp://127.0.0.1").security == .loopback)
        let message = MailMessage(from: Self.sender, to: "mother@mail.kz", subject: "Adal", body: "Сәлем", id: UUID())
        var trusted = submission
        trusted.trustedCertificates = server.certificate
        try await SMTPClient(server: trusted, heloName: "astana.gov.kz").send(message)
        #expect(try server.received().map(\.body) == ["Сәлем"])
        // The same through the system's authorities: the certificate is checked after STARTTLS too.
        await #expect(throws: (any Error).self) {
            try await SMTPClient(server: submission, heloName: "astana.gov.kz").send(message)
        }
        // A server reached by name that offers no STARTTLS gets neither the password nor the message.
        let plain = try await TestSMTPServer(.plain, user: ("adal-mail", "secret"))
        defer { plain.stop() }
        let downgraded = try SMTPClient(
            server: SMTPServer(url: "smtp://adal-mail:secret@localhost:\(plain.port)"),
            heloName: "astana.gov.kz"
        )
        let refusal = await #expect(throws: SMTPError.self) { try await downgraded.send(message) }
        #expect(refusal?.description.contains("offers no STARTTLS") == true, "\(String(describing: refusal))")
        #expect(try plain.received().isEmpty && server.received().count == 1)
    }

    @Test("the server's email channel: a code by SMTP and never kept; an alert sent once across its job's retries")
    func serverChannel() async throws {
        let server = try await TestSMTPServer(.implicitTLS, user: ("adal-mail", "secret"))
        defer { server.stop() }
        let (port, certificate) = (server.port, server.certificate)
        let configure: @Sendable (inout AppConfiguration) -> Void = {
            $0.smtpURL = "smtps://adal-mail:secret@localhost:\(port)"
            $0.mailFrom = Self.sender
            $0.smtpTrustedCertificates = certificate
        }
        try await WebFixture.with(configure: configure) { fixture, client in
            var browser = Browser(client: client)
            _ = try await browser.signIn("astana", login: "parent")
            let sent = try await browser.post(
                "/astana/account/contacts?lang=en",
                form: ["kind": "email", "address": "parent@mail.kz"]
            )
            #expect(sent.status == .ok)
            let codeMail = try #require(try server.received().last)
            #expect(codeMail.rcpt_tos == ["parent@mail.kz"])
            #expect(codeMail.subject.hasPrefix("Adal: your confirmation code"), "\(codeMail.subject)")
            let code = try #require(codeMail.body.split(whereSeparator: { !$0.isNumber }).first { $0.count == 6 })
            // The code went by mail and is kept in no table.
            #expect(try await fixture.keptMessages(containing: String(code)) == 0)
            let confirmed = try await browser.post(
                "/astana/account/contacts/confirm?lang=en",
                form: ["kind": "email", "code": String(code)]
            )
            #expect(confirmed.main.contains("Confirmed: messages now go to parent@mail.kz."), "\(confirmed.main)")

            // An alert whose SMS gateway fails once: the job runs again, the email goes once.
            let city = try await MealCity.make(fixture, client)
            try await city.alertAcrossRetry(through: try #require(fixture.dependencies.channel(.email)))
            let alerts = try server.received().filter { $0.rcpt_tos == ["mother@mail.kz"] }
            #expect(alerts.count == 1, "\(alerts.map(\.subject))")
            let alert = try #require(alerts.first)
            #expect(alert.body.contains("300") || alert.body.contains("150"), "\(alert.body)")
            #expect(alert.defects.isEmpty)
            // What the gateway took is kept once, with the address, for a later retry to find.
            #expect(try await fixture.keptMessages(channel: "email", address: "mother@mail.kz", fromJob: true) == 1)
        }
    }
}
