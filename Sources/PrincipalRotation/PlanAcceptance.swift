import Core
import Foundation

/// A plan as the commission accepts it (the proposal, perhaps edited): who goes to which school.
public struct AcceptedMove: Sendable, Codable, Hashable {
    public var principalIIN: String
    public var schoolBIN: String

    public init(principalIIN: String, schoolBIN: String) {
        self.principalIIN = principalIIN
        self.schoolBIN = schoolBIN
    }
}

/// One rotation to start: the school, who leaves it and who is proposed to take it.
public struct RotationStart: Sendable, Hashable {
    public var schoolBIN: String
    public var outgoingIIN: String
    public var proposedIIN: String
}

extension RotationPolicy {
    /// The rotations an accepted plan starts, or every reason it breaks the policy: unknown
    /// people or schools, a school or principal named twice, a school with no principal to hand
    /// over, and each policy objection.
    public func check(_ moves: [AcceptedMove], registry: Registry, on day: Day) -> Result<[RotationStart], PlanRefused>
    {
        var problems: [String] = []
        var starts: [RotationStart] = []
        let schools = Dictionary(registry.schools.values.map { ($0.bin, $0) }, uniquingKeysWith: { first, _ in first })
        let principals = Dictionary(
            registry.principals.values.map { ($0.iin, $0) },
            uniquingKeysWith: { first, _ in first }
        )
        var seenPrincipals = Set<String>()
        var seenSchools = Set<String>()
        for (number, move) in moves.enumerated() {
            let label = "move \(number + 1)"
            if !seenPrincipals.insert(move.principalIIN).inserted {
                problems.append("\(label): \(move.principalIIN) is moved twice")
            }
            if !seenSchools.insert(move.schoolBIN).inserted {
                problems.append("\(label): school \(move.schoolBIN) is filled twice")
            }
            guard let principal = principals[move.principalIIN] else {
                problems.append("\(label): \(move.principalIIN) is not in the registry")
                continue
            }
            guard let school = schools[move.schoolBIN] else {
                problems.append("\(label): school \(move.schoolBIN) is not in the registry")
                continue
            }
            guard
                let outgoing = registry.currentAppointment(ofSchool: school.id).flatMap({
                    registry.principals[$0.principalID]
                })
            else {
                problems.append("\(label): school \(move.schoolBIN) has no principal to hand over")
                continue
            }
            let objections = objections(principal: principal.id, to: school, on: day, in: registry)
            if !objections.isEmpty {
                problems.append(
                    "\(label): \(move.principalIIN) to \(move.schoolBIN): "
                        + objections.map(\.description).joined(separator: "; ")
                )
            }
            starts.append(RotationStart(schoolBIN: school.bin, outgoingIIN: outgoing.iin, proposedIIN: principal.iin))
        }
        return problems.isEmpty ? .success(starts) : .failure(PlanRefused(problems: problems))
    }
}

public struct PlanRefused: Error, Sendable, Equatable {
    public var problems: [String]
}
