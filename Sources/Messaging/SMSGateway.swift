import Core
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// An SMS aggregator's HTTP API, Mobizon's (`https://api.mobizon.kz`, which Kazakh senders use):
/// one message a request, `POST /service/message/sendsmsmessage?output=json&api=v1&apiKey=…`
/// with the number, the text and the sender's registered name as a form; the answer is JSON
/// whose `code` is 0 when the message was taken. What became of the messages it took is asked
/// by their ids (`getsmsstatus`, ``deliveries(of:deadline:)``). Over TLS, the certificate checked against the
/// system's authorities or the city's own (`trustedCertificates`); plain HTTP only to a gateway
/// on this machine. The API key travels in the query, as the API asks, and is never logged.
public struct SMSGateway: Sendable {
    public let host: String
    public let port: Int
    let apiKey: String
    /// The sender's name as registered with the aggregator (up to 11 letters and digits); nil
    /// uses the account's default.
    let sender: String?
    let sslContext: NIOSSLContext?

    /// Longest text sent: a dozen SMS parts in Cyrillic.
    public static let maximumText = 800
    /// Largest answer read.
    static let maximumAnswer = 64 * 1024

    public init(
        url text: String,
        apiKey: String,
        sender: String? = nil,
        trustedCertificates: String? = nil
    )
        throws(SMSError)
    {
        guard let url = URLComponents(string: text), let scheme = url.scheme?.lowercased(), let host = url.host,
            !host.isEmpty
        else { throw .configuration("the SMS gateway's address must look like https://api.mobizon.kz") }
        guard url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil, url.user == nil else {
            throw .configuration("the SMS gateway's address takes no path, query, user or fragment")
        }
        let loopback = ["127.0.0.1", "::1", "[::1]"].contains(host)
        guard scheme == "https" || (scheme == "http" && loopback) else {
            throw .configuration("the SMS gateway's address must start https:// (http:// only to 127.0.0.1 or ::1)")
        }
        let key = apiKey.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !key.isEmpty, key.count <= 200, key.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 32 }) else {
            throw .configuration("the SMS gateway's API key must be up to 200 printable ASCII characters")
        }
        if let sender {
            guard (1...11).contains(sender.count),
                sender.unicodeScalars.allSatisfy({
                    $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))
                })
            else { throw .configuration("the SMS sender's name must be 1 to 11 Latin letters and digits") }
        }
        self.host = host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        port = url.port ?? (scheme == "https" ? 443 : 80)
        guard (1...65_535).contains(port) else {
            throw .configuration("the SMS gateway's port must be from 1 to 65535")
        }
        self.apiKey = key
        self.sender = sender
        if scheme == "https" {
            do {
                sslContext = try clientTLS(trusting: trustedCertificates)
            } catch {
                throw .configuration("the SMS gateway's trusted certificates cannot be read: \(error)")
            }
        } else {
            sslContext = nil
        }
    }

    /// Sends `text` to the Kazakh mobile number `number` (`+77011234567`), to be delivered within
    /// `validity` (an hour to a day: a code is no use later, an alert is). Returns the gateway's id
    /// of the message. Throws ``SMSError`` naming what failed — never the number, the text or
    /// the key — and gives up after `deadline`, connecting included.
    @discardableResult
    public func send(
        _ text: String,
        to number: String,
        validity: Duration = .seconds(86_400),
        deadline: Duration = .seconds(30)
    ) async throws -> String {
        let digits = number.hasPrefix("+") ? String(number.dropFirst()) : number
        guard (10...15).contains(digits.count), digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else {
            throw SMSError.number("the number must be written in digits with its country code")
        }
        guard !text.isEmpty, text.count <= Self.maximumText else {
            throw SMSError.text("an SMS text must be 1 to \(Self.maximumText) characters")
        }
        let minutes = min(max(Int(validity.components.seconds / 60), 60), 1_440)
        var form = [("recipient", digits), ("text", text), ("params[validity]", String(minutes))]
        if let sender { form.append(("from", sender)) }
        let data = try await call("sendsmsmessage", form: form, deadline: deadline) as? [String: Any]
        guard let id = Self.identifier(data?["messageId"]) else {
            throw SMSError.protocolViolation("the answer names no messageId")
        }
        return id
    }

    /// Most messages asked about in one request, as the API allows.
    public static let maximumAsked = 100

    /// The delivery reports of messages this gateway took, by the ids ``send(_:to:validity:deadline:)``
    /// returned (at most ``maximumAsked``): the final word on each that has one. A message still
    /// on its way (new, queued, handed to the operator) or unknown to the gateway is left out.
    public func deliveries(
        of ids: [String],
        deadline: Duration = .seconds(30)
    ) async throws -> [String: MessageDelivery] {
        guard !ids.isEmpty else { return [:] }
        guard ids.count <= Self.maximumAsked else {
            throw SMSError.protocolViolation("at most \(Self.maximumAsked) messages are asked about at once")
        }
        let data = try await call("getsmsstatus", form: ids.map { ("ids[]", $0) }, deadline: deadline)
        guard let reports = data as? [[String: Any]] else {
            throw SMSError.protocolViolation("the answer lists no statuses")
        }
        let asked = Set(ids)
        var deliveries: [String: MessageDelivery] = [:]
        for report in reports {
            guard let id = Self.identifier(report["id"]), asked.contains(id),
                let status = report["status"] as? String, let delivery = Self.delivery(status)
            else { continue }
            deliveries[id] = delivery
        }
        return deliveries
    }

    /// The API's final statuses (SMPP's names); the others — `NEW`, `ENQUEUD`, `ACCEPTD` — and
    /// any it may add are not final.
    static func delivery(_ status: String) -> MessageDelivery? {
        switch status.uppercased() {
        case "DELIVRD": .delivered
        case "PDLIVRD": .partial
        case "UNDELIV", "DELETED": .undelivered
        case "EXPIRED": .expired
        case "REJECTD": .rejected
        default: nil
        }
    }

    /// A message id as the API writes it: a string or a number. (One the record cannot keep is
    /// still the message's: it was taken, and is not sent again; it is only never asked about.)
    static func identifier(_ value: Any?) -> String? {
        switch value {
        case let id as String: id
        case let id as Int: String(id)
        default: nil
        }
    }

    /// The API's `method` with `form`: the answer's `data` when its `code` is 0, else the refusal.
    private func call(_ method: String, form: [(String, String)], deadline: Duration) async throws -> Any? {
        let body = form.map { Self.formEncoded($0) + "=" + Self.formEncoded($1) }.joined(separator: "&")
        let target = "/service/message/\(method)?output=json&api=v1&apiKey=" + Self.formEncoded(apiKey)
        guard let answer = try await result(within: deadline, { try await post(target, body: Array(body.utf8)) }) else {
            throw SMSError.protocolViolation("no answer within \(deadline.components.seconds) s")
        }
        return try Self.data(status: answer.status, body: answer.body)
    }

    /// The `data` of the gateway's answer, or the refusal it states.
    static func data(status: Int, body: [UInt8]) throws(SMSError) -> Any? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let code = object["code"] as? Int
        else {
            throw (200..<300).contains(status)
                ? .protocolViolation("the answer is not the API's JSON") : .status(status)
        }
        guard code == 0 else {
            // What names no person: the fields it found wrong, or the address it serves the account at.
            var detail: String?
            if let fields = object["data"] as? [String: Any], code == 1 {
                detail = fields.keys.sorted().joined(separator: ", ")
            } else if let domain = object["data"] as? String, code == 13, domain.count <= 100 {
                detail = domain
            }
            throw .refused(code: code, detail: detail)
        }
        return object["data"]
    }

    /// One HTTP/1.1 request on a connection of its own; the status and at most
    /// ``maximumAnswer`` bytes of the body.
    private func post(_ target: String, body: [UInt8]) async throws -> (status: Int, body: [UInt8]) {
        let (host, port, sslContext) = (host, port, sslContext)
        let name = serverName(host)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let sslContext {
                        try channel.pipeline.syncOperations.addHandler(
                            try NIOSSLClientHandler(context: sslContext, serverHostname: name)
                        )
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(
                        wrappingChannelSynchronously: channel
                    )
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var head = HTTPRequestHead(version: .http1_1, method: .POST, uri: target)
            // The port only when it is not the scheme's own (RFC 9110, 7.2).
            let bracketed = host.contains(":") ? "[\(host)]" : host
            head.headers.add(
                name: "Host",
                value: port == (sslContext == nil ? 80 : 443) ? bracketed : "\(bracketed):\(port)"
            )
            head.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")
            head.headers.add(name: "Content-Length", value: String(body.count))
            head.headers.add(name: "Accept", value: "application/json")
            head.headers.add(name: "User-Agent", value: "adal")
            head.headers.add(name: "Connection", value: "close")
            try await outbound.write(.head(head))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
            try await outbound.write(.end(nil))
            var status: Int?
            var answer: [UInt8] = []
            for try await part in inbound {
                switch part {
                case .head(let response): status = Int(response.status.code)
                case .body(let chunk):
                    guard answer.count + chunk.readableBytes <= Self.maximumAnswer else {
                        throw SMSError.protocolViolation("the answer is longer than \(Self.maximumAnswer) bytes")
                    }
                    answer += chunk.readableBytesView
                case .end:
                    guard let status else { break }
                    return (status, answer)
                }
            }
            throw SMSError.protocolViolation("the connection closed before the answer ended")
        }
    }

    /// `text` percent-encoded for a form or a query: everything but letters, digits and `-._~`.
    static func formEncoded(_ text: String) -> String {
        var allowed = CharacterSet(charactersIn: "-._~")
        allowed.formUnion(CharacterSet(charactersIn: "a"..."z"))
        allowed.formUnion(CharacterSet(charactersIn: "A"..."Z"))
        allowed.formUnion(CharacterSet(charactersIn: "0"..."9"))
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}

/// What went wrong handing an SMS over. The description names the gateway's code or the HTTP
/// status, never the number, the text or the API key.
public enum SMSError: Error, CustomStringConvertible, Equatable {
    case configuration(String)
    case number(String)
    case text(String)
    /// The gateway answered with the API's `code`, and what it said was wrong where that names
    /// no person (the fields of code 1, the address of code 13).
    case refused(code: Int, detail: String?)
    /// An HTTP status without the API's answer.
    case status(Int)
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .configuration(let reason): "SMS configuration: \(reason)"
        case .number(let reason), .text(let reason): reason
        case .refused(1, let fields):
            "the SMS gateway found the message invalid (code 1: \(fields ?? "no field named"))"
        case .refused(8, _): "the SMS gateway refused the API key (code 8)"
        case .refused(13, let domain):
            "the SMS gateway serves this account at \(domain ?? "another address") (code 13): change ADAL_SMS_URL"
        case .refused(14, _): "the SMS gateway's account is blocked (code 14)"
        case .refused(30, _): "the SMS gateway asks for fewer requests (code 30)"
        case .refused(let code, _): "the SMS gateway refused the message with code \(code)"
        case .status(let status): "the SMS gateway answered HTTP \(status)"
        case .protocolViolation(let reason): "the SMS gateway broke the protocol: \(reason)"
        }
    }
}

extension SMSError: GatewayRefusal {
    /// The API found the recipient invalid (code 1 naming it), or the number is not one.
    public var refusesAddress: Bool {
        switch self {
        case .refused(1, let fields):
            fields?.split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "recipient" } == true
        case .number: true
        default: false
        }
    }
}
