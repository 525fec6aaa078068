import Core
import Foundation
import MealPayments
import Messaging
import Prometheus
import Storage

/// Email through the city's SMTP server (`ADAL_SMTP_URL`, `ADAL_MAIL_FROM`): each message as a
/// plain-text email whose subject is its first sentence and whose `Message-ID` is its reference.
/// Without the address, email stays simulated (``RecordedChannel`` without a gateway).
public struct MailGateway: Sendable {
    let client: SMTPClient
    let from: String

    /// The gateway the configuration describes, or nil when it names no SMTP server; a wrong
    /// address is refused here, at start, naming what is wrong.
    public static func configured(_ configuration: AppConfiguration) throws -> MailGateway? {
        guard let url = configuration.smtpURL else { return nil }
        let server = try SMTPServer(url: url, trustedCertificates: configuration.smtpTrustedCertificates)
        guard let from = configuration.mailFrom, MailAddress.envelope(from) != nil,
            from.split(separator: "@").last?.contains(".") == true
        else {
            throw SMTPError.configuration(
                "ADAL_MAIL_FROM must be the address mail is sent from, such as adal@astana.gov.kz"
            )
        }
        // EHLO names this server by the sender's domain, in ASCII.
        let domain = from.split(separator: "@").last.map(String.init) ?? "localhost"
        let helo = MailAddress.asciiDomain(domain) ?? "localhost"
        return MailGateway(client: try SMTPClient(server: server, heloName: helo), from: from)
    }

    /// The email channel: this gateway behind the record that keeps each message once, each
    /// hand-over counted in `metrics` (``countedGateway(_:metrics:_:)``).
    public func channel(database: Database, metrics: PrometheusCollectorRegistry) -> RecordedChannel {
        RecordedChannel(
            kind: .email,
            database: database,
            // Mail has no delivery report to ask for: a bounce would come later, as mail.
            gateway: countedGateway(.email, metrics: metrics) { message in
                try await send(message.text, to: message.address.text, reference: message.reference)
                return nil
            }
        )
    }

    /// Sends `text` to `address` as an email whose `Message-ID` carries `reference`.
    public func send(_ text: String, to address: String, reference: UUID = UUID()) async throws {
        try await client.send(
            MailMessage(from: from, to: address, subject: Self.subject(text), body: text, id: reference)
        )
    }

    /// A message's subject: its first sentence or line, cut at a word to at most 100 characters.
    static func subject(_ text: String) -> String {
        let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? text
        let sentence = line.range(of: ". ").map { String(line[..<$0.lowerBound]) + "." } ?? line
        guard sentence.count > 100 else { return sentence }
        let cut = sentence.prefix(99)
        return (cut.lastIndex(of: " ").map { String(cut[..<$0]) } ?? String(cut)) + "…"
    }
}
