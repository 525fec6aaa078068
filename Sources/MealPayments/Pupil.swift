import Core
import Foundation
import Logging
import PostgresNIO
import Workflow

/// A pupil as a step sees them: school, contract, account and the rules of their meals.
struct Pupil {
    var id: UUID
    var name: String
    var schoolID: UUID
    var accountID: UUID
    var balance: Int64
    var dailyLimit: Int64
    var freeMealCategory: String?
    var allergens: Set<String>
    var supplierBIN: String?
    var pricePerMeal: Int64?

    static func load(_ context: StepContext) async throws -> Pupil? {
        var found: Pupil?
        for try await row in try await context.connection.query(
            """
            SELECT p.id, p.name, p.school_id, p.account_id, a.balance, p.daily_limit, p.free_meal_category,
                p.allergens, s.supplier_bin, s.price_per_meal
            FROM pupils p
            JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
            JOIN meal_schools s ON s.tenant_id = p.tenant_id AND s.id = p.school_id
            WHERE p.tenant_id = \(context.tenantID) AND p.instance_id = \(context.instanceID)
            """,
            logger: context.logger
        ).decode((UUID, String, UUID, UUID, Int64, Int64, String?, [String], String?, Int64?).self) {
            found = Pupil(
                id: row.0,
                name: row.1,
                schoolID: row.2,
                accountID: row.3,
                balance: row.4,
                dailyLimit: row.5,
                freeMealCategory: row.6,
                allergens: Set(row.7),
                supplierBIN: row.8,
                pricePerMeal: row.9
            )
        }
        return found
    }
}

/// After a charge, what the guardians asked to hear: a low-balance alert, and an automatic
/// top-up when the charge took the balance under their threshold. Sent through the outbox, so
/// after the charge commits and at least once.
///
/// Only the charge that crosses a threshold sends: the next meals under it send nothing until a
/// top-up lifts the balance to the threshold or above and a charge takes it under again. An alert
/// for every meal while the balance is low is an SMS a day the guardian already had; an
/// automatic top-up for every such meal, while the first is still on its way through the
/// outbox, charged the guardian's card once for each.
public enum BalanceWatch {
    public static let lowBalanceTopic = "meals.low_balance"
    public static let autoTopUpTopic = "meals.auto_top_up"

    /// One guardian's settings: who, the low-balance alert, the automatic top-up's threshold and amount.
    typealias Setting = (user: UUID, alert: Int64?, threshold: Int64?, amount: Int64?)

    /// The guardians' settings as `adal_meal_charges` returns them: `[[user, alert, threshold, amount], …]`.
    static func settings(_ json: String) throws -> [Setting] {
        guard case .array(let rows) = try? InputValue(json: json.utf8) else {
            throw AdalError.unavailable(reason: "the guardians' settings are not readable")
        }
        return rows.compactMap { value in
            guard case .array(let row) = value, row.count == 4, case .string(let text) = row[0],
                let user = UUID(hyphenated: text)
            else { return nil }
            func number(_ value: InputValue) -> Int64? {
                if case .integer(let number) = value { return number }
                return nil
            }
            return (user, number(row[1]), number(row[2]), number(row[3]))
        }
    }

    /// Whether a charge that took the balance from `before` to `after` crossed `threshold`.
    static func crossed(_ threshold: Int64?, before: Int64, after: Int64) -> Bool {
        guard let threshold else { return false }
        return after < threshold && before >= threshold
    }

    /// The messages for a charge that took the pupil's balance from `before` to `balance`.
    static func messages(
        guardians: [Setting],
        pupil: (id: UUID, name: String),
        before: Int64,
        balance: Int64,
        context: StepContext
    ) -> [OutboxMessage] {
        var messages: [OutboxMessage] = []
        for (user, alert, threshold, amount) in guardians {
            if crossed(alert, before: before, after: balance) {
                messages.append(
                    OutboxMessage(
                        topic: lowBalanceTopic,
                        payload: .object([
                            "user": .string(user.uuidString), "pupil": .string(pupil.name),
                            "pupilID": .string(pupil.id.uuidString), "balance": .integer(balance),
                        ])
                    )
                )
            }
            if let amount, crossed(threshold, before: before, after: balance) {
                messages.append(
                    OutboxMessage(
                        topic: autoTopUpTopic,
                        payload: .object([
                            "user": .string(user.uuidString), "pupil": .string(pupil.id.uuidString),
                            "amount": .integer(amount),
                            // One automatic top-up per charge that crossed the threshold.
                            "transfer": .string(
                                autoTopUpID(charge: context.input.string("transfer_id") ?? "", user: user)
                            ),
                        ])
                    )
                )
            }
        }
        return messages
    }

    /// A stable id for the automatic top-up a charge triggers, so a retried delivery makes one.
    static func autoTopUpID(charge: String, user: UUID) -> String {
        Ledger.derivedID(charge + user.uuidString).uuidString
    }
}
