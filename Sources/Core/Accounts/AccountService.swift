import struct Foundation.Date
import struct Foundation.TimeInterval
import struct Foundation.UUID

/// The rules of signing in: who may, how often one may try, how sessions and tokens are made
/// and ended. Storage and password hashing come in through protocols.
public struct AccountService: Sendable {
    public let store: any AccountStore
    public let hasher: any PasswordHasher
    public let throttle: ThrottlePolicy
    /// How long a browser session lives after sign-in.
    public let sessionLifetime: TimeInterval

    public init(
        store: any AccountStore,
        hasher: any PasswordHasher,
        throttle: ThrottlePolicy = .init(),
        sessionLifetime: TimeInterval = 12 * 3600
    ) {
        self.store = store
        self.hasher = hasher
        self.throttle = throttle
        self.sessionLifetime = sessionLifetime
    }

    /// Creates a user after checking login, name, password length and roles.
    public func createUser(_ new: NewUser, password: String, tenantID: UUID) async throws -> User {
        var user = new
        user.login = try User.normalizedLogin(new.login)
        user.displayName = new.displayName.trimmingWhitespace()
        guard (1...200).contains(user.displayName.count) else {
            throw AdalError.invalidField(field: "display_name", reason: "a name is 1 to 200 characters")
        }
        guard User.passwordBytes.contains(password.utf8.count) else {
            throw AdalError.invalidField(
                field: "password",
                reason: "a password is \(User.passwordBytes.lowerBound) to \(User.passwordBytes.upperBound) bytes"
            )
        }
        guard !user.roles.isEmpty else {
            throw AdalError.invalidField(field: "role", reason: "a user needs at least one role")
        }
        let hash = try await hasher.hash(password)
        return try await store.createUser(user, passwordHash: hash, tenantID: tenantID)
    }

    /// Signs in with a login and password. A wrong login and a wrong password give the same
    /// error and take the same time; too many failures give `tooManyAttempts` before any check.
    public func signIn(
        login rawLogin: String,
        password: String,
        address: String,
        tenantID: UUID,
        now: Date = Date()
    ) async throws -> (token: SecretToken, principal: Principal) {
        let login = rawLogin.trimmingWhitespace().lowercased()
        let subjects: [ThrottleSubject] = [.account(login: login), .address(address)]
        let counts = try await store.failures(subjects: subjects, tenantID: tenantID)
        var wait = 0
        for subject in subjects {
            guard let count = counts[subject] else { continue }
            let allowance =
                if case .account = subject { throttle.accountAllowance } else { throttle.addressAllowance }
            if let seconds = throttle.retryAfter(
                failures: count.count,
                allowance: allowance,
                lastFailure: count.last,
                windowStart: count.windowStart,
                now: now
            ) {
                wait = max(wait, seconds)
            }
        }
        if wait > 0 { throw AdalError.tooManyAttempts(retryAfterSeconds: wait) }

        let stored = try await store.passwordHash(login: login, tenantID: tenantID)
        // bcrypt reads only 72 bytes: a longer password could never have been set, so it is
        // refused, after the same work as any other wrong password.
        let fitsBcrypt = password.utf8.count <= User.passwordBytes.upperBound
        let matches = try await hasher.verify(
            fitsBcrypt ? password : "",
            against: stored?.hash ?? hasher.decoyHash
        )
        guard let stored, matches, fitsBcrypt else {
            try await store.recordFailure(subjects: subjects, window: throttle.window, tenantID: tenantID, now: now)
            throw AdalError.invalidCredentials
        }
        try await store.clearFailures(subject: .account(login: login), tenantID: tenantID)
        let token = SecretToken.generate()
        _ = try await store.createSession(
            userID: stored.userID,
            tokenHash: token.hash,
            expiresAt: now.addingTimeInterval(sessionLifetime),
            tenantID: tenantID
        )
        guard let principal = try await store.sessionPrincipal(tokenHash: token.hash, tenantID: tenantID, now: now)
        else { throw AdalError.invalidCredentials }
        return (token, principal)
    }

    /// The principal behind a session cookie, or nil when it is unknown, expired or its user disabled.
    public func principal(sessionToken text: String, tenantID: UUID, now: Date = Date()) async throws -> Principal? {
        guard SecretToken.isWellFormed(text) else { return nil }
        return try await store.sessionPrincipal(tokenHash: SecretToken(text: text).hash, tenantID: tenantID, now: now)
    }

    /// Ends a session at once.
    public func signOut(sessionToken text: String, tenantID: UUID) async throws {
        guard SecretToken.isWellFormed(text) else { return }
        try await store.deleteSession(tokenHash: SecretToken(text: text).hash, tenantID: tenantID)
    }

    /// Disables a user; their sessions and tokens stop working at once.
    public func disableUser(login: String, tenantID: UUID, now: Date = Date()) async throws -> User {
        let normalized = try User.normalizedLogin(login)
        guard let user = try await store.disableUser(login: normalized, tenantID: tenantID, at: now) else {
            throw AdalError.notFound(what: "user '\(normalized)'")
        }
        return user
    }

    /// Issues an API token for a user, limited to `roles`, which must be a subset of the user's.
    /// The secret is returned once and never stored.
    public func issueToken(
        login: String,
        name: String,
        roles: Set<Role>,
        tenantID: UUID
    ) async throws -> (
        secret: SecretToken, token: APIToken
    ) {
        let normalized = try User.normalizedLogin(login)
        guard let user = try await store.user(login: normalized, tenantID: tenantID), !user.disabled else {
            throw AdalError.notFound(what: "user '\(normalized)'")
        }
        let tokenName = name.trimmingWhitespace()
        guard (1...100).contains(tokenName.count) else {
            throw AdalError.invalidField(field: "name", reason: "a token name is 1 to 100 characters")
        }
        let scope = roles.isEmpty ? user.roles : roles
        guard scope.isSubset(of: user.roles) else {
            let extra = scope.subtracting(user.roles).sorted().map(\.rawValue).joined(separator: ", ")
            throw AdalError.invalidField(field: "role", reason: "the user does not hold: \(extra)")
        }
        let secret = SecretToken.generate()
        let token = try await store.createToken(
            userID: user.id,
            name: tokenName,
            roles: scope,
            tokenHash: secret.hash,
            tenantID: tenantID
        )
        return (secret, token)
    }

    /// The principal behind an API token (`Authorization: Bearer …`), or nil.
    public func principal(apiToken text: String, tenantID: UUID, now: Date = Date()) async throws -> Principal? {
        guard SecretToken.isWellFormed(text) else { return nil }
        return try await store.tokenPrincipal(tokenHash: SecretToken(text: text).hash, tenantID: tenantID, now: now)
    }
}
