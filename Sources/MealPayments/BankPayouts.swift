import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Workflow

/// Payouts by bank transfer (migration 0028; docs/meal-payments.md, "What cannot go back to a
/// card"): what is left of top-ups the provider can no longer refund to a card (a part of a
/// return failed for a lasting reason, ``BalanceReturns/lastingFailures``) goes to a Kazakh bank
/// account the guardian who paid them names. The school's office or the akimat makes the
/// transfer and records it (`payout_paid`, with the bank's reference), or records that the bank
/// sent it back (`payout_returned`: the money comes back to the pupil's account, and the
/// guardian may name another account).
///
/// The account's number and holder reach the step beside its input (the step's attachment), are
/// kept in `meal_payouts` for the office, and are committed to in the step by `payee`, the SHA-256
/// of a random salt and the account: the audit log and the pupil's other guardians never hold
/// the number, yet the record proves which account the guardian gave.
public enum BankPayouts {
    /// The owner of the clearing account payouts wait in until the bank has them.
    static let clearingOwner = "bank_transfer"
    static let saltLength = 16

    /// Why a holder's name is refused.
    public static let holderName = "the account holder's name, 1 to 200 characters"
    public static let holderOneLine = "a name on one line"

    /// Why a payout finds nothing to pay: `mine` when a guardian asks (only their own payments count).
    public static func nothingToPayOut(mine: Bool) -> String {
        "nothing of this account waits for a bank transfer: payments\(mine ? " you paid" : "") go back to their cards"
    }

    /// Why a payout of more than the payments that cannot go back to a card is refused.
    public static func short(_ covered: some CustomStringConvertible, mine: Bool) -> String {
        "only \(covered) tiyn of this account came from payments\(mine ? " you paid" : "") that cannot go back to a card; return the rest to the cards"
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// The account a payout goes to, as the guardian gives it.
    public struct Payee: Sendable, Equatable {
        public var iban: IBAN
        public var holder: String

        /// Validates the holder's name (1–200 characters, no control characters) beside the IBAN.
        public init(iban: String, holder: String) throws(AdalError) {
            self.iban = try IBAN(iban, field: "iban")
            let name = holder.trimmingCharacters(in: .whitespaces)
            // Counted as the database counts (code points), which a name with combining marks
            // has more of than it has characters.
            guard (1...200).contains(name.unicodeScalars.count) else {
                throw .invalidField(field: "holder", reason: holderName)
            }
            guard !name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) }) else {
                throw .invalidField(field: "holder", reason: holderOneLine)
            }
            self.holder = name
        }

        /// The step's attachment: the salt, then the IBAN and the holder on two lines.
        public func attachment(salt: [UInt8]) -> [UInt8] {
            salt + Array("\(iban.text)\n\(holder)".utf8)
        }

        /// What the step's input commits to: the hex SHA-256 of the attachment.
        public static func commitment(_ attachment: [UInt8]) -> String {
            hex(SHA256.hash(data: attachment))
        }

        /// The payee and salt an attachment carries.
        static func read(_ bytes: [UInt8]) throws -> (Payee, salt: [UInt8]) {
            guard bytes.count > saltLength,
                let text = String(validating: bytes.dropFirst(saltLength), as: UTF8.self)
            else { throw AdalError.invalidField(field: "payee", reason: "no bank account was given") }
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            guard lines.count == 2 else {
                throw AdalError.invalidField(field: "payee", reason: "an IBAN and a holder's name")
            }
            return (try Payee(iban: String(lines[0]), holder: String(lines[1])), Array(bytes.prefix(saltLength)))
        }
    }

    /// A payout as the API and the pages show it.
    public struct Payout: Sendable, Codable, Equatable {
        public struct Part: Sendable, Codable, Equatable {
            public var transfer: UUID
            public var topUp: UUID
            public var topUpAt: Date
            public var amount: Int64
        }

        public var id: UUID
        public var pupil: UUID
        public var pupilName: String
        public var amount: Int64
        public var at: Date
        /// The whole IBAN for the office and the akimat; masked (``IBAN/masked``) for guardians.
        public var iban: String
        public var holder: String
        /// `waiting` (for the office's transfer), `paid` or `returned` (the bank sent it back).
        public var status: String
        public var bankReference: String?
        public var paidAt: Date?
        public var returnedAt: Date?
        public var returnedReason: String?
        public var parts: [Part]
        /// For auditors: what lets them check the account paid into is the one asked for.
        public var check: Check? = nil

        /// When it was recorded paid or sent back; nil while it waits.
        public var settledAt: Date? { paidAt ?? returnedAt }
    }

    /// What lets an auditor check that the account the office pays into is the one the payout
    /// was asked for, though the step never holds it: the salt, the commitment the `pay_out`
    /// step recorded (in its audit leaf), and whether SHA-256 of the salt, the IBAN and the
    /// holder (``Payee/attachment(salt:)``) gives that commitment. Anyone holding the three can
    /// recompute it.
    public struct Check: Sendable, Codable, Equatable {
        /// The salt, in hex.
        public var salt: String
        /// The step's `payee`; nil if no `pay_out` step names the payout.
        public var payee: String?
        /// The audit leaf of that step, once the log has it.
        public var leafIndex: Int64?
        public var matches: Bool
    }

    // MARK: - Steps

    /// `pay_out`: takes `amount` (without it, all the asker may have paid out) from the pupil's
    /// account and splits it over the top-ups that can no longer go back to a card, newest
    /// first; a guardian's payout takes only from top-ups they paid. The account comes in the
    /// attachment and must match the input's `payee`.
    static func request(_ context: StepContext) async throws -> StepEffects {
        let id = try MealAccountService.transferID(context)
        guard let attachment = context.attachment,
            Payee.commitment(attachment) == context.input.string("payee")
        else {
            throw AdalError.invalidField(field: "payee", reason: "does not match the bank account given with the step")
        }
        let (payee, salt) = try Payee.read(attachment)
        guard let pupil = try await Pupil.load(context) else { throw AdalError.notFound(what: "pupil") }
        try await BalanceReturns.requireGuardianOrStaff(pupil, context)
        let guardian = context.actingRole == .role(.parent) ? context.actor.id : nil
        let left = try await BalanceReturns.remainders(pupil, context).filter {
            !$0.toCard && (guardian == nil || $0.payer == guardian)
        }
        let eligible = left.reduce(0) { $0 + $1.amount }
        let amount = context.input.integer("amount") ?? min(pupil.balance, eligible)
        guard amount > 0 else { throw WorkflowError.refused(reason: nothingToPayOut(mine: guardian != nil)) }
        guard amount <= pupil.balance else {
            throw WorkflowError.refused(reason: BalanceReturns.overBalance(amount, pupil.balance))
        }
        let parts = try await BalanceReturns.take(
            amount,
            over: left,
            kind: "bank_payout",
            request: id,
            clearing: { _ in clearingOwner },
            pupil: pupil,
            short: { short($0, mine: guardian != nil) },
            context
        )
        do {
            try await context.connection.run(
                """
                INSERT INTO meal_payouts (tenant_id, id, pupil_id, amount, iban, holder, salt, requested_by, parts,
                    created_at)
                VALUES (\(context.tenantID), \(id), \(pupil.id), \(amount), \(payee.iban.text), \(payee.holder),
                    \(Data(salt)), \(context.actor.id), \(parts.map(\.transfer))::uuid[], \(context.now))
                """,
                logger: context.logger
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw AdalError.conflict(reason: "payout \(id) already exists with another request")
        }
        return StepEffects(amounts: [("bank_payout", amount)])
    }

    /// `payout_paid`: the office made the transfer; each part is settled, the guardians hear.
    static func paid(_ context: StepContext) async throws -> StepEffects {
        let (payout, pupil) = try await waiting(context)
        let reference = try stored("bank_reference", at: 50, "the bank's reference of the transfer", context)
        try await context.connection.run(
            """
            UPDATE meal_payouts SET paid_at = \(context.now), paid_by = \(context.actor.id), bank_reference = \(reference)
            WHERE tenant_id = \(context.tenantID) AND id = \(payout.id)
            """,
            logger: context.logger
        )
        try await context.connection.run(
            """
            UPDATE transfers SET settled_at = \(context.now)
            WHERE tenant_id = \(context.tenantID) AND id = ANY(\(payout.parts.map(\.id))::uuid[]) AND kind = 'bank_payout'
            """,
            logger: context.logger
        )
        return StepEffects(
            amounts: [("payout_paid", payout.amount)],
            outbox: [
                BalanceReturns.news(pupil, amount: payout.amount, outcome: "paid_out", account: payout.iban.masked)
            ]
        )
    }

    /// `payout_returned`: the bank sent the transfer back; each part comes back to the pupil's
    /// account from the clearing account of bank transfers, as a new transfer naming it, and
    /// what is left of its top-up waits for a payout again.
    static func returned(_ context: StepContext) async throws -> StepEffects {
        let (connection, logger, tenantID) = (context.connection, context.logger, context.tenantID)
        let (payout, pupil) = try await waiting(context)
        let reason = try stored("reason", at: 200, "why the bank sent the transfer back", context)
        let clearing = try await Ledger.moveShared(
            .clearing,
            owner: clearingOwner,
            amount: -payout.amount,
            tenantID: tenantID,
            on: connection,
            logger: logger
        )
        _ = try await Ledger.creditPupil(
            account: pupil.accountID,
            amount: payout.amount,
            tenantID: tenantID,
            on: connection,
            logger: logger
        )
        for (part, amount) in payout.parts {
            try await MealAccountService.insertTransfer(
                id: Ledger.derivedID("bank_payout_returned \(part.uuidString.lowercased())"),
                kind: "bank_payout_returned",
                status: "posted",
                debit: clearing,
                credit: pupil.accountID,
                amount: amount,
                pupil: pupil,
                items: "[]",
                reason: reason,
                refersTo: part,
                provider: clearingOwner,
                context: context
            )
        }
        try await connection.run(
            """
            UPDATE meal_payouts SET returned_at = \(context.now), returned_by = \(context.actor.id),
                returned_reason = \(reason)
            WHERE tenant_id = \(tenantID) AND id = \(payout.id)
            """,
            logger: logger
        )
        return StepEffects(
            amounts: [("payout_returned", payout.amount)],
            outbox: [
                BalanceReturns.news(
                    pupil,
                    amount: payout.amount,
                    outcome: "payout_returned",
                    account: payout.iban.masked
                )
            ]
        )
    }

    /// The input's text `field`, trimmed, when it holds something and at most `limit` code points
    /// (as the table's check counts; the definition's limit counts characters, fewer where
    /// letters carry combining marks); else refused, saying what it should be.
    private static func stored(_ field: String, at limit: Int, _ what: String, _ context: StepContext) throws -> String
    {
        let text = context.input.string(field)?.trimmingCharacters(in: .whitespaces) ?? ""
        guard (1...limit).contains(text.unicodeScalars.count) else {
            throw AdalError.invalidField(field: field, reason: "\(what), 1 to \(limit) characters")
        }
        return text
    }

    /// The payout the step's `transfer_id` names, locked, when it is this pupil's and neither
    /// paid nor sent back, for the staff of the pupil's school or the akimat.
    private static func waiting(
        _ context: StepContext
    ) async throws -> (
        payout: (id: UUID, amount: Int64, iban: IBAN, parts: [(id: UUID, amount: Int64)]), pupil: Pupil
    ) {
        let id = try MealAccountService.transferID(context)
        guard let pupil = try await Pupil.load(context) else { throw AdalError.notFound(what: "pupil") }
        try await MealAccountService.requireStaff(of: pupil.schoolID, named: "this pupil's school", context)
        var found: (Int64, String, [UUID], String?, Bool)?
        for try await row in try await context.connection.query(
            """
            SELECT amount, iban, parts, bank_reference, returned_at IS NOT NULL FROM meal_payouts
            WHERE tenant_id = \(context.tenantID) AND id = \(id) AND pupil_id = \(pupil.id)
            FOR UPDATE
            """,
            logger: context.logger
        ).decode((Int64, String, [UUID], String?, Bool).self) {
            found = row
        }
        guard let (amount, iban, parts, reference, returned) = found else {
            throw AdalError.notFound(what: "payout \(id) of this pupil")
        }
        if let reference { throw AdalError.conflict(reason: "the payout was already paid (reference \(reference))") }
        guard !returned else { throw AdalError.conflict(reason: "the bank already sent the payout back") }
        var amounts: [(id: UUID, amount: Int64)] = []
        for try await row in try await context.connection.query(
            """
            SELECT p.id, t.amount FROM unnest(\(parts)::uuid[]) WITH ORDINALITY AS p (id, n)
            JOIN transfers t ON t.tenant_id = \(context.tenantID) AND t.id = p.id
            ORDER BY p.n
            """,
            logger: context.logger
        ).decode((UUID, Int64).self) {
            amounts.append(row)
        }
        return ((id, amount, try IBAN(iban, field: "iban"), amounts), pupil)
    }

    // MARK: - Reads

    /// The payouts `condition` selects (a WHERE clause on `meal_payouts` and what follows), each
    /// with its parts, newest first, in the caller's transaction for the city; `whole` shows the
    /// whole IBAN, else it is masked.
    static func payouts(
        _ condition: PostgresQuery,
        whole: Bool,
        checked: Bool = false,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Payout] {
        var query = PostgresQuery(
            unsafeSQL: """
                SELECT r.id, r.pupil_id, s.name, r.amount, r.created_at, r.iban, r.holder, r.bank_reference, r.paid_at,
                    r.returned_at, r.returned_reason, t.id, t.refers_to, u.created_at, t.amount, r.salt, c.payee,
                    c.leaf_index
                FROM (SELECT * FROM meal_payouts
                """
        )
        query.sql += " " + condition.sql + ") r"
        // The pay_out step that asked for the payout (the pupil's account, its transfer id) and its leaf.
        query.sql += """

             JOIN pupils s ON s.tenant_id = r.tenant_id AND s.id = r.pupil_id
            LEFT JOIN LATERAL (
                SELECT w.input->>'payee' AS payee, l.leaf_index FROM workflow_steps w
                LEFT JOIN audit_leaves l ON l.tenant_id = w.tenant_id AND l.instance_id = w.instance_id
                    AND l.sequence = w.sequence
                WHERE w.tenant_id = r.tenant_id AND w.instance_id = s.instance_id AND w.event = 'pay_out'
                    AND lower(w.input->>'transfer_id') = r.id::text
                ORDER BY w.sequence LIMIT 1) c ON true
            CROSS JOIN LATERAL unnest(r.parts) WITH ORDINALITY AS p (id, n)
            JOIN transfers t ON t.tenant_id = r.tenant_id AND t.id = p.id
            JOIN transfers u ON u.tenant_id = t.tenant_id AND u.id = t.refers_to
            ORDER BY r.created_at DESC, r.id DESC, p.n
            """
        query.binds = condition.binds
        var found: [Payout] = []
        for try await row in try await connection.query(query, logger: logger).decode(
            (
                UUID, UUID, String, Int64, Date, String, String, String?, Date?, Date?, String?, UUID, UUID, Date,
                Int64,
                Data, String?, Int64?
            ).self
        ) {
            let part = Payout.Part(transfer: row.11, topUp: row.12, topUpAt: row.13, amount: row.14)
            if found.last?.id == row.0 {
                found[found.count - 1].parts.append(part)
                continue
            }
            // A stored account whose check digits no longer hold (changed behind the application's
            // back) is shown as stored, not made a reason to fail the whole list.
            let iban = try? IBAN(row.5, field: "iban")
            var check: Check?
            if checked {
                let salt = [UInt8](row.15)
                // A stored account that is no longer a valid one matches nothing (and is no reason to fail the list).
                let made = (try? Payee(iban: row.5, holder: row.6)).map { Payee.commitment($0.attachment(salt: salt)) }
                check = Check(
                    salt: hex(salt),
                    payee: row.16,
                    leafIndex: row.17,
                    matches: made != nil && made == row.16
                )
            }
            found.append(
                Payout(
                    id: row.0,
                    pupil: row.1,
                    pupilName: row.2,
                    amount: row.3,
                    at: row.4,
                    iban: iban.map { whole ? $0.grouped : $0.masked } ?? (whole ? row.5 : "•••• " + row.5.suffix(4)),
                    holder: row.6,
                    status: row.7 != nil ? "paid" : row.9 != nil ? "returned" : "waiting",
                    bankReference: row.7,
                    paidAt: row.8,
                    returnedAt: row.9,
                    returnedReason: row.10,
                    parts: [part],
                    check: check
                )
            )
        }
        return found
    }

    /// The payout with `id`, in the caller's transaction for the city.
    public static func find(
        _ id: UUID,
        whole: Bool,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Payout? {
        try await payouts("WHERE tenant_id = \(tenantID) AND id = \(id)", whole: whole, on: connection, logger: logger)
            .first
    }

    /// The payout with `id`: its pupil, amount and account, for telling a retried request from
    /// another one with the same id.
    public static func stored(
        _ id: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (pupil: UUID, amount: Int64, iban: String, holder: String)? {
        for try await row in try await connection.query(
            "SELECT pupil_id, amount, iban, holder FROM meal_payouts WHERE tenant_id = \(tenantID) AND id = \(id)",
            logger: logger
        ).decode((UUID, Int64, String, String).self) {
            return row
        }
        return nil
    }
}
