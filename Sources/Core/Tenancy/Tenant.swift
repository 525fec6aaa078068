import struct Foundation.UUID

/// A city or region running its services on Adal. Every tenant-owned row carries its id.
public struct Tenant: Hashable, Sendable, Identifiable {
    public var id: UUID
    public var slug: TenantSlug
    public var name: LocalizedText
    public var region: String

    public init(id: UUID, slug: TenantSlug, name: LocalizedText, region: String) {
        self.id = id
        self.slug = slug
        self.name = name
        self.region = region
    }
}

/// The short name of a tenant in URLs (`astana`): 2 to 40 lowercase Latin letters, digits and
/// inner hyphens, so that it is safe in paths, cookies and log lines.
public struct TenantSlug: Hashable, Sendable, CustomStringConvertible, Comparable {
    public static let maximumLength = 40
    /// Names that are paths of Adal itself and so cannot be a city's.
    public static let reserved: Set<String> = ["api", "health", "metrics", "static", "audit", "login", "logout"]
    public let value: String

    public init(_ text: String, field: String = "slug") throws(AdalError) {
        let bytes = Array(text.utf8)
        let allowed = bytes.allSatisfy { (0x61...0x7a).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2d }
        guard (2...Self.maximumLength).contains(bytes.count), allowed, bytes.first != 0x2d, bytes.last != 0x2d
        else {
            throw .invalidField(
                field: field,
                reason:
                    "a city's short name is 2 to \(Self.maximumLength) lowercase Latin letters, digits or inner hyphens"
            )
        }
        guard !Self.reserved.contains(text) else {
            throw .invalidField(field: field, reason: "'\(text)' is reserved for Adal's own pages")
        }
        self.value = text
    }

    public var description: String { value }
    public static func < (lhs: TenantSlug, rhs: TenantSlug) -> Bool { lhs.value < rhs.value }
}
