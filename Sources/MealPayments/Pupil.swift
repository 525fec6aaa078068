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
/// top-up when the balance fell under their threshold. Sent through the outbox, so after the
/// charge commits and at least once.
enum BalanceWatch {
    static let lowBalanceTopic = "meals.low_balance"
    static let autoTopUpTopic = "meals.auto_top_up"

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

    static func messages(
        guardians: [Setting],
        pupil: (id: UUID, name: String),
        balance: Int64,
        context: StepContext
    ) -> [OutboxMessage] {
        var messages: [OutboxMessage] = []
        for (user, alert, threshold, amount) in guardians {
            if let alert, balance < alert {
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
            if let threshold, let amount, balance < threshold {
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
