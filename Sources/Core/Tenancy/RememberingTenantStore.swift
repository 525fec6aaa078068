import Foundation

/// A tenant store that remembers the tenants it found by slug for ``lifetime``: every request
/// under `/{city}` looks its city up, and a city's id never changes while its name rarely does
/// (a renamed city shows its new name within the lifetime). Unknown slugs are not remembered —
/// anyone can make those up — and the memory holds at most ``capacity`` cities.
public final class RememberingTenantStore: TenantStore {
    public static let lifetime: TimeInterval = 60
    static let capacity = 10_000

    let base: any TenantStore
    private let found = Locked<[String: (tenant: Tenant, at: Date)]>([:])

    public init(_ base: any TenantStore) {
        self.base = base
    }

    public func tenant(slug: String) async throws -> Tenant? {
        let now = Date()
        if let remembered = found.withLock({ $0[slug] }), now.timeIntervalSince(remembered.at) < Self.lifetime {
            return remembered.tenant
        }
        guard let tenant = try await base.tenant(slug: slug) else { return nil }
        found.withLock { found in
            if found.count >= Self.capacity { found.removeAll(keepingCapacity: true) }
            found[slug] = (tenant, now)
        }
        return tenant
    }

    public func tenants() async throws -> [Tenant] { try await base.tenants() }

    public func create(slug: TenantSlug, name: LocalizedText, region: String) async throws -> Tenant {
        try await base.create(slug: slug, name: name, region: region)
    }

    public func enabledServices(tenantID: UUID) async throws -> [ServiceKey] {
        try await base.enabledServices(tenantID: tenantID)
    }

    public func enable(_ service: ServiceKey, tenantID: UUID) async throws {
        try await base.enable(service, tenantID: tenantID)
    }
}
