import Core
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

/// Raw SQL as the application role: row-level security alone must keep tenants apart, whatever
/// the code forgets.
@Suite("Row-level security holds for raw SQL")
struct RowLevelSecurityTests {
    let logger = TestCluster.logger

    /// Two tenants with users, created as the owner. Password hashes are not under test here.
    func twoTenants(_ databases: TestDatabases) async throws -> (Tenant, Tenant) {
        try await databases.createCitiesWithoutPasswords()
    }

    func count(_ connection: PostgresConnection, tenant: String?) async throws -> Int {
        try await connection.query("BEGIN", logger: logger)
        if let tenant {
            try await connection.query("SELECT set_config('app.tenant_id', \(tenant), true)", logger: logger)
        }
        let rows = try await connection.query("SELECT count(*) FROM users", logger: logger).collect()
        try await connection.query("COMMIT", logger: logger)
        return try rows[0].decode(Int.self)
    }

    @Test("with no tenant set, no tenant's rows are visible")
    func noTenantNoRows() async throws {
        try await TestDatabases.with { databases in
            _ = try await twoTenants(databases)
            try await databases.application.client.withConnection { connection in
                let visible1 = try await count(connection, tenant: nil)
                #expect(visible1 == 0)
                // An empty setting (what a finished transaction leaves behind) matches nothing either.
                let visible2 = try await count(connection, tenant: "")
                #expect(visible2 == 0)
            }
        }
    }

    @Test("with one tenant set, only its rows are visible and another's cannot be written")
    func oneTenantItsRows() async throws {
        try await TestDatabases.with { databases in
            let (astana, shymkent) = try await twoTenants(databases)
            try await databases.application.client.withConnection { connection in
                let visible3 = try await count(connection, tenant: astana.id.uuidString)
                #expect(visible3 == 2)
                let visible4 = try await count(connection, tenant: UUID().uuidString)
                #expect(visible4 == 0)
            }
            // Writing a row for Shymkent while Astana is set is refused by the policy's check.
            do {
                try await databases.application.withTenant(astana.id) { connection in
                    try await connection.query(
                        """
                        INSERT INTO users (tenant_id, login, display_name, password_hash)
                        VALUES (\(shymkent.id), 'intruder', 'Intruder', 'x')
                        """,
                        logger: logger
                    )
                }
                Issue.record("a row for another tenant was written")
            } catch let error as PSQLError {
                #expect(error.sqlState == SQLState.insufficientPrivilege)
            }
            // Updating or deleting another tenant's rows touches nothing.
            let touched = try await databases.application.withTenant(astana.id) { connection in
                try await connection.query(
                    "DELETE FROM users WHERE tenant_id = \(shymkent.id) RETURNING id",
                    logger: logger
                ).collect().count
            }
            #expect(touched == 0)
        }
    }

    @Test("the setting does not leak from one transaction into the next on a pooled connection")
    func settingIsTransactionLocal() async throws {
        try await TestDatabases.with { databases in
            let (astana, _) = try await twoTenants(databases)
            try await databases.application.client.withConnection { connection in
                let visible5 = try await count(connection, tenant: astana.id.uuidString)
                #expect(visible5 == 2)
                let visible6 = try await count(connection, tenant: nil)
                #expect(visible6 == 0)
            }
        }
    }

    @Test("the tokens' one-statement lookup sets its tenant for itself only, and puts back the one set before")
    func tokenLookupKeepsTenant() async throws {
        try await TestDatabases.with { databases in
            let (astana, shymkent) = try await twoTenants(databases)
            let lookup: PostgresQuery = """
                SELECT count(*) FROM adal_token_principals(\(astana.id)::uuid, ARRAY['\\x00'::bytea], now(), now())
                """
            try await databases.application.client.withConnection { connection in
                // Outside a transaction: nothing is left for the next one.
                _ = try await connection.query(lookup, logger: logger).collect()
                let visible = try await count(connection, tenant: nil)
                #expect(visible == 0)
            }
            // Inside another tenant's transaction: that tenant is set again afterwards.
            let after = try await databases.application.withTenant(shymkent.id) { connection in
                _ = try await connection.query(lookup, logger: logger).collect()
                return try await connection.query(
                    "SELECT current_setting('app.tenant_id'), (SELECT count(*) FROM users WHERE tenant_id = \(astana.id))",
                    logger: logger
                ).collect()[0].decode((String, Int).self)
            }
            #expect(UUID(uuidString: after.0) == shymkent.id)
            #expect(after.1 == 0)
        }
    }

    @Test("generic plans are asked for one transaction at a time and never carried into the next")
    func genericPlansStayInTheirTransaction() async throws {
        try await TestDatabases.with { databases in
            let (astana, _) = try await twoTenants(databases)
            let database = databases.application
            for round in 0..<20 {
                let generic = round % 2 == 0
                let mode = try await database.withTenant(astana.id, genericPlans: generic) { connection in
                    try await connection.query("SELECT current_setting('plan_cache_mode')", logger: logger)
                        .collect()[0].decode(String.self)
                }
                #expect(mode == (generic ? "force_generic_plan" : "auto"))
            }
        }
    }

    @Test("the application role cannot create tenants")
    func applicationCannotCreateTenants() async throws {
        try await TestDatabases.with { databases in
            let tenants = PostgresTenantStore(database: databases.application)
            do {
                _ = try await tenants.create(
                    slug: TenantSlug("rogue"),
                    name: LocalizedText(kk: "R", ru: "R", en: "R"),
                    region: ""
                )
                Issue.record("the application role created a tenant")
            } catch let error as PSQLError {
                #expect(error.sqlState == SQLState.insufficientPrivilege)
            }
        }
    }
}
