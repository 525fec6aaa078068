import Core
import Foundation
import Logging
import PostgresNIO

/// One competition (one lot) as stored: the lot, the commission, the bids (what they say only
/// once opened), the marks, the award, the contract and the deliveries.
public struct Competition: Sendable {
    public struct School: Sendable, Equatable {
        public let bin: String
        public let name: String
        public let pupils: (grades1to4: Int, grades5to9: Int, grades10to11: Int)
        public var total: Int { pupils.grades1to4 + pupils.grades5to9 + pupils.grades10to11 }

        public static func == (a: School, b: School) -> Bool {
            a.bin == b.bin && a.name == b.name && a.total == b.total
        }
    }

    public struct Member: Sendable, Equatable {
        public let userID: UUID
        public let iin: String
        public let name: String
        public let seat: String
    }

    public struct Bid: Sendable, Equatable {
        public let number: Int
        public let round: Int
        public let supplierBIN: String
        public let supplierName: String
        /// SHA-256 of the bid's canonical bytes, hex.
        public let commitment: String
        public let submittedAt: Date
        public let sequence: Int64
        public let openedAt: Date?
        public let matchesCommitment: Bool?
        public let pricePerMeal: Int64?
        public let claims: BidClaims?
        public let documents: [(position: Int, name: String, mediaType: String, size: Int, sha256: String)]

        public static func == (a: Bid, b: Bid) -> Bool { a.number == b.number && a.commitment == b.commitment }

        /// Whether the bid takes part: opened and equal to what was committed.
        public var isValid: Bool { matchesCommitment == true && pricePerMeal != nil }
    }

    public struct Delivery: Sendable, Equatable {
        public let month: String
        public let meals: Int
        public let amount: Int64
        public let reportedAt: Date
    }

    public let instanceID: UUID
    public let ocid: String
    public let title: String
    public let buyerBIN: String
    public let buyerName: String
    public let ceilingPrice: Int64
    public let schoolDays: Int
    public let mealsPerDay: Int
    public let periodStart: String
    public let periodEnd: String
    public let createdAt: Date
    public let round: Int
    public let announcedAt: Date?
    public let bidDeadline: Date?
    public let openedAt: Date?
    public let winnerBid: Int?
    public let awardSupplierBIN: String?
    public let awardPrice: Int64?
    public let awardedAt: Date?
    public let complaintsUntil: Date?
    public let withdrawnAwards: [Int]
    public let supplierSignedAt: Date?
    public let contractSignedAt: Date?
    public let contractNumber: String?
    public let closedAt: Date?
    public let outcome: String?
    /// The workflow state.
    public let state: String
    /// The whole-number parameters the competition started with (frozen with the instance).
    public let parameters: [String: Int64]
    public var schools: [School] = []
    public var members: [Member] = []
    public var bids: [Bid] = []
    public var marks: [Marks] = []
    public var deliveries: [Delivery] = []
    /// Names of suppliers by BIN (bidders and the awarded one).
    public var supplierNames: [String: String] = [:]

    /// Meals the lot buys over its period.
    public var totalMeals: Int64 {
        Int64(schools.map(\.total).reduce(0, +)) * Int64(schoolDays) * Int64(mealsPerDay)
    }

    /// The lot's value at the ceiling price.
    public var ceilingValue: Int64 { totalMeals * ceilingPrice }

    /// The bids of the current round.
    public var currentBids: [Bid] { bids.filter { $0.round == round } }

    /// The contract's value at the awarded price.
    public var contractValue: Int64? { awardPrice.map { $0 * totalMeals } }

    /// Whether bids may be read: only once they were opened.
    public var bidsAreOpen: Bool { openedAt != nil }
}
