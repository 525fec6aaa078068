import Core
import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Where mail is handed over: a submission server over TLS from the first byte
/// (`smtps://user:password@smtp.example.kz:465`, RFC 8314), one that turns TLS on with STARTTLS
/// (`smtp://user:password@smtp.example.kz:587`, RFC 3207; a server that does not offer it gets
/// nothing), or a relay on the same machine without TLS (`smtp://127.0.0.1:25`, a local Postfix).
/// Guardians' messages and the password never cross the network readable.
public struct SMTPServer: Sendable {
    public enum Security: Sendable, Equatable {
        /// TLS from the first byte.
        case implicitTLS
        /// STARTTLS before anything else, or nothing sent.
        case startTLS
        /// A relay at 127.0.0.1 or ::1: no TLS.
        case loopback
    }

    public let host: String
    public let port: Int
    public let security: Security
    public let username: String?
    public let password: String?
    /// PEM certificates trusted instead of the system's (a city's own authority); nil trusts
    /// the system's.
    public var trustedCertificates: String?

    public init(url text: String, trustedCertificates: String? = nil) throws(SMTPError) {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host,
            !host.isEmpty
        else { throw .configuration("the SMTP address must look like smtps://user:password@smtp.example.kz:465") }
        guard url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil else {
            throw .configuration("the SMTP address takes no path, query or fragment")
        }
        switch scheme {
        case "smtps": security = .implicitTLS
        // Only the addresses themselves: a name, even localhost, gets STARTTLS.
        case "smtp": security = ["127.0.0.1", "::1", "[::1]"].contains(host) ? .loopback : .startTLS
        default: throw .configuration("the SMTP address must start smtps:// or smtp://")
        }
        self.host = host
        port = url.port ?? [.implicitTLS: 465, .startTLS: 587, .loopback: 25][security, default: 25]
        guard (1...65_535).contains(port) else { throw .configuration("the SMTP port must be from 1 to 65535") }
        username = url.user?.removingPercentEncoding
        password = url.password?.removingPercentEncoding
        guard (username == nil) == (password == nil) else {
            throw .configuration("the SMTP address needs both a user name and a password, or neither")
        }
        self.trustedCertificates = trustedCertificates
    }
}

/// What went wrong handing a message over. The description names the step and the server's
/// reply code, never the addresses or the password.
public enum SMTPError: Error, CustomStringConvertible, Equatable {
    case configuration(String)
    /// The server answered `code` (and its enhanced status, such as `5.1.1`) to `step`.
    case refused(step: String, code: Int, status: String?)
    case protocolViolation(String)
    /// The recipient's address cannot be written for this server.
    case address(String)

    public var description: String {
        switch self {
        case .configuration(let reason): "SMTP configuration: \(reason)"
        case .refused(let step, let code, let status):
            "the mail server refused \(step) with \(code)" + (status.map { " (\($0))" } ?? "")
        case .protocolViolation(let reason): "the mail server broke the protocol: \(reason)"
        case .address(let reason): reason
        }
    }

    /// A 4xx reply: the same message may pass later.
    public var isTransient: Bool {
        if case .refused(_, let code, _) = self { return (400..<500).contains(code) }
        return false
    }

    /// How ``refused(step:code:status:)`` names the recipient's step.
    public static let recipientStep = "the recipient (RCPT TO)"
}

extension SMTPError: GatewayRefusal {
    /// A 5xx reply to the recipient (no such mailbox, RFC 5321 4.2.2), or an address this
    /// server cannot take.
    public var refusesAddress: Bool {
        switch self {
        case .refused(Self.recipientStep, let code, _): (500..<600).contains(code)
        case .address: true
        default: false
        }
    }
}

/// Hands messages to an SMTP server (RFC 5321), one connection per message: EHLO, STARTTLS and
/// EHLO again when the address asks for it, AUTH PLAIN when the address names a user (over TLS,
/// or to this machine), MAIL, RCPT, DATA, QUIT. UTF-8
/// addresses go as they are to a server that offers SMTPUTF8 (RFC 6531), else with their domain
/// in Punycode. A reply is read to at most 100 lines of 512 bytes.
public struct SMTPClient: Sendable {
    let server: SMTPServer
    let heloName: String
    let sslContext: NIOSSLContext?

    public init(server: SMTPServer, heloName: String) throws {
        self.server = server
        self.heloName = heloName
        if server.security != .loopback {
            sslContext = try clientTLS(trusting: server.trustedCertificates)
        } else {
            sslContext = nil
        }
    }

    /// Hands `message` over within `deadline` (connecting included), or throws: a server that
    /// stops answering is cut off, not waited for.
    public func send(_ message: MailMessage, at date: Date = Date(), deadline: Duration = .seconds(30)) async throws {
        guard try await finished(within: deadline, { try await converse(message, at: date) }) else {
            throw SMTPError.protocolViolation("no answer within \(deadline.components.seconds) s")
        }
    }

    private func converse(_ message: MailMessage, at date: Date) async throws {
        guard let recipient = MailAddress.envelope(message.to) else {
            throw SMTPError.address("the recipient's address cannot be written in an SMTP command")
        }
        guard let sender = MailAddress.envelope(message.from) else {
            throw SMTPError.configuration("the sender's address cannot be written in an SMTP command")
        }
        let (host, sslContext, security) = (server.host, sslContext, server.security)
        let name = serverName(host)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: server.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if security == .implicitTLS, let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: name)
                        )
                    }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let connection = channel.channel
        try await channel.executeThenClose { inbound, outbound in
            var session = Session(replies: ReplyReader(inbound.makeAsyncIterator()), outbound: outbound)
            try await session.expect("the greeting", 220)
            var extensions = try await session.command("EHLO \(heloName)", step: "EHLO", 250).lines.dropFirst()
                .map { $0.uppercased() }
            if security == .startTLS, let sslContext {
                guard extensions.contains("STARTTLS") else {
                    throw SMTPError.protocolViolation("the server offers no STARTTLS, and nothing is sent unencrypted")
                }
                try await session.command("STARTTLS", step: "STARTTLS", 220)
                // Bytes after the 220 were sent before TLS: an attacker's, injected (RFC 3207, 5).
                guard session.replies.pending.isEmpty else {
                    throw SMTPError.protocolViolation("the server sent more before TLS began")
                }
                try await connection.eventLoop.submit {
                    try connection.pipeline.syncOperations.addHandler(
                        try NIOSSLClientHandler(context: sslContext, serverHostname: name),
                        position: .first
                    )
                }.get()
                // What the server said before TLS is forgotten (RFC 3207, 4.2).
                extensions = try await session.command("EHLO \(heloName)", step: "EHLO", 250).lines.dropFirst()
                    .map { $0.uppercased() }
            }
            if let username = server.username, let password = server.password {
                let token = Data("\u{0}\(username)\u{0}\(password)".utf8).base64EncodedString()
                try await session.command("AUTH PLAIN \(token)", step: "the sign-in (AUTH PLAIN)", 235)
            }
            let utf8 = extensions.contains { $0 == "SMTPUTF8" || $0.hasPrefix("SMTPUTF8 ") }
            let needsUTF8 = !(sender + recipient).unicodeScalars.allSatisfy(\.isASCII)
            let (from, to): (String, String)
            if needsUTF8 && !utf8 {
                guard let asciiTo = MailAddress.ascii(recipient), let asciiFrom = MailAddress.ascii(sender) else {
                    throw SMTPError.address(
                        "the address has letters outside ASCII before its @ and the mail server does not take UTF-8 addresses"
                    )
                }
                (from, to) = (asciiFrom, asciiTo)
            } else {
                (from, to) = (sender, recipient)
            }
            try await session.command(
                "MAIL FROM:<\(from)>" + (needsUTF8 && utf8 ? " SMTPUTF8" : ""),
                step: "the sender (MAIL FROM)",
                250
            )
            try await session.command("RCPT TO:<\(to)>", step: SMTPError.recipientStep, 250, 251)
            try await session.command("DATA", step: "DATA", 354)
            let text = message.rendered(at: date, to: to, from: from)
            // Dot-stuffing (RFC 5321, 4.5.2): a line that starts with "." gets another. The body is
            // base64, so only a header could, and none does; kept so no line ever ends DATA early.
            let stuffed = text.split(separator: "\r\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(".") ? "." + $0 : String($0) }.joined(separator: "\r\n")
            try await session.command(
                stuffed + (stuffed.hasSuffix("\r\n") ? "" : "\r\n") + ".",
                step: "the message",
                250
            )
            _ = try? await session.command("QUIT", step: "QUIT", 221)
        }
    }
}

/// One reply of the server: its code and its lines' text.
struct SMTPReply {
    var code: Int
    var lines: [String]

    /// The enhanced status code (RFC 3463) the reply starts with, if any.
    var status: String? {
        guard let first = lines.first?.split(separator: " ").first,
            first.wholeMatch(of: /[245]\.\d{1,3}\.\d{1,3}/) != nil
        else { return nil }
        return String(first)
    }
}

/// Reads replies from the connection's bytes: lines ending CRLF, `250-…` continuing a reply,
/// `250 …` ending it.
struct ReplyReader {
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var pending: [UInt8] = []

    init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) {
        self.iterator = iterator
    }

    mutating func next() async throws -> SMTPReply {
        var lines: [String] = []
        var code: Int?
        while lines.count < 100 {
            let line = try await nextLine()
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, let value = Int(String(line.prefix(3))), (200..<600).contains(value),
                code == nil || code == value
            else { throw SMTPError.protocolViolation("a reply line without its code") }
            code = value
            let last = bytes.count == 3 || bytes[3] == UInt8(ascii: " ")
            guard last || bytes[3] == UInt8(ascii: "-") else {
                throw SMTPError.protocolViolation("a reply line without its code")
            }
            lines.append(String(line.dropFirst(4)))
            if last { return SMTPReply(code: value, lines: lines) }
        }
        throw SMTPError.protocolViolation("a reply of more than 100 lines")
    }

    private mutating func nextLine() async throws -> String {
        while true {
            if let end = pending.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(pending[..<end])
                pending.removeSubrange(...end)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard pending.count <= 512 else { throw SMTPError.protocolViolation("a reply line over 512 bytes") }
            guard var buffer = try await iterator.next() else {
                throw SMTPError.protocolViolation("the connection closed in the middle of the conversation")
            }
            pending += buffer.readBytes(length: buffer.readableBytes) ?? []
        }
    }
}

/// One conversation: a command written, its reply read and checked.
struct Session {
    var replies: ReplyReader
    let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>

    mutating func expect(_ step: String, _ codes: Int...) async throws {
        let reply = try await replies.next()
        guard codes.contains(reply.code) else {
            throw SMTPError.refused(step: step, code: reply.code, status: reply.status)
        }
    }

    @discardableResult
    mutating func command(_ line: String, step: String, _ codes: Int...) async throws -> SMTPReply {
        try await outbound.write(ByteBuffer(string: line + "\r\n"))
        let reply = try await replies.next()
        guard codes.contains(reply.code) else {
            throw SMTPError.refused(step: step, code: reply.code, status: reply.status)
        }
        return reply
    }
}
