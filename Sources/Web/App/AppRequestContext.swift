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
    /// The API token's principal while it is still being looked up (``APITokenMiddleware`` with
    /// `deferred`): the route starts its work and awaits it before it acts.
    var pendingPrincipal: Task<Principal?, any Error>?
    /// The anti-forgery token that forms on this page must send back.
    public var csrfToken: String = ""
    /// The client's address, for throttling; not trusted for anything else.
    public let remoteAddress: String
    /// The event loop of the request's connection, where its work runs (``EventLoopChildChannel``).
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

    /// The tenant and a closure that gives the principal once its lookup ends, who must hold one
    /// of `roles` — the principal itself when it is already known.
    func authorisedLater(_ roles: Set<Role>) throws -> (Tenant, @Sendable () async throws -> Principal) {
        let tenant = try requireTenant()
        guard let pending = pendingPrincipal else {
            let (_, principal) = try authorised(roles)
            return (tenant, { principal })
        }
        return (
            tenant,
            {
                guard let principal = try await pending.value else { throw AdalError.unauthenticated }
                try principal.require(anyOf: roles)
                return principal
            }
        )
    }

    /// The principal, or `unauthenticated`.
    public func requirePrincipal() throws -> Principal {
        guard let principal else { throw AdalError.unauthenticated }
        return principal
    }
}
