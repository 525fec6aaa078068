import Core
import Foundation
import Workflow

/// The city's rotation rules, from the parameters of `workflows/principal-rotation.yaml`.
public struct RotationPolicy: Sendable, Equatable, Codable {
    public var maxYearsUrban = 7
    public var maxYearsRural = 7
    public var attestationYears = 3
    public var warningMonths = 12
    public var sameDistrictOnly = true
    public var noReturnYears = 5

    public init() {}

    public init(parameters: ParameterSet) {
        func int(_ name: String, _ fallback: Int) -> Int { parameters.integer(name).map(Int.init) ?? fallback }
        maxYearsUrban = int("max_years_urban", maxYearsUrban)
        maxYearsRural = int("max_years_rural", maxYearsRural)
        attestationYears = int("attestation_years", attestationYears)
        warningMonths = int("warning_months", warningMonths)
        noReturnYears = int("no_return_years", noReturnYears)
        if case .bool(let flag) = parameters["same_district_only"] { sameDistrictOnly = flag }
    }

    /// The most years one principal may head `school`.
    public func maximumYears(at school: School) -> Int {
        school.rural ? maxYearsRural : maxYearsUrban
    }

    /// Why a principal may not take over a school; none means the move is allowed.
    public enum Objection: Sendable, Hashable, Codable, CustomStringConvertible {
        /// The school the principal heads now.
        case ownSchool
        /// Another district while moves stay within one.
        case otherDistrict(String)
        /// The principal left this school on that day, fewer than the policy's years ago.
        case returnsTooSoon(leftOn: Day)

        public var description: String {
            switch self {
            case .ownSchool: "it is the principal's own school"
            case .otherDistrict(let district): "the school is in another district (\(district))"
            case .returnsTooSoon(let day): "the principal left this school on \(day), too recently to return"
            }
        }
    }

    /// The objections to `principal` heading `school` from `day`, given the registry's history.
    public func objections(principal: UUID, to school: School, on day: Day, in registry: Registry) -> [Objection] {
        var objections: [Objection] = []
        let current = registry.currentAppointment(ofPrincipal: principal)
        if current?.schoolID == school.id { objections.append(.ownSchool) }
        if sameDistrictOnly, let current, let home = registry.schools[current.schoolID],
            home.district != school.district
        {
            objections.append(.otherDistrict(school.district))
        }
        let returnLimit = day.adding(years: -noReturnYears)
        if let left = registry.history(ofPrincipal: principal)
            .filter({ $0.schoolID == school.id })
            .compactMap(\.endsOn).max(), left > returnLimit
        {
            objections.append(.returnsTooSoon(leftOn: left))
        }
        return objections
    }
}
