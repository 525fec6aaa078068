import Core
import Foundation

/// A proposed rotation plan: for every principal due by the end of the period, a school to move
/// to, as many as the policy allows; the ones left over, each with why.
public struct RotationPlan: Sendable, Codable, Equatable {
    public struct Move: Sendable, Codable, Hashable {
        public var principal: UUID
        /// The school the principal heads now (nil for none).
        public var from: UUID?
        public var to: UUID
    }

    public struct Unplaced: Sendable, Codable, Hashable {
        public var principal: UUID
        public var reasons: [String]
    }

    public var movesOn: Day
    public var moves: [Move]
    public var unplaced: [Unplaced]
}

/// Proposes a plan: the due principals are matched to the schools they leave so that every move satisfies the policy and as few principals as possible are
/// left without a move — a maximum bipartite matching (augmenting paths), deterministic for the
/// same registry.
public enum PlanProposer {
    public static func propose(registry: Registry, policy: RotationPolicy, dueBy: Day, movesOn: Day) -> RotationPlan {
        let due = registry.dueList(policy: policy, today: dueBy.adding(months: -policy.warningMonths))
            .filter { $0.kind == .tenure && $0.dueOn <= dueBy }
        var seen = Set<UUID>()
        let principals = due.map(\.principal.id).filter { seen.insert($0).inserted }
        // The schools to fill are those the due principals leave: each rotation hands one school
        // from its principal to another (a school with no principal is filled by an ordinary
        // appointment, not a rotation).
        var targetSeen = Set<UUID>()
        let targets = due.map(\.school.id).filter { targetSeen.insert($0).inserted }

        var objections: [[RotationPolicy.Objection]] = []
        var edges: [[Int]] = []
        for principal in principals {
            var allowed: [Int] = []
            var refused: [RotationPolicy.Objection] = []
            for (index, target) in targets.enumerated() {
                guard let school = registry.schools[target] else { continue }
                let found = policy.objections(principal: principal, to: school, on: movesOn, in: registry)
                if found.isEmpty { allowed.append(index) } else { refused += found }
            }
            edges.append(allowed)
            objections.append(refused)
        }

        // Kuhn's augmenting paths, iteratively (no recursion, whatever the size).
        var schoolTaker = [Int?](repeating: nil, count: targets.count)
        for start in principals.indices {
            var visited = [Bool](repeating: false, count: targets.count)
            // Each frame: a principal and how far through its edges the search has gone.
            var stack: [(principal: Int, next: Int)] = [(start, 0)]
            var path: [Int] = []  // the school chosen at each frame
            while let frame = stack.last {
                if frame.next >= edges[frame.principal].count {
                    stack.removeLast()
                    if !path.isEmpty { path.removeLast() }
                    continue
                }
                let school = edges[frame.principal][frame.next]
                stack[stack.count - 1].next += 1
                guard !visited[school] else { continue }
                visited[school] = true
                if let taker = schoolTaker[school] {
                    path.append(school)
                    stack.append((taker, 0))
                } else {
                    // Free school: shift every school on the path to the principal above it.
                    path.append(school)
                    for (frameIndex, chosen) in path.enumerated() {
                        schoolTaker[chosen] = stack[frameIndex].principal
                    }
                    break
                }
            }
        }

        var moves: [RotationPlan.Move] = []
        var placed = Set<Int>()
        for (school, taker) in schoolTaker.enumerated() {
            guard let taker else { continue }
            placed.insert(taker)
            moves.append(
                RotationPlan.Move(
                    principal: principals[taker],
                    from: registry.currentAppointment(ofPrincipal: principals[taker])?.schoolID,
                    to: targets[school]
                )
            )
        }
        var unplaced: [RotationPlan.Unplaced] = []
        for index in principals.indices where !placed.contains(index) {
            var reasons: [String]
            if edges[index].isEmpty {
                let counted = Dictionary(grouping: objections[index], by: { $0.kind }).mapValues(\.count)
                reasons = ["no school to fill is allowed by the policy"]
                reasons += counted.keys.sorted().map { kind in "\(counted[kind] ?? 0) × \(kind)" }
            } else {
                reasons = [
                    "each of the \(edges[index].count) schools the policy allows went to another due principal"
                ]
            }
            unplaced.append(RotationPlan.Unplaced(principal: principals[index], reasons: reasons))
        }
        moves.sort { ($0.to.uuidString) < ($1.to.uuidString) }
        return RotationPlan(movesOn: movesOn, moves: moves, unplaced: unplaced)
    }
}

extension RotationPolicy.Objection {
    /// The objection without its detail, for counting.
    var kind: String {
        switch self {
        case .ownSchool: "own school"
        case .otherDistrict: "other district"
        case .returnsTooSoon: "left too recently to return"
        }
    }
}
