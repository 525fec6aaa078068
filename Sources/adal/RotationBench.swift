import ArgumentParser
import Core
import Foundation
import PrincipalRotation

/// `adal bench rotation`: the plan proposer on a generated city, in memory.
struct RotationBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotation",
        abstract: "Principal rotation: plan proposals per second on a generated city (release build).",
        discussion: """
            A city of --schools schools in 8 districts, one in five of their principals past the 7-year limit, \
            one in seven with an earlier school in the same district; the proposer matches the due principals \
            to the schools they leave under the default policy. Prints the median and slowest of --runs runs.
            """
    )

    @Option(help: "Schools in the generated city.") var schools = 400
    @Option(help: "Proposals to time.") var runs = 20

    func run() async throws {
        let today = Day("2026-11-22")!
        let registry = Self.city(schools: schools)
        let policy = RotationPolicy()
        let due = registry.dueList(policy: policy, today: today).filter { $0.kind == .tenure && $0.overdue }.count
        var times: [Double] = []
        var plan: RotationPlan?
        for _ in 0..<max(runs, 1) {
            let started = ContinuousClock.now
            plan = PlanProposer.propose(registry: registry, policy: policy, dueBy: today, movesOn: today)
            times.append(BenchEnvironment.seconds(ContinuousClock.now - started) * 1000)
        }
        times.sort()
        print(
            String(
                format:
                    "rotation plan: %d schools, %d due principals → %d moves, %d left; median %.1f ms, slowest %.1f ms",
                schools,
                due,
                plan?.moves.count ?? 0,
                plan?.unplaced.count ?? 0,
                times[times.count / 2],
                times.last ?? 0
            )
        )
    }

    static func city(schools count: Int) -> Registry {
        var generator = SystemRandomNumberGenerator()
        var schools: [School] = []
        var principals: [PrincipalRecord] = []
        var appointments: [Appointment] = []
        for number in 0..<count {
            schools.append(
                School(
                    id: UUID(),
                    bin: String(format: "%012d", 100_000 + number),
                    name: "School \(number)",
                    district: "District \(number % 8)",
                    locality: "City",
                    rural: number % 5 == 0,
                    address: ""
                )
            )
        }
        for (number, school) in schools.enumerated() {
            let principal = PrincipalRecord(
                id: UUID(),
                iin: String(format: "%012d", 500_000 + number),
                name: "P",
                attestedOn: nil
            )
            principals.append(principal)
            let years =
                number % 5 == 1 ? Int.random(in: 7...15, using: &generator) : Int.random(in: 1...6, using: &generator)
            let start = Day("2026-09-01")!.adding(years: -years)
            if number % 7 == 0 {
                let earlier = schools[(number + 8 * Int.random(in: 1...(count / 8 - 1), using: &generator)) % count]
                appointments.append(
                    Appointment(
                        id: UUID(),
                        schoolID: earlier.id,
                        principalID: principal.id,
                        startsOn: start.adding(years: -4),
                        endsOn: start,
                        reason: "r"
                    )
                )
            }
            appointments.append(
                Appointment(
                    id: UUID(),
                    schoolID: school.id,
                    principalID: principal.id,
                    startsOn: start,
                    endsOn: nil,
                    reason: "r"
                )
            )
        }
        return Registry(schools: schools, principals: principals, appointments: appointments)
    }
}
