import struct Foundation.Date
import struct Foundation.UUID

/// A person or machine that signs in to one tenant.
public struct User: Hashable, Sendable, Identifiable {
    public var id: UUID
    public var tenantID: UUID
    public var login: String
    public var displayName: String
    public var iin: NationalIdentifier?
    public var roles: Set<Role>
    public var disabled: Bool

    public init(
        id: UUID,
        tenantID: UUID,
        login: String,
        displayName: String,
        iin: NationalIdentifier?,
        roles: Set<Role>,
        disabled: Bool
    ) {
        self.id = id
        self.tenantID = tenantID
        self.login = login
        self.displayName = displayName
        self.iin = iin
        self.roles = roles
        self.disabled = disabled
    }

    /// Longest login accepted.
    public static let maximumLoginLength = 63
    /// Passwords are bounded both ways: bcrypt reads only 72 bytes, and a short one is guessable.
    public static let passwordBytes = 10...72

    /// Normalises and checks a login: 2–63 characters, lower-case Latin letters, digits, `.`, `_`, `-`.
    public static func normalizedLogin(_ text: String, field: String = "login") throws(AdalError) -> String {
        let login = text.trimmingWhitespace().lowercased()
        let bytes = Array(login.utf8)
        let isAllowed: (UInt8) -> Bool = { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) }
        guard (2...maximumLoginLength).contains(bytes.count), isAllowed(bytes[0]),
            bytes.allSatisfy({ isAllowed($0) || $0 == 0x2e || $0 == 0x5f || $0 == 0x2d })
        else {
            throw .invalidField(
                field: field,
                reason:
                    "a login is 2 to \(maximumLoginLength) Latin letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        }
        return login
    }
}

/// What a request acts as once signed in: a user through a browser session, or a machine
/// through an API token whose roles may be fewer than its user's.
public struct Principal: Hashable, Sendable {
    public enum Channel: Hashable, Sendable {
        case session(id: UUID)
        case token(id: UUID)
    }

    public var tenantID: UUID
    public var userID: UUID
    public var login: String
    public var displayName: String
    public var roles: Set<Role>
    public var channel: Channel

    public init(
        tenantID: UUID,
        userID: UUID,
        login: String,
        displayName: String,
        roles: Set<Role>,
        channel: Channel
    ) {
        self.tenantID = tenantID
        self.userID = userID
        self.login = login
        self.displayName = displayName
        self.roles = roles
        self.channel = channel
    }

    /// Throws `forbidden` unless the principal holds at least one of `roles`.
    public func require(anyOf roles: Set<Role>) throws(AdalError) {
        guard !self.roles.isDisjoint(with: roles) else {
            throw .forbidden(
                reason: "needs one of the roles: \(roles.sorted().map(\.rawValue).joined(separator: ", "))"
            )
        }
    }
}

/// An API token's public description; its secret is shown once, when issued.
public struct APIToken: Hashable, Sendable, Identifiable {
    public var id: UUID
    public var userID: UUID
    public var name: String
    public var roles: Set<Role>
    public var createdAt: Date
    public var revokedAt: Date?

    public init(id: UUID, userID: UUID, name: String, roles: Set<Role>, createdAt: Date, revokedAt: Date?) {
        self.id = id
        self.userID = userID
        self.name = name
        self.roles = roles
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }
}
