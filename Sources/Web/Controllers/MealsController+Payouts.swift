import Core
import Foundation
import Hummingbird
import Logging
import MealPayments
import PostgresNIO
import Workflow

/// Payouts by bank transfer (``BankPayouts``): a guardian (or the school's office, or the akimat)
/// names the bank account for what can no longer go back to a card; the office lists the
/// payouts it has to make and records each as paid, with the bank's reference, or as sent back.
extension MealsController {
    struct PayoutBody: Decodable {
        var id: UUID
        var iban: String
        /// The account holder's name, as the bank knows it.
        var holder: String
        /// In tiyn; without it, all that can be paid out.
        var amount: Int64?
    }

    struct PayoutAnswer: ResponseEncodable {
        var payout: BankPayouts.Payout
        var balance: Int64
        var replayed: Bool

        /// The payout `id` and its pupil's balance, read in the caller's transaction.
        static func read(
            _ id: UUID,
            whole: Bool,
            replayed: Bool,
            tenantID: UUID,
            on connection: PostgresConnection,
            logger: Logger
        ) async throws -> PayoutAnswer {
            guard
                let payout = try await BankPayouts.find(
                    id,
                    whole: whole,
                    tenantID: tenantID,
                    on: connection,
                    logger: logger
                )
            else { throw AdalError.notFound(what: "payout \(id)") }
            return PayoutAnswer(
                payout: payout,
                balance: try await BalanceReturns.balance(
                    of: payout.pupil,
                    tenantID: tenantID,
                    on: connection,
                    logger: logger
                ),
                replayed: replayed
            )
        }
    }

    struct PayoutsAnswer: ResponseEncodable {
        var payouts: [BankPayouts.Payout]
        /// When the page is full: the last payout's id, for `?after=` to read on.
        var next: UUID? = nil
    }

    struct PaidBody: Decodable {
        /// The bank's reference of the payment order.
        var reference: String
    }

    struct SentBackBody: Decodable {
        /// Why the bank sent the transfer back.
        var reason: String
    }

    func registerPayouts(on group: RouterGroup<AppRequestContext>) {
        group.post("pupils/:pupil/payouts", use: payOut)
        group.get("pupils/:pupil/payouts", use: pupilPayouts)
        group.get("payouts", use: listPayouts)
        group.get("payouts.csv", use: payoutsCSV)
        group.post("payouts/:payout/paid", use: payoutPaid)
        group.post("payouts/:payout/returned", use: payoutReturned)
    }

    /// `POST /api/{city}/meals/pupils/{pupil}/payouts`: a step of the pupil's meal account keyed
    /// by the payout's id; the same request again gets the first answer.
    @Sendable func payOut(request: Request, context: AppRequestContext) async throws -> EditedResponse<PayoutAnswer> {
        let (tenant, principal) = try context.authorised(Self.schoolStaff.union([.parent]))
        let body = try await request.decode(as: PayoutBody.self, context: context)
        let (_, pupil) = try await visiblePupil(context)
        let answer = try await payOut(body, pupil: pupil, principal: principal, tenant: tenant)
        return EditedResponse(status: answer.replayed ? .ok : .created, response: answer)
    }

    /// A payout as the API and the child's page ask for it. The account goes to the step as its
    /// attachment with a new random salt, so a retry (which would salt it anew) is recognised by
    /// the payout already stored with the same id, pupil, account and amount.
    func payOut(
        _ body: PayoutBody,
        pupil: MealQueries.PupilRef,
        principal: Principal,
        tenant: Tenant
    ) async throws -> PayoutAnswer {
        let payee = try BankPayouts.Payee(iban: body.iban, holder: body.holder)
        if let amount = body.amount, amount <= 0 {
            throw AdalError.invalidField(field: "amount", reason: "a whole number of tiyn above zero")
        }
        let whole = !principal.roles.isDisjoint(with: Self.schoolStaff)
        if let earlier = try await earlierPayout(body, payee, pupil: pupil, whole: whole, tenant: tenant) {
            return earlier
        }
        let attachment = payee.attachment(salt: (0..<16).map { _ in UInt8.random(in: 0...255) })
        var input: [String: InputValue] = [
            "transfer_id": .string(body.id.uuidString.lowercased()),
            "payee": .string(BankPayouts.Payee.commitment(attachment)),
        ]
        if let amount = body.amount { input["amount"] = .integer(amount) }
        let (tenantID, logger) = (tenant.id, dependencies.database.logger)
        do {
            return try await dependencies.workflows.fire(
                tenantID: tenantID,
                locate: { _ in pupil.instance },
                event: "pay_out",
                actor: StepActor(id: principal.userID, roles: principal.roles),
                input: input,
                idempotencyKey: "bank-payout-\(body.id.uuidString.lowercased())",
                attachment: attachment,
                answer: { connection, result in
                    try await PayoutAnswer.read(
                        body.id,
                        whole: whole,
                        replayed: result.replayed,
                        tenantID: tenantID,
                        on: connection,
                        logger: logger
                    )
                }
            )
        } catch AdalError.conflict(let reason) {
            // A twin of this request made it first (another salt, so another input).
            if let earlier = try await earlierPayout(body, payee, pupil: pupil, whole: whole, tenant: tenant) {
                return earlier
            }
            throw AdalError.conflict(reason: reason)
        }
    }

    /// The stored payout with the body's id, as the answer to a retry; a conflict when the id was
    /// used for another payout.
    private func earlierPayout(
        _ body: PayoutBody,
        _ payee: BankPayouts.Payee,
        pupil: MealQueries.PupilRef,
        whole: Bool,
        tenant: Tenant
    ) async throws -> PayoutAnswer? {
        let (tenantID, logger) = (tenant.id, dependencies.database.logger)
        return try await dependencies.database.withTenant(tenantID) { connection in
            guard let stored = try await BankPayouts.stored(body.id, tenantID: tenantID, on: connection, logger: logger)
            else { return nil }
            guard stored.pupil == pupil.id, stored.iban == payee.iban.text, stored.holder == payee.holder,
                body.amount == nil || body.amount == stored.amount
            else { throw AdalError.conflict(reason: "payout \(body.id) already exists with another request") }
            return try await PayoutAnswer.read(
                body.id,
                whole: whole,
                replayed: true,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
        }
    }

    /// `GET /api/{city}/meals/pupils/{pupil}/payouts`: whole IBANs for the office and the akimat,
    /// masked for guardians and auditors.
    @Sendable func pupilPayouts(request: Request, context: AppRequestContext) async throws -> PayoutsAnswer {
        let (tenant, pupil) = try await visiblePupil(context)
        let whole = try !context.requirePrincipal().roles.isDisjoint(with: Self.schoolStaff)
        return PayoutsAnswer(
            payouts: try await MealQueries(database: dependencies.database).payouts(
                pupil: pupil.id,
                whole: whole,
                tenantID: tenant.id
            )
        )
    }

    /// Who reads the office's list of payouts: the school's office (at its schools), the akimat
    /// and auditors (the whole city).
    static let payoutReaders: Set<Role> = [.schoolAdmin, .akimatAdmin, .auditor]

    /// `GET /api/{city}/meals/payouts[?status=waiting|done][&after=<payout>][&limit=1…200]`: the
    /// payouts the office still has to make, oldest first, or those paid or sent back, newest
    /// first; a page at a time, `next` naming where the following one starts.
    @Sendable func listPayouts(request: Request, context: AppRequestContext) async throws -> PayoutsAnswer {
        let query = request.uri.queryParameters
        let done: Bool
        switch query["status"].map(String.init) {
        case nil, "waiting": done = false
        case "done": done = true
        default: throw AdalError.invalidField(field: "status", reason: "waiting or done")
        }
        let limit =
            try query["limit"].map { text in
                guard let limit = Int(text) else {
                    throw AdalError.invalidField(
                        field: "limit",
                        reason: "a whole number from 1 to \(MealQueries.payoutPage)"
                    )
                }
                return limit
            } ?? MealQueries.payoutPage
        let payouts = try await officePayouts(context, done: done, after: try Self.payoutCursor(request), limit: limit)
        return PayoutsAnswer(payouts: payouts, next: payouts.count == limit ? payouts.last?.id : nil)
    }

    /// `GET /api/{city}/meals/payouts.csv?month=YYYY-MM`: the payouts paid or sent back in that
    /// month, in the order they were recorded, for reconciling with the bank's statement; the
    /// same readers as the list, auditors and the akimat with each one's check.
    @Sendable func payoutsCSV(request: Request, context: AppRequestContext) async throws -> Response {
        try await payoutsCSV(request, context, dialect: .rfc4180)
    }

    /// The month's file in `dialect`: RFC 4180 for the API, the reader's spreadsheet's for the page.
    func payoutsCSV(_ request: Request, _ context: AppRequestContext, dialect: CSVDialect) async throws -> Response {
        guard let month = request.uri.queryParameters["month"].map(String.init) else {
            throw AdalError.invalidField(field: "month", reason: "required: a month as YYYY-MM, such as 2026-11")
        }
        let (tenant, principal) = try context.authorised(Self.payoutReaders)
        let city = !principal.roles.isDisjoint(with: [.akimatAdmin, .auditor])
        let payouts = try await MealQueries(database: dependencies.database).settledPayouts(
            month: month,
            staff: city ? nil : principal.userID,
            checked: city,
            tenantID: tenant.id
        )
        return Self.csvFile(
            MealQueries.payoutsCSV(payouts, checked: city, dialect: dialect),
            name: "meals-payouts-\(tenant.slug)-\(month).csv"
        )
    }

    /// The `after` of a request for a page of payouts: a payout's id, or nil.
    static func payoutCursor(_ request: Request) throws -> UUID? {
        try request.uri.queryParameters["after"].map { text in
            guard let id = UUID(uuidString: String(text)) else {
                throw AdalError.invalidField(field: "after", reason: "a payout's id")
            }
            return id
        }
    }

    /// The office's list (``MealQueries/officePayouts(done:staff:checked:after:limit:tenantID:)``):
    /// a school's office sees its schools'; the akimat and auditors the whole city's, each payout
    /// with what lets them check the account paid into is the one asked for (``BankPayouts/Check``).
    func officePayouts(
        _ context: AppRequestContext,
        done: Bool,
        after: UUID? = nil,
        limit: Int = MealQueries.payoutPage
    ) async throws -> [BankPayouts.Payout] {
        let (tenant, principal) = try context.authorised(Self.payoutReaders)
        let city = !principal.roles.isDisjoint(with: [.akimatAdmin, .auditor])
        return try await MealQueries(database: dependencies.database).officePayouts(
            done: done,
            staff: city ? nil : principal.userID,
            checked: city,
            after: after,
            limit: limit,
            tenantID: tenant.id
        )
    }

    /// `POST /api/{city}/meals/payouts/{payout}/paid` `{"reference"}`.
    @Sendable func payoutPaid(request: Request, context: AppRequestContext) async throws -> PayoutAnswer {
        let body = try await request.decode(as: PaidBody.self, context: context)
        return try await settlePayout(context, event: "payout_paid", input: ["bank_reference": .string(body.reference)])
    }

    /// `POST /api/{city}/meals/payouts/{payout}/returned` `{"reason"}`.
    @Sendable func payoutReturned(request: Request, context: AppRequestContext) async throws -> PayoutAnswer {
        let body = try await request.decode(as: SentBackBody.self, context: context)
        return try await settlePayout(context, event: "payout_returned", input: ["reason": .string(body.reason)])
    }

    /// Records what became of a payout, as a step of its pupil's account keyed by the payout and
    /// the outcome: a retry gets the first answer; the other outcome afterwards is a conflict.
    func settlePayout(
        _ context: AppRequestContext,
        event: String,
        input: [String: InputValue]
    ) async throws -> PayoutAnswer {
        let (tenant, principal) = try context.authorised(Self.schoolStaff)
        guard let id = context.parameters.get("payout").flatMap(UUID.init(uuidString:)) else {
            throw AdalError.notFound(what: "payout")
        }
        let (tenantID, logger) = (tenant.id, dependencies.database.logger)
        var step = input
        step["transfer_id"] = .string(id.uuidString.lowercased())
        return try await dependencies.workflows.fire(
            tenantID: tenantID,
            locate: { connection in
                for try await instance in try await connection.query(
                    """
                    SELECT p.instance_id FROM meal_payouts o JOIN pupils p ON p.tenant_id = o.tenant_id AND p.id = o.pupil_id
                    WHERE o.tenant_id = \(tenantID) AND o.id = \(id)
                    """,
                    logger: logger
                ).decode(UUID.self) {
                    return instance
                }
                throw AdalError.notFound(what: "payout \(id)")
            },
            event: event,
            actor: StepActor(id: principal.userID, roles: principal.roles),
            input: step,
            idempotencyKey: "\(event)-\(id.uuidString.lowercased())",
            answer: { connection, result in
                try await PayoutAnswer.read(
                    id,
                    whole: true,
                    replayed: result.replayed,
                    tenantID: tenantID,
                    on: connection,
                    logger: logger
                )
            }
        )
    }
}
