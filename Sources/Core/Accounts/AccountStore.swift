import struct Foundation.Date
import struct Foundation.UUID

/// Storage of users, sessions, API tokens and sign-in failures. Every call is scoped to one
/// tenant; an implementation must never return another tenant's row.
public protocol AccountStore: Sendable {
    func createUser(_ user: NewUser, passwordHash: String, tenantID: UUID) async throws -> User
    func user(login: String, tenantID: UUID) async throws -> User?
    func users(tenantID: UUID) async throws -> [User]
    /// One user by id within the tenant; nil for an unknown id or another tenant's user.
    func user(id: UUID, tenantID: UUID) async throws -> User?
    /// The stored password hash of an enabled user, or nil when there is no such enabled user.
    func passwordHash(login: String, tenantID: UUID) async throws -> (userID: UUID, hash: String)?
    /// Disables the user and, in the same transaction, ends their sessions and revokes their tokens.
    func disableUser(login: String, tenantID: UUID, at: Date) async throws -> User?

    func createSession(userID: UUID, tokenHash: [UInt8], expiresAt: Date, tenantID: UUID) async throws -> UUID
    /// The principal of a live session of an enabled user.
    func sessionPrincipal(tokenHash: [UInt8], tenantID: UUID, now: Date) async throws -> Principal?
    func deleteSession(tokenHash: [UInt8], tenantID: UUID) async throws

    func createToken(
        userID: UUID,
        name: String,
        roles: Set<Role>,
        tokenHash: [UInt8],
        tenantID: UUID
    ) async throws -> APIToken
    /// The principal of an unrevoked token of an enabled user; records its use.
    func tokenPrincipal(tokenHash: [UInt8], tenantID: UUID, now: Date) async throws -> Principal?
    func revokeToken(id: UUID, tenantID: UUID, at: Date) async throws -> Bool
    func tokens(userID: UUID, tenantID: UUID) async throws -> [APIToken]

    /// Failure counts for each subject: failures, window start, last failure.
    func failures(
        subjects: [ThrottleSubject],
        tenantID: UUID
    ) async throws
        -> [ThrottleSubject: (count: Int, windowStart: Date, last: Date)]
    func recordFailure(subjects: [ThrottleSubject], window: Double, tenantID: UUID, now: Date) async throws
    func clearFailures(subject: ThrottleSubject, tenantID: UUID) async throws
}

/// A user to be created; checked by ``AccountService/createUser(_:password:tenantID:)``.
public struct NewUser: Sendable {
    public var login: String
    public var displayName: String
    public var iin: NationalIdentifier?
    public var roles: Set<Role>

    public init(login: String, displayName: String, iin: NationalIdentifier?, roles: Set<Role>) {
        self.login = login
        self.displayName = displayName
        self.iin = iin
        self.roles = roles
    }
}

/// Hashes and checks passwords. The web layer supplies bcrypt on a thread pool.
public protocol PasswordHasher: Sendable {
    func hash(_ password: String) async throws -> String
    func verify(_ password: String, against hash: String) async throws -> Bool
    /// A hash of no real password, checked when the account does not exist so that a wrong
    /// login costs as long as a wrong password.
    var decoyHash: String { get }
}
