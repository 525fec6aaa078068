import Foundation

/// A real SMTP server (aiosmtpd) run by `scripts/smtp-test-server.py`: each message it takes is
/// read by Python's own email parser and kept as JSON, so the tests see what a mail client would.
struct TestSMTPServer: Sendable {
    struct Received: Decodable, Sendable {
        var mail_from: String
        var rcpt_tos: [String]
        var smtputf8: Bool
        var from: String
        var to: String
        var subject: String
        var date: String
        var message_id: String
        var content_type: String
        var charset: String?
        var body: String
        var defects: [String]
        var raw: String
    }

    enum Security { case plain, implicitTLS, startTLS }

    let peer: TestPeer
    var port: Int { peer.port }
    /// The certificate (PEM) the server presents when it runs with TLS.
    var certificate: String? { peer.certificate }

    /// Starts the server: with a fresh self-signed certificate for `localhost`, over TLS from
    /// the first byte or after STARTTLS; asking for `user` when given, offering SMTPUTF8 when `utf8`.
    init(_ security: Security, user: (name: String, password: String)? = nil, utf8: Bool = false) async throws {
        peer = try await TestPeer(script: "smtp-test-server.py", tls: security != .plain) { files in
            var arguments: [String] = []
            if let files {
                arguments += [security == .startTLS ? "--starttls" : "--tls", files.certificate, files.key]
            }
            if let user { arguments += ["--user", user.name, user.password] }
            if utf8 { arguments.append("--utf8") }
            return arguments
        }
    }

    /// What the server took, oldest first.
    func received() throws -> [Received] { try peer.received(Received.self) }

    func stop() { peer.stop() }
}
