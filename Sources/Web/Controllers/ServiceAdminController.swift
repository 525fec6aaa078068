import Core
import Foundation
import Hummingbird
import Workflow

/// The akimat administrators' page for services: which loaded services the city runs, the
/// pinned version and the parameters of each, and the jobs that failed for good.
struct ServiceAdminController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant/admin/services").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get(use: show)
        group.post(":service", use: save)
        group.post("jobs/retry", use: retryJobs)
    }

    private var registry: WorkflowRegistry { dependencies.workflows.registry }

    private var store: ServiceSettingsStore {
        ServiceSettingsStore(database: dependencies.database, registry: registry)
    }

    @Sendable func show(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else {
            return Response.redirect(to: "/\(tenant.slug)/login", type: .normal)
        }
        try principal.require(anyOf: [.akimatAdmin])
        return try await page(tenant: tenant, request: request, context: context, message: nil, status: .ok)
    }

    /// Saves one service's version and parameters; a bad value re-shows the page with the reason.
    @Sendable func save(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let principal = try context.requirePrincipal()
        try principal.require(anyOf: [.akimatAdmin])
        let service = try context.parameters.require("service")
        let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
        var version: Int? = nil
        if let text = form["version"], !text.isEmpty {
            guard let number = Int(text) else {
                throw AdalError.invalidField(field: "version", reason: "a version number")
            }
            version = number
        }
        let definition = try registry.resolve(service, pinned: version)
        var changes: [String: InputValue] = [:]
        for parameter in definition.parameters {
            guard let text = form["p_\(parameter.name)"]?.trimmingWhitespace(), !text.isEmpty else { continue }
            changes[parameter.name] = ParameterSet.setting(fromText: text, for: parameter)
        }
        do {
            try await dependencies.workflows.changeSettings(
                tenantID: tenant.id,
                service: service,
                version: version,
                changes: changes,
                actor: StepActor(id: principal.userID, roles: principal.roles)
            )
        } catch let error as AdalError {
            guard case .invalidField(let field, let reason) = error else { throw error }
            return try await page(
                tenant: tenant,
                request: request,
                context: context,
                message: "\(service): \(field): \(reason)",
                status: .unprocessableContent
            )
        }
        return Response.redirect(to: "/\(tenant.slug)/admin/services", type: .normal)
    }

    /// Sends failed jobs again: the one the form names (`job`), or every one listed when it names
    /// none; then shows the page saying how many. A job no longer failed — sent again already by
    /// a second click or another administrator — is none sent, said on the page (and so is a
    /// number of another city's, which the city cannot see).
    @Sendable func retryJobs(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let principal = try context.requirePrincipal()
        try principal.require(anyOf: [.akimatAdmin])
        let form = FormFields(String(buffer: try await request.readBody(limit: 1_024)))
        var id: Int64?
        if let text = form["job"], !text.isEmpty {
            guard let number = Int64(text), number > 0 else {
                throw AdalError.invalidField(field: "job", reason: "a failed job's number")
            }
            id = number
        }
        let retried = try await dependencies.workflows.retryDeadJobs(tenantID: tenant.id, id: id)
        dependencies.database.logger.info(
            "failed jobs sent again",
            metadata: ["tenant": "\(tenant.slug.value)", "user": "\(principal.userID)", "jobs": "\(retried.count)"]
        )
        return Response.redirect(to: "/\(tenant.slug)/admin/services?retried=\(retried.count)", type: .normal)
    }

    private func page(
        tenant: Tenant,
        request: Request,
        context: AppRequestContext,
        message: String?,
        status: HTTPResponse.Status
    ) async throws -> Response {
        let language = context.language
        let settings = try await store.settings(tenantID: tenant.id)
        let services = registry.keys.filter { $0 != SettingsRecord.key }.compactMap { key -> [String: Any]? in
            guard let latest = registry.latest(key) else { return nil }
            let current = settings.first { $0.service == key }
            let definition = current?.version.flatMap { registry.definition(key, version: $0) } ?? latest
            let values =
                (try? ParameterSet(definition: definition, settings: current?.parameters ?? [:]))?.values ?? [:]
            return [
                "key": key, "title": latest.title[language], "enabled": current != nil,
                "pinned": current?.version.map(String.init) ?? "",
                "versions": registry.versions(key).map { version in
                    ["number": String(version), "selected": current?.version == version]
                },
                "parameters": definition.parameters.map { parameter in
                    [
                        "name": parameter.name, "title": parameter.title[language], "type": parameter.type.name,
                        "value": values[parameter.name].map { Self.text($0, parameter.type) } ?? "",
                    ]
                },
                "slug": tenant.slug.value,
            ]
        }
        let dead = try await WorkflowQueries(database: dependencies.database).deadJobs(tenantID: tenant.id).map { job in
            [
                "id": String(job.id), "kind": job.kind, "what": job.topic ?? job.event ?? "",
                "attempts": String(job.attempts), "error": job.lastError ?? "",
                "at": job.finishedAt.map { WorkflowPagesController.format($0) } ?? "",
            ]
        }
        let retried = request.uri.queryParameters["retried"].flatMap { Int($0) }.map { max($0, 0) }
        return dependencies.pages.page(
            "services_admin",
            titleKey: "services_admin_title",
            values: [
                "services": services, "hasServices": !services.isEmpty, "dead": dead, "hasDead": !dead.isEmpty,
                "slug": tenant.slug.value,
                "message": PageRenderer.optional(message),
                "retried": PageRenderer.optional(
                    retried.map {
                        $0 == 0
                            ? dependencies.pages.locales.text("dead_retried_none", language)
                            : dependencies.pages.locales.text("dead_retried", language, figures: [String($0)])
                    }
                ),
            ],
            request: request,
            context: context,
            status: status
        )
    }

    /// A parameter's value as the form shows it: percentages with their decimals.
    static func text(_ value: ParameterValue, _ type: ParameterType) -> String {
        if case .basisPoints = type, case .int(let hundredths) = value {
            let sign = hundredths < 0 ? "-" : ""
            let magnitude = abs(hundredths)
            return magnitude % 100 == 0
                ? "\(sign)\(magnitude / 100)" : String(format: "%@%d.%02d", sign, magnitude / 100, magnitude % 100)
        }
        return value.description
    }
}
