import Core
import Foundation
import Hummingbird
import Workflow

/// Forms for people, for every service: start an instance, and take an event the signed-in
/// person holds a role for. Each form carries an idempotency key, so a double click or a
/// resubmitted page takes the step once. A refused step shows the form again with the reason
/// and what was typed; success goes to the instance's page.
struct WorkflowFormsController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get("services/:service/new", use: startForm)
        group.post("services/:service/new", use: start)
        group.get("instances/:id/events/:event", use: eventForm)
        group.post("instances/:id/events/:event", use: fire)
    }

    /// What a form page needs about its step.
    struct Step {
        var heading: String
        var subject: String?
        var serviceTitle: String
        var fields: [FieldDefinition]
        var action: String
        var back: String?
        /// Where the step is taken instead, for an event only the service's own page takes.
        var elsewhere: String? = nil
    }

    @Sendable func startForm(request: Request, context: AppRequestContext) async throws -> Response {
        guard let principal = context.principal else { return signIn(context) }
        let step = try await startStep(context, principal: principal)
        return page(step, form: nil, message: nil, status: .ok, request: request, context: context)
    }

    @Sendable func start(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let step = try await startStep(context, principal: principal)
        let form = try await readForm(request)
        return try await submit(step, form: form, request: request, context: context) {
            try await dependencies.workflows.start(
                tenantID: tenant.id,
                service: try context.parameters.require("service"),
                actor: StepActor(id: principal.userID, roles: principal.roles),
                input: stepForm(step, context).input(from: form),
                idempotencyKey: Self.key(in: form)
            )
        }
    }

    @Sendable func eventForm(request: Request, context: AppRequestContext) async throws -> Response {
        guard let principal = context.principal else { return signIn(context) }
        let step = try await eventStep(context, principal: principal)
        if let elsewhere = step.elsewhere { return Response.redirect(to: elsewhere, type: .normal) }
        return page(step, form: nil, message: nil, status: .ok, request: request, context: context)
    }

    @Sendable func fire(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let step = try await eventStep(context, principal: principal)
        guard step.elsewhere == nil else {
            throw AdalError.conflict(reason: "this step is taken on the service's own page, not with this form")
        }
        let form = try await readForm(request)
        return try await submit(step, form: form, request: request, context: context) {
            try await dependencies.workflows.fire(
                tenantID: tenant.id,
                instanceID: try Self.instanceID(context),
                event: try context.parameters.require("event"),
                actor: StepActor(id: principal.userID, roles: principal.roles),
                input: stepForm(step, context).input(from: form),
                idempotencyKey: Self.key(in: form)
            )
        }
    }

    /// The start of a service the city runs, in its pinned version; only for the start's roles.
    private func startStep(_ context: AppRequestContext, principal: Principal) async throws -> Step {
        let tenant = try context.requireTenant()
        let service = try context.parameters.require("service")
        let (definition, _) = try await dependencies.cityService(service, tenantID: tenant.id)
        try principal.require(
            anyOf: Set(
                definition.start.actors.compactMap { actor in
                    if case .role(let role) = actor { return role }
                    return nil
                }
            )
        )
        return Step(
            heading: definition.start.title[context.language],
            subject: nil,
            serviceTitle: definition.title[context.language],
            fields: definition.start.input,
            action: "/\(tenant.slug)/services/\(service)/new",
            back: "/\(tenant.slug)"
        )
    }

    /// An event of an instance the person may see, leaving its current state, for their roles;
    /// for one only the service's own page takes, where to go instead.
    private func eventStep(_ context: AppRequestContext, principal: Principal) async throws -> Step {
        let tenant = try context.requireTenant()
        let id = try Self.instanceID(context)
        let view = try await InstanceView.load(
            id: id,
            tenantID: tenant.id,
            principal: principal,
            dependencies: dependencies
        )
        let name = try context.parameters.require("event")
        guard let definition = view.definition, let event = definition.events.first(where: { $0.name == name }) else {
            throw AdalError.notFound(what: "event '\(name)'")
        }
        guard view.availableEvents.contains(where: { $0.name == name }) else {
            throw AdalError.conflict(reason: "'\(name)' cannot be taken by you in state '\(view.summary.state)'")
        }
        let back = "/\(tenant.slug)/instances/\(id.uuidString.lowercased())"
        var elsewhere: String?
        if !view.formEvents.contains(where: { $0.name == name }) {
            // Only the service's own page takes it (its input is made there).
            elsewhere =
                try await ServicePages.detailPath(view.summary, tenant: tenant, dependencies: dependencies) ?? back
        }
        return Step(
            heading: event.title[context.language],
            subject: view.summary.subject.isEmpty ? nil : view.summary.subject,
            serviceTitle: definition.title[context.language],
            fields: event.input,
            action: "/\(tenant.slug)/instances/\(id.uuidString.lowercased())/events/\(name)",
            back: back,
            elsewhere: elsewhere
        )
    }

    /// Takes the step; a refusal the person can act on shows the form again with its reason.
    private func submit(
        _ step: Step,
        form: FormFields,
        request: Request,
        context: AppRequestContext,
        take: () async throws -> StepResult
    ) async throws -> Response {
        do {
            let result = try await take()
            let tenant = try context.requireTenant()
            return Response.redirect(
                to: "/\(tenant.slug)/instances/\(result.instanceID.uuidString.lowercased())",
                type: .normal
            )
        } catch {
            let problem = Problem(error)
            guard [.badRequest, .forbidden, .conflict, .unprocessableContent].contains(problem.status) else {
                throw error
            }
            var message = dependencies.pages.locales.text(problem.messageKey, context.language)
            if let detail = problem.detail { message += " " + detail }
            return page(step, form: form, message: message, status: problem.status, request: request, context: context)
        }
    }

    private func page(
        _ step: Step,
        form: FormFields?,
        message: String?,
        status: HTTPResponse.Status,
        request: Request,
        context: AppRequestContext
    ) -> Response {
        // A new key for a new form; the same key when the form comes back, so that a step that
        // did go through is not taken twice.
        let key = form.flatMap { Self.key(in: $0) } ?? UUID().uuidString.lowercased()
        return dependencies.pages.page(
            "step_form",
            titleKey: "form_title",
            values: [
                "heading": step.heading, "subject": PageRenderer.optional(step.subject),
                "serviceTitle": step.serviceTitle, "action": step.action, "key": key,
                "fields": stepForm(step, context).rows(values: form), "submit": step.heading,
                "message": PageRenderer.optional(message), "back": PageRenderer.optional(step.back),
            ],
            request: request,
            context: context,
            status: status
        )
    }

    private func stepForm(_ step: Step, _ context: AppRequestContext) -> StepForm {
        StepForm(fields: step.fields, locales: dependencies.pages.locales, language: context.language)
    }

    private func readForm(_ request: Request) async throws -> FormFields {
        FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
    }

    private func signIn(_ context: AppRequestContext) -> Response {
        Response.redirect(to: "/\(context.tenant?.slug.value ?? "")/login", type: .normal)
    }

    /// The form's idempotency key: a UUID the page made, or none when it is not one.
    static func key(in form: FormFields) -> String? {
        form["_key"].flatMap(UUID.init(uuidString:)).map { $0.uuidString.lowercased() }
    }

    static func instanceID(_ context: AppRequestContext) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw AdalError.notFound(what: "instance")
        }
        return id
    }
}
