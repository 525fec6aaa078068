import Core
import Foundation

/// What a social object is, as the open budget map groups them.
public enum ObjectKind: String, CaseIterable, Codable, Sendable {
    case school, clinic, kindergarten, sports, culture
}

/// What a budget line pays for.
public enum BudgetCategory: String, CaseIterable, Codable, Sendable {
    case construction, repair, maintenance, meals
    /// A participatory-budget project carried out at the object.
    case improvement
}

/// A school, clinic, kindergarten, sports ground or culture house the city pays for, with the
/// organisation (by BIN) that runs it and where it stands.
public struct BudgetObject: Sendable, Codable, Equatable {
    public var code: String
    public var organisationBIN: String
    public var organisationName: String
    public var kind: ObjectKind
    public var name: String
    public var district: String
    public var address: String
    public var latitude: Double
    public var longitude: Double

    public init(
        code: String,
        organisationBIN: String,
        organisationName: String,
        kind: ObjectKind,
        name: String,
        district: String,
        address: String,
        latitude: Double,
        longitude: Double
    ) {
        self.code = code
        self.organisationBIN = organisationBIN
        self.organisationName = organisationName
        self.kind = kind
        self.name = name
        self.district = district
        self.address = address
        self.latitude = latitude
        self.longitude = longitude
    }

    /// A code a city gives its objects: letters, digits, `.`, `_`, `-`, at most 40.
    public static func isCode(_ text: String) -> Bool {
        text.wholeMatch(of: /[A-Za-z0-9._-]{1,40}/) != nil
    }
}

/// Money planned for one object, year and category, and what the recorded steps say was spent.
public struct BudgetLine: Sendable, Codable, Equatable {
    public var objectCode: String
    public var year: Int
    public var category: BudgetCategory
    /// Tiyn.
    public var planned: Int64
    /// Tiyn: the sum of the spending entries for the same object, year and category.
    public var spent: Int64

    public init(objectCode: String, year: Int, category: BudgetCategory, planned: Int64, spent: Int64) {
        self.objectCode = objectCode
        self.year = year
        self.category = category
        self.planned = planned
        self.spent = spent
    }

    /// Spent as a share of planned, in whole per cent (nil when nothing was planned).
    public var percentSpent: Int? {
        planned > 0 ? Int((Double(spent) / Double(planned) * 100).rounded()) : nil
    }
}

/// One amount behind "spent": the workflow step that recorded it and its proof.
public struct SpendingEntry: Sendable, Codable, Equatable {
    public enum Source: String, Codable, Sendable {
        /// Entered by the akimat with its document (a step of `open-budget`).
        case manual
        /// A supplier's monthly delivery under a school-meal contract.
        case mealDelivery = "meal-delivery"
    }

    public var instanceID: UUID
    public var sequence: Int64
    public var objectCode: String
    public var year: Int
    public var category: BudgetCategory
    public var amount: Int64
    public var source: Source
    public var description: String
    /// SHA-256 (hex) of the document, when the entry carries one.
    public var document: String?
    public var recordedAt: Date
    /// The service of the workflow instance that recorded it.
    public var service: String
    /// A manual entry taken back (its instance withdrawn): shown, not counted.
    public var withdrawn: Bool = false
    /// The step's leaf in the city's audit log, once the sequencer has integrated it.
    public var leafIndex: Int64? = nil
}
