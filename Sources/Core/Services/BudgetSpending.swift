import struct Foundation.UUID

/// Where a service that spends money meets the open budget without importing it: a step that
/// pays for something at an organisation's object (a month of school meals delivered) queues
/// an outbox message on ``topic``; the open budget books it on the organisation's object, keyed
/// by the step, so "spent" on the map always points at the step that proves it.
public enum BudgetSpending {
    public static let topic = "budget.spent"

    /// The message's payload: the organisation (BIN), the budget year and category, the amount
    /// in tiyn, the step (instance and sequence) and a line of description.
    public static func payload(
        bin: String,
        year: Int,
        category: String,
        amount: Int64,
        instanceID: UUID,
        sequence: Int64,
        description: String
    ) -> [String: String] {
        [
            "bin": bin, "year": String(year), "category": category, "amount": String(amount),
            "instance": instanceID.uuidString.lowercased(), "sequence": String(sequence), "description": description,
        ]
    }

    /// Splits `amount` in proportion to `weights` so that the parts add up to it exactly: each
    /// part rounded down, and the tiyn left over given to the largest remainders first.
    public static func split(_ amount: Int64, weights: [Int]) -> [Int64] {
        let total = Int64(weights.reduce(0, +))
        guard total > 0 else { return weights.map { _ in 0 } }
        var parts = weights.map { amount * Int64($0) / total }
        let remainders = weights.enumerated().map { ($0.offset, amount * Int64($0.element) % total) }
        var left = amount - parts.reduce(0, +)
        for (index, _) in remainders.sorted(by: { ($0.1, $1.0) > ($1.1, $0.0) }) where left > 0 {
            parts[index] += 1
            left -= 1
        }
        return parts
    }
}
