import Core
import Foundation
import Hummingbird
import Workflow

/// People's pages for the engine: the inbox of tasks for my roles, the search over a city's
/// instances, and one instance with its diagram and the timeline of its steps.
struct WorkflowPagesController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get("inbox", use: inbox)
        group.get("instances", use: instances)
        group.get("instances/:id", use: instance)
    }

    @Sendable func inbox(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else { return Self.signIn(tenant) }
        let now = Date()
        let tasks = try await ServicePages.inbox(principal: principal, tenantID: tenant.id, dependencies: dependencies)
        let rows = tasks.map { task -> [String: Any] in
            [
                "id": task.id.uuidString.lowercased(), "slug": tenant.slug.value, "subject": Self.subject(task),
                "service": title(task, context.language), "state": stateTitle(task, context.language),
                "due": task.taskDueAt.map { Self.format($0) } ?? "",
                "dueISO": task.taskDueAt.map { Self.iso($0) } ?? "",
                "overdue": task.isOverdue(at: now),
            ]
        }
        return dependencies.pages.page(
            "inbox",
            titleKey: "inbox_title",
            values: ["tasks": rows, "hasTasks": !rows.isEmpty],
            request: request,
            context: context
        )
    }

    @Sendable func instances(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else { return Self.signIn(tenant) }
        try principal.require(anyOf: InstanceView.seeEverything)
        let query = request.uri.queryParameters
        let filter = try InstanceView.filter(from: query)
        let found = try await WorkflowQueries(database: dependencies.database).search(filter, tenantID: tenant.id)
        let rows = found.map { instance -> [String: Any] in
            [
                "id": instance.id.uuidString.lowercased(), "slug": tenant.slug.value, "subject": Self.subject(instance),
                "service": title(instance, context.language), "state": stateTitle(instance, context.language),
                "created": Self.format(instance.createdAt),
            ]
        }
        var next: String? = nil
        if found.count == filter.limit, let last = found.last {
            var components = URLComponents()
            components.path = "/\(tenant.slug)/instances"
            let cursor = last.cursor
            components.queryItems =
                ["service", "state", "subject", "from", "to"].compactMap { name in
                    query[Substring(name)].map { URLQueryItem(name: name, value: String($0)) }
                } + [URLQueryItem(name: "before", value: cursor)]
            next = components.string
        }
        let echoed = ["service", "state", "subject", "from", "to"].reduce(into: [String: String]()) { values, name in
            values[name] = query[Substring(name)].map(String.init) ?? ""
        }
        return dependencies.pages.page(
            "instances",
            titleKey: "instances_title",
            values: [
                "instances": rows, "hasInstances": !rows.isEmpty, "filter": echoed, "next": PageRenderer.optional(next),
                "slug": tenant.slug.value,
            ],
            request: request,
            context: context
        )
    }

    @Sendable func instance(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else { return Self.signIn(tenant) }
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw AdalError.notFound(what: "instance")
        }
        let view = try await InstanceView.load(
            id: id,
            tenantID: tenant.id,
            principal: principal,
            dependencies: dependencies
        )
        let language = context.language
        let definition = view.definition
        let treeSize = try await dependencies.auditLog.head(tenantID: tenant.id).size
        let steps = view.steps.map { step -> [String: Any] in
            let event =
                step.event == EventDefinition.startName
                ? definition?.start.title[language]
                : definition?.events.first { $0.name == step.event }?.title[language]
            let role = Role(rawValue: step.actorRole).map { dependencies.pages.locales.name(of: $0, language) }
            return [
                "event": event ?? step.event, "at": Self.format(step.at), "atISO": Self.iso(step.at),
                "role": role ?? dependencies.pages.locales.text("system_actor", language),
                "leaf": PageRenderer.optional(step.leafIndex.map(String.init)), "slug": tenant.slug.value,
                "proof": PageRenderer.optional(
                    step.leafIndex.flatMap { leaf in
                        leaf < treeSize ? "/audit/\(tenant.slug)/proof/inclusion?index=\(leaf)&size=\(treeSize)" : nil
                    }
                ),
            ]
        }
        let summary = view.summary
        let diagram =
            definition.map {
                StateDiagram.svg(
                    $0,
                    language: language,
                    current: summary.state,
                    label: dependencies.pages.locales.text("diagram", language)
                )
            } ?? ""
        return dependencies.pages.page(
            "instance",
            titleKey: "instance_title",
            values: [
                "serviceTitle": title(summary, language), "subject": Self.subject(summary),
                "stateTitle": stateTitle(summary, language), "overdue": summary.isOverdue(at: Date()),
                "due": PageRenderer.optional(summary.taskDueAt.map { Self.format($0) }),
                "created": Self.format(summary.createdAt),
                "updated": Self.format(summary.updatedAt), "diagram": diagram, "steps": steps,
                "events": eventForms(view, slug: tenant.slug.value, language: language),
                "hasEvents": !view.formEvents.isEmpty,
                "detailPath": PageRenderer.optional(
                    try await ServicePages.detailPath(summary, tenant: tenant, dependencies: dependencies)
                ),
            ],
            request: request,
            context: context
        )
    }

    /// A form for each event the person may take now (WorkflowFormsController takes them).
    func eventForms(_ view: InstanceView, slug: String, language: Language) -> [[String: Any]] {
        view.formEvents.map { event in
            [
                "title": event.title[language], "key": UUID().uuidString.lowercased(),
                "action": "/\(slug)/instances/\(view.summary.id.uuidString.lowercased())/events/\(event.name)",
                "fields": StepForm(fields: event.input, locales: dependencies.pages.locales, language: language)
                    .rows(values: nil),
            ]
        }
    }

    private func title(_ instance: InstanceSummary, _ language: Language) -> String {
        dependencies.workflows.registry.definition(instance.service, version: instance.version)?.title[language]
            ?? instance.service
    }

    private func stateTitle(_ instance: InstanceSummary, _ language: Language) -> String {
        dependencies.workflows.registry.definition(instance.service, version: instance.version)?.state(instance.state)?
            .title[language] ?? instance.state
    }

    private static func subject(_ instance: InstanceSummary) -> String {
        instance.subject.isEmpty ? String(instance.id.uuidString.lowercased().prefix(8)) : instance.subject
    }

    private static func signIn(_ tenant: Tenant) -> Response {
        Response.redirect(to: "/\(tenant.slug)/login", type: .normal)
    }

    /// Day and time in Kazakhstan (UTC+5), as `21.11.2026 14:05` in every language.
    static func format(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 5 * 3_600)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(
            format: "%02d.%02d.%04d %02d:%02d",
            c.day ?? 0,
            c.month ?? 0,
            c.year ?? 0,
            c.hour ?? 0,
            c.minute ?? 0
        )
    }

    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: 5 * 3_600)!
        return formatter.string(from: date)
    }
}
