import Foundation
import Workflow

/// A warning sign on a competition, shown on its public page and in the API. A flag is not a
/// finding: it tells auditors and parents where to look.
public struct RedFlag: Sendable, Equatable {
    /// `single_bidder`, `price_near_ceiling`, `short_bid_window`, `dominant_supplier`, `outlier_member`.
    public let code: String
    /// What the flag saw, in figures, in English (the API's text).
    public let detail: String
    /// The same figures alone, for pages to put into their own language's sentence.
    public let figures: [String]

    public init(code: String, detail: String, figures: [String]) {
        self.code = code
        self.detail = detail
        self.figures = figures
    }
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
            flags.append(
                RedFlag(
                    code: "single_bidder",
                    detail: "one valid bid in round \(competition.round)",
                    figures: [String(competition.round)]
                )
            )
        }
        if let price = competition.awardPrice, price * 100 >= competition.ceilingPrice * nearCeilingPercent {
            let share = String(format: "%.1f", Double(price) / Double(competition.ceilingPrice) * 100)
            flags.append(
                RedFlag(
                    code: "price_near_ceiling",
                    detail: "award price is \(share) % of the ceiling",
                    figures: [share]
                )
            )
        }
        if let announced = competition.announcedAt, let deadline = competition.bidDeadline, let standardWindow,
            deadline < standardWindow.added(to: announced)
        {
            let days = String(format: "%.1f", deadline.timeIntervalSince(announced) / 86_400)
            flags.append(
                RedFlag(
                    code: "short_bid_window",
                    detail: "bids taken for \(days) days; the standard window is \(standardWindow)",
                    figures: [days, standardWindow.description]
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
                    detail: "the supplier \(winner) won \(won) of the city's \(awarded) awarded lots",
                    figures: [competition.supplierNames[winner] ?? winner, String(won), String(awarded)]
                )
            )
        }
        for (member, distance) in MarkDeviation.outliers(competition.marks).sorted(by: { $0.value > $1.value }) {
            let name = competition.members.first { $0.userID == member }?.name ?? member.uuidString
            let points = String(format: "%.1f", distance)
            flags.append(
                RedFlag(
                    code: "outlier_member",
                    detail: "\(name) marked \(points) points away from the other members on average",
                    figures: [name, points]
                )
            )
        }
        return flags
    }
}
