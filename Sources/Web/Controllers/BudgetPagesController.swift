import Core
import Foundation
import HTTPTypes
import Hummingbird
import OpenBudget
import Workflow

/// The open budget for people: the city's map with filters (every marker a link, a table below
/// for reading without the map), each object's page (planned against spent, the steps and
/// documents behind "spent", photos and reports), citizens' reports (list, form, page), the
/// city dashboard and the catalogue of public services.
struct BudgetPagesController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get("budget", use: map)
        group.get("budget/objects/:code", use: object)
        group.get("reports", use: reports)
        group.get("reports/new", use: reportForm)
        group.post("reports", use: submitReport)
        group.get("reports/:id", use: report)
        group.get("dashboard", use: dashboard)
        group.get("services-catalogue", use: catalogue)
        let api = router.group("api/:tenant").add(middleware: TenantMiddleware(dependencies: dependencies))
        api.get("services-catalogue", use: catalogueJSON)
        let signed = router.group("api/:tenant").add(middleware: APITokenMiddleware(dependencies: dependencies))
        signed.put("services-catalogue", use: replaceCatalogue)
    }

    var store: BudgetStore { BudgetStore(database: dependencies.database) }
    var locales: LocaleTables { dependencies.pages.locales }

    static func money(_ tiyn: Int64) -> String { AuditPagesController.tenge(tiyn) }

    func kindName(_ kind: ObjectKind, _ language: Language) -> String {
        locales.text("kind_" + kind.rawValue, language)
    }

    func categoryName(_ category: BudgetCategory, _ language: Language) -> String {
        locales.text("option_category_" + category.rawValue, language)
    }

    // MARK: - Map

    @Sendable func map(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let language = context.language
        let slug = tenant.slug.value
        let filter = try OpenBudgetController.filter(request)
        let districts = try await store.districts(tenantID: tenant.id)
        let objects = try await store.objects(filter, tenantID: tenant.id)
        let markers = objects.map { totals in
            BudgetMap.Marker(
                code: totals.object.code,
                name: totals.object.name,
                kind: totals.object.kind,
                latitude: totals.object.latitude,
                longitude: totals.object.longitude,
                href: "/\(slug)/budget/objects/\(totals.object.code)" + (filter.year.map { "?year=\($0)" } ?? ""),
                planned: Self.money(totals.planned),
                spent: Self.money(totals.spent),
                overspent: totals.spent > totals.planned,
                reported: totals.openReports > 0
            )
        }
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        let years = ((year - 4)...(year + 1)).reversed().map { value in
            ["value": String(value), "selected": filter.year == value]
        }
        return dependencies.pages.page(
            "budget_map",
            titleKey: "budget_title",
            values: [
                "slug": slug,
                "map": BudgetMap.svg(
                    districts: districts,
                    markers: markers,
                    label: locales.text("budget_map_label", language)
                ),
                "kinds": ObjectKind.allCases.map {
                    ["value": $0.rawValue, "label": kindName($0, language), "selected": filter.kind == $0]
                },
                "districts": districts.map { ["value": $0.name, "selected": filter.district == $0.name] },
                "years": years,
                "objects": objects.map { totals -> [String: Any] in
                    [
                        "code": totals.object.code, "name": totals.object.name,
                        "kind": kindName(totals.object.kind, language), "district": totals.object.district,
                        "planned": Self.money(totals.planned), "spent": Self.money(totals.spent),
                        "overspent": totals.spent > totals.planned, "reports": String(totals.openReports),
                        "path": "/\(slug)/budget/objects/\(totals.object.code)",
                    ]
                },
                "count": String(objects.count),
                "planned": Self.money(objects.reduce(0) { $0 + $1.planned }),
                "spent": Self.money(objects.reduce(0) { $0 + $1.spent }),
                "hasObjects": !objects.isEmpty,
            ],
            request: request,
            context: context
        )
    }

    // MARK: - An object

    @Sendable func object(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let language = context.language
        let slug = tenant.slug.value
        let code = context.parameters.get("code") ?? ""
        guard BudgetObject.isCode(code), let detail = try await store.object(code, tenantID: tenant.id) else {
            throw AdalError.notFound(what: "object")
        }
        let reports = try await ReportStore(database: dependencies.database).reports(
            ReportStore.Filter(objectCode: code),
            tenantID: tenant.id
        )
        let chart = PlannedSpentChart.svg(
            detail.lines.map {
                PlannedSpentChart.Line(
                    label: "\($0.year) · \(categoryName($0.category, language))",
                    planned: $0.planned,
                    spent: $0.spent,
                    plannedCaption: Self.money($0.planned),
                    spentCaption: Self.money($0.spent)
                )
            },
            plannedLabel: locales.text("budget_planned", language),
            spentLabel: locales.text("budget_spent", language),
            label: locales.text("budget_chart_label", language)
        )
        let object = detail.object
        let photos = reports.flatMap { report in
            report.media.filter { $0.mediaType.hasPrefix("image/") }.map {
                [
                    "src": "/\(slug)/media/\($0.sha256)",
                    "report": "/\(slug)/reports/\(report.instanceID.uuidString.lowercased())",
                ]
            }
        }.prefix(20)
        return dependencies.pages.page(
            "budget_object",
            titleKey: "budget_object_title",
            values: [
                "slug": slug, "name": object.name, "code": object.code, "kind": kindName(object.kind, language),
                "organisation": object.organisationName, "bin": object.organisationBIN, "district": object.district,
                "address": object.address, "latitude": String(object.latitude), "longitude": String(object.longitude),
                "chart": chart, "hasLines": !detail.lines.isEmpty,
                "lines": detail.lines.map { line -> [String: Any] in
                    [
                        "year": String(line.year), "category": categoryName(line.category, language),
                        "planned": Self.money(line.planned), "spent": Self.money(line.spent),
                        "percent": PageRenderer.optional(line.percentSpent.map { "\($0) %" }),
                        "overspent": line.spent > line.planned,
                    ]
                },
                "hasSpending": !detail.spending.isEmpty,
                "spending": detail.spending.map { entry -> [String: Any] in
                    [
                        "at": WorkflowPagesController.format(entry.recordedAt), "year": String(entry.year),
                        "category": categoryName(entry.category, language), "amount": Self.money(entry.amount),
                        "source": locales.text(
                            "spending_source_" + entry.source.rawValue.replacingOccurrences(of: "-", with: "_"),
                            language
                        ),
                        "description": entry.description, "withdrawn": entry.withdrawn,
                        "document": PageRenderer.optional(entry.document.map { "/\(slug)/media/\($0)" }),
                        "leaf": PageRenderer.optional(entry.leafIndex.map(String.init)),
                        "step": proofPath(entry, slug: slug),
                    ]
                },
                "photos": Array(photos), "hasPhotos": !photos.isEmpty,
                "reports": reports.map { reportRow($0, slug: slug, language: language) },
                "hasReports": !reports.isEmpty,
            ],
            request: request,
            context: context
        )
    }

    /// Where the step behind an amount can be seen: the competition's public page for a meal
    /// delivery, the generic instance page for a manual entry.
    func proofPath(_ entry: SpendingEntry, slug: String) -> String {
        let id = entry.instanceID.uuidString.lowercased()
        return ServicePages.detailPath(entry.service, slug: slug, instance: entry.instanceID)
            ?? "/\(slug)/instances/\(id)"
    }

    // MARK: - Reports

    func reportRow(_ report: CitizenReport, slug: String, language: Language) -> [String: Any] {
        let state = dependencies.workflows.registry.latest(CitizenReportService.key)?.state(report.state)?.title[
            language
        ]
        return [
            "path": "/\(slug)/reports/\(report.instanceID.uuidString.lowercased())",
            "category": locales.text("option_category_" + report.category, language),
            "object": PageRenderer.optional(report.objectName), "description": String(report.description.prefix(200)),
            "state": state ?? report.state, "closed": report.closed,
            "verdict": PageRenderer.optional(report.verdict.map { locales.text("option_verdict_" + $0, language) }),
            "submitted": WorkflowPagesController.format(report.submittedAt),
            "overdue": !report.closed && (report.taskDueAt.map { $0 < Date() } ?? false),
        ]
    }

    @Sendable func reports(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let mine = request.uri.queryParameters["mine"] != nil
        var filter = ReportStore.Filter()
        if mine {
            guard let principal = context.principal else {
                return Response.redirect(to: "/\(tenant.slug)/login", type: .normal)
            }
            filter.reporterID = principal.userID
        }
        let reports = try await ReportStore(database: dependencies.database).reports(filter, tenantID: tenant.id)
        return dependencies.pages.page(
            "reports",
            titleKey: mine ? "reports_mine_title" : "reports_title",
            values: [
                "slug": tenant.slug.value, "mine": mine,
                "reports": reports.map { reportRow($0, slug: tenant.slug.value, language: context.language) },
                "hasReports": !reports.isEmpty,
            ],
            request: request,
            context: context
        )
    }

    @Sendable func reportForm(request: Request, context: AppRequestContext) async throws -> Response {
        let code = request.uri.queryParameters["object"].map(String.init)
        return try await reportPage(
            message: nil,
            status: .ok,
            values: ["object_code": code ?? ""],
            context: context,
            request: request
        )
    }

    func reportPage(
        message: String?,
        status: HTTPResponse.Status,
        values: [String: String],
        context: AppRequestContext,
        request: Request
    ) async throws -> Response {
        let tenant = try context.requireTenant()
        let language = context.language
        let code = values["object_code"] ?? ""
        let object = BudgetObject.isCode(code) ? try await store.find(code, tenantID: tenant.id) : nil
        let (_, parameters) = try await dependencies.cityService(CitizenReportService.key, tenantID: tenant.id)
        let anonymous = parameters["allow_anonymous"] != .bool(false)
        let signedIn = !(context.principal?.roles.isDisjoint(with: CitizenReportService.reporterRoles) ?? true)
        return dependencies.pages.page(
            "report_form",
            titleKey: "report_new_title",
            values: [
                "slug": tenant.slug.value, "message": PageRenderer.optional(message),
                "object": PageRenderer.optional(object?.name), "objectCode": object?.code ?? "",
                "categories": Open311Controller.categories.map {
                    [
                        "value": $0, "label": locales.text("option_category_" + $0, language),
                        "selected": values["category"] == $0,
                    ]
                },
                "description": values["description"] ?? "", "address": values["address"] ?? "",
                "latitude": values["latitude"] ?? "", "longitude": values["longitude"] ?? "",
                "contact": values["contact"] ?? "", "signedIn": signedIn,
                "mayReport": signedIn || (context.principal == nil && anonymous),
                "anonymous": context.principal == nil && anonymous, "key": UUID().uuidString.lowercased(),
                "maximumFiles": String(MediaFile.maximumPerReport),
            ],
            request: request,
            context: context,
            status: status
        )
    }

    @Sendable func submitReport(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let form = try await MultipartForm.read(request, limit: UploadRoutes.maximumMediaRequestBytes)
        let submission = CitizenReportsController.Submission(form: form)
        let principal = context.principal.flatMap {
            $0.roles.isDisjoint(with: CitizenReportService.reporterRoles) ? nil : $0
        }
        do {
            if context.principal != nil, principal == nil {
                throw AdalError.forbidden(
                    reason:
                        "reports are made by the city's people, not in an official role; sign out to report anonymously"
                )
            }
            let (result, _) = try await CitizenReportsController(dependencies: dependencies).submit(
                submission,
                principal: principal,
                address: context.remoteAddress,
                tenantID: tenant.id
            )
            return Response.redirect(
                to: "/\(tenant.slug)/reports/\(result.instanceID.uuidString.lowercased())",
                type: .found
            )
        } catch let error as AdalError {
            let status = Problem(error).status
            return try await reportPage(
                message: Problem(error).explained(error, pages: dependencies.pages, language: context.language),
                status: status,
                values: [
                    "object_code": submission.objectCode ?? "", "category": submission.category,
                    "description": submission.description, "address": submission.address ?? "",
                    "latitude": submission.latitude ?? "", "longitude": submission.longitude ?? "",
                    "contact": submission.contact,
                ],
                context: context,
                request: request
            )
        } catch let WorkflowError.refused(reason) {
            return try await reportPage(
                message: reason,
                status: .unprocessableContent,
                values: ["object_code": submission.objectCode ?? "", "description": submission.description],
                context: context,
                request: request
            )
        }
    }

    @Sendable func report(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let language = context.language
        let slug = tenant.slug.value
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
            let report = try await ReportStore(database: dependencies.database).reports(
                ReportStore.Filter(ids: [id], limit: 1),
                tenantID: tenant.id
            ).first
        else { throw AdalError.notFound(what: "report") }
        let definition = dependencies.workflows.registry.latest(CitizenReportService.key)
        let steps = try await WorkflowQueries(database: dependencies.database).steps(of: id, tenantID: tenant.id)
        var values: [String: Any] = reportRow(report, slug: slug, language: language)
        values["slug"] = slug
        values["description"] = report.description
        values["address"] = report.address
        values["objectPath"] = PageRenderer.optional(report.objectCode.map { "/\(slug)/budget/objects/\($0)" })
        values["answer"] = PageRenderer.optional(report.answer)
        values["answered"] = PageRenderer.optional(report.answeredAt.map { WorkflowPagesController.format($0) })
        values["due"] = PageRenderer.optional(
            report.closed ? nil : report.taskDueAt.map { WorkflowPagesController.format($0) }
        )
        values["hasMedia"] = !report.media.isEmpty
        values["media"] = report.media.map {
            ["src": "/\(slug)/media/\($0.sha256)", "image": $0.mediaType.hasPrefix("image/"), "sha256": $0.sha256]
        }
        values["steps"] = steps.reversed().map { step -> [String: Any] in
            [
                "at": WorkflowPagesController.format(step.at),
                "event": definition?.events.first { $0.name == step.event }?.title[language]
                    ?? definition?.start.title[language] ?? step.event,
                "role": locales.text(
                    Role(rawValue: step.actorRole) == nil ? "system_actor" : "role_" + step.actorRole,
                    language
                ),
                "leaf": PageRenderer.optional(step.leafIndex.map(String.init)),
            ]
        }
        // The akimat's officials act on it: the generic step forms, and the contact of an
        // anonymous reporter (sealed in storage, shown only here).
        if let principal = context.principal, principal.roles.contains(.akimatAdmin) {
            let view = try await InstanceView.load(
                id: id,
                tenantID: tenant.id,
                principal: principal,
                dependencies: dependencies
            )
            let actions = view.stepLinks(slug: slug, language: language)
            values["hasActions"] = !actions.isEmpty
            values["actions"] = actions
            values["contact"] = PageRenderer.optional(try await contact(of: id, tenantID: tenant.id))
        }
        values["mine"] = context.principal.map { $0.userID == report.reporterID } ?? false
        return dependencies.pages.page(
            "report",
            titleKey: "report_title",
            values: values,
            request: request,
            context: context
        )
    }

    func contact(of id: UUID, tenantID: UUID) async throws -> String? {
        let sealed = try await dependencies.database.withTenant(tenantID) { connection in
            var found: Data?
            for try await sealed in try await connection.query(
                "SELECT sealed_contact FROM citizen_reports WHERE tenant_id = \(tenantID) AND instance_id = \(id)",
                logger: dependencies.database.logger
            ).decode(Data?.self) { found = sealed }
            return found
        }
        return sealed.flatMap {
            CitizenReportService(sealer: dependencies.keySealer).contact(
                sealed: Array($0),
                tenantID: tenantID,
                instanceID: id
            )
        }
    }

    // MARK: - Dashboard and catalogue

    @Sendable func dashboard(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let language = context.language
        let slug = tenant.slug.value
        let filter = try OpenBudgetController.filter(request)
        let objects = try await store.objects(filter, tenantID: tenant.id)
        func totals(_ key: (BudgetStore.ObjectTotals) -> String) -> [[String: Any]] {
            Dictionary(grouping: objects, by: key).sorted { $0.key < $1.key }.map { name, group in
                let planned = group.reduce(0) { $0 + $1.planned }
                let spent = group.reduce(0) { $0 + $1.spent }
                return [
                    "name": name, "objects": String(group.count), "planned": Self.money(planned),
                    "spent": Self.money(spent),
                    "percent": planned > 0 ? "\(Int((Double(spent) / Double(planned) * 100).rounded())) %" : "—",
                    "overspent": spent > planned,
                ]
            }
        }
        let reports = try await ReportStore(database: dependencies.database).counts(tenantID: tenant.id)
        let competitions = try await CompetitionsController(dependencies: dependencies).competitions(
            tenantID: tenant.id
        )
        let running = competitions.filter { $0.0.closedAt == nil }
        let flagged = competitions.filter { !$0.1.isEmpty }.map { competition, flags -> [String: Any] in
            [
                "title": competition.title,
                "path": "/\(slug)/meal-competitions/\(competition.instanceID.uuidString.lowercased())",
                "flags": CompetitionPagesController(dependencies: dependencies).flagRows(flags, language),
            ]
        }
        let catalogue = ServiceCatalogue.share(
            try await ServiceCatalogue(database: dependencies.database).entries(tenantID: tenant.id)
        )
        return dependencies.pages.page(
            "dashboard",
            titleKey: "dashboard_title",
            values: [
                "slug": slug, "year": PageRenderer.optional(filter.year.map(String.init)),
                "planned": Self.money(objects.reduce(0) { $0 + $1.planned }),
                "spent": Self.money(objects.reduce(0) { $0 + $1.spent }),
                "byKind": totals { kindName($0.object.kind, language) }, "byDistrict": totals(\.object.district),
                "openReports": String(reports.open), "overdueReports": String(reports.overdue),
                "hasOverdue": reports.overdue > 0, "running": String(running.count), "flagged": flagged,
                "hasFlagged": !flagged.isEmpty,
                "automated": PageRenderer.optional(catalogue.percent.map { Self.percent($0, language) }),
                "services": String(catalogue.total),
            ],
            request: request,
            context: context
        )
    }

    /// 97.5 % (with the decimal comma in Kazakh and Russian).
    static func percent(_ value: Double, _ language: Language) -> String {
        let text = String(format: "%.1f", value)
        return (language == .en ? text : text.replacingOccurrences(of: ".", with: ",")) + " %"
    }

    @Sendable func catalogue(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let language = context.language
        let entries = try await ServiceCatalogue(database: dependencies.database).entries(tenantID: tenant.id)
        let share = ServiceCatalogue.share(entries)
        return dependencies.pages.page(
            "catalogue",
            titleKey: "catalogue_title",
            values: [
                "slug": tenant.slug.value, "total": String(share.total), "automated": String(share.automated),
                "percent": PageRenderer.optional(share.percent.map { Self.percent($0, language) }),
                "entries": entries.map { entry -> [String: Any] in
                    [
                        "code": entry.code, "title": entry.title, "agency": entry.agency,
                        "status": locales.text("catalogue_status_" + entry.status.rawValue, language),
                        "automated": entry.status == .automated,
                        "workflow": PageRenderer.optional(
                            entry.workflow.flatMap { ServiceKey(rawValue: $0) }.map { locales.title(of: $0, language) }
                        ),
                    ]
                },
            ],
            request: request,
            context: context
        )
    }

    struct CatalogueBody: Codable, ResponseEncodable {
        var services: [ServiceCatalogue.Entry]
        var automated: Int?
        var total: Int?
        var percentAutomated: Double?
    }

    @Sendable func catalogueJSON(request: Request, context: AppRequestContext) async throws -> CatalogueBody {
        let tenant = try context.requireTenant()
        let entries = try await ServiceCatalogue(database: dependencies.database).entries(tenantID: tenant.id)
        let share = ServiceCatalogue.share(entries)
        return CatalogueBody(
            services: entries,
            automated: share.automated,
            total: share.total,
            percentAutomated: share.percent
        )
    }

    @Sendable func replaceCatalogue(request: Request, context: AppRequestContext) async throws -> CatalogueBody {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let body = try await request.readBody(limit: 1 << 20)
        let catalogue = try CompetitionsController.decode(CatalogueBody.self, body)
        try await ServiceCatalogue(database: dependencies.database).replace(catalogue.services, tenantID: tenant.id)
        return try await catalogueJSON(request: request, context: context)
    }
}
