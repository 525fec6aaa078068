import Core
import Foundation
import PostgresNIO

/// ``TenantStore`` on PostgreSQL.
public struct PostgresTenantStore: TenantStore {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func tenants() async throws -> [Tenant] {
        try await database.withoutTenant { connection in
            let rows = try await connection.query(
                "SELECT id, slug, name_kk, name_ru, name_en, region FROM tenants ORDER BY slug",
                logger: database.logger
            )
            return try await Self.decode(rows)
        }
    }

    public func tenant(slug: String) async throws -> Tenant? {
        guard let valid = try? TenantSlug(slug) else { return nil }
        return try await database.withoutTenant { connection in
            let rows = try await connection.query(
                "SELECT id, slug, name_kk, name_ru, name_en, region FROM tenants WHERE slug = \(valid.value)",
                logger: database.logger
            )
            return try await Self.decode(rows).first
        }
    }

    public func create(slug: TenantSlug, name: LocalizedText, region: String) async throws -> Tenant {
        for (field, text) in [("name_kk", name.kk), ("name_ru", name.ru), ("name_en", name.en), ("region", region)] {
            guard text.count <= 200, field == "region" || !text.isEmpty else {
                throw AdalError.invalidField(field: field, reason: "1 to 200 characters")
            }
        }
        do {
            return try await database.withoutTenant { connection in
                let rows = try await connection.query(
                    """
                    INSERT INTO tenants (slug, name_kk, name_ru, name_en, region)
                    VALUES (\(slug.value), \(name.kk), \(name.ru), \(name.en), \(region))
                    RETURNING id, slug, name_kk, name_ru, name_en, region
                    """,
                    logger: database.logger
                )
                return try await Self.decode(rows)[0]
            }
        } catch let error as PSQLError where error.sqlState == SQLState.uniqueViolation {
            throw AdalError.conflict(reason: "a city with the short name '\(slug)' exists already")
        }
    }

    public func enabledServices(tenantID: UUID) async throws -> [ServiceKey] {
        try await database.withTenant(tenantID) { connection in
            var keys: [ServiceKey] = []
            let rows = try await connection.query(
                "SELECT service_key FROM tenant_services WHERE tenant_id = \(tenantID)",
                logger: database.logger
            )
            for try await key in rows.decode(String.self) {
                if let service = ServiceKey(rawValue: key) { keys.append(service) }
            }
            return ServiceKey.allCases.filter(keys.contains)
        }
    }

    public func enable(_ service: ServiceKey, tenantID: UUID) async throws {
        try await database.withTenant(tenantID) { connection in
            try await connection.query(
                """
                INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(tenantID), \(service.rawValue))
                ON CONFLICT DO NOTHING
                """,
                logger: database.logger
            )
        }
    }

    private static func decode(_ rows: PostgresRowSequence) async throws -> [Tenant] {
        var tenants: [Tenant] = []
        for try await (id, slug, kk, ru, en, region) in rows.decode((UUID, String, String, String, String, String).self)
        {
            tenants.append(
                Tenant(id: id, slug: try TenantSlug(slug), name: LocalizedText(kk: kk, ru: ru, en: en), region: region)
            )
        }
        return tenants
    }
}
