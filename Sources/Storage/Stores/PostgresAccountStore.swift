import Core
import Foundation
import PostgresNIO

/// ``AccountStore`` on PostgreSQL. Every query runs inside ``Database/withTenant(_:_:)`` and
/// also names the tenant in its WHERE clause: row-level security and the code check agree.
public struct PostgresAccountStore: AccountStore {
    let database: Database
    /// The token lookups of requests that arrive together: one statement per city and batch.
    private let tokenLookups: BatchQueue<UUID, (hash: [UInt8], now: Date), Principal?>
    /// The principals kept between requests (the server's); nil: every request looks its token up.
    private let principals: PrincipalCache?

    public init(database: Database, principals: PrincipalCache? = nil) {
        self.database = database
        self.principals = principals
        tokenLookups = BatchQueue(
            lanes: max(2, ProcessInfo.processInfo.activeProcessorCount),
            maximumBatch: 128,
            maximumWaiting: 8_192,
            executor: { Database.executor() },
            serve: { tenantID, lookups in
                do {
                    let found = try await Self.tokenPrincipals(lookups, tenantID: tenantID, database: database)
                    return lookups.map { .success(found[$0.hash]) }
                } catch {
                    return lookups.map { _ in .failure(error) }
                }
            }
        )
    }

    private var logger: Logger { database.logger }

    public func createUser(_ user: NewUser, passwordHash: String, tenantID: UUID) async throws -> User {
        do {
            let id = try await database.withTenant(tenantID) { connection in
                let rows = try await connection.query(
                    """
                    INSERT INTO users (tenant_id, login, display_name, iin, password_hash)
                    VALUES (\(tenantID), \(user.login), \(user.displayName), \(user.iin?.digits), \(passwordHash))
                    RETURNING id
                    """,
                    logger: logger
                )
                var id: UUID? = nil
                for try await value in rows.decode(UUID.self) { id = value }
                guard let id else { throw AdalError.unavailable(reason: "user insert returned no id") }
                for role in user.roles.sorted() {
                    try await connection.query(
                        "INSERT INTO user_roles (tenant_id, user_id, role) VALUES (\(tenantID), \(id), \(role.rawValue))",
                        logger: logger
                    )
                }
                return id
            }
            return User(
                id: id,
                tenantID: tenantID,
                login: user.login,
                displayName: user.displayName,
                iin: user.iin,
                roles: user.roles,
                disabled: false
            )
        } catch let error as PSQLError where error.sqlState == SQLState.uniqueViolation {
            throw AdalError.conflict(reason: "the login '\(user.login)' is taken in this city")
        }
    }

    public func user(login: String, tenantID: UUID) async throws -> User? {
        try await users(tenantID: tenantID, login: login).first
    }

    public func users(tenantID: UUID) async throws -> [User] {
        try await users(tenantID: tenantID, login: nil)
    }

    public func user(id: UUID, tenantID: UUID) async throws -> User? {
        try await users(tenantID: tenantID, login: nil, id: id).first
    }

    private func users(tenantID: UUID, login: String?, id: UUID? = nil) async throws -> [User] {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT u.id, u.login, u.display_name, u.iin, u.disabled_at IS NOT NULL,
                       coalesce(array_agg(r.role ORDER BY r.role) FILTER (WHERE r.role IS NOT NULL), '{}')
                FROM users u
                LEFT JOIN user_roles r ON r.tenant_id = u.tenant_id AND r.user_id = u.id
                WHERE u.tenant_id = \(tenantID) AND (\(login)::text IS NULL OR u.login = \(login))
                  AND (\(id)::uuid IS NULL OR u.id = \(id))
                GROUP BY u.tenant_id, u.id
                ORDER BY u.login
                """,
                logger: logger
            )
            var users: [User] = []
            for try await (id, login, name, iin, disabled, roles) in rows.decode(
                (UUID, String, String, String?, Bool, [String]).self
            ) {
                users.append(
                    User(
                        id: id,
                        tenantID: tenantID,
                        login: login,
                        displayName: name,
                        iin: try iin.map { try NationalIdentifier.iin($0) },
                        roles: Set(roles.compactMap(Role.init)),
                        disabled: disabled
                    )
                )
            }
            return users
        }
    }

    public func passwordHash(login: String, tenantID: UUID) async throws -> (userID: UUID, hash: String)? {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT id, password_hash FROM users
                WHERE tenant_id = \(tenantID) AND login = \(login) AND disabled_at IS NULL
                """,
                logger: logger
            )
            for try await (id, hash) in rows.decode((UUID, String).self) { return (id, hash) }
            return nil
        }
    }

    public func disableUser(login: String, tenantID: UUID, at date: Date) async throws -> User? {
        let found = try await database.withTenant(tenantID) { connection -> Bool in
            let rows = try await connection.query(
                """
                UPDATE users SET disabled_at = coalesce(disabled_at, \(date))
                WHERE tenant_id = \(tenantID) AND login = \(login) RETURNING id
                """,
                logger: logger
            )
            var userID: UUID? = nil
            for try await id in rows.decode(UUID.self) { userID = id }
            guard let userID else { return false }
            try await connection.query(
                "DELETE FROM sessions WHERE tenant_id = \(tenantID) AND user_id = \(userID)",
                logger: logger
            )
            try await connection.query(
                """
                UPDATE api_tokens SET revoked_at = \(date)
                WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND revoked_at IS NULL
                """,
                logger: logger
            )
            return true
        }
        return found ? try await user(login: login, tenantID: tenantID) : nil
    }

    public func createSession(userID: UUID, tokenHash: [UInt8], expiresAt: Date, tenantID: UUID) async throws -> UUID {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO sessions (tenant_id, token_hash, user_id, expires_at)
                VALUES (\(tenantID), \(Data(tokenHash)), \(userID), \(expiresAt)) RETURNING id
                """,
                logger: logger
            )
            for try await id in rows.decode(UUID.self) { return id }
            throw AdalError.unavailable(reason: "session insert returned no id")
        }
    }

    public func sessionPrincipal(tokenHash: [UInt8], tenantID: UUID, now: Date) async throws -> Principal? {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT s.id, u.id, u.login, u.display_name,
                       coalesce(array_agg(r.role ORDER BY r.role) FILTER (WHERE r.role IS NOT NULL), '{}')
                FROM sessions s
                JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id AND u.disabled_at IS NULL
                LEFT JOIN user_roles r ON r.tenant_id = u.tenant_id AND r.user_id = u.id
                WHERE s.tenant_id = \(tenantID) AND s.token_hash = \(Data(tokenHash)) AND s.expires_at > \(now)
                GROUP BY s.tenant_id, s.id, u.tenant_id, u.id
                """,
                logger: logger
            )
            for try await (sessionID, userID, login, name, roles) in rows.decode(
                (UUID, UUID, String, String, [String]).self
            ) {
                return Self.principal(tenantID, userID, login, name, roles, channel: .session(id: sessionID))
            }
            return nil
        }
    }

    public func deleteSession(tokenHash: [UInt8], tenantID: UUID) async throws {
        try await database.withTenant(tenantID) { connection in
            try await connection.query(
                "DELETE FROM sessions WHERE tenant_id = \(tenantID) AND token_hash = \(Data(tokenHash))",
                logger: logger
            )
        }
    }

    public func createToken(
        userID: UUID,
        name: String,
        roles: Set<Role>,
        tokenHash: [UInt8],
        tenantID: UUID
    ) async throws -> APIToken {
        let roleNames = roles.sorted().map(\.rawValue)
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                INSERT INTO api_tokens (tenant_id, user_id, name, token_hash, roles)
                VALUES (\(tenantID), \(userID), \(name), \(Data(tokenHash)), \(roleNames))
                RETURNING id, created_at
                """,
                logger: logger
            )
            for try await (id, createdAt) in rows.decode((UUID, Date).self) {
                return APIToken(id: id, userID: userID, name: name, roles: roles, createdAt: createdAt, revokedAt: nil)
            }
            throw AdalError.unavailable(reason: "token insert returned no id")
        }
    }

    /// How stale a token's `last_used_at` may be before a request writes it again. Writing it on
    /// every request made each request a write transaction, and made every request with the
    /// same token (a till's) wait for the one before it to commit. With the server's
    /// ``PrincipalCache`` a busy token is looked up once per ``PrincipalCache/lifetime``, so the
    /// last use stored lags the last request by at most that lifetime plus this resolution.
    public static let lastUseResolution: TimeInterval = 60

    /// The token's principal: the one kept in ``PrincipalCache`` when it is live, or else looked
    /// up together with the tokens of the requests that arrive at the same time
    /// (``BatchQueue``): one round trip outside any transaction for them all
    /// (`adal_token_principals`, migration 0019), which also writes the tokens' stale last use.
    /// A lone request is looked up at once. A principal found is kept unless a change was
    /// announced meanwhile.
    public func tokenPrincipal(tokenHash: [UInt8], tenantID: UUID, now: Date) async throws -> Principal? {
        if let kept = principals?.principal(tenantID: tenantID, tokenHash: tokenHash) { return kept }
        let generation = principals?.generation
        let found = try await tokenLookups.submit((tokenHash, now), key: tenantID)
        if let found, let generation { principals?.keep(found, tokenHash: tokenHash, since: generation) }
        return found
    }

    /// The principals of a batch of lookups, by token hash; the latest request's time counts
    /// for the tokens' last use.
    private static func tokenPrincipals(
        _ lookups: [(hash: [UInt8], now: Date)],
        tenantID: UUID,
        database: Database
    ) async throws -> [[UInt8]: Principal] {
        let now = lookups.map(\.now).max() ?? Date()
        let query = try TokenPrincipalsQuery(tokenHashes: Array(Set(lookups.map(\.hash))), tenantID: tenantID, now: now)
        let logger = database.logger
        return try await database.withConnection { connection in
            var found: [[UInt8]: Principal] = [:]
            for try await (hash, tokenID, userID, login, name, roles) in try await connection.execute(
                query,
                logger: logger
            ) {
                found[Array(hash)] = Self.principal(tenantID, userID, login, name, roles, channel: .token(id: tokenID))
            }
            return found
        }
    }

    /// A principal from its row: the roles as stored (names this server does not know dropped).
    private static func principal(
        _ tenantID: UUID,
        _ userID: UUID,
        _ login: String,
        _ name: String,
        _ roles: [String],
        channel: Principal.Channel
    ) -> Principal {
        Principal(
            tenantID: tenantID,
            userID: userID,
            login: login,
            displayName: name,
            roles: Set(roles.compactMap(Role.init)),
            channel: channel
        )
    }

    public func revokeToken(id: UUID, tenantID: UUID, at date: Date) async throws -> Bool {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                UPDATE api_tokens SET revoked_at = \(date)
                WHERE tenant_id = \(tenantID) AND id = \(id) AND revoked_at IS NULL RETURNING id
                """,
                logger: logger
            )
            for try await _ in rows.decode(UUID.self) { return true }
            return false
        }
    }

    public func tokens(userID: UUID, tenantID: UUID) async throws -> [APIToken] {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT id, name, roles, created_at, revoked_at FROM api_tokens
                WHERE tenant_id = \(tenantID) AND user_id = \(userID) ORDER BY created_at
                """,
                logger: logger
            )
            var tokens: [APIToken] = []
            for try await (id, name, roles, createdAt, revokedAt) in rows.decode(
                (UUID, String, [String], Date, Date?).self
            ) {
                tokens.append(
                    APIToken(
                        id: id,
                        userID: userID,
                        name: name,
                        roles: Set(roles.compactMap(Role.init)),
                        createdAt: createdAt,
                        revokedAt: revokedAt
                    )
                )
            }
            return tokens
        }
    }

    public func failures(
        subjects: [ThrottleSubject],
        tenantID: UUID
    ) async throws
        -> [ThrottleSubject: (count: Int, windowStart: Date, last: Date)]
    {
        let keys = subjects.map(\.key)
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT subject, failures, window_started_at, last_failure_at FROM login_throttle
                WHERE tenant_id = \(tenantID) AND subject = ANY (\(keys))
                """,
                logger: logger
            )
            var result: [ThrottleSubject: (count: Int, windowStart: Date, last: Date)] = [:]
            for try await (key, count, start, last) in rows.decode((String, Int, Date, Date).self) {
                if let subject = subjects.first(where: { $0.key == key }) {
                    result[subject] = (count, start, last)
                }
            }
            return result
        }
    }

    public func recordFailure(subjects: [ThrottleSubject], window: Double, tenantID: UUID, now: Date) async throws {
        let windowStartLimit = now.addingTimeInterval(-window)
        try await database.withTenant(tenantID) { connection in
            for subject in subjects {
                // One statement per subject: concurrent failures add up instead of overwriting each other.
                try await connection.query(
                    """
                    INSERT INTO login_throttle (tenant_id, subject, failures, window_started_at, last_failure_at)
                    VALUES (\(tenantID), \(subject.key), 1, \(now), \(now))
                    ON CONFLICT (tenant_id, subject) DO UPDATE SET
                        failures = CASE WHEN login_throttle.window_started_at < \(windowStartLimit)
                                        THEN 1 ELSE login_throttle.failures + 1 END,
                        window_started_at = CASE WHEN login_throttle.window_started_at < \(windowStartLimit)
                                                 THEN \(now) ELSE login_throttle.window_started_at END,
                        last_failure_at = \(now)
                    """,
                    logger: logger
                )
            }
        }
    }

    public func clearFailures(subject: ThrottleSubject, tenantID: UUID) async throws {
        try await database.withTenant(tenantID) { connection in
            try await connection.query(
                "DELETE FROM login_throttle WHERE tenant_id = \(tenantID) AND subject = \(subject.key)",
                logger: logger
            )
        }
    }
}

/// The principals of API tokens, as a named prepared statement: every API request's token is
/// looked up by it, alone or with others. A token's roles are cut to those its user still holds;
/// its last use is written when it is older than ``PostgresAccountStore/lastUseResolution``.
struct TokenPrincipalsQuery: PreparedSQL {
    typealias Row = (Data, UUID, UUID, String, String, [String])
    static let name = "adal_token_principals_of"
    static let sql =
        (try? TokenPrincipalsQuery(tokenHashes: [], tenantID: UUID(), now: Date(timeIntervalSince1970: 0)))?.query.sql
        ?? ""

    let query: PostgresQuery

    init(tokenHashes: [[UInt8]], tenantID: UUID, now: Date) throws {
        let hashes = tokenHashes.map { ByteBuffer(bytes: $0) }
        query = try """
        SELECT token_hash, token_id, user_id, login, display_name, roles FROM adal_token_principals(
            \(tenantID)::uuid, \(hashes)::bytea[], \(now)::timestamptz,
            \(now.addingTimeInterval(-PostgresAccountStore.lastUseResolution))::timestamptz)
        """
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

extension PostgresAccountStore {
    /// A session is deleted once it has expired (it no longer signs anyone in), a sign-in
    /// failure a day after the last one (the throttle forgets it after its window, 15 minutes,
    /// and its longest wait, 15 more): an address that failed once no longer keeps a row.
    public static let retentionRules = [
        RetentionRule(name: "expired sessions", table: "sessions", condition: "expires_at < $2", keep: .zero),
        RetentionRule(
            name: "sign-in failures",
            table: "login_throttle",
            condition: "last_failure_at < $2",
            keep: .seconds(86_400)
        ),
    ]
}
