import Core
import Hummingbird
import OpenBudget

/// A city's pages: its home with the enabled services, sign-in and sign-out (the account page is
/// ``AccountContactsController``'s).
struct TenantPagesController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get(use: home)
        group.get("login", use: loginForm)
        group.post("login", use: login)
        group.post("logout", use: logout)
    }

    @Sendable func home(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let registry = dependencies.workflows.registry
        let services = try await dependencies.tenants.enabledServices(tenantID: tenant.id).map {
            service -> [String: Any] in
            var row: [String: Any] = [
                "key": service.rawValue, "title": dependencies.pages.locales.title(of: service, context.language),
            ]
            // What the signed-in person can do with it: start one, and the service's own list.
            if let principal = context.principal, let definition = registry.latest(service.rawValue) {
                let starters = definition.start.actors.compactMap { actor -> Role? in
                    if case .role(let role) = actor { return role }
                    return nil
                }
                if !principal.roles.isDisjoint(with: starters) {
                    row["startPath"] = "/\(tenant.slug)/services/\(service.rawValue)/new"
                    row["startTitle"] = definition.start.title[context.language]
                }
                if let list = ServicePages.listPath(service.rawValue, slug: tenant.slug.value, roles: principal.roles) {
                    row["listPath"] = list
                }
            } else if let list = ServicePages.publicPath(service.rawValue, slug: tenant.slug.value) {
                row["listPath"] = list
            }
            return row
        }
        // The headline figure: how much of the city's catalogue of public services is automated.
        let share = ServiceCatalogue.share(
            try await ServiceCatalogue(database: dependencies.database).entries(tenantID: tenant.id)
        )
        return dependencies.pages.page(
            "tenant",
            titleKey: "services_title",
            values: [
                "services": services, "hasServices": !services.isEmpty, "slug": tenant.slug.value,
                "automated": PageRenderer.optional(
                    share.percent.map { BudgetPagesController.percent($0, context.language) }
                ),
                "catalogueTotal": String(share.total),
            ],
            request: request,
            context: context
        )
    }

    @Sendable func loginForm(request: Request, context: AppRequestContext) async throws -> Response {
        dependencies.pages.page("login", titleKey: "login_title", values: [:], request: request, context: context)
    }

    /// Signs in; on success a new session cookie and a fresh anti-forgery token, then the account page.
    @Sendable func login(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
        let login = String((form["login"] ?? "").prefix(User.maximumLoginLength))
        do {
            let (token, _) = try await dependencies.accounts.signIn(
                login: login,
                password: form["password"] ?? "",
                address: context.remoteAddress,
                tenantID: tenant.id
            )
            var response = Response.redirect(to: "/\(tenant.slug)/account", type: .normal)
            let lifetime = Int(dependencies.accounts.sessionLifetime)
            response.setCookie(
                AdalCookie.session(token, tenant: tenant, maxAge: lifetime, secure: dependencies.secureCookies)
            )
            response.setCookie(AdalCookie.csrf(SecretToken.generate().text, secure: dependencies.secureCookies))
            return response
        } catch let error as AdalError {
            let retryAfter: Int?
            switch error {
            case .invalidCredentials: retryAfter = nil
            case .tooManyAttempts(let seconds): retryAfter = seconds
            default: throw error
            }
            let problem = Problem(error)
            var response = dependencies.pages.page(
                "login",
                titleKey: "login_title",
                values: [
                    "login": login,
                    "errorMessage": dependencies.pages.locales.text(problem.messageKey, context.language),
                    "retryAfter": retryAfter.map(String.init) ?? "",
                ],
                request: request,
                context: context,
                status: problem.status
            )
            if let retryAfter { response.headers[.retryAfter] = String(retryAfter) }
            return response
        }
    }

    @Sendable func logout(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        if let cookie = request.cookies[AdalCookie.session]?.value {
            try await dependencies.accounts.signOut(sessionToken: cookie, tenantID: tenant.id)
        }
        var response = Response.redirect(to: "/\(tenant.slug)", type: .normal)
        response.setCookie(AdalCookie.clearedSession(tenant: tenant, secure: dependencies.secureCookies))
        return response
    }
}
