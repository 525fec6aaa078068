import Foundation
import PostgresNIO
import Storage

/// The statements of a step, in one place, so that the engine and the benchmark's raw mode
/// (`adal bench workflow`, which runs the same statements without the engine) cannot drift.
public enum WorkflowSQL {
    /// Locks an instance and reads what a step needs, with the step stored under
    /// `idempotencyKey`, if any.
    public static func lockInstance(tenantID: UUID, instanceID: UUID, idempotencyKey: String?) -> PostgresQuery {
        """
        SELECT i.service_key, i.definition_version, i.definition_sha256, i.parameters::text, i.state,
               i.state_sequence, i.last_sequence,
               s.instance_id, s.sequence, s.event, s.from_state, s.to_state, s.at, s.request_sha256
        FROM workflow_instances i
        LEFT JOIN workflow_steps s ON s.tenant_id = i.tenant_id AND s.idempotency_key = \(idempotencyKey)::text
        WHERE i.tenant_id = \(tenantID)::uuid AND i.id = \(instanceID)::uuid
        FOR UPDATE OF i
        """
    }
}

/// ``StepWrite/query()`` as a named prepared statement. The SQL has the same text for every step
/// (only the bound values differ), which ``WorkflowSQLTests`` checks.
public struct PreparedStepWrite: PreparedSQL {
    public typealias Row = ()
    public static let name = "adal_step_write"
    public static let sql: String = (try? StepWrite.sample.query().sql) ?? ""

    public let query: PostgresQuery

    public func decodeRow(_ row: PostgresRow) throws {}
}

/// The lock query as a named prepared statement.
public struct PreparedInstanceLock: PreparedSQL {
    public typealias Row = (
        String, Int32, String, String, String, Int64, Int64, UUID?, Int64?, String?, String?, String?, Date?, Data?
    )
    public static let name = "adal_instance_lock"
    public static let sql: String = WorkflowSQL.lockInstance(tenantID: UUID(), instanceID: UUID(), idempotencyKey: nil)
        .sql

    public let query: PostgresQuery

    public init(tenantID: UUID, instanceID: UUID, idempotencyKey: String?) {
        query = WorkflowSQL.lockInstance(tenantID: tenantID, instanceID: instanceID, idempotencyKey: idempotencyKey)
    }

    public func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

/// Everything one step writes, as one statement: the instance (created or moved), the step
/// row, the old state's timers cancelled, the new state's jobs and the outbox, the audit leaf,
/// and a notification when work is due at once.
public struct StepWrite: Sendable {
    public var start: Bool
    public var tenantID: UUID
    public var instanceID: UUID
    public var service: String
    public var definitionVersion: Int
    public var definitionSHA256: String
    public var parametersJSON: String
    public var sequence: Int64
    public var event: String
    public var fromState: String?
    public var toState: String
    public var actorID: UUID?
    public var actorRole: String
    public var inputJSON: String
    public var inputSHA256: [UInt8]
    public var idempotencyKey: String?
    public var requestSHA256: [UInt8]?
    public var at: Date
    public var subject: String?
    public var taskRole: String?
    public var taskDueAt: Date?
    public var closes: Bool
    /// The event ``EventDefinition/stays``: the state's entry, task and timers are kept.
    public var stays: Bool
    public var cancelsTimers: Bool
    public var jobs: StateJobs
    public var auditEntry: [UInt8]

    public init(
        start: Bool,
        tenantID: UUID,
        instanceID: UUID,
        service: String,
        definitionVersion: Int,
        definitionSHA256: String,
        parametersJSON: String,
        sequence: Int64,
        event: String,
        fromState: String?,
        toState: String,
        actorID: UUID?,
        actorRole: String,
        inputJSON: String,
        inputSHA256: [UInt8],
        idempotencyKey: String?,
        requestSHA256: [UInt8]?,
        at: Date,
        subject: String?,
        taskRole: String?,
        taskDueAt: Date?,
        closes: Bool,
        stays: Bool = false,
        cancelsTimers: Bool,
        jobs: StateJobs,
        auditEntry: [UInt8]
    ) {
        self.start = start
        self.tenantID = tenantID
        self.instanceID = instanceID
        self.service = service
        self.definitionVersion = definitionVersion
        self.definitionSHA256 = definitionSHA256
        self.parametersJSON = parametersJSON
        self.sequence = sequence
        self.event = event
        self.fromState = fromState
        self.toState = toState
        self.actorID = actorID
        self.actorRole = actorRole
        self.inputJSON = inputJSON
        self.inputSHA256 = inputSHA256
        self.idempotencyKey = idempotencyKey
        self.requestSHA256 = requestSHA256
        self.at = at
        self.subject = subject
        self.taskRole = taskRole
        self.taskDueAt = taskDueAt
        self.closes = closes
        self.stays = stays
        self.cancelsTimers = cancelsTimers
        self.jobs = jobs
        self.auditEntry = auditEntry
    }

    public func query() throws -> PostgresQuery {
        let closedAt: Date? = closes ? at : nil
        let version = Int32(definitionVersion)
        let inputHash = Data(inputSHA256)
        let requestHash = requestSHA256.map { Data($0) }
        let entry = Data(auditEntry)
        // Every parameter is cast, so that the statement prepares the same way whatever the values:
        // its types never depend on inference from context.
        return try """
        WITH created AS (
            INSERT INTO workflow_instances (
                tenant_id, id, service_key, definition_version, definition_sha256, parameters, state,
                state_sequence, state_entered_at, last_sequence, subject, task_role, task_due_at,
                created_at, updated_at, closed_at)
            SELECT \(tenantID)::uuid, \(instanceID)::uuid, \(service)::text, \(version)::integer,
                   \(definitionSHA256)::text, \(parametersJSON)::text::jsonb, \(toState)::text, \(sequence)::bigint,
                   \(at)::timestamptz, \(sequence)::bigint, coalesce(\(subject)::text, ''), \(taskRole)::text,
                   \(taskDueAt)::timestamptz, \(at)::timestamptz, \(at)::timestamptz, \(closedAt)::timestamptz
            WHERE \(start)::boolean
        ), moved AS (
            UPDATE workflow_instances SET state = \(toState)::text,
                state_sequence = CASE WHEN \(stays)::boolean THEN state_sequence ELSE \(sequence)::bigint END,
                state_entered_at = CASE WHEN \(stays)::boolean THEN state_entered_at ELSE \(at)::timestamptz END,
                last_sequence = \(sequence)::bigint, subject = coalesce(\(subject)::text, subject),
                task_role = CASE WHEN \(stays)::boolean THEN task_role ELSE \(taskRole)::text END,
                task_due_at = CASE WHEN \(stays)::boolean THEN task_due_at ELSE \(taskDueAt)::timestamptz END,
                updated_at = \(at)::timestamptz,
                closed_at = \(closedAt)::timestamptz
            WHERE NOT \(start)::boolean AND tenant_id = \(tenantID)::uuid AND id = \(instanceID)::uuid
        ), step AS (
            INSERT INTO workflow_steps (
                tenant_id, instance_id, sequence, event, from_state, to_state, actor_id, actor_role, input,
                input_sha256, idempotency_key, request_sha256, at)
            VALUES (\(tenantID)::uuid, \(instanceID)::uuid, \(sequence)::bigint, \(event)::text, \(fromState)::text,
                \(toState)::text, \(actorID)::uuid, \(actorRole)::text, \(inputJSON)::text::jsonb, \(inputHash)::bytea,
                \(idempotencyKey)::text, \(requestHash)::bytea, \(at)::timestamptz)
        ), cancelled AS (
            -- A timer the runner holds is skipped, not waited for (the runner waits for this
            -- instance, so waiting here would deadlock); it finds the state left and does nothing.
            UPDATE jobs SET status = 'cancelled', finished_at = \(at)::timestamptz
            WHERE tenant_id = \(tenantID)::uuid AND id IN (
                SELECT id FROM jobs
                WHERE \(cancelsTimers)::boolean AND tenant_id = \(tenantID)::uuid AND instance_id = \(instanceID)::uuid
                  AND status = 'pending' AND kind IN ('timer', 'escalation')
                FOR UPDATE SKIP LOCKED)
        ), scheduled AS (
            INSERT INTO jobs (tenant_id, kind, instance_id, state_sequence, event, topic, payload, run_at)
            SELECT \(tenantID)::uuid, k, CASE WHEN k = 'outbox' THEN NULL ELSE \(instanceID)::uuid END,
                   CASE WHEN k = 'outbox' THEN NULL ELSE \(sequence)::bigint END, nullif(e, ''), nullif(t, ''),
                   p::jsonb, r
            FROM unnest(\(jobs.kinds)::text[], \(jobs.events)::text[], \(jobs.topics)::text[],
                        \(jobs.payloads)::text[], \(jobs.runAt)::timestamptz[]) AS j (k, e, t, p, r)
        ), leaf AS (
            INSERT INTO audit_queue (tenant_id, entry) VALUES (\(tenantID)::uuid, \(entry)::bytea)
        )
        SELECT pg_notify(\(WorkflowEngine.jobsChannel)::text, \(tenantID.uuidString)::text) WHERE \(jobs.dueNow)::boolean
        """
    }

    /// The statement prepared once per connection and then only bound and executed: after a few
    /// runs PostgreSQL keeps a generic plan, so a step no longer pays for parsing and planning.
    public var prepared: PreparedStepWrite {
        get throws { PreparedStepWrite(query: try query()) }
    }
}

extension StepWrite {
    /// Any step: only the statement's text is taken from it.
    static let sample = StepWrite(
        start: true,
        tenantID: UUID(),
        instanceID: UUID(),
        service: "sample",
        definitionVersion: 1,
        definitionSHA256: "",
        parametersJSON: "{}",
        sequence: 1,
        event: "start",
        fromState: nil,
        toState: "sample",
        actorID: nil,
        actorRole: "system",
        inputJSON: "{}",
        inputSHA256: [],
        idempotencyKey: nil,
        requestSHA256: nil,
        at: Date(timeIntervalSince1970: 0),
        subject: nil,
        taskRole: nil,
        taskDueAt: nil,
        closes: false,
        cancelsTimers: false,
        jobs: .none,
        auditEntry: []
    )
}

/// The jobs a step schedules, as parallel arrays for one `unnest`.
public struct StateJobs: Sendable {
    var kinds: [String] = []
    var events: [String] = []
    var topics: [String] = []
    var payloads: [String] = []
    var runAt: [Date] = []
    /// Whether any job is due at once, so the runner should be woken.
    var dueNow = false

    /// No jobs: a step into a state without timers or task, queueing no messages.
    public static let none = StateJobs()

    private init() {}

    /// Timers or escalations for a new state, given directly (the benchmark's raw mode).
    public init(scheduling jobs: [(kind: String, event: String, at: Date)]) {
        for job in jobs { add(job.kind, event: job.event, at: job.at) }
    }

    init(step: WorkflowEngine.PreparedStep) {
        // A step that stays keeps the state's timers and escalation as they are.
        for timer in step.toState.timers where !step.event.stays {
            add("timer", event: timer.event, at: step.parameters.resolve(timer.after).added(to: step.at))
        }
        if let task = step.toState.task, !step.event.stays {
            add("escalation", event: task.escalateEvent ?? "", at: step.parameters.resolve(task.due).added(to: step.at))
        }
        for message in step.effects.outbox {
            kinds.append("outbox")
            events.append("")
            topics.append(message.topic)
            payloads.append(message.payload.canonicalJSON)
            runAt.append(step.at)
            dueNow = true
        }
    }

    private mutating func add(_ kind: String, event: String, at date: Date) {
        kinds.append(kind)
        events.append(event)
        topics.append("")
        payloads.append("{}")
        runAt.append(date)
    }
}
