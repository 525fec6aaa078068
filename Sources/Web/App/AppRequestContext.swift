import Core
import Hummingbird
import NIOCore

/// What a request carries through the middleware to the routes.
public struct AppRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The page language, from `?lang=`, the language cookie, or Kazakh.
    public var language: Language = .default
    /// The tenant named by the path, once resolved.
    public var tenant: Tenant?
    /// The signed-in user (session) or machine (token), if any.
    public var principal: Principal?
    /// The anti-forgery token that forms on this page must send back.
    public var csrfToken: String = ""
    /// The client's address, for throttling; not trusted for anything else.
    public let remoteAddress: String
    /// The event loop of the request's connection (``EventLoopMiddleware``).
    public let eventLoop: any EventLoop

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
        self.eventLoop = source.channel.eventLoop
    }

    /// Hummingbird's own decoding limit; the configured limit is enforced by ``BodyLimitMiddleware``.
    public var maxUploadSize: Int { 1 << 20 }

    /// The tenant, which routes under `/{tenant}` always have.
    public func requireTenant() throws -> Tenant {
        guard let tenant else { throw AdalError.notFound(what: "city") }
        return tenant
    }

    /// The tenant and the principal, who must hold one of `roles` (else `forbidden`).
    public func authorised(_ roles: Set<Role>) throws -> (Tenant, Principal) {
        let (tenant, principal) = try (requireTenant(), requirePrincipal())
        try principal.require(anyOf: roles)
        return (tenant, principal)
    }

    /// The principal, or `unauthenticated`.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw AdalError.unauthenticated }
        return principal
    }
}
