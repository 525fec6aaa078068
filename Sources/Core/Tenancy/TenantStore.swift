import struct Foundation.UUID

/// Storage of tenants and the services each has turned on.
public protocol TenantStore: Sendable {
    func tenants() async throws -> [Tenant]
    func tenant(slug: String) async throws -> Tenant?
    /// Creates a tenant; needs the owner role (the application role may only read tenants).
    func create(slug: TenantSlug, name: LocalizedText, region: String) async throws -> Tenant
    func enabledServices(tenantID: UUID) async throws -> [ServiceKey]
    func enable(_ service: ServiceKey, tenantID: UUID) async throws
}
