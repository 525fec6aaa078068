import Foundation
import Workflow

/// The six criteria of Order No. 598, in the order marks are stored. Each gives a conditional
/// discount on the bid's price, a per-city parameter `discount_<criterion>` in hundredths of a
/// percent, scaled by the commission's marks (0–10).
public enum Criterion: String, CaseIterable, Sendable {
    case experience
    case staff
    case references
    case ownProduction = "own_production"
    case energySaving = "energy_saving"
    case domesticProduce = "domestic_produce"

    /// The discount at full marks, in hundredths of a percent.
    public func discount(in parameters: ParameterSet) -> Int64 {
        parameters.integer("discount_" + rawValue) ?? 0
    }
}

/// One member's marks for one bid, one per ``Criterion``.
public struct Marks: Sendable, Equatable {
    public let bid: Int
    public let member: UUID
    public let values: [Int]

    public init(bid: Int, member: UUID, values: [Int]) {
        self.bid = bid
        self.member = member
        self.values = values
    }
}

/// A bid's place in the ranking.
public struct RankedBid: Sendable, Equatable {
    public let bid: Int
    public let price: Int64
    /// The conditional price in tiyn, rounded half up (the ranking itself compares exactly).
    public let conditionalPrice: Int64
    /// The total conditional discount in hundredths of a percent, rounded.
    public let discount: Int64
}

/// The rule that picks the winner: the lowest conditional price, where each criterion's discount
/// is its parameter times the mean of the members' marks divided by 10. Ties go to the lower
/// offered price, then to the bid submitted first (the lower step number). Compared exactly:
/// price × (D − N) with D = 10,000 × 10 × members and N = Σ discount × Σ marks.
public struct Ranking: Sendable {
    public let ranked: [RankedBid]

    public init(
        bids: [(number: Int, price: Int64, sequence: Int64)],
        marks: [Marks],
        members: Int,
        discounts: [Int64]
    ) {
        let denominator = Int64(10_000 * 10 * max(members, 1))
        var entries: [(RankedBid, Int64, Int64)] = []
        for bid in bids {
            var numerator: Int64 = 0
            for mark in marks where mark.bid == bid.number {
                for (index, value) in mark.values.enumerated() where index < discounts.count {
                    numerator += discounts[index] * Int64(value)
                }
            }
            let remaining = max(denominator - numerator, 0)
            let scaled = bid.price * remaining
            let conditional = (scaled + denominator / 2) / denominator
            let discount = (numerator * 10_000 + denominator / 2) / denominator
            entries.append(
                (
                    RankedBid(bid: bid.number, price: bid.price, conditionalPrice: conditional, discount: discount),
                    scaled, bid.sequence
                )
            )
        }
        entries.sort { a, b in
            if a.1 != b.1 { return a.1 < b.1 }
            if a.0.price != b.0.price { return a.0.price < b.0.price }
            return a.2 < b.2
        }
        ranked = entries.map(\.0)
    }

    public var winner: RankedBid? { ranked.first }
}

/// Members whose marks lie far from the rest of the commission: the mean distance between their
/// mark and the others' mean mark, over every bid and criterion, above ``threshold`` points.
public enum MarkDeviation {
    public static let threshold = 3.0

    public static func outliers(_ marks: [Marks]) -> [UUID: Double] {
        let members = Set(marks.map(\.member))
        guard members.count >= 3 else { return [:] }
        var result: [UUID: Double] = [:]
        for member in members {
            var total = 0.0
            var count = 0
            for mine in marks where mine.member == member {
                let others = marks.filter { $0.bid == mine.bid && $0.member != member }
                guard !others.isEmpty else { continue }
                for index in mine.values.indices {
                    let mean = Double(others.map { $0.values[index] }.reduce(0, +)) / Double(others.count)
                    total += abs(Double(mine.values[index]) - mean)
                    count += 1
                }
            }
            if count > 0, total / Double(count) > threshold { result[member] = total / Double(count) }
        }
        return result
    }
}
