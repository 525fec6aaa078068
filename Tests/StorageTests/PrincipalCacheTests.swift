import Core
import Foundation
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

@Suite("API tokens' principals kept between requests")
struct PrincipalCacheTests {
    @Test("a token's principal is kept, and dropped as soon as the token is revoked; other cities' stay")
    func revocationDrops() async throws {
        try await Self.listening { _, store, cache, cities in
            let astana = try await Self.token(of: "admin", in: cities.astana, store: store)
            let shymkent = try await Self.token(of: "admin", in: cities.shymkent, store: store)
            let found = try #require(try await store.tokenPrincipal(astana.hash, cities.astana))
            #expect(found.roles == [.akimatAdmin, .auditor])
            _ = try #require(try await store.tokenPrincipal(shymkent.hash, cities.shymkent))
            #expect(cache.principal(tenantID: cities.astana, tokenHash: astana.hash) == found)
            // Writing the token's last use (each lookup does) announces nothing.
            try await Task.sleep(for: .milliseconds(300))
            #expect(cache.count == 2)

            #expect(try await store.accounts.revokeToken(id: astana.id, tenantID: cities.astana, at: Date()))
            #expect(
                try await Self.eventually { cache.principal(tenantID: cities.astana, tokenHash: astana.hash) == nil }
            )
            #expect(try await store.tokenPrincipal(astana.hash, cities.astana) == nil)
            #expect(cache.principal(tenantID: cities.shymkent, tokenHash: shymkent.hash) != nil)
        }
    }

    @Test("disabling the token's user or taking a role from it drops the principal")
    func userChangesDrop() async throws {
        try await Self.listening { databases, store, cache, cities in
            let parent = try await Self.token(of: "parent", in: cities.astana, store: store)
            _ = try #require(try await store.tokenPrincipal(parent.hash, cities.astana))
            // The user alone (`disableUser` also revokes the tokens, which announces by itself).
            #expect(
                try await Self.dropped(
                    parent.hash,
                    cities.astana,
                    after:
                        "UPDATE users SET disabled_at = now() WHERE tenant_id = \(cities.astana) AND login = 'parent'",
                    databases,
                    cache
                )
            )
            #expect(try await store.tokenPrincipal(parent.hash, cities.astana) == nil)

            let admin = try await Self.token(of: "admin", in: cities.astana, store: store)
            #expect(try await store.tokenPrincipal(admin.hash, cities.astana)?.roles == [.akimatAdmin, .auditor])
            #expect(
                try await Self.dropped(
                    admin.hash,
                    cities.astana,
                    after: "DELETE FROM user_roles WHERE tenant_id = \(cities.astana) AND role = 'auditor'",
                    databases,
                    cache
                )
            )
            #expect(try await store.tokenPrincipal(admin.hash, cities.astana)?.roles == [.akimatAdmin])
        }
    }

    @Test("when the listener's connection is lost the cache drops everything and serves nothing until it listens again")
    func darkWithoutListener() async throws {
        try await Self.listening { databases, store, cache, cities in
            let admin = try await Self.token(of: "admin", in: cities.astana, store: store)
            _ = try #require(try await store.tokenPrincipal(admin.hash, cities.astana))
            #expect(cache.count == 1)
            // The listener's backend, ended as an administrator (or a failover) would end it.
            let ended = try await databases.application.withoutTenant { connection in
                let rows = try await connection.query(
                    """
                    WITH listening AS MATERIALIZED (
                        SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%'
                    )
                    SELECT count(*)::integer FROM listening WHERE pg_terminate_backend(pid)
                    """,
                    logger: databases.application.logger
                )
                return try await rows.collect().first?.decode(Int.self) ?? 0
            }
            #expect(ended == 1)
            #expect(try await Self.eventually { !cache.isLive })
            #expect(cache.count == 0)
            #expect(try await Self.eventually { cache.isLive })
            _ = try #require(try await store.tokenPrincipal(admin.hash, cities.astana))
            #expect(cache.principal(tenantID: cities.astana, tokenHash: admin.hash) != nil)
        }
    }

    @Test("a dark cache keeps nothing; a lookup begun before an announcement is not kept")
    func generations() {
        let cache = PrincipalCache()
        let principal = Principal(
            tenantID: UUID(),
            userID: UUID(),
            login: "till",
            displayName: "Till",
            roles: [.canteenTill],
            channel: .token(id: UUID())
        )
        let hash = [UInt8](repeating: 7, count: 32)
        #expect(cache.generation == nil)
        cache.keep(principal, tokenHash: hash, since: 0)
        #expect(cache.count == 0)

        cache.goLive()
        let before = try! #require(cache.generation)
        cache.changed(UUID().uuidString)  // another city's change, announced during the lookup
        cache.keep(principal, tokenHash: hash, since: before)
        #expect(cache.principal(tenantID: principal.tenantID, tokenHash: hash) == nil)

        cache.keep(principal, tokenHash: hash, since: try! #require(cache.generation))
        #expect(cache.principal(tenantID: principal.tenantID, tokenHash: hash) == principal)
        #expect(cache.principal(tenantID: UUID(), tokenHash: hash) == nil)
        cache.changed("all")
        #expect(cache.count == 0)

        cache.keep(principal, tokenHash: hash, since: try! #require(cache.generation))
        cache.goDark()
        #expect(cache.count == 0)
        #expect(cache.principal(tenantID: principal.tenantID, tokenHash: hash) == nil)
    }

    @Test("entries expire after the lifetime, and a full cache makes room")
    func lifetimeAndCapacity() async throws {
        let cache = PrincipalCache(lifetime: .milliseconds(100), capacity: 2)
        cache.goLive()
        let tenantID = UUID()
        let principal = Principal(
            tenantID: tenantID,
            userID: UUID(),
            login: "till",
            displayName: "Till",
            roles: [.canteenTill],
            channel: .token(id: UUID())
        )
        let hashes = (0..<3).map { [UInt8](repeating: UInt8($0), count: 32) }
        for hash in hashes.prefix(2) { cache.keep(principal, tokenHash: hash, since: try #require(cache.generation)) }
        #expect(cache.count == 2)
        try await Task.sleep(for: .milliseconds(150))
        #expect(cache.principal(tenantID: tenantID, tokenHash: hashes[0]) == nil)
        cache.keep(principal, tokenHash: hashes[2], since: try #require(cache.generation))
        #expect(cache.count == 1)
        #expect(cache.principal(tenantID: tenantID, tokenHash: hashes[2]) == principal)
    }

    /// A store with a live cache, its listener running on the test database, and Astana and
    /// Shymkent; the listener is stopped afterwards and the cache checked dark.
    static func listening(
        _ body:
            @escaping @Sendable (TestDatabases, CachedStore, PrincipalCache, (astana: UUID, shymkent: UUID))
            async throws -> Void
    ) async throws {
        try await TestDatabases.with { databases in
            let cities = try await databases.createCitiesWithoutPasswords()
            let cache = PrincipalCache()
            let listener = PrincipalListener(
                configuration: databases.applicationConfiguration,
                cache: cache,
                retryDelay: .milliseconds(100),
                logger: databases.application.logger
            )
            let running = Task { try await listener.run() }
            #expect(try await Self.eventually { cache.isLive })
            let store = CachedStore(accounts: PostgresAccountStore(database: databases.application, principals: cache))
            do {
                try await body(databases, store, cache, (cities.astana.id, cities.shymkent.id))
            } catch {
                running.cancel()
                throw error
            }
            running.cancel()
            _ = try? await running.value
            #expect(!cache.isLive)
            #expect(cache.count == 0)
        }
    }

    /// The store under test, with the lookups' arguments in the order the tests use.
    struct CachedStore: Sendable {
        let accounts: PostgresAccountStore

        func tokenPrincipal(_ hash: [UInt8], _ tenantID: UUID) async throws -> Principal? {
            try await accounts.tokenPrincipal(tokenHash: hash, tenantID: tenantID, now: Date())
        }
    }

    /// A new token of the user `login` of the city, with its hash.
    static func token(of login: String, in tenantID: UUID, store: CachedStore) async throws -> (id: UUID, hash: [UInt8])
    {
        let user = try #require(try await store.accounts.user(login: login, tenantID: tenantID))
        let hash = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let token = try await store.accounts.createToken(
            userID: user.id,
            name: "till",
            roles: user.roles,
            tokenHash: hash,
            tenantID: tenantID
        )
        return (token.id, hash)
    }

    /// Whether the token's principal is dropped from the cache soon after `query` runs as the
    /// owner in the city (as an administrator's SQL would).
    static func dropped(
        _ hash: [UInt8],
        _ tenantID: UUID,
        after query: PostgresQuery,
        _ databases: TestDatabases,
        _ cache: PrincipalCache
    ) async throws -> Bool {
        let logger = databases.owner.logger
        try await databases.owner.withTenant(tenantID) { connection in
            try await connection.query(query, logger: logger)
        }
        return try await eventually { cache.principal(tenantID: tenantID, tokenHash: hash) == nil }
    }

    /// Whether `condition` holds within 10 s (PostgreSQL's announcements arrive in milliseconds).
    /// Whether `condition` holds within a minute: only the wait for a notification or for the
    /// listener to connect, which on a machine loaded by the whole suite's clusters starting at
    /// once took more than ten seconds (the clean-clone CI failed three tests so).
    static func eventually(_ condition: @Sendable () async throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if try await condition() { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return try await condition()
    }
}
