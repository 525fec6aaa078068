import Core

/// What a sick-leave QR code carries: one version of one certificate, signed by the clinic.
///
/// `SL1:` followed by the Base45 of a COSE_Sign1 message whose payload is a CBOR map with
/// integer keys (docs/sick-leave.md lists them). It holds what an employer needs to match the
/// certificate to the person in front of them, and nothing about the illness: no diagnosis, no
/// reason code, no IIN.
public struct SickLeaveToken: Sendable, Equatable {
    public static let prefix = "SL1:"
    /// Longest token text accepted; anything longer is refused before it is parsed.
    public static let maximumLength = 1_200

    /// The certificate's state when this version was issued.
    public enum Status: String, Sendable, CaseIterable {
        case open
        case extended
        case closed
    }

    /// 96 random bits naming the certificate across its versions.
    public var certificateID: [UInt8]
    /// 1 for the certificate as opened; each extension or closure is the next version.
    public var version: Int
    /// As written on the certificate.
    public var patientName: String
    public var dateOfBirth: CalendarDate
    public var periodStart: CalendarDate
    /// The expected end for an open or extended certificate, the actual end for a closed one.
    public var periodEnd: CalendarDate
    public var status: Status
    public var clinicName: String
    public var clinicBIN: String
    /// This version's position in the city's status list.
    public var statusIndex: Int
    /// Seconds since 1970-01-01T00:00:00Z.
    public var issuedAt: Int64

    public init(
        certificateID: [UInt8],
        version: Int,
        patientName: String,
        dateOfBirth: CalendarDate,
        periodStart: CalendarDate,
        periodEnd: CalendarDate,
        status: Status,
        clinicName: String,
        clinicBIN: String,
        statusIndex: Int,
        issuedAt: Int64
    ) {
        self.certificateID = certificateID
        self.version = version
        self.patientName = patientName
        self.dateOfBirth = dateOfBirth
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.status = status
        self.clinicName = clinicName
        self.clinicBIN = clinicBIN
        self.statusIndex = statusIndex
        self.issuedAt = issuedAt
    }

    /// Payload map keys.
    enum Key: UInt64, CaseIterable {
        case certificateID = 1
        case version = 2
        case patientName = 3
        case dateOfBirth = 4
        case periodStart = 5
        case periodEnd = 6
        case status = 7
        case clinicName = 8
        case clinicBIN = 9
        case statusIndex = 10
        case issuedAt = 11

        var name: String {
            switch self {
            case .certificateID: "certificate id"
            case .version: "version"
            case .patientName: "patient name"
            case .dateOfBirth: "date of birth"
            case .periodStart: "period start"
            case .periodEnd: "period end"
            case .status: "status"
            case .clinicName: "clinic"
            case .clinicBIN: "clinic BIN"
            case .statusIndex: "status index"
            case .issuedAt: "issued at"
            }
        }
    }

    /// The CBOR payload.
    public var payload: CBOR {
        .map([
            .init(.unsigned(Key.certificateID.rawValue), .bytes(certificateID)),
            .init(.unsigned(Key.version.rawValue), .unsigned(UInt64(version))),
            .init(.unsigned(Key.patientName.rawValue), .text(patientName)),
            .init(.unsigned(Key.dateOfBirth.rawValue), .text(dateOfBirth.description)),
            .init(.unsigned(Key.periodStart.rawValue), .text(periodStart.description)),
            .init(.unsigned(Key.periodEnd.rawValue), .text(periodEnd.description)),
            .init(.unsigned(Key.status.rawValue), .text(status.rawValue)),
            .init(.unsigned(Key.clinicName.rawValue), .text(clinicName)),
            .init(.unsigned(Key.clinicBIN.rawValue), .text(clinicBIN)),
            .init(.unsigned(Key.statusIndex.rawValue), .unsigned(UInt64(statusIndex))),
            .init(.unsigned(Key.issuedAt.rawValue), .integer(issuedAt)),
        ])
    }

    /// Reads a payload; every field must be present with its type and nothing else may be.
    public init(payload: CBOR) throws(TokenError) {
        guard case .map(let entries) = payload else { throw .badPayload("the payload is not a map") }
        for entry in entries {
            guard case .unsigned(let label) = entry.key, Key(rawValue: label) != nil else {
                throw .badPayload("unknown field \(entry.key)")
            }
        }
        func field(_ key: Key) throws(TokenError) -> CBOR {
            guard let value = payload[.unsigned(key.rawValue)] else { throw .badPayload("\(key.name) is missing") }
            return value
        }
        func text(_ key: Key, maximum: Int) throws(TokenError) -> String {
            guard case .text(let value) = try field(key), !value.isEmpty, value.utf8.count <= maximum else {
                throw .badPayload("\(key.name) must be text of 1 to \(maximum) bytes")
            }
            return value
        }
        func date(_ key: Key) throws(TokenError) -> CalendarDate {
            guard let value = CalendarDate(try text(key, maximum: 10)) else {
                throw .badPayload("\(key.name) must be a date YYYY-MM-DD")
            }
            return value
        }
        func count(_ key: Key) throws(TokenError) -> Int {
            guard case .unsigned(let value) = try field(key), value <= UInt64(Int32.max) else {
                throw .badPayload("\(key.name) must be a whole number")
            }
            return Int(value)
        }
        guard case .bytes(let id) = try field(.certificateID), id.count == 12 else {
            throw .badPayload("certificate id must be 12 bytes")
        }
        guard let status = Status(rawValue: try text(.status, maximum: 16)) else {
            throw .badPayload("status must be one of open, extended, closed")
        }
        guard let issuedAt = try field(.issuedAt).integerValue else { throw .badPayload("issued at must be a time") }
        self.init(
            certificateID: id,
            version: try count(.version),
            patientName: try text(.patientName, maximum: 200),
            dateOfBirth: try date(.dateOfBirth),
            periodStart: try date(.periodStart),
            periodEnd: try date(.periodEnd),
            status: status,
            clinicName: try text(.clinicName, maximum: 200),
            clinicBIN: try text(.clinicBIN, maximum: 12),
            statusIndex: try count(.statusIndex),
            issuedAt: issuedAt
        )
        guard version >= 1 else { throw .badPayload("version must be at least 1") }
        guard periodStart <= periodEnd else { throw .badPayload("the period ends before it starts") }
    }

    /// The QR text: `SL1:` and the Base45 of the signed message.
    public func signed(keyID: [UInt8], key: COSEPrivateKey) throws -> String {
        let message = try COSESign1.sign(payload: payload.encoded(), keyID: keyID, key: key)
        return Self.prefix + Base45.encode(message.encoded())
    }

    /// Parses a token's text without judging its signature: the message and what it claims.
    /// Every failure says which layer is wrong.
    public static func parse(_ text: String) throws(TokenError) -> (message: COSESign1, token: SickLeaveToken) {
        guard text.utf8.count <= maximumLength else { throw .tooLong }
        guard text.hasPrefix(prefix) else { throw .wrongPrefix }
        let bytes: [UInt8]
        do {
            bytes = try Base45.decode(String(text.dropFirst(prefix.count)))
        } catch {
            throw .badEncoding(error.description)
        }
        let message: COSESign1
        do {
            message = try COSESign1(decoding: bytes)
        } catch {
            throw .badEnvelope(error.description)
        }
        let payload: CBOR
        do {
            payload = try CBOR(decoding: message.payload)
        } catch {
            throw .badPayload(error.description)
        }
        return (message, try SickLeaveToken(payload: payload))
    }
}

/// Why a text is not a readable token.
public enum TokenError: Error, Equatable, CustomStringConvertible {
    case tooLong
    case wrongPrefix
    case badEncoding(String)
    case badEnvelope(String)
    case badPayload(String)

    public var description: String {
        switch self {
        case .tooLong: "the token is longer than any sick-leave token"
        case .wrongPrefix: "not a sick-leave token: it does not start with \(SickLeaveToken.prefix)"
        case .badEncoding(let reason): "the token's characters are damaged (\(reason))"
        case .badEnvelope(let reason): "the token's signed envelope is damaged (\(reason))"
        case .badPayload(let reason): "the token's content is damaged (\(reason))"
        }
    }
}

/// A date without time or zone, as certificates use them.
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init?(year: Int, month: Int, day: Int) {
        guard (1900...2200).contains(year), (1...12).contains(month), day >= 1,
            day <= Self.days(inMonth: month, year: year)
        else { return nil }
        (self.year, self.month, self.day) = (year, month, day)
    }

    /// Parses exactly `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.utf8.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCIIDigit) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        self.init(year: year, month: month, day: day)
    }

    static func days(inMonth month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public var description: String {
        func pad(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (lhs: CalendarDate, rhs: CalendarDate) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}
