import Core
import Foundation
import TestSupport
import Testing

@testable import PrincipalRotation

@Suite("Rotation plan proposer")
struct PlanProposerTests {
    let today = Day("2026-11-22")!

    /// 400 schools in 8 districts, each with a principal; 80 of them appointed 7 to 15 years ago
    /// (due), the rest 1 to 6 years ago; some principals headed another school before, a few of
    /// them recently enough that they may not return there.
    static func generatedCity(seed: UInt64) -> Registry {
        var random = SplitMix64(seed: seed)
        var city = SmallCity()
        let districts = ["Алматы", "Байқоңыр", "Есіл", "Нұра", "Сарыарқа", "Сарайшық", "Район 7", "Район 8"]
        var schools: [School] = []
        for number in 0..<400 {
            schools.append(
                city.school(
                    String(format: "%012d", 100_000 + number),
                    district: districts[number % districts.count],
                    rural: number % 5 == 0
                )
            )
        }
        for (number, school) in schools.enumerated() {
            let principal = city.principal(String(format: "%012d", 500_000 + number))
            let due = number % 5 == 1
            let years = due ? Int.random(in: 7...15, using: &random) : Int.random(in: 1...6, using: &random)
            let start = Day("2026-09-01")!.adding(years: -years)
            if number % 7 == 0 {
                // Headed a school of the same district before.
                let earlier = schools[(number + 8 * Int.random(in: 1...40, using: &random)) % schools.count]
                city.appoint(principal, earlier, from: start.adding(years: -4).description, to: start.description)
            }
            city.appoint(principal, school, from: start.description)
        }
        return city.registry
    }

    /// The policy as this test reads it, written apart from RotationPolicy.
    static func independentlyAllowed(
        _ move: RotationPlan.Move,
        registry: Registry,
        noReturnYears: Int,
        on day: Day
    ) -> Bool {
        guard let target = registry.schools[move.to] else { return false }
        let own = registry.appointments.first { $0.principalID == move.principal && $0.endsOn == nil }
        if own?.schoolID == move.to { return false }
        if let own, registry.schools[own.schoolID]?.district != target.district { return false }
        let limit = day.adding(years: -noReturnYears)
        for appointment in registry.appointments
        where appointment.principalID == move.principal && appointment.schoolID == move.to {
            if let ended = appointment.endsOn, ended > limit { return false }
        }
        return true
    }

    @Test(
        "a generated city of 400 schools and 80 due principals: every proposed move keeps the policy",
        arguments: [1, 2, 3] as [UInt64]
    )
    func generated(seed: UInt64) throws {
        let registry = Self.generatedCity(seed: seed)
        let policy = RotationPolicy()
        let due = registry.dueList(policy: policy, today: today).filter { $0.kind == .tenure && $0.dueOn <= today }
        #expect(Set(due.map(\.principal.id)).count == 80)
        let clock = ContinuousClock()
        let started = clock.now
        let plan = PlanProposer.propose(registry: registry, policy: policy, dueBy: today, movesOn: today)
        print("proposer: 400 schools, 80 due principals, \(plan.moves.count) moves in \(clock.now - started)")
        let dueIDs = Set(due.map(\.principal.id))
        let vacated = Set(due.map(\.school.id))
        #expect(plan.moves.count + plan.unplaced.count == 80)
        #expect(Set(plan.moves.map(\.principal)).count == plan.moves.count)
        #expect(Set(plan.moves.map(\.to)).count == plan.moves.count)
        for move in plan.moves {
            #expect(dueIDs.contains(move.principal))
            #expect(vacated.contains(move.to))
            #expect(Self.independentlyAllowed(move, registry: registry, noReturnYears: 5, on: today), "\(move)")
        }
        // Ten due principals per district and ten schools they leave: everyone can move.
        #expect(plan.moves.count >= 75, "\(plan.unplaced)")
        for unplaced in plan.unplaced { #expect(!unplaced.reasons.isEmpty) }
    }

    @Test("as few principals as possible are left over, even where the first choice would block another")
    func maximal() throws {
        var city = SmallCity()
        let x = city.school("000000000001")
        let y = city.school("000000000002")
        let z = city.school("000000000003")
        let alone = city.school("000000000004", district: "Нұра")
        let a = city.principal("000000000011")
        let b = city.principal("000000000012")
        let c = city.principal("000000000013")
        let d = city.principal("000000000014")
        city.appoint(a, x, from: "2019-06-01")
        city.appoint(b, y, from: "2019-07-01")
        // c headed x until a came, and may not return there within 10 years: c can only take y,
        // which a — first in line — would take if nothing were reconsidered.
        city.appoint(c, x, from: "2015-09-01", to: "2019-06-01")
        city.appoint(c, z, from: "2019-09-01")
        // d is the only principal of its district: nowhere to go.
        city.appoint(d, alone, from: "2018-09-01")
        var policy = RotationPolicy()
        policy.noReturnYears = 10
        let plan = PlanProposer.propose(registry: city.registry, policy: policy, dueBy: today, movesOn: today)
        let moves = Dictionary(uniqueKeysWithValues: plan.moves.map { ($0.principal, $0.to) })
        #expect(moves == [a.id: z.id, b.id: x.id, c.id: y.id])
        #expect(plan.unplaced.map(\.principal) == [d.id])
        let reasons = try #require(plan.unplaced.first?.reasons)
        #expect(reasons.first == "no school to fill is allowed by the policy")
        #expect(reasons.contains("1 × own school"))
    }
}
