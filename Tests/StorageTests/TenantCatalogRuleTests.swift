import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

/// Reads the catalog of a fully migrated database and fails if any table breaks the tenancy
/// rules of DESIGN.md, so that a later migration cannot slip.
@Suite("Tenant tables follow the tenancy rules")
struct TenantCatalogRuleTests {
    /// Tables that are not tenant-owned, each for a stated reason.
    static let sharedTables: Set<String> = [
        "tenants",  // the list of tenants itself
        "schema_migrations",  // the migrator's own record
    ]

    let logger = TestCluster.logger

    func strings(_ connection: PostgresConnection, _ query: PostgresQuery) async throws -> [String] {
        var values: [String] = []
        for try await value in try await connection.query(query, logger: logger).decode(String.self) {
            values.append(value)
        }
        return values
    }

    @Test("every table but the shared ones has tenant_id uuid NOT NULL")
    func everyTableHasTenantID() async throws {
        try await TestDatabases.with { databases in
            try await databases.owner.client.withConnection { connection in
                let offenders = try await strings(
                    connection,
                    """
                    SELECT c.relname FROM pg_class c
                    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                      AND NOT EXISTS (
                        SELECT 1 FROM pg_attribute a
                        WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND a.attnotnull
                          AND a.atttypid = 'uuid'::regtype AND NOT a.attisdropped)
                    """
                )
                #expect(Set(offenders) == Self.sharedTables)
            }
        }
    }

    @Test("tenant_id is the first column of every primary key, unique constraint and foreign key between tenant tables")
    func tenantIDLeadsKeys() async throws {
        try await TestDatabases.with { databases in
            try await databases.owner.client.withConnection { connection in
                let offenders = try await strings(
                    connection,
                    """
                    SELECT c.relname || '.' || k.conname FROM pg_constraint k
                    JOIN pg_class c ON c.oid = k.conrelid
                    WHERE c.relnamespace = 'public'::regnamespace
                      AND c.relname <> ALL (\(Array(Self.sharedTables)))
                      AND (k.contype IN ('p', 'u')
                           OR (k.contype = 'f' AND k.confrelid <> 'tenants'::regclass))
                      AND (
                        (SELECT attname FROM pg_attribute WHERE attrelid = k.conrelid AND attnum = k.conkey[1])
                            IS DISTINCT FROM 'tenant_id'
                        OR (k.contype = 'f' AND (SELECT attname FROM pg_attribute
                                WHERE attrelid = k.confrelid AND attnum = k.confkey[1]) IS DISTINCT FROM 'tenant_id'))
                    """
                )
                #expect(offenders == [], "keys that do not start with tenant_id: \(offenders)")
                // Every tenant table has a primary key at all.
                let withoutKey = try await strings(
                    connection,
                    """
                    SELECT c.relname FROM pg_class c
                    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                      AND c.relname <> ALL (\(Array(Self.sharedTables)))
                      AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p')
                    """
                )
                #expect(withoutKey == [])
            }
        }
    }

    @Test("row-level security is enabled and forced, with one policy on app.tenant_id (NULLIF, once a statement)")
    func rowLevelSecurityEverywhere() async throws {
        try await TestDatabases.with { databases in
            try await databases.owner.client.withConnection { connection in
                let offenders = try await strings(
                    connection,
                    """
                    SELECT c.relname FROM pg_class c
                    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
                      AND c.relname <> ALL (\(Array(Self.sharedTables)))
                      AND NOT (
                        c.relrowsecurity AND c.relforcerowsecurity
                        AND (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) = 1
                        AND EXISTS (
                          SELECT 1 FROM pg_policy p
                          WHERE p.polrelid = c.oid AND p.polcmd = '*' AND p.polpermissive
                            AND pg_get_expr(p.polqual, p.polrelid)
                                = '(tenant_id = ( SELECT (NULLIF(current_setting(''app.tenant_id''::text, true), ''''::text))::uuid AS "nullif"))'
                            AND pg_get_expr(p.polwithcheck, p.polrelid) = pg_get_expr(p.polqual, p.polrelid)))
                    """
                )
                #expect(offenders == [], "tables without the tenant policy: \(offenders)")
            }
        }
    }

    @Test("the application role is not superuser, cannot bypass RLS and owns nothing")
    func applicationRoleIsUnprivileged() async throws {
        try await TestDatabases.with { databases in
            try await databases.application.client.withConnection { connection in
                try await ConnectionCheck.requireUnprivileged(connection, logger: logger)
            }
            // And the check does refuse a role that owns the tables.
            try await databases.owner.client.withConnection { connection in
                await #expect(throws: PrivilegedApplicationRole.self) {
                    try await ConnectionCheck.requireUnprivileged(connection, logger: logger)
                }
            }
        }
    }
}
