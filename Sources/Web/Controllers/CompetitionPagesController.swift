import Core
import Foundation
import Hummingbird
import MealPayments
import MealTenders
import Workflow

/// School-meal competitions for people: the public list and page of each competition (lot,
/// flags, bids once opened, marks once awarded, contract, deliveries, the step log with links to
/// the audit log), a supplier's registration and bid forms (with documents), and, for commission
/// members, a marking form per bid. Other steps use the generic forms, linked from the page.
struct CompetitionPagesController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get("meal-competitions", use: list)
        group.get("meal-competitions/:id", use: detail)
        group.post("meal-competitions/:id/bids", use: bid)
        group.get("suppliers/register", use: registrationForm)
        group.post("suppliers/register", use: register)
    }

    private var api: CompetitionsController { CompetitionsController(dependencies: dependencies) }

    func flagRows(_ flags: [RedFlag], _ language: Language) -> [[String: Any]] {
        flags.map {
            [
                "title": dependencies.pages.locales.text("flag_" + $0.code, language),
                "detail": dependencies.pages.locales.text("flag_\($0.code)_detail", language, figures: $0.figures),
            ]
        }
    }

    func stateTitle(_ competition: Competition, _ language: Language) -> String {
        dependencies.workflows.registry.latest(CompetitionService.key)?.state(competition.state)?.title[language]
            ?? competition.state
    }

    @Sendable func list(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let language = context.language
        let rows = try await api.competitions(tenantID: tenant.id).map { competition, flags -> [String: Any] in
            [
                "title": competition.title, "state": stateTitle(competition, language),
                "path": "/\(tenant.slug)/meal-competitions/\(competition.instanceID.uuidString.lowercased())",
                "ceiling": Money.shown(competition.ceilingPrice), "value": Money.shown(competition.ceilingValue),
                "deadline": PageRenderer.optional(competition.bidDeadline.map { WorkflowPagesController.format($0) }),
                "winner": PageRenderer.optional(competition.awardSupplierBIN.flatMap { competition.supplierNames[$0] }),
                "price": PageRenderer.optional(competition.awardPrice.map { Money.shown($0) }),
                "flags": flagRows(flags, language), "flagged": !flags.isEmpty,
            ]
        }
        let canStart = context.principal.map { $0.roles.contains(.procurementOfficer) } ?? false
        return dependencies.pages.page(
            "competitions",
            titleKey: "competitions_title",
            values: [
                "slug": tenant.slug.value, "competitions": rows, "hasCompetitions": !rows.isEmpty, "canStart": canStart,
                "isSupplier": context.principal?.roles.contains(.supplier) ?? false,
            ],
            request: request,
            context: context
        )
    }

    @Sendable func detail(request: Request, context: AppRequestContext) async throws -> Response {
        try await detailPage(message: nil, status: .ok, request: request, context: context)
    }

    func detailPage(
        message: String?,
        status: HTTPResponse.Status,
        request: Request,
        context: AppRequestContext
    )
        async throws -> Response
    {
        let tenant = try context.requireTenant()
        let language = context.language
        let locales = dependencies.pages.locales
        let id = try api.competitionID(context)
        let (competition, flags) = try await api.load(id, tenantID: tenant.id)
        let steps = try await WorkflowQueries(database: dependencies.database).steps(of: id, tenantID: tenant.id)
        let shown = CompetitionsController.detail(
            competition,
            flags: flags,
            steps: steps,
            tenant: tenant,
            definitions: dependencies.workflows.registry
        )
        let definition = dependencies.workflows.registry.latest(CompetitionService.key)
        let slug = tenant.slug.value
        let idText = id.uuidString.lowercased()
        var values: [String: Any] = [
            "slug": slug, "id": idText, "title": competition.title, "state": stateTitle(competition, language),
            "buyer": competition.buyerName, "buyerBIN": competition.buyerBIN, "ocid": competition.ocid,
            "ceiling": Money.shown(competition.ceilingPrice), "value": Money.shown(competition.ceilingValue),
            "meals": String(competition.totalMeals), "days": String(competition.schoolDays),
            "perDay": String(competition.mealsPerDay),
            "period": "\(competition.periodStart) — \(competition.periodEnd)",
            "deadline": PageRenderer.optional(competition.bidDeadline.map { WorkflowPagesController.format($0) }),
            "flags": flagRows(flags, language), "flagged": !flags.isEmpty, "message": PageRenderer.optional(message),
            "schools": competition.schools.map {
                [
                    "name": $0.name, "bin": $0.bin, "a": String($0.pupils.grades1to4),
                    "b": String($0.pupils.grades5to9),
                    "c": String($0.pupils.grades10to11),
                ]
            },
            "commission": competition.members.map {
                ["name": $0.name, "seat": locales.text("option_seat_" + $0.seat, language)]
            },
            "sealed": !competition.bidsAreOpen,
            "bids": (shown.bids ?? []).map { bid -> [String: Any] in
                [
                    "number": String(bid.number), "supplier": bid.supplierName, "bin": bid.supplierBIN,
                    "price": PageRenderer.optional(bid.pricePerMeal.map { Money.shown($0) }),
                    "conditional": PageRenderer.optional(bid.conditionalPrice.map { Money.shown($0) }),
                    "rank": PageRenderer.optional(bid.rank.map(String.init)),
                    "matches": bid.matchesCommitment == true, "commitment": bid.commitment,
                    "documents": bid.documents.map { ["name": $0.name, "url": $0.url] },
                ]
            },
            "marks": (shown.marks ?? []).map { mark -> [String: Any] in
                [
                    "bid": String(mark.bid), "member": mark.member,
                    "values": Criterion.allCases.map { String(mark.marks[$0.rawValue] ?? 0) },
                ]
            },
            "hasMarks": !(shown.marks ?? []).isEmpty,
            "criteria": Criterion.allCases.map { locales.text("field_" + $0.rawValue, language) },
            "award": PageRenderer.optional(shown.awardSupplier),
            "awardPrice": PageRenderer.optional(shown.awardPrice.map { Money.shown($0) }),
            "complaintsUntil": PageRenderer.optional(shown.complaintsUntil.map { WorkflowPagesController.format($0) }),
            "contract": PageRenderer.optional(shown.contractNumber),
            "contractValue": PageRenderer.optional(shown.contractValue.map { Money.shown($0) }),
            "hasDeliveries": !shown.deliveries.isEmpty,
            "deliveries": shown.deliveries.map {
                ["month": String($0.month.prefix(7)), "meals": String($0.meals), "amount": Money.shown($0.amount)]
            },
            "steps": shown.steps.reversed().map { step -> [String: Any] in
                [
                    "at": WorkflowPagesController.format(step.at),
                    "event": definition?.events.first { $0.name == step.event }?.title[language]
                        ?? definition?.start.title[language] ?? step.event,
                    "role": locales.text("role_" + step.actorRole, language),
                    "leaf": PageRenderer.optional(step.leafIndex.map(String.init)),
                ]
            },
        ]
        if let principal = context.principal {
            let view = try? await InstanceView.load(
                id: id,
                tenantID: tenant.id,
                principal: principal,
                dependencies: dependencies
            )
            // Steps the person may take here, on the generic forms (bids and marks have their own).
            let actions = view?.stepLinks(slug: slug, language: language, except: ["submit_bid", "score"]) ?? []
            values["actions"] = actions
            values["hasActions"] = !actions.isEmpty
            let mayTake = Set((view?.availableEvents ?? []).map(\.name))
            if mayTake.contains("submit_bid") {
                values["bidForm"] = try await bidForm(competition, principal: principal, tenant: tenant)
            }
            if mayTake.contains("score"),
                let member = competition.members.first(where: { $0.userID == principal.userID })
            {
                values["hasScoreForms"] = true
                values["scoreForms"] = competition.currentBids.filter(\.isValid).map { bid -> [String: Any] in
                    let mine = competition.marks.first { $0.bid == bid.number && $0.member == member.userID }
                    var sent = "bid=\(bid.number)"
                    for (index, criterion) in Criterion.allCases.enumerated() {
                        sent += "&\(criterion.rawValue)=\(mine.map { String($0.values[index]) } ?? "")"
                    }
                    let fields =
                        definition?.events.first { $0.name == "score" }?.input.filter { $0.name != "bid" } ?? []
                    return [
                        "bid": String(bid.number), "supplier": bid.supplierName, "key": UUID().uuidString.lowercased(),
                        "marked": mine != nil, "action": "/\(slug)/instances/\(idText)/events/score",
                        "fields": StepForm(fields: fields, locales: locales, language: language)
                            .rows(values: FormFields(sent)),
                    ]
                }
            }
        }
        return dependencies.pages.page(
            "competition",
            titleKey: "competition_title",
            values: values,
            request: request,
            context: context,
            status: status
        )
    }

    /// The bid form, or the receipt of the bid already sent, or a pointer to registration.
    func bidForm(_ competition: Competition, principal: Principal, tenant: Tenant) async throws -> [String: Any] {
        guard let supplier = try await dependencies.suppliers.supplier(of: principal.userID, tenantID: tenant.id) else {
            return ["register": "/\(tenant.slug)/suppliers/register"]
        }
        if let mine = competition.currentBids.first(where: { $0.supplierBIN == supplier.bin }) {
            return [
                "receipt": [
                    "number": String(mine.number), "commitment": mine.commitment,
                    "at": WorkflowPagesController.format(mine.submittedAt),
                ]
            ]
        }
        return [
            "open": [
                "supplier": supplier.name, "key": UUID().uuidString.lowercased(),
                "action": "/\(tenant.slug)/meal-competitions/\(competition.instanceID.uuidString.lowercased())/bids",
                "ceiling": Money.shown(competition.ceilingPrice),
            ]
        ]
    }

    /// A bid from the page's form (multipart, with documents): sealed exactly as through the API.
    @Sendable func bid(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try context.authorised([.supplier])
        let id = try api.competitionID(context)
        let form = try await multipart(request)
        do {
            guard let price = form["price"].flatMap(StepForm.tiyn(fromTenge:)) else {
                throw AdalError.invalidField(field: "price", reason: "an amount in tenge, such as 850 or 850,50")
            }
            func number(_ name: String) throws -> Int {
                guard let text = form[name], let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
                    throw AdalError.invalidField(field: name, reason: "a whole number")
                }
                return value
            }
            let claims = BidClaims(
                experienceYears: try number("experienceYears"),
                qualifiedCooks: try number("qualifiedCooks"),
                nutritionists: try number("nutritionists"),
                references: try number("references"),
                ownProduction: form["ownProduction"] == "on",
                energySavingEquipment: form["energySavingEquipment"] == "on",
                domesticSharePercent: try number("domesticSharePercent")
            )
            let files = form.files("documents")
            guard files.count <= Document.maximumCount else {
                throw AdalError.invalidField(field: "documents", reason: "at most \(Document.maximumCount) files")
            }
            let documents = try files.enumerated().map { index, part in
                try Document.checked(
                    name: part.filename ?? "document",
                    claimedType: nil,
                    content: part.content,
                    field: "documents[\(index)]"
                )
            }
            _ = try await api.submit(
                price: price,
                claims: claims,
                documents: documents,
                competition: id,
                key: form["_key"],
                tenant: tenant,
                principal: principal
            )
            return Response.redirect(
                to: "/\(tenant.slug)/meal-competitions/\(id.uuidString.lowercased())",
                type: .found
            )
        } catch let error as AdalError {
            return try await detailPage(
                message: error.description,
                status: .unprocessableContent,
                request: request,
                context: context
            )
        } catch let WorkflowError.refused(reason) {
            return try await detailPage(
                message: reason,
                status: .unprocessableContent,
                request: request,
                context: context
            )
        }
    }

    func multipart(_ request: Request) async throws -> MultipartForm {
        try await MultipartForm.read(request, limit: dependencies.maximumUploadBodyBytes)
    }

    @Sendable func registrationForm(request: Request, context: AppRequestContext) async throws -> Response {
        try registrationPage(message: nil, status: .ok, values: [:], request: request, context: context)
    }

    func registrationPage(
        message: String?,
        status: HTTPResponse.Status,
        values: [String: String],
        request: Request,
        context: AppRequestContext
    ) throws -> Response {
        let tenant = try context.requireTenant()
        guard context.principal != nil else {
            return Response.redirect(to: "/\(tenant.slug)/login", type: .normal)
        }
        _ = try context.authorised([.supplier])
        let kinds = Suppliers.documentKinds.sorted().map {
            ["value": $0, "label": dependencies.pages.locales.text("supplier_document_" + $0, context.language)]
        }
        return dependencies.pages.page(
            "supplier_register",
            titleKey: "supplier_register_title",
            values: [
                "slug": tenant.slug.value, "message": PageRenderer.optional(message), "kinds": kinds,
                "bin": values["bin"] ?? "", "name": values["name"] ?? "",
            ],
            request: request,
            context: context,
            status: status
        )
    }

    @Sendable func register(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try context.authorised([.supplier])
        let form = try await multipart(request)
        let (bin, name) = (form["bin"] ?? "", form["name"] ?? "")
        do {
            let kind = form["kind"] ?? "other"
            let documents = try form.files("documents").prefix(Document.maximumCount + 1).enumerated().map {
                index,
                part in
                (
                    kind: kind,
                    document: try Document.checked(
                        name: part.filename ?? "document",
                        claimedType: nil,
                        content: part.content,
                        field: "documents[\(index)]"
                    )
                )
            }
            guard documents.count <= Document.maximumCount else {
                throw AdalError.invalidField(field: "documents", reason: "at most \(Document.maximumCount) files")
            }
            try await dependencies.suppliers.register(
                tenantID: tenant.id,
                userID: principal.userID,
                bin: bin,
                name: name,
                documents: documents
            )
            return Response.redirect(to: "/\(tenant.slug)/meal-competitions", type: .found)
        } catch let error as AdalError {
            return try registrationPage(
                message: error.description,
                status: .unprocessableContent,
                values: ["bin": bin, "name": name],
                request: request,
                context: context
            )
        }
    }
}
