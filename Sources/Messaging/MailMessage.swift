import Foundation

/// A plain-text email as Adal sends it: one sender, one recipient, a subject and a body in any
/// language. ``rendered(at:)`` writes it in the Internet Message Format (RFC 5322): the subject
/// as UTF-8 encoded words (RFC 2047), the body as UTF-8 in base64, so it passes any server,
/// 8BITMIME or not; the `Message-ID` carries the message's own id, so a receiving system can
/// recognise the same message sent twice.
public struct MailMessage: Sendable, Equatable {
    public var from: String
    public var to: String
    public var subject: String
    public var body: String
    /// The message's id (`<id@sender's domain>`).
    public var id: UUID

    public init(from: String, to: String, subject: String, body: String, id: UUID) {
        self.from = from
        self.to = to
        self.subject = subject
        self.body = body
        self.id = id
    }

    /// The message's bytes, lines ending CRLF, without the SMTP dot-stuffing.
    /// `to` is the recipient as the envelope names it (its domain as ASCII when the server
    /// takes no UTF-8 addresses).
    public func rendered(at date: Date, to recipient: String? = nil, from sender: String? = nil) -> String {
        let domain = (sender ?? from).split(separator: "@").last.map(String.init) ?? "localhost"
        let headers = [
            "From: Adal <\(sender ?? from)>",
            "To: <\(recipient ?? to)>",
            "Subject: " + Self.encodedWords(subject),
            "Date: " + Self.dateText(date),
            "Message-ID: <\(id.uuidString.lowercased())@\(domain)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: base64",
        ]
        let text = body.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
        let encoded = Data(text.utf8).base64EncodedString(options: [
            .lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed,
        ])
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + encoded + "\r\n"
    }

    /// A header's text as it may stand in a header: as it is when it is printable ASCII of at
    /// most 70 characters, else as UTF-8 encoded words of at most 40 bytes each (68 characters
    /// with their markers), folded onto lines of their own.
    static func encodedWords(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        if flat.utf8.count <= 70, flat.unicodeScalars.allSatisfy({ (0x20...0x7e).contains($0.value) }),
            !flat.contains("=?")
        {
            return flat
        }
        var words: [String] = []
        var chunk = ""
        for character in flat {
            if chunk.utf8.count + String(character).utf8.count > 40 {
                words.append(chunk)
                chunk = ""
            }
            chunk.append(character)
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?" + Data($0.utf8).base64EncodedString() + "?=" }.joined(separator: "\r\n ")
    }

    static func dateText(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}

/// Email addresses as SMTP's commands carry them.
public enum MailAddress {
    /// `address` when it can stand between `<` and `>` in a command: no spaces, controls or
    /// angle brackets, one `@` with something on each side, at most 254 bytes; nil otherwise.
    public static func envelope(_ address: String) -> String? {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, address.utf8.count <= 254,
            address.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value != 0x7f && $0 != "<" && $0 != ">" })
        else { return nil }
        return address
    }

    /// `address` in ASCII for a server without SMTPUTF8: its domain's labels in Punycode
    /// (`почта.қаз` → `xn--80a1acny.xn--80ao21a`); nil when the local part itself is not ASCII.
    public static func ascii(_ address: String) -> String? {
        guard let at = address.lastIndex(of: "@") else { return nil }
        let local = address[..<at]
        guard local.unicodeScalars.allSatisfy(\.isASCII),
            let domain = asciiDomain(String(address[address.index(after: at)...]))
        else { return nil }
        return local + "@" + domain
    }

    /// A domain in ASCII: each label outside ASCII in Punycode with its `xn--`.
    public static func asciiDomain(_ domain: String) -> String? {
        var encoded: [String] = []
        for label in domain.split(separator: ".", omittingEmptySubsequences: false) {
            if label.unicodeScalars.allSatisfy(\.isASCII) {
                encoded.append(String(label))
            } else {
                guard let punycode = Punycode.encode(String(label).lowercased()) else { return nil }
                encoded.append("xn--" + punycode)
            }
        }
        return encoded.joined(separator: ".")
    }
}

/// RFC 3492's encoding of a Unicode label into ASCII letters, digits and hyphens.
enum Punycode {
    static let base = 36, tMin = 1, tMax = 26, skew = 38, damp = 700, initialBias = 72, initialN = 128

    static func encode(_ label: String) -> String? {
        let input = label.unicodeScalars.map { Int($0.value) }
        var output = input.filter { $0 < 0x80 }.map { Character(UnicodeScalar(UInt8($0))) }
        let basic = output.count
        var handled = basic
        if basic > 0 { output.append("-") }
        var n = initialN
        var delta = 0
        var bias = initialBias
        while handled < input.count {
            guard let next = input.filter({ $0 >= n }).min() else { return nil }
            let (product, overflow) = (next - n).multipliedReportingOverflow(by: handled + 1)
            guard !overflow else { return nil }
            delta += product
            n = next
            for code in input {
                if code < n { delta += 1 }
                if code == n {
                    var q = delta
                    var k = base
                    while true {
                        let t = k <= bias ? tMin : (k >= bias + tMax ? tMax : k - bias)
                        if q < t { break }
                        output.append(digit(t + (q - t) % (base - t)))
                        q = (q - t) / (base - t)
                        k += base
                    }
                    output.append(digit(q))
                    bias = adapt(delta, points: handled + 1, first: handled == basic)
                    delta = 0
                    handled += 1
                }
            }
            delta += 1
            n += 1
        }
        return String(output)
    }

    static func digit(_ value: Int) -> Character {
        Character(UnicodeScalar(UInt8(value < 26 ? value + 97 : value + 22)))
    }

    static func adapt(_ delta: Int, points: Int, first: Bool) -> Int {
        var delta = first ? delta / damp : delta / 2
        delta += delta / points
        var k = 0
        while delta > ((base - tMin) * tMax) / 2 {
            delta /= base - tMin
            k += base
        }
        return k + (base - tMin + 1) * delta / (delta + skew)
    }
}
