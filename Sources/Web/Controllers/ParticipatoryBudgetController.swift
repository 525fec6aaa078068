import Core
import Foundation
import HTTPTypes
import Hummingbird
import OpenBudget
import Workflow

/// The participatory budget over JSON and as pages: the rounds, a round with its projects
/// (votes only once counted), a resident's ballot (the answer is its receipt and nonce, to find
/// it later in the published ballots and the audit log), the published ballots, and the city's
/// register of residents. Proposals, reviews and the other steps use the generic step forms
/// and API.
struct ParticipatoryBudgetController {
    let dependencies: AppDependencies

    var store: ParticipatoryStore { ParticipatoryStore(database: dependencies.database) }

    func register(on router: Router<AppRequestContext>) {
        let open = router.group("api/:tenant/participatory-budget").add(
            middleware: TenantMiddleware(dependencies: dependencies)
        )
        open.get(use: rounds)
        open.get(":id", use: round)
        open.get(":id/ballots", use: ballots)
        let signed = router.group("api/:tenant").add(middleware: APITokenMiddleware(dependencies: dependencies))
        signed.post("participatory-budget/:id/ballot", use: vote)
        signed.post("residents", use: importResidents)
        let pages = router.group(":tenant/participatory-budget").add(
            middleware: TenantMiddleware(dependencies: dependencies)
        )
        pages.get(use: listPage)
        pages.get(":id", use: roundPage)
        pages.post(":id/ballot", use: votePage)
    }

    // MARK: - Shapes

    struct ProjectRow: Codable {
        var number: Int
        var title: String
        var description: String
        var cost: Int64
        var objectCode: String?
        var status: String
        var reviewNote: String?
        var votes: Int?
        var selected: Bool
    }

    struct RoundRow: ResponseEncodable {
        var id: UUID
        var district: String
        var year: Int
        var budgetCap: Int64
        var state: String
        var ballots: Int?
        var countedAt: Date?
        var projects: [ProjectRow]
    }

    struct RoundsResponse: ResponseEncodable {
        var rounds: [RoundRow]
    }

    struct BallotRequest: Decodable {
        var choices: [Int]
    }

    struct BallotReceipt: ResponseEncodable {
        var receipt: String
        var nonce: String
        var choices: [Int]
        var replayed: Bool
    }

    struct BallotRow: Codable {
        var receipt: String
        var choices: [Int]
    }

    struct BallotsResponse: ResponseEncodable {
        var ballots: [BallotRow]
    }

    struct ResidentsResponse: ResponseEncodable {
        var imported: Int
        var problems: [CSV.Problem]
    }

    static func row(_ round: ParticipatoryRound) -> RoundRow {
        RoundRow(
            id: round.instanceID,
            district: round.district,
            year: round.year,
            budgetCap: round.budgetCap,
            state: round.state,
            ballots: round.ballots,
            countedAt: round.countedAt,
            projects: round.projects.map {
                ProjectRow(
                    number: $0.number,
                    title: $0.title,
                    description: $0.description,
                    cost: $0.cost,
                    objectCode: $0.objectCode,
                    status: $0.status.rawValue,
                    reviewNote: $0.reviewNote,
                    votes: $0.votes,
                    selected: $0.selected
                )
            }
        )
    }

    func roundID(_ context: AppRequestContext) throws -> UUID {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else {
            throw AdalError.notFound(what: "round")
        }
        return id
    }

    // MARK: - API

    @Sendable func rounds(request: Request, context: AppRequestContext) async throws -> RoundsResponse {
        let tenant = try context.requireTenant()
        return RoundsResponse(rounds: try await store.rounds(tenantID: tenant.id).map(Self.row))
    }

    @Sendable func round(request: Request, context: AppRequestContext) async throws -> RoundRow {
        let tenant = try context.requireTenant()
        guard let round = try await store.round(try roundID(context), tenantID: tenant.id) else {
            throw AdalError.notFound(what: "round")
        }
        return Self.row(round)
    }

    @Sendable func ballots(request: Request, context: AppRequestContext) async throws -> BallotsResponse {
        let tenant = try context.requireTenant()
        let id = try roundID(context)
        guard try await store.round(id, tenantID: tenant.id) != nil else { throw AdalError.notFound(what: "round") }
        guard let ballots = try await store.ballots(id, tenantID: tenant.id) else {
            throw AdalError.conflict(reason: "the ballots are published when the votes are counted")
        }
        return BallotsResponse(ballots: ballots.map { BallotRow(receipt: $0.receipt, choices: $0.choices) })
    }

    @Sendable func vote(request: Request, context: AppRequestContext) async throws -> EditedResponse<BallotReceipt> {
        let (tenant, principal) = try context.authorised([.resident])
        let body = try CompetitionsController.decode(BallotRequest.self, try await request.readBody(limit: 64 * 1024))
        let key = request.headers[WorkflowAPIController.idempotencyKey]
        let receipt = try await cast(
            body.choices,
            round: try roundID(context),
            key: key,
            tenantID: tenant.id,
            principal: principal
        )
        return EditedResponse(status: receipt.replayed ? .ok : .created, response: receipt)
    }

    /// Casts a ballot as one step. A retry with the same key makes the same nonce, so the same
    /// receipt, and gets the first answer back.
    func cast(
        _ choices: [Int],
        round: UUID,
        key: String?,
        tenantID: UUID,
        principal: Principal
    ) async throws -> BallotReceipt {
        guard (1...100).contains(choices.count) else {
            throw AdalError.invalidField(field: "choices", reason: "choose at least one project")
        }
        let nonce =
            key.map {
                Array(
                    dependencies.keySealer.keyedHash(Array("pb-nonce|\(principal.userID)|\(round)|\($0)".utf8)).prefix(
                        16
                    )
                )
            } ?? (0..<16).map { _ in UInt8.random(in: 0...255) }
        let ballot = Ballot(round: round, choices: choices, nonce: nonce)
        let result = try await dependencies.workflows.fire(
            tenantID: tenantID,
            instanceID: round,
            event: "vote",
            actor: StepActor(id: principal.userID, roles: principal.roles),
            input: ["receipt": .string(ballot.receipt)],
            idempotencyKey: key,
            attachment: ballot.canonical
        )
        return BallotReceipt(
            receipt: ballot.receipt,
            nonce: ballot.nonce,
            choices: ballot.choices,
            replayed: result.replayed
        )
    }

    /// The body is a CSV file `iin,district`: added or moved, all or nothing.
    @Sendable func importResidents(
        request: Request,
        context: AppRequestContext
    ) async throws -> EditedResponse<ResidentsResponse> {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let body = try await request.readBody(limit: ParticipatoryStore.maximumResidentsBytes)
        let (imported, problems) = try await store.importResidents(Array(buffer: body), tenantID: tenant.id)
        return EditedResponse(
            status: problems.isEmpty ? .ok : .unprocessableContent,
            response: ResidentsResponse(imported: imported, problems: problems)
        )
    }

    // MARK: - Pages

    func stateTitle(_ state: String, _ language: Language) -> String {
        dependencies.workflows.registry.latest(ParticipatoryBudgetService.key)?.state(state)?.title[language] ?? state
    }

    @Sendable func listPage(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let slug = tenant.slug.value
        let rounds = try await store.rounds(tenantID: tenant.id)
        let mayOpen = context.principal?.roles.contains(.akimatAdmin) ?? false
        return dependencies.pages.page(
            "pb_rounds",
            titleKey: "pb_title",
            values: [
                "slug": slug, "mayOpen": mayOpen, "hasRounds": !rounds.isEmpty,
                "rounds": rounds.map { round -> [String: Any] in
                    [
                        "path": "/\(slug)/participatory-budget/\(round.instanceID.uuidString.lowercased())",
                        "district": round.district, "year": String(round.year),
                        "cap": BudgetPagesController.money(round.budgetCap),
                        "state": stateTitle(round.state, context.language),
                        "ballots": PageRenderer.optional(round.ballots.map(String.init)),
                    ]
                },
            ],
            request: request,
            context: context
        )
    }

    @Sendable func roundPage(request: Request, context: AppRequestContext) async throws -> Response {
        try await roundPage(message: nil, receipt: nil, status: .ok, request: request, context: context)
    }

    func roundPage(
        message: String?,
        receipt: BallotReceipt?,
        status: HTTPResponse.Status,
        request: Request,
        context: AppRequestContext
    ) async throws -> Response {
        let tenant = try context.requireTenant()
        let language = context.language
        let slug = tenant.slug.value
        let id = try roundID(context)
        guard let round = try await store.round(id, tenantID: tenant.id) else {
            throw AdalError.notFound(what: "round")
        }
        let idText = id.uuidString.lowercased()
        var actions: [[String: String]] = []
        if let principal = context.principal {
            let view = try? await InstanceView.load(
                id: id,
                tenantID: tenant.id,
                principal: principal,
                dependencies: dependencies
            )
            actions = view?.stepLinks(slug: slug, language: language, except: ["vote"]) ?? []
        }
        let isResident = context.principal?.roles.contains(.resident) ?? false
        let steps = try await WorkflowQueries(database: dependencies.database).steps(of: id, tenantID: tenant.id)
        let definition = dependencies.workflows.registry.latest(ParticipatoryBudgetService.key)
        return dependencies.pages.page(
            "pb_round",
            titleKey: "pb_title",
            values: [
                "slug": slug, "id": idText, "district": round.district, "year": String(round.year),
                "cap": BudgetPagesController.money(round.budgetCap), "state": stateTitle(round.state, language),
                "counted": round.countedAt != nil, "ballots": PageRenderer.optional(round.ballots.map(String.init)),
                "message": PageRenderer.optional(message), "voting": round.state == "voting" && isResident,
                "receipt": PageRenderer.optional(receipt?.receipt), "nonce": PageRenderer.optional(receipt?.nonce),
                "key": UUID().uuidString.lowercased(), "actions": actions, "hasActions": !actions.isEmpty,
                "hasProjects": !round.projects.isEmpty,
                "projects": round.projects.map { project -> [String: Any] in
                    [
                        "number": String(project.number), "title": project.title, "description": project.description,
                        "cost": BudgetPagesController.money(project.cost),
                        "status": dependencies.pages.locales.text("pb_status_" + project.status.rawValue, language),
                        "eligible": project.status == .eligible, "note": PageRenderer.optional(project.reviewNote),
                        "votes": PageRenderer.optional(project.votes.map(String.init)), "selected": project.selected,
                        "object": PageRenderer.optional(project.objectCode.map { "/\(slug)/budget/objects/\($0)" }),
                    ]
                },
                "steps": steps.reversed().map { step -> [String: Any] in
                    [
                        "at": WorkflowPagesController.format(step.at),
                        "event": definition?.events.first { $0.name == step.event }?.title[language]
                            ?? definition?.start.title[language] ?? step.event,
                        "leaf": PageRenderer.optional(step.leafIndex.map(String.init)),
                    ]
                },
            ],
            request: request,
            context: context,
            status: status
        )
    }

    /// The ballot form: a checkbox `choice_<number>` per eligible project.
    @Sendable func votePage(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try context.authorised([.resident])
        let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
        let round = try roundID(context)
        let choices = (1...200).filter { form["choice_\($0)"] == "on" }
        do {
            let receipt = try await cast(
                choices,
                round: round,
                key: form["_key"],
                tenantID: tenant.id,
                principal: principal
            )
            return try await roundPage(message: nil, receipt: receipt, status: .ok, request: request, context: context)
        } catch let error as AdalError {
            return try await roundPage(
                message: Problem(error).explained(error, pages: dependencies.pages, language: context.language),
                receipt: nil,
                status: Problem(error).status,
                request: request,
                context: context
            )
        } catch let WorkflowError.refused(reason) {
            return try await roundPage(
                message: reason,
                receipt: nil,
                status: .unprocessableContent,
                request: request,
                context: context
            )
        }
    }
}
