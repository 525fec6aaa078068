import Core
import Foundation
import PostgresNIO
import Storage

/// An instance as lists show it.
public struct InstanceSummary: Sendable, Codable, Equatable {
    public let id: UUID
    public let service: String
    public let version: Int
    public let state: String
    public let subject: String
    public let taskRole: String?
    public let taskDueAt: Date?
    public let createdAt: Date
    public let updatedAt: Date
    public let closedAt: Date?

    /// Where the next page of a newest-first list starts: this instance's start time in
    /// microseconds and its id (`InstanceFilter.before`).
    public var cursor: String {
        "\(Int64((createdAt.timeIntervalSince1970 * 1_000_000).rounded()))_\(id)"
    }

    /// A task past its due date that nobody has acted on.
    public func isOverdue(at now: Date) -> Bool {
        guard let due = taskDueAt else { return false }
        return due < now
    }
}

/// One recorded step, with its place in the audit log once the sequencer has integrated it.
public struct StepRecord: Sendable, Codable, Equatable {
    public let sequence: Int64
    public let event: String
    public let fromState: String?
    public let toState: String
    public let actorRole: String
    public let input: InputValue
    public let at: Date
    /// nil until the sequencer has integrated the step's leaf (at most its merge delay).
    public let leafIndex: Int64?
}

extension StepRecord {
    /// The same step showing `input` instead (a service keeps part of an input private for a while).
    public func showing(_ input: InputValue) -> StepRecord {
        StepRecord(
            sequence: sequence,
            event: event,
            fromState: fromState,
            toState: toState,
            actorRole: actorRole,
            input: input,
            at: at,
            leafIndex: leafIndex
        )
    }
}

/// Search criteria for instances; every one optional.
public struct InstanceFilter: Sendable, Equatable {
    public var service: String?
    public var state: String?
    public var createdFrom: Date?
    public var createdUntil: Date?
    /// Matched anywhere in the subject, case-insensitively.
    public var subject: String?
    /// Only instances created before this one in the list's order (the next page).
    public var before: (createdAt: Date, id: UUID)?
    public var limit: Int

    public static let maximumLimit = 100

    public init(
        service: String? = nil,
        state: String? = nil,
        createdFrom: Date? = nil,
        createdUntil: Date? = nil,
        subject: String? = nil,
        before: (createdAt: Date, id: UUID)? = nil,
        limit: Int = 50
    ) {
        self.service = service
        self.state = state
        self.createdFrom = createdFrom
        self.createdUntil = createdUntil
        self.subject = subject
        self.before = before
        self.limit = limit
    }

    public static func == (lhs: InstanceFilter, rhs: InstanceFilter) -> Bool {
        lhs.service == rhs.service && lhs.state == rhs.state && lhs.createdFrom == rhs.createdFrom
            && lhs.createdUntil == rhs.createdUntil && lhs.subject == rhs.subject && lhs.limit == rhs.limit
            && lhs.before?.createdAt == rhs.before?.createdAt && lhs.before?.id == rhs.before?.id
    }
}

/// A job that failed its last attempt, for administrators.
public struct DeadJob: Sendable, Codable, Equatable {
    public let id: Int64
    public let kind: String
    public let instanceID: UUID?
    public let event: String?
    public let topic: String?
    public let attempts: Int
    public let lastError: String?
    public let finishedAt: Date?
}

/// The read side of the engine: instances, their steps, inboxes and dead jobs, within one city.
public struct WorkflowQueries: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    private var logger: Logger { database.logger }

    private static let summaryColumns: PostgresQuery = """
        SELECT id, service_key, definition_version, state, subject, task_role, task_due_at, created_at, updated_at,
               closed_at FROM workflow_instances
        """

    private typealias SummaryRow = (UUID, String, Int32, String, String, String?, Date?, Date, Date, Date?)

    private static func summary(_ row: SummaryRow) -> InstanceSummary {
        InstanceSummary(
            id: row.0,
            service: row.1,
            version: Int(row.2),
            state: row.3,
            subject: row.4,
            taskRole: row.5,
            taskDueAt: row.6,
            createdAt: row.7,
            updatedAt: row.8,
            closedAt: row.9
        )
    }

    public func instance(_ id: UUID, tenantID: UUID) async throws -> InstanceSummary? {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT id, service_key, definition_version, state, subject, task_role, task_due_at, created_at,
                       updated_at, closed_at
                FROM workflow_instances WHERE tenant_id = \(tenantID) AND id = \(id)
                """,
                logger: logger
            )
            for try await row in rows.decode(SummaryRow.self) { return Self.summary(row) }
            return nil
        }
    }

    /// An instance's steps in order, each with its audit leaf index when integrated.
    public func steps(of id: UUID, tenantID: UUID) async throws -> [StepRecord] {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT s.sequence, s.event, s.from_state, s.to_state, s.actor_role, s.input::text, s.at, l.leaf_index
                FROM workflow_steps s
                LEFT JOIN audit_leaves l
                  ON l.tenant_id = s.tenant_id AND l.instance_id = s.instance_id AND l.sequence = s.sequence
                WHERE s.tenant_id = \(tenantID) AND s.instance_id = \(id)
                ORDER BY s.sequence
                """,
                logger: logger
            )
            var steps: [StepRecord] = []
            for try await row in rows.decode((Int64, String, String?, String, String, String, Date, Int64?).self) {
                steps.append(
                    StepRecord(
                        sequence: row.0,
                        event: row.1,
                        fromState: row.2,
                        toState: row.3,
                        actorRole: row.4,
                        input: try JSONDecoder().decode(InputValue.self, from: Data(row.5.utf8)),
                        at: row.6,
                        leafIndex: row.7
                    )
                )
            }
            return steps
        }
    }

    /// Open tasks waiting for any of `roles`, the most urgent first.
    public func inbox(roles: Set<Role>, tenantID: UUID, limit: Int = 100) async throws -> [InstanceSummary] {
        let names = roles.map(\.rawValue).sorted()
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT id, service_key, definition_version, state, subject, task_role, task_due_at, created_at,
                       updated_at, closed_at
                FROM workflow_instances
                WHERE tenant_id = \(tenantID) AND task_role = ANY (\(names)::text[])
                ORDER BY task_due_at, id LIMIT \(Int64(min(max(limit, 1), InstanceFilter.maximumLimit)))
                """,
                logger: logger
            )
            var result: [InstanceSummary] = []
            for try await row in rows.decode(SummaryRow.self) { result.append(Self.summary(row)) }
            return result
        }
    }

    /// Instances matching `filter`, newest first, one page.
    public func search(_ filter: InstanceFilter, tenantID: UUID) async throws -> [InstanceSummary] {
        let pattern = filter.subject.map { "%" + Self.escapeLike($0) + "%" }
        let limit = Int64(min(max(filter.limit, 1), InstanceFilter.maximumLimit))
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT id, service_key, definition_version, state, subject, task_role, task_due_at, created_at,
                       updated_at, closed_at
                FROM workflow_instances
                WHERE tenant_id = \(tenantID)
                  AND (\(filter.service)::text IS NULL OR service_key = \(filter.service))
                  AND (\(filter.state)::text IS NULL OR state = \(filter.state))
                  AND (\(filter.createdFrom)::timestamptz IS NULL OR created_at >= \(filter.createdFrom))
                  AND (\(filter.createdUntil)::timestamptz IS NULL OR created_at < \(filter.createdUntil))
                  AND (\(pattern)::text IS NULL OR subject ILIKE \(pattern))
                  AND (\(filter.before?.createdAt)::timestamptz IS NULL
                       OR (created_at, id) < (\(filter.before?.createdAt), \(filter.before?.id)))
                ORDER BY created_at DESC, id DESC LIMIT \(limit)
                """,
                logger: logger
            )
            var result: [InstanceSummary] = []
            for try await row in rows.decode(SummaryRow.self) { result.append(Self.summary(row)) }
            return result
        }
    }

    /// Jobs that failed their last attempt, the latest first.
    public func deadJobs(tenantID: UUID, limit: Int = 100) async throws -> [DeadJob] {
        try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT id, kind, instance_id, event, topic, attempts, last_error, finished_at FROM jobs
                WHERE tenant_id = \(tenantID) AND status = 'dead'
                ORDER BY finished_at DESC LIMIT \(Int64(min(max(limit, 1), InstanceFilter.maximumLimit)))
                """,
                logger: logger
            )
            var result: [DeadJob] = []
            for try await row in rows.decode((Int64, String, UUID?, String?, String?, Int32, String?, Date?).self) {
                result.append(
                    DeadJob(
                        id: row.0,
                        kind: row.1,
                        instanceID: row.2,
                        event: row.3,
                        topic: row.4,
                        attempts: Int(row.5),
                        lastError: row.6,
                        finishedAt: row.7
                    )
                )
            }
            return result
        }
    }

    /// `%`, `_` and `\` match themselves in a LIKE pattern.
    static func escapeLike(_ text: String) -> String {
        var escaped = ""
        for character in text {
            if character == "%" || character == "_" || character == "\\" { escaped.append("\\") }
            escaped.append(character)
        }
        return escaped
    }
}
