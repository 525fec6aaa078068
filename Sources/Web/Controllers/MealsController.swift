import Core
import Foundation
import HTTPTypes
import Hummingbird
import MealPayments
import PostgresNIO
import Workflow

/// Cashless school meals over JSON under `/api/{city}/meals`: canteen contracts and tills (the
/// akimat), pupils and guardians (the school), charges (the till), refunds, top-ups and
/// statements (guardians), and the payment provider's webhook.
struct MealsController {
    static let service = MealAccountService.key
    static let schoolStaff: Set<Role> = [.schoolAdmin, .akimatAdmin]

    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        router.post("api/:tenant/meals/webhooks/simulated", use: webhook)
        let group = router.group("api/:tenant/meals").add(middleware: APITokenMiddleware(dependencies: dependencies))
        group.put("schools/:bin", use: contract)
        group.put("tills/:login", use: till)
        group.put("staff/:login", use: staff)
        group.post("pupils", use: registerPupil)
        group.put("pupils/:pupil/guardians/:login", use: guardian)
        group.get("children", use: children)
        group.get("pupils/:pupil/statement", use: statement)
        group.get("pupils/:pupil/statement.csv", use: statementCSV)
        group.post("pupils/:pupil/top-ups", use: topUp)
        group.put("pupils/:pupil/alerts", use: alerts)
        group.post("pupils/:pupil/balance-returns", use: returnBalance)
        group.get("pupils/:pupil/balance-returns", use: balanceReturns)
        registerPayouts(on: group)
        registerMenus(on: group)
        router.group("api/:tenant/meals")
            .add(middleware: APITokenMiddleware(dependencies: dependencies, deferred: true))
            .post("charges", use: charge)
        group.post("refunds", use: refund)
    }

    // MARK: - Set-up

    struct ContractBody: Decodable {
        var name: String
        var supplierBIN: String
        var pricePerMeal: Int64
    }

    /// The canteen's supplier and contract price per meal (until the competition service sets it).
    @Sendable func contract(request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let body = try await request.decode(as: ContractBody.self, context: context)
        try await dependencies.mealSchools.contractInForce(
            tenantID: tenant.id,
            schoolBIN: try context.parameters.require("bin"),
            schoolName: body.name,
            supplierBIN: body.supplierBIN,
            pricePerMeal: body.pricePerMeal
        )
        return .noContent
    }

    struct TillBody: Decodable {
        var schoolBIN: String
    }

    /// Lets a canteen_till account charge for one school.
    @Sendable func till(request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let body = try await request.decode(as: TillBody.self, context: context)
        let user = try await dependencies.account(
            try context.parameters.require("login"),
            tenant: tenant,
            role: .canteenTill
        )
        try await dependencies.mealSchools.assignTill(userID: user, schoolBIN: body.schoolBIN, tenantID: tenant.id)
        return .noContent
    }

    /// Lets a school administrator work at one more school.
    @Sendable func staff(request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let body = try await request.decode(as: TillBody.self, context: context)
        let user = try await dependencies.account(
            try context.parameters.require("login"),
            tenant: tenant,
            role: .schoolAdmin
        )
        try await dependencies.mealSchools.assignStaff(userID: user, schoolBIN: body.schoolBIN, tenantID: tenant.id)
        return .noContent
    }

    struct PupilBody: Decodable {
        var schoolBIN: String
        var name: String
        var grade: Int64
        var card: String
        var freeMealCategory: String?
        var allergens: [String]?
        var dailyLimit: Int64
    }

    struct PupilResponse: ResponseEncodable {
        var pupil: MealQueries.PupilRef
    }

    /// Registers a pupil: the start of their meal account.
    @Sendable func registerPupil(
        request: Request,
        context: AppRequestContext
    ) async throws -> EditedResponse<PupilResponse> {
        let (tenant, principal) = try context.authorised(Self.schoolStaff)
        let body = try await request.decode(as: PupilBody.self, context: context)
        var input: [String: InputValue] = [
            "school_bin": .string(body.schoolBIN), "pupil_name": .string(body.name), "grade": .integer(body.grade),
            "card": .string(body.card), "daily_limit": .integer(body.dailyLimit),
        ]
        if let category = body.freeMealCategory { input["free_meal_category"] = .string(category) }
        if let allergens = body.allergens, !allergens.isEmpty {
            input["allergens"] = .string(allergens.joined(separator: ","))
        }
        let result = try await dependencies.workflows.start(
            tenantID: tenant.id,
            service: Self.service,
            actor: StepActor(id: principal.userID, roles: principal.roles),
            input: input,
            idempotencyKey: request.headers[WorkflowAPIController.idempotencyKey]
        )
        guard let pupil = try await queries.pupil(instance: result.instanceID, tenantID: tenant.id) else {
            throw AdalError.notFound(what: "pupil")
        }
        return EditedResponse(status: result.replayed ? .ok : .created, response: PupilResponse(pupil: pupil))
    }

    /// Lists a parent account among the pupil's guardians.
    @Sendable func guardian(request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let (tenant, principal) = try context.authorised(Self.schoolStaff)
        let pupil = try await pupilParameter(context, tenant: tenant)
        guard try await mayRead(pupil, principal: principal, tenantID: tenant.id) else {
            throw AdalError.notFound(what: "pupil")
        }
        let user = try await dependencies.account(
            try context.parameters.require("login"),
            tenant: tenant,
            role: .parent
        )
        try await dependencies.mealSchools.addGuardian(userID: user, pupilID: pupil.id, tenantID: tenant.id)
        return .noContent
    }

    // MARK: - Guardians

    struct ChildrenResponse: ResponseEncodable {
        var children: [MealQueries.PupilRef]
    }

    @Sendable func children(request: Request, context: AppRequestContext) async throws -> ChildrenResponse {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        return ChildrenResponse(children: try await queries.children(of: principal.userID, tenantID: tenant.id))
    }

    struct StatementResponse: ResponseEncodable {
        var pupil: MealQueries.PupilRef
        var lines: [MealQueries.Line]
    }

    @Sendable func statement(request: Request, context: AppRequestContext) async throws -> StatementResponse {
        let (tenant, pupil) = try await visiblePupil(context)
        return StatementResponse(pupil: pupil, lines: try await queries.statement(pupil: pupil.id, tenantID: tenant.id))
    }

    @Sendable func statementCSV(request: Request, context: AppRequestContext) async throws -> Response {
        try await statementCSV(context, words: .codes)
    }

    /// The pupil's statement as a CSV file named by `words` (the API's codes, or a page's language).
    func statementCSV(_ context: AppRequestContext, words: MealQueries.CSVWords) async throws -> Response {
        let (tenant, pupil) = try await visiblePupil(context)
        let lines = try await queries.statement(pupil: pupil.id, tenantID: tenant.id, limit: 5_000)
        return Self.csvFile(MealQueries.csv(lines, words: words), name: "meals-statement.csv")
    }

    /// A CSV file to download, kept by no cache between (it names children and money).
    static func csvFile(_ text: String, name: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"\(name)\""
        headers[.cacheControl] = "private, no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    struct AlertsBody: Decodable {
        var lowBalanceAlert: Int64?
        var autoThreshold: Int64?
        var autoAmount: Int64?
        /// The alert's language: "kk", "ru" or "en"; without it, Kazakh and Russian both.
        var language: String?
    }

    /// The guardian's low-balance alert and automatic top-up for one of their children.
    @Sendable func alerts(request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let body = try await request.decode(as: AlertsBody.self, context: context)
        guard let pupilID = context.parameters.get("pupil").flatMap(UUID.init(uuidString:)) else {
            throw AdalError.notFound(what: "pupil")
        }
        let language = try body.language.map { text throws(AdalError) in
            guard let language = Language(rawValue: text) else {
                throw AdalError.invalidField(field: "language", reason: "kk, ru or en")
            }
            return language
        }
        try await dependencies.mealSchools.guardianSettings(
            userID: principal.userID,
            pupilID: pupilID,
            lowBalanceAlert: body.lowBalanceAlert,
            autoThreshold: body.autoThreshold,
            autoAmount: body.autoAmount,
            language: language,
            tenantID: tenant.id
        )
        return .noContent
    }

    struct TopUpBody: Decodable {
        var id: UUID
        var amount: Int64
    }

    /// A guardian tops up their child's account: held until the provider confirms it.
    @Sendable func topUp(request: Request, context: AppRequestContext) async throws -> EditedResponse<TopUps.Hold> {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let body = try await request.decode(as: TopUpBody.self, context: context)
        guard let pupilID = context.parameters.get("pupil").flatMap(UUID.init(uuidString:)) else {
            throw AdalError.notFound(what: "pupil")
        }
        let hold = try await dependencies.topUps.hold(
            id: body.id,
            pupilID: pupilID,
            amount: body.amount,
            guardian: principal.userID,
            tenantID: tenant.id
        )
        return EditedResponse(status: hold.status == "pending" ? .accepted : .ok, response: hold)
    }

    struct ReturnBody: Decodable {
        var id: UUID
        /// In tiyn; without it, the whole balance.
        var amount: Int64?
    }

    struct ReturnAnswer: ResponseEncodable {
        var `return`: BalanceReturns.Return
        var balance: Int64
        var replayed: Bool
    }

    /// The balance, or `amount` of it, back to the payments it came from (a guardian of the
    /// pupil, the school's office or the akimat): a step of the pupil's meal account keyed by
    /// the return's id, so a retry gets the first answer.
    @Sendable func returnBalance(
        request: Request,
        context: AppRequestContext
    ) async throws -> EditedResponse<ReturnAnswer> {
        let (tenant, principal) = try context.authorised(Self.schoolStaff.union([.parent]))
        let body = try await request.decode(as: ReturnBody.self, context: context)
        let (_, pupil) = try await visiblePupil(context)
        let answer = try await returnBalance(body, pupil: pupil, principal: principal, tenant: tenant)
        return EditedResponse(status: answer.replayed ? .ok : .created, response: answer)
    }

    /// A return as the API and the child's page ask for it.
    func returnBalance(
        _ body: ReturnBody,
        pupil: MealQueries.PupilRef,
        principal: Principal,
        tenant: Tenant
    ) async throws -> ReturnAnswer {
        var input: [String: InputValue] = ["transfer_id": .string(body.id.uuidString.lowercased())]
        if let amount = body.amount { input["amount"] = .integer(amount) }
        let (tenantID, logger) = (tenant.id, dependencies.database.logger)
        let found = try await dependencies.workflows.fire(
            tenantID: tenantID,
            locate: { _ in pupil.instance },
            event: "return_balance",
            actor: StepActor(id: principal.userID, roles: principal.roles),
            input: input,
            idempotencyKey: "balance-return-\(body.id.uuidString.lowercased())",
            answer: { connection, result in
                (
                    try await BalanceReturns.find(body.id, tenantID: tenantID, on: connection, logger: logger),
                    result.replayed
                )
            }
        )
        guard let (made, balance) = found.0 else { throw AdalError.notFound(what: "balance return \(body.id)") }
        return ReturnAnswer(return: made, balance: balance, replayed: found.1)
    }

    struct ReturnsAnswer: ResponseEncodable {
        var returns: [BalanceReturns.Return]
    }

    /// The pupil's balance returns, each part with its status (`sent`, `settled`, `failed`).
    @Sendable func balanceReturns(request: Request, context: AppRequestContext) async throws -> ReturnsAnswer {
        let (tenant, pupil) = try await visiblePupil(context)
        return ReturnsAnswer(returns: try await queries.balanceReturns(pupil: pupil.id, tenantID: tenant.id))
    }

    struct WebhookAnswer: ResponseEncodable {
        var outcome: TopUps.Outcome
    }

    /// The payment provider's signed webhook (`Adal-Signature`).
    @Sendable func webhook(request: Request, context: AppRequestContext) async throws -> WebhookAnswer {
        let tenant = try await dependencies.tenant(named: context)
        let body = try await request.body.collect(upTo: 16_384)
        return WebhookAnswer(
            outcome: try await dependencies.topUps.receive(
                body: Array(body.readableBytesView),
                signature: request.headers[HTTPField.Name(TopUps.signatureHeader)!],
                tenantID: tenant.id
            )
        )
    }

    // MARK: - Till and refunds

    struct ChargeBody {
        var id: UUID
        var card: String
        var items: [ChargeItem]
        var allergenOverride: Bool?
        /// When the meal was served, for a charge the till kept while it could not reach the
        /// server (nil: now).
        var servedAt: Date? = nil
    }

    typealias ChargeItem = MealAccountService.Item

    /// Largest body of a charge: its items' JSON is at most 4,000 characters (the service's
    /// definition), with room for white space and the other fields.
    static let maximumChargeBytes = 16_384

    /// A transfer as the till, the school or the guardian is answered: the JSON that
    /// `JSONEncoder` would write for it (ISO 8601 times, ids in capitals, absent fields left
    /// out), written directly with its keys in order: `JSONEncoder` took 7.5 % of the server's
    /// CPU in `adal bench meals`, more than anything else a charge runs in this process, and a
    /// dictionary of ``InputValue`` sorted for each answer still 2 %.
    struct TransferAnswer: ResponseGenerator, Encodable {
        var transfer: MealQueries.Line
        var balance: Int64
        /// True when this is the stored answer to an earlier request with the same id.
        var replayed: Bool
        /// The code of a decline's reason, for a till's own software (``MealReason/code``).
        var reasonCode: String?
        /// The reason in the language the till asked for (`Accept-Language`), when it is known.
        var reasonText: String?

        init(transfer: MealQueries.Line, balance: Int64, replayed: Bool) {
            self.transfer = transfer
            self.balance = balance
            self.replayed = replayed
            reasonCode = transfer.reason.flatMap(MealReason.of)?.code
        }

        /// The reason said in `language` as well, when it is one ``MealReason`` knows.
        mutating func say(in language: Language, _ locales: LocaleTables) {
            guard let reason = transfer.reason.flatMap(MealReason.of) else { return }
            reasonText = locales.text(reason.key, language, figures: reason.figures)
        }

        var text: String {
            let line = transfer
            var out = "{\"balance\":\(balance),"
            for (key, value) in [("reasonCode", reasonCode), ("reasonText", reasonText)] {
                guard let value else { continue }
                out += "\"\(key)\":"
                InputValue.writeString(value, to: &out)
                out += ","
            }
            out += "\"replayed\":\(replayed),\"transfer\":{\"amount\":\(line.amount),\"at\":\""
            out += line.at.iso8601Text
            out += "\",\"id\":\""
            out += line.id.uppercasedText
            out += "\",\"items\":["
            for (index, item) in line.items.enumerated() {
                if index > 0 { out += "," }
                InputValue.writeString(item, to: &out)
            }
            out += "],\"kind\":"
            InputValue.writeString(line.kind, to: &out)
            for (key, value) in [("paidBy", line.paidBy), ("reason", line.reason)] {
                guard let value else { continue }
                out += ",\"\(key)\":"
                InputValue.writeString(value, to: &out)
            }
            if let refersTo = line.refersTo { out += ",\"refersTo\":\"\(refersTo.uppercasedText)\"" }
            if let school = line.school {
                out += ",\"school\":"
                InputValue.writeString(school, to: &out)
            }
            out += ",\"status\":"
            InputValue.writeString(line.status, to: &out)
            return out + "}}"
        }

        func response(from request: Request, context: some RequestContext) throws -> Response {
            let body = ByteBuffer(string: text)
            return Response(
                status: .ok,
                headers: [.contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes)],
                body: .init(byteBuffer: body)
            )
        }
    }

    /// A meal at the till: one step of the pupil's meal account, keyed by the charge's id, so a
    /// retry gets the first answer (a decline included).
    ///
    /// The till's token is looked up while the charge waits for its batch (`deferred` on this
    /// route's ``APITokenMiddleware``); the charge's step is made only once it is found and holds
    /// the till's role. A body that cannot be read is reported only to a till whose token holds.
    @Sendable func charge(request: Request, context: AppRequestContext) async throws -> EditedResponse<TransferAnswer> {
        let (tenant, principal) = try context.authorisedLater([.canteenTill])
        let body: ChargeBody
        do {
            body = try ChargeBody(json: try await request.body.collect(upTo: Self.maximumChargeBytes))
        } catch {
            _ = try await principal()
            throw error
        }
        var answer = try await charge(body, principal: principal, tenant: tenant)
        if let language = LanguageMiddleware.requested(by: request) {
            answer.responseGenerator.say(in: language, dependencies.pages.locales)
        }
        return answer
    }

    /// A charge by card, for the API and the till's page alike: the card's pupil, the step and
    /// the answer are read and written in one transaction, shared with the charges that arrive
    /// at the same time (``MealCharges``).
    func charge(_ body: ChargeBody, principal: Principal, tenant: Tenant) async throws -> EditedResponse<TransferAnswer>
    {
        try await charge(body, principal: { principal }, tenant: tenant)
    }

    /// A charge whose till is known once `principal` gives it.
    func charge(
        _ body: ChargeBody,
        principal: @escaping @Sendable () async throws -> Principal,
        tenant: Tenant
    ) async throws -> EditedResponse<TransferAnswer> {
        let charge = try Self.charge(body, principal: principal)
        return try await answer(transfer: body.id, tenantID: tenant.id) {
            try await dependencies.mealCharges.charge(charge, tenantID: tenant.id)
        }
    }

    /// The step a charge asks for, by a till known once `principal` gives it.
    static func charge(
        _ body: ChargeBody,
        principal: @escaping @Sendable () async throws -> Principal
    ) throws -> MealCharges.Charge {
        guard body.card.count <= 64 else { throw AdalError.notFound(what: MealReason.unknownCard) }
        var input: [String: InputValue] = [
            "transfer_id": .string(body.id.lowercasedText),
            "items": .string(MealAccountService.Item.json(body.items)),
        ]
        if body.allergenOverride == true { input["allergen_override"] = .string("confirmed_by_staff") }
        if let servedAt = body.servedAt { input["served_at"] = .string(servedAt.ISO8601Format()) }
        return MealCharges.Charge(card: body.card, transfer: body.id, input: input) {
            let principal = try await principal()
            return StepActor(id: principal.userID, roles: principal.roles)
        }
    }

    struct RefundBody: Decodable {
        var id: UUID
        var chargeID: UUID
        var amount: Int64
        var reason: String
    }

    @Sendable func refund(request: Request, context: AppRequestContext) async throws -> EditedResponse<TransferAnswer> {
        let (tenant, principal) = try context.authorised(Self.schoolStaff)
        let body = try await request.decode(as: RefundBody.self, context: context)
        guard let charge = try await queries.transfer(body.chargeID, tenantID: tenant.id),
            let pupil = try await queries.pupil(id: charge.pupil, tenantID: tenant.id)
        else { throw AdalError.notFound(what: "charge \(body.chargeID)") }
        return try await step(
            "refund",
            locate: { _ in pupil.instance },
            transfer: body.id,
            input: [
                "transfer_id": .string(body.id.uuidString.lowercased()),
                "charge_id": .string(body.chargeID.uuidString.lowercased()), "amount": .integer(body.amount),
                "reason": .string(body.reason),
            ],
            key: "refund-\(body.id.uuidString.lowercased())",
            principal: principal,
            tenant: tenant
        )
    }

    /// A step of the pupil's meal account keyed by the transfer's id, answered with the transfer
    /// as stored (``answer(transfer:tenantID:_:)``).
    private func step(
        _ event: String,
        locate: @escaping @Sendable (PostgresConnection) async throws -> UUID,
        transfer: UUID,
        input: [String: InputValue],
        key: String,
        principal: Principal,
        tenant: Tenant
    ) async throws -> EditedResponse<TransferAnswer> {
        let (tenantID, logger) = (tenant.id, dependencies.database.logger)
        return try await answer(transfer: transfer, tenantID: tenantID) {
            try await dependencies.workflows.fire(
                tenantID: tenantID,
                locate: locate,
                event: event,
                actor: StepActor(id: principal.userID, roles: principal.roles),
                input: input,
                idempotencyKey: key,
                answer: { connection, result in
                    (
                        try await MealQueries.transfers([transfer], tenantID: tenantID, on: connection, logger: logger)[
                            transfer
                        ],
                        result.replayed
                    )
                }
            )
        }
    }

    /// The transfer a step made, as `step` read it in the step's transaction — or read after it
    /// when a twin of the request made the transfer first (its answer stands).
    private func answer(
        transfer: UUID,
        tenantID: UUID,
        _ step: () async throws -> MealCharges.Answer
    ) async throws -> EditedResponse<TransferAnswer> {
        let answer: MealCharges.Answer
        do {
            answer = try await step()
        } catch is MealAccountService.AlreadyMade {
            answer = (try await queries.transfer(transfer, tenantID: tenantID), true)
        }
        guard let found = answer.found else { throw AdalError.notFound(what: "transfer \(transfer)") }
        let line = found.line
        return EditedResponse(
            status: answer.replayed ? .ok : line.status == "posted" ? .created : .ok,
            response: TransferAnswer(transfer: line, balance: found.balance, replayed: answer.replayed)
        )
    }

    // MARK: - Helpers

    private var queries: MealQueries { MealQueries(database: dependencies.database) }

    /// The pupil in the path, for their guardians, the staff of their school, akimat
    /// administrators and auditors; 404 for anyone else (another school's staff included).
    func visiblePupil(_ context: AppRequestContext) async throws -> (Tenant, MealQueries.PupilRef) {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let pupil = try await pupilParameter(context, tenant: tenant)
        guard try await mayRead(pupil, principal: principal, tenantID: tenant.id) else {
            throw AdalError.notFound(what: "pupil")
        }
        return (tenant, pupil)
    }

    /// Whether `principal` may read the pupil's account (its page, statement, returns, and its
    /// steps on the generic instance pages): their guardians, the staff of their school, akimat
    /// administrators and auditors; no till and no other guardian.
    func mayRead(_ pupil: MealQueries.PupilRef, principal: Principal, tenantID: UUID) async throws -> Bool {
        if !principal.roles.isDisjoint(with: [.akimatAdmin, .auditor]) { return true }
        if principal.roles.contains(.schoolAdmin),
            try await queries.isStaff(principal.userID, of: pupil.id, tenantID: tenantID)
        {
            return true
        }
        return try await queries.isGuardian(principal.userID, of: pupil.id, tenantID: tenantID)
    }

    private func pupilParameter(_ context: AppRequestContext, tenant: Tenant) async throws -> MealQueries.PupilRef {
        guard let id = context.parameters.get("pupil").flatMap(UUID.init(uuidString:)),
            let pupil = try await queries.pupil(id: id, tenantID: tenant.id)
        else { throw AdalError.notFound(what: "pupil") }
        return pupil
    }
}

extension TopUps.Hold: ResponseEncodable {}

extension MealsController.ChargeBody {
    /// The body a till sends (`{"id", "card", "items", "allergenOverride", "servedAt"}`, other keys left
    /// out), read by ``InputValue/init(json:)``: `JSONDecoder` was 7 % of the server's CPU in
    /// `adal bench meals`. What does not fit is refused (400) with the field it is in.
    init(json body: ByteBuffer) throws {
        func refuse(_ field: String, _ reason: String) -> HTTPError {
            HTTPError(.badRequest, message: "\(field): \(reason)")
        }
        let value: InputValue
        do {
            value = try InputValue(json: body.readableBytesView)
        } catch {
            throw refuse("body", error.description)
        }
        guard case .object(let members) = value else { throw refuse("body", "a JSON object") }
        guard case .string(let id)? = members["id"], let uuid = UUID(hyphenated: id) else {
            throw refuse("id", "a UUID the till chose for this charge")
        }
        guard case .string(let card)? = members["card"] else { throw refuse("card", "the card's or QR code's text") }
        guard let items = members["items"].flatMap(MealAccountService.Item.list) else {
            throw refuse("items", MealAccountService.itemsShape)
        }
        let allergenOverride: Bool?
        switch members["allergenOverride"] {
        case nil, .null?: allergenOverride = nil
        case .bool(let value)?: allergenOverride = value
        default: throw refuse("allergenOverride", "true or false")
        }
        var servedAt: Date?
        switch members["servedAt"] {
        case nil, .null?: servedAt = nil
        case .string(let text)?:
            guard let date = MealAccountService.parseServedAt(text) else {
                throw refuse("servedAt", MealAccountService.servedAtShape)
            }
            servedAt = date
        default: throw refuse("servedAt", MealAccountService.servedAtShape)
        }
        self.init(id: uuid, card: card, items: items, allergenOverride: allergenOverride, servedAt: servedAt)
    }
}
