import Core
import Foundation
import Hummingbird

/// The JSON API for machines and tools, under `/api/{tenant}`, authenticated by bearer tokens.
struct APIController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group("api/:tenant").add(middleware: APITokenMiddleware(dependencies: dependencies))
        group.get("me", use: me)
        group.get("users/:id", use: user)
    }

    struct PrincipalResponse: ResponseEncodable {
        var login: String
        var displayName: String
        var roles: [Role]
        var tenant: String
    }

    struct UserResponse: ResponseEncodable {
        var id: UUID
        var login: String
        var displayName: String
        var roles: [Role]
        var disabled: Bool
    }

    /// Who the token acts as, with the roles it is scoped to.
    @Sendable func me(request: Request, context: AppRequestContext) async throws -> PrincipalResponse {
        let principal = try context.requirePrincipal()
        return PrincipalResponse(
            login: principal.login,
            displayName: principal.displayName,
            roles: principal.roles.sorted(),
            tenant: try context.requireTenant().slug.value
        )
    }

    /// One user of the token's city, for administrators and auditors. Another city's id is 404.
    @Sendable func user(request: Request, context: AppRequestContext) async throws -> UserResponse {
        let principal = try context.requirePrincipal()
        try principal.require(anyOf: [.akimatAdmin, .auditor])
        let tenant = try context.requireTenant()
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text),
            let user = try await dependencies.accounts.store.user(id: id, tenantID: tenant.id)
        else { throw AdalError.notFound(what: "user") }
        return UserResponse(
            id: user.id,
            login: user.login,
            displayName: user.displayName,
            roles: user.roles.sorted(),
            disabled: user.disabled
        )
    }
}
