import Core
import Hummingbird
import Storage

/// Resolves `/{tenant}` to a tenant (404 when unknown) and the session cookie to a principal.
struct TenantMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let dependencies: AppDependencies

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var context = context
        let tenant = try await dependencies.tenant(named: context)
        context.tenant = tenant
        if let cookie = request.cookies[AdalCookie.session]?.value {
            context.principal = try await dependencies.accounts.principal(sessionToken: cookie, tenantID: tenant.id)
        }
        return try await next(request, context)
    }
}

/// Resolves `/api/{tenant}` and requires a bearer API token of that tenant. Cookies are ignored
/// here, so a browser session can never be used cross-site against the API.
struct APITokenMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let dependencies: AppDependencies
    /// Lets a request without an `Authorization` header through anonymously (a citizen's
    /// report); a header with a token that is not valid is still refused.
    var optional = false
    /// Starts the token's lookup and lets the request on at once, the lookup pending in its
    /// context (``AppRequestContext/authorisedLater(_:)``): for a route whose work waits in a
    /// queue anyway, so the lookup runs during that wait instead of before it.
    var deferred = false

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var context = context
        let tenant = try await dependencies.tenant(named: context)
        context.tenant = tenant
        if optional, request.headers[.authorization] == nil { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.lowercased().hasPrefix("bearer ") else {
            throw AdalError.unauthenticated
        }
        let token = String(header.dropFirst("bearer ".count)).trimmingWhitespace()
        if deferred {
            let accounts = dependencies.accounts
            let tenantID = tenant.id
            // On the connection's loop, as the request is: a task of its own would start on the
            // global executor, one more hand-over between threads.
            context.pendingPrincipal = Task(executorPreference: EventLoopExecutor(context.eventLoop)) {
                try await accounts.principal(apiToken: token, tenantID: tenantID)
            }
            return try await next(request, context)
        }
        guard let principal = try await dependencies.accounts.principal(apiToken: token, tenantID: tenant.id) else {
            throw AdalError.unauthenticated
        }
        context.principal = principal
        return try await next(request, context)
    }
}

extension AppDependencies {
    /// The tenant the path's `{tenant}` names, or 404.
    func tenant(named context: AppRequestContext) async throws -> Tenant {
        let slug = context.parameters.get("tenant") ?? ""
        guard let tenant = try await tenants.tenant(slug: slug) else {
            throw AdalError.notFound(what: "city '\(slug)'")
        }
        return tenant
    }
}
