import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// The Swift half of `workflows/participatory-budget.yaml`. A ballot reaches its step as an
/// attachment (the chosen projects and a nonce); the step's input is only the ballot's
/// receipt, SHA-256 of those bytes, so the audit leaf commits to every ballot while the log
/// never shows a choice. The voter is kept apart, as a keyed hash of their IIN.
public struct ParticipatoryBudgetService: Sendable {
    public static let key = "participatory-budget"
    /// Proposals one resident may make in a round, and projects a round holds at most.
    public static let proposalsPerResident = 5
    public static let maximumProjects = 300

    let sealer: KeySealer

    public init(sealer: KeySealer) {
        self.sealer = sealer
    }

    public var implementation: ServiceImplementation {
        ServiceImplementation(
            key: Self.key,
            guards: [
                "resident_of_district": { try await Self.residentOfDistrict($0) },
                "every_project_reviewed": { try await Self.everyProjectReviewed($0) },
            ],
            actions: [
                "open_round": { try await Self.openRound($0) },
                "record_proposal": { try await Self.recordProposal($0) },
                "record_review": { try await Self.recordReview($0) },
                "record_ballot": { try await record(ballotIn: $0) },
                "count_votes": { try await Self.count($0) },
            ]
        )
    }

    static func run(_ context: StepContext, _ query: PostgresQuery) async throws {
        try await context.connection.run(query, logger: context.logger)
    }

    // MARK: - Rounds and proposals

    static func openRound(_ context: StepContext) async throws -> StepEffects {
        let district = context.input.string("district") ?? ""
        let year = Int32(context.input.integer("year") ?? 0)
        let names = try await BudgetStore.districtNames(on: context.connection, logger: context.logger)
        guard names.contains(district) else {
            throw WorkflowError.refused(
                reason: "district: '\(district)' is not a district of the city; known: \(names.joined(separator: ", "))"
            )
        }
        do {
            try await run(
                context,
                """
                INSERT INTO pb_rounds (tenant_id, instance_id, district, year, budget_cap)
                VALUES (\(context.tenantID), \(context.instanceID), \(district), \(year), \(context.input.integer("budget_cap") ?? 0))
                """
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw WorkflowError.refused(reason: "\(district) already has a round for \(year)")
        }
        return StepEffects(subject: "\(district) \(year)")
    }

    /// The round's district and cap, inside the step.
    static func round(_ context: StepContext) async throws -> ParticipatoryRound {
        guard
            let round = try await ParticipatoryStore.round(
                context.instanceID,
                tenantID: context.tenantID,
                on: context.connection,
                logger: context.logger
            )
        else { throw WorkflowError.refused(reason: "this instance has no round") }
        return round
    }

    /// The signed-in resident's IIN, as their account records it.
    static func iin(of context: StepContext) async throws -> String? {
        guard let id = context.actor.id else { return nil }
        for try await iin in try await context.connection.query(
            "SELECT iin FROM users WHERE tenant_id = \(context.tenantID) AND id = \(id)",
            logger: context.logger
        ).decode(String?.self) { return iin }
        return nil
    }

    static func residentOfDistrict(_ context: StepContext) async throws -> GuardVerdict {
        let round = try await round(context)
        guard let iin = try await iin(of: context) else {
            return .refuse("your account has no IIN; only registered residents of \(round.district) take part")
        }
        for try await district in try await context.connection.query(
            "SELECT district FROM city_residents WHERE tenant_id = \(context.tenantID) AND iin = \(iin)",
            logger: context.logger
        ).decode(String.self) {
            return district == round.district
                ? .pass : .refuse("you are registered in \(district); this round is for residents of \(round.district)")
        }
        return .refuse("you are not in the city's register of residents; only residents of \(round.district) take part")
    }

    static func recordProposal(_ context: StepContext) async throws -> StepEffects {
        let round = try await round(context)
        if let code = context.input.string("object_code") {
            guard
                let object = try await BudgetStore.find(
                    code,
                    tenantID: context.tenantID,
                    on: context.connection,
                    logger: context.logger
                )
            else { throw WorkflowError.refused(reason: "object_code: no object \(code) in this city") }
            guard object.district == round.district else {
                throw WorkflowError.refused(
                    reason: "object_code: \(code) is in \(object.district), not \(round.district)"
                )
            }
        }
        for try await (mine, all) in try await context.connection.query(
            """
            SELECT count(*) FILTER (WHERE proposed_by = \(context.actor.id)), count(*) FROM pb_projects
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """,
            logger: context.logger
        ).decode((Int64, Int64).self) {
            guard mine < proposalsPerResident else {
                throw WorkflowError.refused(
                    reason: "you have made \(proposalsPerResident) proposals in this round, the most one resident may"
                )
            }
            guard all < maximumProjects else {
                throw WorkflowError.refused(reason: "this round holds \(maximumProjects) projects, the most it takes")
            }
        }
        let cost = context.input.integer("cost") ?? 0
        guard cost <= round.budgetCap else {
            throw WorkflowError.refused(
                reason: "cost: more than the district's whole budget (\(Tenge.decimal(round.budgetCap)) tenge)"
            )
        }
        try await run(
            context,
            """
            INSERT INTO pb_projects (tenant_id, instance_id, number, title, description, cost, object_code, proposed_by)
            SELECT \(context.tenantID), \(context.instanceID), coalesce(max(number), 0) + 1, \(context.input.string("title") ?? ""),
                \(context.input.string("description") ?? ""), \(cost), \(context.input.string("object_code")), \(context.actor.id)
            FROM pb_projects WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        return .none
    }

    static func recordReview(_ context: StepContext) async throws -> StepEffects {
        let number = Int32(context.input.integer("project") ?? 0)
        let status = context.input.string("eligible") == "yes" ? "eligible" : "ineligible"
        var found = false
        for try await _ in try await context.connection.query(
            """
            UPDATE pb_projects SET status = \(status), review_note = \(context.input.string("note"))
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID) AND number = \(number)
            RETURNING number
            """,
            logger: context.logger
        ) { found = true }
        guard found else { throw WorkflowError.refused(reason: "project: no project \(number) in this round") }
        return .none
    }

    static func everyProjectReviewed(_ context: StepContext) async throws -> GuardVerdict {
        let projects = try await ParticipatoryStore.projects(
            context.instanceID,
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
        let waiting = projects.filter { $0.status == .proposed }.map { String($0.number) }
        guard waiting.isEmpty else { return .refuse("projects not yet reviewed: \(waiting.joined(separator: ", "))") }
        guard projects.contains(where: { $0.status == .eligible }) else { return .refuse("no project is eligible") }
        return .pass
    }

    // MARK: - Ballots

    func record(ballotIn context: StepContext) async throws -> StepEffects {
        guard let bytes = context.attachment, let ballot = Ballot(canonical: bytes, round: context.instanceID) else {
            throw WorkflowError.refused(reason: "the ballot itself is missing or damaged")
        }
        guard context.input.string("receipt") == ballot.receipt else {
            throw WorkflowError.refused(reason: "receipt: the ballot is not the one the receipt names")
        }
        let round = try await Self.round(context)
        let projects = try await ParticipatoryStore.projects(
            context.instanceID,
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
        let most = Int(context.parameters.integer("choices_per_ballot") ?? 3)
        guard (1...most).contains(ballot.choices.count) else {
            throw WorkflowError.refused(reason: "choices: choose 1 to \(most) projects")
        }
        var total: Int64 = 0
        for number in ballot.choices {
            guard let project = projects.first(where: { $0.number == number }), project.status == .eligible else {
                throw WorkflowError.refused(reason: "choices: project \(number) is not on the ballot")
            }
            total += project.cost
        }
        guard total <= round.budgetCap else {
            throw WorkflowError.refused(
                reason:
                    "choices: together they cost \(Tenge.decimal(total)) tenge, more than the district's \(Tenge.decimal(round.budgetCap))"
            )
        }
        guard let iin = try await Self.iin(of: context) else {
            throw WorkflowError.refused(reason: "your account has no IIN")
        }
        let voter = sealer.keyedHash(Array("pb-voter|\(context.instanceID)|\(iin)".lowercased().utf8))
        do {
            try await Self.run(
                context,
                """
                INSERT INTO pb_voters (tenant_id, instance_id, voter)
                VALUES (\(context.tenantID), \(context.instanceID), \(Data(voter)))
                """
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw WorkflowError.refused(reason: "you have already voted in this round; your first ballot stands")
        }
        try await Self.run(
            context,
            """
            INSERT INTO pb_ballots (tenant_id, instance_id, receipt, choices)
            VALUES (\(context.tenantID), \(context.instanceID), \(Data(MediaFile.bytes(hex: ballot.receipt) ?? [])),
                \(ballot.choices.map(Int32.init))::int4[])
            """
        )
        return .none
    }

    // MARK: - Counting

    /// Counts every ballot, then picks the winners: most votes first (ties: the cheaper, then
    /// the earlier proposal), each taken while it still fits under the cap. Each winner with an
    /// object gets its cost added to the object's improvement line for the round's year.
    static func count(_ context: StepContext) async throws -> StepEffects {
        let round = try await round(context)
        var votes: [Int: Int] = [:]
        var ballots = 0
        for try await choices in try await context.connection.query(
            "SELECT choices FROM pb_ballots WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)",
            logger: context.logger
        ).decode([Int32].self) {
            ballots += 1
            for choice in choices { votes[Int(choice), default: 0] += 1 }
        }
        let projects = try await ParticipatoryStore.projects(
            context.instanceID,
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
        let selected = ParticipatoryRound.winners(
            projects.filter { $0.status == .eligible }.map { ($0.number, votes[$0.number] ?? 0, $0.cost) },
            cap: round.budgetCap
        )
        for project in projects where project.status == .eligible {
            try await run(
                context,
                """
                UPDATE pb_projects SET votes = \(Int32(votes[project.number] ?? 0)), selected = \(selected.contains(project.number))
                WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID) AND number = \(Int32(project.number))
                """
            )
            if selected.contains(project.number), let code = project.objectCode {
                try await run(
                    context,
                    """
                    INSERT INTO budget_lines (tenant_id, object_code, year, category, planned)
                    VALUES (\(context.tenantID), \(code), \(Int32(round.year)), 'improvement', \(project.cost))
                    ON CONFLICT (tenant_id, object_code, year, category)
                    DO UPDATE SET planned = budget_lines.planned + EXCLUDED.planned
                    """
                )
            }
        }
        try await run(
            context,
            """
            UPDATE pb_rounds SET ballots = \(Int32(ballots)), counted_at = \(context.now)
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        let total = projects.filter { selected.contains($0.number) }.reduce(0) { $0 + $1.cost }
        return StepEffects(amounts: [("selected_total", total)])
    }
}

/// A ballot as its receipt commits to it: the round, the chosen project numbers in order, and
/// a 128-bit nonce (without it the few possible ballots could be tried one by one against a
/// receipt).
public struct Ballot: Sendable, Equatable {
    public let round: UUID
    public let choices: [Int]
    public let nonce: String

    public init(round: UUID, choices: [Int], nonce: [UInt8]) {
        self.round = round
        self.choices = Array(Set(choices)).sorted()
        self.nonce = MediaFile.hex(nonce)
    }

    /// Reads the canonical bytes back; nil unless they are exactly canonical.
    init?(canonical bytes: [UInt8], round: UUID) {
        let parts = String(decoding: bytes, as: UTF8.self).split(separator: "|", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "adal-ballot-v1", parts[1] == round.uuidString.lowercased(),
            parts[3].wholeMatch(of: /[0-9a-f]{32}/) != nil
        else { return nil }
        let choices = parts[2].split(separator: ",").compactMap { Int($0) }
        self.round = round
        self.choices = choices
        self.nonce = String(parts[3])
        guard canonical == bytes, Array(Set(choices)).sorted() == choices else { return nil }
    }

    /// `adal-ballot-v1|<round>|<choices, ascending>|<nonce hex>`.
    public var canonical: [UInt8] {
        Array(
            "adal-ballot-v1|\(round.uuidString.lowercased())|\(choices.map(String.init).joined(separator: ","))|\(nonce)"
                .utf8
        )
    }

    /// SHA-256 of the canonical bytes, hex: the step's input and the voter's receipt.
    public var receipt: String { MediaFile.hex(Array(SHA256.hash(data: canonical))) }
}
