import Core
import Foundation
import HTTPTypes
import Hummingbird
import PrincipalRotation

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
                "canStart": !principal.roles.isDisjoint(with: PrincipalRotationController.planners),
            ],
            request: request,
            context: context
        )
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
