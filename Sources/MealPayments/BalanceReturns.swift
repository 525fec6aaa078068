import Core
import Foundation
import Logging
import PostgresNIO
import Workflow

/// Returning a pupil's balance to the payments it came from (migration 0026; docs/meal-payments.md,
/// "Returning the balance"). A return is split over the pupil's posted top-ups, newest first,
/// never more than what is left of each; each part is a transfer from the pupil's account to the
/// provider's clearing account that names its top-up, and the provider refunds it to the card
/// that paid that top-up. So a guardian's money goes back to that guardian, whoever asks. The
/// money leaves the account when the return is asked for; the provider then confirms each part
/// (a step, `balance_return_settled`) or reports that it failed (`balance_return_failed`: the
/// part comes back to the account as a new transfer).
public enum BalanceReturns {
    /// The outbox topic that asks the provider to pay a part.
    static let providerTopic = "meals.balance_return"
    /// The outbox topic that tells the pupil's guardians a part was paid or came back.
    static let newsTopic = "meals.balance_return_news"
    /// Most parts one return is split into (the top-ups it reaches back to).
    public static let maximumParts = 1_000
    /// Why a return of more than the balance is refused (the figures in tiyn).
    static func overBalance(_ amount: some CustomStringConvertible, _ balance: some CustomStringConvertible) -> String {
        "a return of \(amount) tiyn exceeds the balance of \(balance) tiyn"
    }
    /// Why a return to the cards is refused when part of the balance can only go by bank transfer.
    static func cardShort(_ covered: some CustomStringConvertible, _ byBank: some CustomStringConvertible) -> String {
        "only \(covered) tiyn of this account can go back to cards; \(byBank) tiyn came from payments the provider can no longer refund to a card: ask for a bank transfer"
    }
    /// Why a return of a whole balance of zero is refused.
    public static let nothingToReturn = "the account holds nothing to return"

    /// One part of a return: what goes back to one top-up's card.
    public struct Part: Sendable, Codable, Equatable {
        public var transfer: UUID
        public var topUp: UUID
        /// When the top-up was paid.
        public var topUpAt: Date
        /// The guardian who paid the top-up, whose card the part goes back to, and their name
        /// (nil for top-ups held before migration 0027).
        public var payer: UUID?
        public var payerName: String?
        public var amount: Int64
        /// `sent` (to the provider), `settled` (the provider paid it to the card) or `failed`
        /// (the provider could not; it came back to the account).
        public var status: String
        public var settledAt: Date?
        /// Why the provider failed it (``TopUps/Event/reason``), when it said.
        public var failure: String?
    }

    /// A request to return a balance, with its parts.
    public struct Return: Sendable, Codable, Equatable {
        public var id: UUID
        public var pupil: UUID
        public var amount: Int64
        public var at: Date
        public var parts: [Part]
    }

    /// A part's transfer id: the same for the same request, kind (`balance_return`,
    /// `bank_payout`) and top-up.
    static func partID(kind: String, request: UUID, topUp: UUID) -> UUID {
        Ledger.derivedID("\(kind) \(request.uuidString.lowercased()) \(topUp.uuidString.lowercased())")
    }

    /// The id of the transfer that brings a failed part back.
    static func failedID(part: UUID) -> UUID {
        Ledger.derivedID("balance_return_failed \(part.uuidString.lowercased())")
    }

    // MARK: - Steps

    /// Reasons a provider gives for a failed part that last: the payment can no longer be refunded
    /// to a card (the acquirer's time limit for refunds has passed, or the card is closed). What
    /// is left of such a top-up goes out by bank transfer (``BankPayouts``), not to a card again.
    public static let lastingFailures: Set<String> = ["refund_window_expired", "card_closed"]

    /// What is left of one of the pupil's posted top-ups: its amount less the parts of earlier
    /// returns and payouts that did not come back.
    struct Remainder {
        var topUp: UUID
        var amount: Int64
        var provider: String
        /// False once a part of it failed for a lasting reason (``lastingFailures``).
        var toCard: Bool
        /// The guardian who paid it (nil before migration 0027).
        var payer: UUID?
        /// When it was paid: a card refund has a time limit from then.
        var paidAt: Date
    }

    /// What is left of each of the pupil's posted top-ups, newest first (none of those spent on
    /// returns and payouts already).
    static func remainders(_ pupil: Pupil, _ context: StepContext) async throws -> [Remainder] {
        try await remainders(
            pupil: pupil.id,
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
    }

    static func remainders(
        pupil: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Remainder] {
        var left: [Remainder] = []
        for try await (topUp, remaining, provider, lasting, payer, paidAt) in try await connection.query(
            """
            SELECT t.id, t.amount - coalesce((
                    SELECT sum(r.amount) FROM meal_return_parts r
                    WHERE r.tenant_id = t.tenant_id AND r.top_up = t.id AND NOT r.failed), 0)::bigint,
                coalesce(t.provider_reference, \(TopUps.simulatedProvider)),
                EXISTS (SELECT FROM meal_return_parts r WHERE r.tenant_id = t.tenant_id AND r.top_up = t.id
                    AND r.failure = ANY(\(Array(lastingFailures))::text[])),
                t.paid_by, t.created_at
            FROM transfers t
            WHERE t.tenant_id = \(tenantID) AND t.pupil_id = \(pupil) AND t.kind = 'top_up'
                AND t.status = 'posted'
            ORDER BY t.created_at DESC, t.id
            """,
            logger: logger
        ).decode((UUID, Int64, String, Bool, UUID?, Date).self) where remaining > 0 {
            left.append(
                Remainder(
                    topUp: topUp,
                    amount: remaining,
                    provider: provider,
                    toCard: !lasting,
                    payer: payer,
                    paidAt: paidAt
                )
            )
        }
        return left
    }

    /// One part of a return or payout as it is taken.
    struct Taken {
        var transfer: UUID
        var topUp: UUID
        var amount: Int64
        var provider: String
        var paidAt: Date
    }

    /// Takes `amount` from the pupil's account, split over `left` in its order (newest first),
    /// never more than what is left of each: one transfer of `kind` per top-up, from the pupil's
    /// account to the clearing account `clearing` names for the top-up's provider, naming the
    /// top-up. Refused, with nothing written, when `left` holds less than `amount` (`short` says
    /// why, given what it holds) or would make more than ``maximumParts`` parts.
    static func take(
        _ amount: Int64,
        over left: [Remainder],
        kind: String,
        request: UUID,
        clearing: (String) -> String,
        pupil: Pupil,
        short: (Int64) -> String,
        _ context: StepContext
    ) async throws -> [Taken] {
        let (connection, logger, tenantID) = (context.connection, context.logger, context.tenantID)
        var parts: [Taken] = []
        var owed = amount
        for entry in left where owed > 0 {
            let part = min(owed, entry.amount)
            parts.append(
                Taken(
                    transfer: partID(kind: kind, request: request, topUp: entry.topUp),
                    topUp: entry.topUp,
                    amount: part,
                    provider: entry.provider,
                    paidAt: entry.paidAt
                )
            )
            owed -= part
        }
        guard owed == 0 else { throw WorkflowError.refused(reason: short(amount - owed)) }
        guard parts.count <= maximumParts else {
            throw WorkflowError.refused(
                reason: "a return reaches back to at most \(maximumParts) top-ups; return a smaller amount first"
            )
        }
        var debited = false
        for try await _ in try await connection.query(
            """
            UPDATE ledger_accounts SET balance = balance - \(amount)
            WHERE tenant_id = \(tenantID) AND id = \(pupil.accountID) AND balance >= \(amount) RETURNING balance
            """,
            logger: logger
        ) {
            debited = true
        }
        guard debited else { throw WorkflowError.refused(reason: MealReason.insufficientBalance) }
        for part in parts {
            let account = try await Ledger.moveShared(
                .clearing,
                owner: clearing(part.provider),
                amount: part.amount,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            try await MealAccountService.insertTransfer(
                id: part.transfer,
                kind: kind,
                status: "posted",
                debit: pupil.accountID,
                credit: account,
                amount: part.amount,
                pupil: pupil,
                items: "[]",
                reason: nil,
                refersTo: part.topUp,
                provider: clearing(part.provider),
                context: context
            )
        }
        return parts
    }

    /// `return_balance`: takes `amount` from the pupil's account and splits it over the posted
    /// top-ups that may still go back to a card, newest first, each part to its provider's
    /// clearing account; the outbox asks the provider to pay each part. A guardian returns only
    /// their own child's balance, school staff only at their school.
    static func request(_ context: StepContext) async throws -> StepEffects {
        let id = try MealAccountService.transferID(context)
        guard let pupil = try await Pupil.load(context) else { throw AdalError.notFound(what: "pupil") }
        try await requireGuardianOrStaff(pupil, context)
        let amount = context.input.integer("amount") ?? pupil.balance
        guard amount > 0 else { throw WorkflowError.refused(reason: nothingToReturn) }
        guard amount <= pupil.balance else {
            throw WorkflowError.refused(reason: overBalance(amount, pupil.balance))
        }
        let left = try await remainders(pupil, context)
        let byBank = left.filter { !$0.toCard }.reduce(0) { $0 + $1.amount }
        let parts = try await take(
            amount,
            over: left.filter(\.toCard),
            kind: "balance_return",
            request: id,
            clearing: { $0 },
            pupil: pupil,
            short: { covered in
                byBank > 0
                    ? cardShort(covered, byBank)
                    : "only \(covered) tiyn of this account came from top-ups that can be returned"
            },
            context
        )
        do {
            try await context.connection.run(
                """
                INSERT INTO meal_balance_returns (tenant_id, id, pupil_id, amount, requested_by, parts, created_at)
                VALUES (\(context.tenantID), \(id), \(pupil.id), \(amount), \(context.actor.id),
                    \(parts.map(\.transfer))::uuid[], \(context.now))
                """,
                logger: context.logger
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw AdalError.conflict(reason: "balance return \(id) already exists with another request")
        }
        let outbox = parts.map { part in
            OutboxMessage(
                topic: providerTopic,
                payload: .object([
                    "transfer": .string(part.transfer.uuidString), "topUp": .string(part.topUp.uuidString),
                    "amount": .integer(part.amount), "provider": .string(part.provider),
                    "paidAt": .integer(Int64(part.paidAt.timeIntervalSince1970)),
                ])
            )
        }
        return StepEffects(amounts: [("balance_return", amount)], outbox: outbox)
    }

    /// `balance_return_settled`: the provider paid the part to its card.
    static func settled(_ context: StepContext) async throws -> StepEffects {
        let (part, pupil) = try await unsettledPart(context)
        try await context.connection.run(
            """
            UPDATE transfers SET settled_at = \(context.now) WHERE tenant_id = \(context.tenantID) AND id = \(part.id)
            """,
            logger: context.logger
        )
        return StepEffects(
            amounts: [("balance_return_settled", part.amount)],
            outbox: [news(pupil, amount: part.amount, outcome: "settled")]
        )
    }

    /// `balance_return_failed`: the provider could not pay the part; it comes back to the
    /// pupil's account from the provider's clearing account, as a new transfer naming it and
    /// keeping the provider's reason. After a lasting reason (``lastingFailures``) its top-up no
    /// longer goes back to a card, and the guardians are told to ask for a bank transfer.
    static func failed(_ context: StepContext) async throws -> StepEffects {
        let (connection, logger, tenantID) = (context.connection, context.logger, context.tenantID)
        let (part, pupil) = try await unsettledPart(context)
        let reason = context.input.string("reason")
        let clearing = try await Ledger.moveShared(
            .clearing,
            owner: part.provider,
            amount: -part.amount,
            tenantID: tenantID,
            on: connection,
            logger: logger
        )
        _ = try await Ledger.creditPupil(
            account: pupil.accountID,
            amount: part.amount,
            tenantID: tenantID,
            on: connection,
            logger: logger
        )
        try await MealAccountService.insertTransfer(
            id: failedID(part: part.id),
            kind: "balance_return_failed",
            status: "posted",
            debit: clearing,
            credit: pupil.accountID,
            amount: part.amount,
            pupil: pupil,
            items: "[]",
            reason: reason,
            refersTo: part.id,
            provider: part.provider,
            context: context
        )
        let lasting = lastingFailures.contains(reason ?? "")
        return StepEffects(
            amounts: [("balance_return_failed", part.amount)],
            outbox: [news(pupil, amount: part.amount, outcome: lasting ? "failed_for_good" : "failed")]
        )
    }

    /// What the guardians are told of a part or a payout: ``newsOutcomes``; `account` names
    /// the bank account of a payout (masked).
    static func news(_ pupil: Pupil, amount: Int64, outcome: String, account: String? = nil) -> OutboxMessage {
        OutboxMessage(
            topic: newsTopic,
            payload: .object([
                "pupilID": .string(pupil.id.uuidString), "pupil": .string(pupil.name), "amount": .integer(amount),
                "outcome": .string(outcome), "account": .string(account ?? ""),
            ])
        )
    }

    /// What the guardians hear of: a part reached the card or came back (for good: ask for a
    /// bank transfer), a payout was paid or the bank sent it back. Each has its message,
    /// `meals_return_message_<outcome>`.
    public static let newsOutcomes = ["settled", "failed", "failed_for_good", "paid_out", "payout_returned"]

    /// The part named by the step's `transfer_id`, locked, when it is this pupil's and neither
    /// settled nor failed; else a conflict saying which (the webhook answers it `ignored`).
    private static func unsettledPart(
        _ context: StepContext
    ) async throws -> (part: (id: UUID, amount: Int64, provider: String), pupil: Pupil) {
        let id = try MealAccountService.transferID(context)
        guard let pupil = try await Pupil.load(context) else { throw AdalError.notFound(what: "pupil") }
        var found: (Int64, Date?, String?, Bool)?
        for try await row in try await context.connection.query(
            """
            SELECT r.amount, r.settled_at, r.provider_reference, r.failed
            FROM meal_return_parts r JOIN transfers t ON t.tenant_id = r.tenant_id AND t.id = r.id
            WHERE r.tenant_id = \(context.tenantID) AND r.id = \(id) AND r.pupil_id = \(pupil.id)
                AND r.kind = 'balance_return'
            FOR UPDATE OF t
            """,
            logger: context.logger
        ).decode((Int64, Date?, String?, Bool).self) {
            found = row
        }
        guard let (amount, settledAt, provider, failed) = found else {
            throw AdalError.notFound(what: "balance return \(id) of this pupil")
        }
        guard settledAt == nil else { throw AdalError.conflict(reason: "the return was already paid to the card") }
        guard !failed else { throw AdalError.conflict(reason: "the return already came back to the account") }
        return ((id, amount, provider ?? TopUps.simulatedProvider), pupil)
    }

    /// A guardian acts only for their own child, school staff only at their school; akimat
    /// administrators anywhere in the city.
    static func requireGuardianOrStaff(_ pupil: Pupil, _ context: StepContext) async throws {
        guard context.actingRole == .role(.parent) else {
            try await MealAccountService.requireStaff(of: pupil.schoolID, named: "this pupil's school", context)
            return
        }
        if let user = context.actor.id {
            for try await _ in try await context.connection.query(
                """
                SELECT 1 FROM guardians WHERE tenant_id = \(context.tenantID) AND user_id = \(user) AND pupil_id = \(pupil.id)
                """,
                logger: context.logger
            ) {
                return
            }
        }
        throw AdalError.notFound(what: "pupil")
    }

    /// Whether a return of the pupil still waits for the provider: an account is not closed
    /// while one does, as a failed part would come back to it.
    static func unsettled(_ pupil: Pupil, _ context: StepContext) async throws -> Int64 {
        var waiting: Int64 = 0
        for try await value in try await context.connection.query(
            """
            SELECT coalesce(sum(amount), 0)::bigint FROM meal_return_parts
            WHERE tenant_id = \(context.tenantID) AND pupil_id = \(pupil.id) AND settled_at IS NULL AND NOT failed
            """,
            logger: context.logger
        ).decode(Int64.self) {
            waiting = value
        }
        return waiting
    }

    // MARK: - Reads

    /// The return with `id` and the pupil's balance now, in the caller's transaction for the city.
    public static func find(
        _ id: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (Return, balance: Int64)? {
        guard
            let found = try await returns(
                "WHERE tenant_id = \(tenantID) AND id = \(id)",
                on: connection,
                logger: logger
            )
            .first
        else { return nil }
        return (found, try await balance(of: found.pupil, tenantID: tenantID, on: connection, logger: logger))
    }

    /// How much of a pupil's balance may go back now: to the cards that paid it, and by bank
    /// transfer (what came from top-ups a card can no longer take back).
    public struct Returnable: Equatable, Sendable {
        public var toCards: Int64
        public var byBank: Int64
    }

    /// What ``request(_:)`` and ``BankPayouts`` would take at most now: never more than the
    /// balance; by bank for `guardian` only what they paid (nil: the office or the akimat, any).
    public static func returnable(
        pupil: UUID,
        guardian: UUID?,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Returnable {
        let balance = try await balance(of: pupil, tenantID: tenantID, on: connection, logger: logger)
        let left = try await remainders(pupil: pupil, tenantID: tenantID, on: connection, logger: logger)
        let toCards = left.filter(\.toCard).reduce(0) { $0 + $1.amount }
        let byBank = left.filter { !$0.toCard && (guardian == nil || $0.payer == guardian) }.reduce(0) {
            $0 + $1.amount
        }
        return Returnable(toCards: min(balance, toCards), byBank: min(balance, byBank))
    }

    /// The pupil's balance now, in the caller's transaction for the city.
    public static func balance(
        of pupil: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Int64 {
        for try await balance in try await connection.query(
            """
            SELECT a.balance FROM pupils p JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
            WHERE p.tenant_id = \(tenantID) AND p.id = \(pupil)
            """,
            logger: logger
        ).decode(Int64.self) {
            return balance
        }
        throw AdalError.notFound(what: "pupil")
    }

    /// The returns `condition` selects (a WHERE clause on `meal_balance_returns` and what
    /// follows), each with its parts, newest first, in the caller's transaction for the city.
    static func returns(
        _ condition: PostgresQuery,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Return] {
        var query = PostgresQuery(
            unsafeSQL: """
                SELECT r.id, r.pupil_id, r.amount, r.created_at, t.id, t.top_up, t.amount, t.settled_at, t.failed,
                    u.created_at, u.paid_by, g.display_name, t.failure
                FROM (SELECT * FROM meal_balance_returns
                """
        )
        query.sql += " " + condition.sql + ") r"
        query.sql += """

             CROSS JOIN LATERAL unnest(r.parts) WITH ORDINALITY AS p (id, n)
            JOIN meal_return_parts t ON t.tenant_id = r.tenant_id AND t.id = p.id
            JOIN transfers u ON u.tenant_id = t.tenant_id AND u.id = t.top_up
            LEFT JOIN users g ON g.tenant_id = u.tenant_id AND g.id = u.paid_by
            ORDER BY r.created_at DESC, r.id, p.n
            """
        query.binds = condition.binds
        var found: [Return] = []
        for try await row in try await connection.query(query, logger: logger).decode(
            (UUID, UUID, Int64, Date, UUID, UUID, Int64, Date?, Bool, Date, UUID?, String?, String?).self
        ) {
            let part = Part(
                transfer: row.4,
                topUp: row.5,
                topUpAt: row.9,
                payer: row.10,
                payerName: row.11,
                amount: row.6,
                status: row.7 != nil ? "settled" : row.8 ? "failed" : "sent",
                settledAt: row.7,
                failure: row.12
            )
            if found.last?.id == row.0 {
                found[found.count - 1].parts.append(part)
            } else {
                found.append(Return(id: row.0, pupil: row.1, amount: row.2, at: row.3, parts: [part]))
            }
        }
        return found
    }
}
