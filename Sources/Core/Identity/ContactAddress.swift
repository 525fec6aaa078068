/// Where a person can be reached outside Adal's pages: an email address or a Kazakh mobile
/// number, as typed on the account page. Adal sends to one only after its owner has typed back
/// a code sent to it (`ContactBook`), so a mistyped address reaches nobody with a child's name.
public struct ContactAddress: Hashable, Sendable, CustomStringConvertible {
    /// The gateways a message goes through; the raw values name the notification channels.
    public enum Kind: String, CaseIterable, Sendable {
        case email
        case sms
    }

    public let kind: Kind
    /// The address as kept: an email address with its domain in small letters, or a number as
    /// `+77011234567`.
    public let text: String

    /// The longest email address a mail server accepts (RFC 5321's path limit, less its brackets).
    public static let maximumEmailLength = 254

    /// Validates `input` as an address of `kind`, naming `field` in the error.
    public init(_ input: String, kind: Kind, field: String) throws(AdalError) {
        self.kind = kind
        switch kind {
        case .email: text = try Self.email(input, field: field)
        case .sms: text = try Self.mobile(input, field: field)
        }
    }

    /// An address read back from the database, already checked when it was kept.
    public init(stored text: String, kind: Kind) {
        self.kind = kind
        self.text = text
    }

    public var description: String { text }

    /// The address with most of it hidden, for a page that only needs to say which one.
    public var masked: String {
        switch kind {
        case .email:
            let parts = text.split(separator: "@", maxSplits: 1)
            guard parts.count == 2 else { return "•••" }
            return String(parts[0].prefix(1)) + "•••@" + parts[1]
        case .sms:
            return "+7 " + text.dropFirst(2).prefix(3) + " ••• •• " + text.suffix(2)
        }
    }

    /// The number as people read it, `+7 701 123 45 67`.
    public var spaced: String {
        guard kind == .sms else { return text }
        let digits = Array(text.dropFirst(2))
        return "+7 " + String(digits[0..<3]) + " " + String(digits[3..<6]) + " " + String(digits[6..<8]) + " "
            + String(digits[8..<10])
    }

    // Why an address is refused (the pages say each in the reader's language).
    public static let emailShape = "an email address looks like name@example.kz"
    public static let emailTooLong = "an email address is at most \(maximumEmailLength) characters"
    public static let mobileShape = "a Kazakh mobile number: +7 7XX XXX XX XX (or 8 7XX XXX XX XX)"
    public static let landline = "this is a landline number, which cannot receive SMS: give a mobile number"

    /// The national significant number's first two digits of Kazakhstan's mobile networks
    /// (70x, 74x, 75x, 76x, 77x); 71x and 72x are the regions' landlines.
    static let mobilePrefixes: Set<String> = ["70", "74", "75", "76", "77"]

    /// `+7` and ten digits from the forms people write a number in: with `+7`, `8` or `7` in
    /// front or without, with spaces, hyphens, dots and brackets anywhere.
    static func mobile(_ input: String, field: String) throws(AdalError) -> String {
        var compact = input.filter { !" \t-().".contains($0) }
        if compact.hasPrefix("+") {
            guard compact.hasPrefix("+7") else { throw .invalidField(field: field, reason: mobileShape) }
            compact.removeFirst(2)
        } else if compact.count == 11, compact.hasPrefix("8") || compact.hasPrefix("7") {
            compact.removeFirst()
        }
        guard compact.count == 10, compact.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) else {
            throw .invalidField(field: field, reason: mobileShape)
        }
        let prefix = String(compact.prefix(2))
        guard mobilePrefixes.contains(prefix) else {
            throw .invalidField(field: field, reason: prefix.hasPrefix("7") ? landline : mobileShape)
        }
        return "+7" + compact
    }

    /// An address as mail servers take it: a local part of 1–64 printable characters without
    /// spaces, quotes, brackets, commas or semicolons, one `@`, and a domain of two or more
    /// labels of letters, digits and inner hyphens (letters of any script), its last not all
    /// digits. The domain is kept in small letters; the local part as typed.
    static func email(_ input: String, field: String) throws(AdalError) -> String {
        let trimmed = input.trimmingWhitespace()
        guard trimmed.count <= maximumEmailLength else { throw .invalidField(field: field, reason: emailTooLong) }
        let parts = trimmed.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, (1...64).contains(parts[0].utf8.count) else {
            throw .invalidField(field: field, reason: emailShape)
        }
        let local = parts[0]
        let refused: Set<Character> = ["\"", "<", ">", "(", ")", ",", ";", ":", "\\", "[", "]"]
        guard
            local.allSatisfy({
                !$0.isWhitespace && !refused.contains($0)
                    && !$0.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7f }
            }),
            !local.hasPrefix("."), !local.hasSuffix("."), !local.contains("..")
        else { throw .invalidField(field: field, reason: emailShape) }
        let domain = parts[1].lowercased()
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2,
            labels.allSatisfy({ label in
                (1...63).contains(label.utf8.count) && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.allSatisfy { $0 == "-" || $0.isLetter || ("0"..."9").contains($0) }
            }),
            let last = labels.last, !last.allSatisfy({ ("0"..."9").contains($0) })
        else { throw .invalidField(field: field, reason: emailShape) }
        return local + "@" + domain
    }
}
