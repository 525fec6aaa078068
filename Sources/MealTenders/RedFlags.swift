import Foundation
import Workflow

/// A warning sign on a competition, shown on its public page and in the API. A flag is not a
/// finding: it tells auditors and parents where to look.
public struct RedFlag: Sendable, Equatable {
    /// `single_bidder`, `price_near_ceiling`, `short_bid_window`, `dominant_supplier`, `outlier_member`.
    public let code: String
    /// What the flag saw, in figures.
    public let detail: String
}

/// The flags of one competition, from its stored data and the city's awards.
public enum RedFlags {
    /// A winning price at or above this share of the ceiling (in percent) is flagged.
    public static let nearCeilingPercent: Int64 = 98

    public static func of(
        _ competition: Competition,
        awardsBySupplier: [String: Int],
        standardWindow: WorkflowDuration?
    ) -> [RedFlag] {
        var flags: [RedFlag] = []
        let valid = competition.currentBids.filter(\.isValid)
        if competition.bidsAreOpen, valid.count == 1 {
            flags.append(RedFlag(code: "single_bidder", detail: "one valid bid in round \(competition.round)"))
        }
        if let price = competition.awardPrice, price * 100 >= competition.ceilingPrice * nearCeilingPercent {
            let share = Double(price) / Double(competition.ceilingPrice) * 100
            flags.append(
                RedFlag(
                    code: "price_near_ceiling",
                    detail: String(format: "award price is %.1f %% of the ceiling", share)
                )
            )
        }
        if let announced = competition.announcedAt, let deadline = competition.bidDeadline, let standardWindow,
            deadline < standardWindow.added(to: announced)
        {
            let days = deadline.timeIntervalSince(announced) / 86_400
            flags.append(
                RedFlag(
                    code: "short_bid_window",
                    detail: String(format: "bids taken for %.1f days", days)
                        + "; the standard window is \(standardWindow)"
                )
            )
        }
        let awarded = awardsBySupplier.values.reduce(0, +)
        if let winner = competition.awardSupplierBIN, awarded >= 3, let won = awardsBySupplier[winner],
            won * 2 > awarded
        {
            flags.append(
                RedFlag(
                    code: "dominant_supplier",
                    detail: "the supplier \(winner) won \(won) of the city's \(awarded) awarded lots"
                )
            )
        }
        for (member, distance) in MarkDeviation.outliers(competition.marks).sorted(by: { $0.value > $1.value }) {
            let name = competition.members.first { $0.userID == member }?.name ?? member.uuidString
            flags.append(
                RedFlag(
                    code: "outlier_member",
                    detail: name
                        + String(format: " marked %.1f points away from the other members on average", distance)
                )
            )
        }
        return flags
    }
}
