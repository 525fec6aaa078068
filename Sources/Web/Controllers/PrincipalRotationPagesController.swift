import Core
import Foundation
import HTTPTypes
import Hummingbird
import PrincipalRotation
import Workflow

/// Principal rotation for people: the officials' page (district counts, the due list, the
/// tenure chart, the registry with search), a principal's history, and the public figures.
/// Rotations themselves run on the generic instance pages and forms.
struct PrincipalRotationPagesController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant/principal-rotation").add(
            middleware: TenantMiddleware(dependencies: dependencies)
        )
        group.get(use: overview)
        group.get("public", use: publicPage)
        group.get("registry.csv", use: export)
        group.get("principals/:id", use: history)
        group.get("plan", use: planPage)
        group.post("plan", use: acceptPlan)
    }

    private var api: PrincipalRotationController { PrincipalRotationController(dependencies: dependencies) }

    @Sendable func overview(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = try reader(context) else { return signIn(tenant) }
        let language = context.language
        let due = try await api.dueList(tenantID: tenant.id)
        let (registry, policy) = try await api.load(tenantID: tenant.id)
        let figures = try await api.figures(tenantID: tenant.id)
        let query = (request.uri.queryParameters["q"].map(String.init) ?? "").trimmingCharacters(in: .whitespaces)
        let needle = String(query.prefix(100)).lowercased()
        let principalIDs = Dictionary(
            registry.principals.values.map { ($0.iin, $0.id) },
            uniquingKeysWith: { first, _ in first }
        )
        let rows = PrincipalRotationController.rows(registry).filter { row in
            needle.isEmpty
                || [row.bin, row.name, row.district, row.locality, row.principalName ?? "", row.principalIIN ?? ""]
                    .contains { $0.lowercased().contains(needle) }
        }
        let slug = tenant.slug.value
        // The board: the rotations under way and the latest finished, with their states.
        let rotations = try await WorkflowQueries(database: dependencies.database).search(
            InstanceFilter(service: PrincipalRotationController.service, limit: 100),
            tenantID: tenant.id
        )
        let definitions = dependencies.workflows.registry
        let board = rotations.map { instance -> [String: Any] in
            let state = definitions.definition(instance.service, version: instance.version)?.state(instance.state)
            return [
                "subject": instance.subject, "state": state?.title[language] ?? instance.state,
                "finished": state?.isTerminal ?? false, "overdue": instance.isOverdue(at: Date()),
                "path": "/\(slug)/instances/\(instance.id.uuidString.lowercased())",
                "updated": WorkflowPagesController.format(instance.updatedAt),
            ]
        }
        return dependencies.pages.page(
            "rotation",
            titleKey: "rotation_title",
            values: [
                "slug": slug, "query": query,
                "policy": [
                    "urban": String(policy.maxYearsUrban), "rural": String(policy.maxYearsRural),
                    "attestation": String(policy.attestationYears), "warning": String(policy.warningMonths),
                    "noReturn": String(policy.noReturnYears), "sameDistrict": policy.sameDistrictOnly,
                ],
                "districts": due.districts.map { count in
                    [
                        "district": count.district, "overdue": String(count.tenureOverdue),
                        "due": String(count.tenureDue), "attestation": String(count.attestationDue),
                    ]
                },
                "entries": due.entries.map { entry -> [String: Any] in
                    [
                        "kind": dependencies.pages.locales.text("rotation_kind_" + entry.kind, language),
                        "school": entry.schoolName, "district": entry.district, "principal": entry.principalName,
                        "appointed": entry.appointedOn.description, "dueOn": entry.dueOn.description,
                        "overdue": entry.overdue,
                        "history": principalIDs[entry.principalIIN].map {
                            "/\(slug)/principal-rotation/principals/\($0.uuidString.lowercased())"
                        } ?? "",
                    ]
                },
                "hasEntries": !due.entries.isEmpty,
                "schools": rows.prefix(500).map { row -> [String: Any] in
                    [
                        "bin": row.bin, "name": row.name, "district": row.district, "locality": row.locality,
                        "principal": PageRenderer.optional(row.principalName), "since": row.since?.description ?? "",
                        "history": PageRenderer.optional(
                            row.principalIIN.flatMap { principalIDs[$0] }.map {
                                "/\(slug)/principal-rotation/principals/\($0.uuidString.lowercased())"
                            }
                        ),
                    ]
                },
                "chart": chart(figures, language),
                "districtChart": districtChart(figures, language),
                "canStart": !principal.roles.isDisjoint(with: PrincipalRotationController.planners),
                "board": board, "hasBoard": !board.isEmpty,
            ],
            request: request,
            context: context
        )
    }

    /// The proposal for principals due by `dueBy`, moving on `movesOn` (defaults: today), as a
    /// form the commission can edit: each due principal with the proposed school preselected
    /// among the schools to fill, or none.
    @Sendable func planPage(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else { return signIn(tenant) }
        try principal.require(anyOf: PrincipalRotationController.planners)
        let query = request.uri.queryParameters
        let dueBy = try Self.day(query["dueBy"].map(String.init), field: "dueBy")
        let movesOn = try Self.day(query["movesOn"].map(String.init), field: "movesOn")
        return try await plan(
            tenant: tenant,
            dueBy: dueBy,
            movesOn: movesOn,
            chosen: nil,
            message: nil,
            status: .ok,
            request: request,
            context: context
        )
    }

    /// Accepts the edited plan: checked whole against the policy, then one rotation started per
    /// move (the API's acceptance); refused plans come back with every reason.
    @Sendable func acceptPlan(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let principal = try context.requirePrincipal()
        try principal.require(anyOf: PrincipalRotationController.planners)
        let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
        let dueBy = try Self.day(form["dueBy"], field: "dueBy")
        let movesOn = try Self.day(form["movesOn"], field: "movesOn")
        let (registry, _) = try await api.load(tenantID: tenant.id)
        var chosen: [String: String] = [:]
        for person in registry.principals.values {
            if let school = form["move_" + person.iin], !school.isEmpty { chosen[person.iin] = school }
        }
        let moves = chosen.keys.sorted().map { AcceptedMove(principalIIN: $0, schoolBIN: chosen[$0] ?? "") }
        do {
            _ = try await api.start(moves, tenant: tenant, principal: principal)
        } catch AdalError.invalidField(_, let reason) {
            return try await plan(
                tenant: tenant,
                dueBy: dueBy,
                movesOn: movesOn,
                chosen: chosen,
                message: reason,
                status: .unprocessableContent,
                request: request,
                context: context
            )
        }
        return Response.redirect(to: "/\(tenant.slug)/principal-rotation#board", type: .normal)
    }

    private func plan(
        tenant: Tenant,
        dueBy: Day,
        movesOn: Day,
        chosen: [String: String]?,
        message: String?,
        status: HTTPResponse.Status,
        request: Request,
        context: AppRequestContext
    ) async throws -> Response {
        let (registry, policy) = try await api.load(tenantID: tenant.id)
        let proposal = PlanProposer.propose(registry: registry, policy: policy, dueBy: dueBy, movesOn: movesOn)
        let proposed = Dictionary(
            proposal.moves.compactMap { move in
                registry.principals[move.principal].flatMap { person in
                    registry.schools[move.to].map { (person.iin, $0.bin) }
                }
            },
            uniquingKeysWith: { first, _ in first }
        )
        let reasons = Dictionary(
            proposal.unplaced.map { ($0.principal, $0.reasons.joined(separator: "; ")) },
            uniquingKeysWith: { first, _ in first }
        )
        let people = proposal.moves.map(\.principal) + proposal.unplaced.map(\.principal)
        let targets = Set(proposal.moves.map(\.to)).union(
            people.compactMap { registry.currentAppointment(ofPrincipal: $0)?.schoolID }
        )
        let schools = targets.compactMap { registry.schools[$0] }.sorted {
            ($0.district, $0.name) < ($1.district, $1.name)
        }
        let rows = people.compactMap { id -> [String: Any]? in
            guard let person = registry.principals[id] else { return nil }
            let current = registry.currentAppointment(ofPrincipal: id).flatMap { registry.schools[$0.schoolID] }
            let selected = chosen.map { $0[person.iin] } ?? proposed[person.iin]
            return [
                "iin": person.iin, "name": person.name, "from": current?.name ?? "",
                "district": current?.district ?? "", "reasons": reasons[id] ?? "",
                "options": schools.map { school in
                    [
                        "bin": school.bin, "label": "\(school.name) (\(school.district))",
                        "selected": school.bin == selected,
                    ]
                },
            ]
        }
        return dependencies.pages.page(
            "rotation_plan",
            titleKey: "rotation_plan_title",
            values: [
                "slug": tenant.slug.value, "dueBy": dueBy.description, "movesOn": movesOn.description, "rows": rows,
                "hasRows": !rows.isEmpty, "message": PageRenderer.optional(message),
                "placed": String(proposal.moves.count), "unplaced": String(proposal.unplaced.count),
            ],
            request: request,
            context: context,
            status: status
        )
    }

    /// A `YYYY-MM-DD` day from a form or query; today when absent.
    static func day(_ text: String?, field: String) throws -> Day {
        guard let text, !text.isEmpty else { return Day.today() }
        return try Day(checking: text, field: field)
    }

    @Sendable func history(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = try reader(context) else { return signIn(tenant) }
        let (registry, _) = try await api.load(tenantID: tenant.id)
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
            let person = registry.principals[id]
        else { throw AdalError.notFound(what: "principal") }
        let appointments = registry.history(ofPrincipal: id).reversed().map { appointment -> [String: Any] in
            let school = registry.schools[appointment.schoolID]
            return [
                "school": school?.name ?? "", "district": school?.district ?? "",
                "from": appointment.startsOn.description, "to": appointment.endsOn?.description ?? "",
                "current": appointment.endsOn == nil, "reason": appointment.reason,
            ]
        }
        return dependencies.pages.page(
            "rotation_history",
            titleKey: "rotation_history_title",
            values: [
                "name": person.name, "attested": person.attestedOn?.description ?? "", "appointments": appointments,
                "back": "/\(tenant.slug)/principal-rotation",
            ],
            request: request,
            context: context
        )
    }

    /// Figures for everyone: counts and the chart, no names or IINs.
    @Sendable func publicPage(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let figures = try await api.figures(tenantID: tenant.id)
        return dependencies.pages.page(
            "rotation_public",
            titleKey: "rotation_public_title",
            values: [
                "schools": String(figures.schools), "headed": String(figures.headed),
                "urban": String(figures.maxYearsUrban), "rural": String(figures.maxYearsRural),
                "overdue": figures.overdueByDistrict.keys.sorted().map { district in
                    ["district": district, "count": String(figures.overdueByDistrict[district] ?? 0)]
                },
                "chart": chart(figures, context.language),
                "districtChart": districtChart(figures, context.language),
            ],
            request: request,
            context: context
        )
    }

    @Sendable func export(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = try reader(context) else { return signIn(tenant) }
        return try await api.export(request: request, context: context)
    }

    private func districtChart(_ figures: PrincipalRotationController.PublicFigures, _ language: Language) -> String {
        DistrictChart.svg(
            figures.overdueByDistrict.keys.sorted().map { ($0, figures.overdueByDistrict[$0] ?? 0) },
            label: dependencies.pages.locales.text("rotation_overdue_by_district", language)
        )
    }

    private func chart(_ figures: PrincipalRotationController.PublicFigures, _ language: Language) -> String {
        TenureChart.svg(
            years: figures.tenureYears,
            limit: figures.maxYearsUrban,
            label: dependencies.pages.locales.text("rotation_chart_label", language)
        )
    }

    /// The signed-in person, who must hold a role that reads the registry; nil when not signed in.
    private func reader(_ context: AppRequestContext) throws -> Core.Principal? {
        guard let principal = context.principal else { return nil }
        try principal.require(anyOf: PrincipalRotationController.readers)
        return principal
    }

    private func signIn(_ tenant: Tenant) -> Response {
        Response.redirect(to: "/\(tenant.slug)/login", type: .normal)
    }
}
