import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// One district's participatory-budget round for a year.
public struct ParticipatoryRound: Sendable, Equatable {
    public struct Project: Sendable, Equatable {
        public enum Status: String, Sendable, Codable {
            case proposed, eligible, ineligible
        }

        public var number: Int
        public var title: String
        public var description: String
        /// Tiyn.
        public var cost: Int64
        public var objectCode: String?
        public var status: Status
        public var reviewNote: String?
        /// Known once the votes are counted.
        public var votes: Int?
        public var selected: Bool
    }

    public var instanceID: UUID
    public var district: String
    public var year: Int
    /// Tiyn.
    public var budgetCap: Int64
    /// Known once the votes are counted.
    public var ballots: Int?
    public var countedAt: Date?
    public var state: String
    public var projects: [Project] = []

    /// The winners: most votes first (ties: the cheaper, then the earlier proposal), each taken
    /// while it still fits under the cap; a project that no longer fits is passed over for
    /// cheaper ones below it.
    public static func winners(_ candidates: [(number: Int, votes: Int, cost: Int64)], cap: Int64) -> Set<Int> {
        var left = cap
        var chosen = Set<Int>()
        for candidate in candidates.sorted(by: { ($1.votes, $0.cost, $0.number) < ($0.votes, $1.cost, $1.number) })
        where candidate.votes > 0 && candidate.cost <= left {
            chosen.insert(candidate.number)
            left -= candidate.cost
        }
        return chosen
    }
}

/// Reads rounds, projects and (once counted) ballots; keeps the city's register of residents.
public struct ParticipatoryStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// The city's rounds (or only `id`), newest year first, without their projects.
    static func rounds(
        _ id: UUID?,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [ParticipatoryRound] {
        var rounds: [ParticipatoryRound] = []
        for try await (instance, district, year, cap, ballots, counted, state) in try await connection.query(
            """
            SELECT r.instance_id, r.district, r.year, r.budget_cap, r.ballots, r.counted_at,
                coalesce(i.state, 'proposals')
            FROM pb_rounds r LEFT JOIN workflow_instances i ON i.tenant_id = r.tenant_id AND i.id = r.instance_id
            WHERE r.tenant_id = \(tenantID) AND (\(id)::uuid IS NULL OR r.instance_id = \(id)::uuid)
            ORDER BY r.year DESC, r.district
            """,
            logger: logger
        ).decode((UUID, String, Int32, Int64, Int32?, Date?, String).self) {
            rounds.append(
                ParticipatoryRound(
                    instanceID: instance,
                    district: district,
                    year: Int(year),
                    budgetCap: cap,
                    ballots: ballots.map(Int.init),
                    countedAt: counted,
                    state: state
                )
            )
        }
        return rounds
    }

    static func round(
        _ id: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> ParticipatoryRound? {
        try await rounds(id, tenantID: tenantID, on: connection, logger: logger).first
    }

    /// The projects of the city's rounds (or only of `id`), by round, in the order proposed.
    static func projects(
        of id: UUID?,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [UUID: [ParticipatoryRound.Project]] {
        var projects: [UUID: [ParticipatoryRound.Project]] = [:]
        for try await row in try await connection.query(
            """
            SELECT instance_id, number, title, description, cost, object_code, status, review_note, votes, selected
            FROM pb_projects
            WHERE tenant_id = \(tenantID) AND (\(id)::uuid IS NULL OR instance_id = \(id)::uuid)
            ORDER BY instance_id, number
            """,
            logger: logger
        ) {
            let r = row.makeRandomAccess()
            projects[try r[0].decode(UUID.self), default: []].append(
                ParticipatoryRound.Project(
                    number: Int(try r[1].decode(Int32.self)),
                    title: try r[2].decode(String.self),
                    description: try r[3].decode(String.self),
                    cost: try r[4].decode(Int64.self),
                    objectCode: try r[5].decode(String?.self),
                    status: ParticipatoryRound.Project.Status(rawValue: try r[6].decode(String.self)) ?? .proposed,
                    reviewNote: try r[7].decode(String?.self),
                    votes: try r[8].decode(Int32?.self).map(Int.init),
                    selected: try r[9].decode(Bool.self)
                )
            )
        }
        return projects
    }

    static func projects(
        _ id: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [ParticipatoryRound.Project] {
        try await projects(of: id, tenantID: tenantID, on: connection, logger: logger)[id] ?? []
    }

    /// The round with its projects, or nil (another city's id included).
    public func round(_ id: UUID, tenantID: UUID) async throws -> ParticipatoryRound? {
        try await rounds(id, tenantID: tenantID).first
    }

    /// The city's rounds with their projects: two queries however many rounds there are.
    public func rounds(tenantID: UUID) async throws -> [ParticipatoryRound] {
        try await rounds(nil, tenantID: tenantID)
    }

    func rounds(_ id: UUID?, tenantID: UUID) async throws -> [ParticipatoryRound] {
        try await database.withTenant(tenantID, repeatableRead: true) { connection in
            let projects = try await Self.projects(of: id, tenantID: tenantID, on: connection, logger: database.logger)
            return try await Self.rounds(id, tenantID: tenantID, on: connection, logger: database.logger).map { round in
                var round = round
                round.projects = projects[round.instanceID] ?? []
                return round
            }
        }
    }

    /// Every ballot by its receipt, once the votes are counted (nil before: a running tally
    /// would sway the vote).
    public func ballots(_ id: UUID, tenantID: UUID) async throws -> [(receipt: String, choices: [Int])]? {
        try await database.withTenant(tenantID, repeatableRead: true) { connection in
            guard let round = try await Self.round(id, tenantID: tenantID, on: connection, logger: database.logger),
                round.countedAt != nil
            else { return nil }
            var ballots: [(receipt: String, choices: [Int])] = []
            for try await (receipt, choices) in try await connection.query(
                """
                SELECT receipt, choices FROM pb_ballots WHERE tenant_id = \(tenantID) AND instance_id = \(id) ORDER BY receipt
                """,
                logger: database.logger
            ).decode((Data, [Int32]).self) { ballots.append((MediaFile.hex(Array(receipt)), choices.map(Int.init))) }
            return ballots
        }
    }

    // MARK: - Residents

    public static let residentsHeader = ["iin", "district"]
    public static let maximumResidentsBytes = 16 << 20
    public static let maximumResidents = 1_000_000

    /// Adds or moves residents from a CSV file (`iin,district`), all or nothing: every bad row
    /// is listed. Residents not in the file are kept.
    public func importResidents(
        _ bytes: [UInt8],
        tenantID: UUID
    ) async throws -> (imported: Int, problems: [CSV.Problem]) {
        try await database.withTenant(tenantID) { connection in
            let districts = Set(try await BudgetStore.districtNames(on: connection, logger: database.logger))
            let records: [CSV.Record]
            do {
                records = try CSV.table(
                    bytes,
                    header: Self.residentsHeader,
                    maximumBytes: Self.maximumResidentsBytes,
                    maximumRows: Self.maximumResidents
                )
            } catch let problem as CSV.Problem {
                return (0, [problem])
            }
            var problems: [CSV.Problem] = []
            var residents: [String: String] = [:]
            for record in records {
                let fields = record.fields.map { $0.trimmingCharacters(in: .whitespaces) }
                guard fields.count == 2 else {
                    problems.append(CSV.Problem(line: record.line, field: nil, message: "two fields: iin,district"))
                    continue
                }
                if (try? NationalIdentifier.iin(fields[0])) == nil {
                    problems.append(
                        CSV.Problem(line: record.line, field: "iin", message: "'\(fields[0])' is not a valid IIN")
                    )
                } else if residents[fields[0]] != nil {
                    problems.append(CSV.Problem(line: record.line, field: "iin", message: "\(fields[0]) appears twice"))
                }
                if !districts.contains(fields[1]) {
                    problems.append(
                        CSV.Problem(
                            line: record.line,
                            field: "district",
                            message: "'\(fields[1])' is not a district of the city"
                        )
                    )
                }
                residents[fields[0]] = fields[1]
            }
            guard problems.isEmpty else { return (0, Array(problems.prefix(BudgetCSV.maximumListed))) }
            let iins = residents.keys.sorted()
            try await connection.run(
                """
                INSERT INTO city_residents (tenant_id, iin, district)
                SELECT \(tenantID), iin, district FROM unnest(\(iins)::text[], \(iins.map { residents[$0]! })::text[])
                    AS given (iin, district)
                ON CONFLICT (tenant_id, iin) DO UPDATE SET district = EXCLUDED.district
                """,
                logger: database.logger
            )
            return (iins.count, [])
        }
    }
}
