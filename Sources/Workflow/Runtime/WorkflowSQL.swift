import Core
import Foundation
import PostgresNIO
import Storage

/// The statements of a step, in one place, so that the engine and the benchmark's raw mode
/// (`adal bench workflow`, which runs the same statements without the engine) cannot drift.
public enum WorkflowSQL {
    /// Locks instances and reads what their steps need, each with the step stored under its
    /// request's idempotency key (an empty key for none), if any. The instances are locked in
    /// the order of their ids, so two batches that share instances never wait for each other in
    /// a circle; each row carries its instance's position (from 1) in `instanceIDs`, which holds
    /// no instance twice.
    public static func lockInstances(tenantID: UUID, instanceIDs: [UUID], idempotencyKeys: [String]) -> PostgresQuery {
        // Both lookups stay index probes whatever the cached generic plan guesses of the lists'
        // lengths: the instances by `= ANY`, the key by a LATERAL subquery with LIMIT, which
        // the planner does not turn into a join (that may hash the city's whole step table).
        """
        SELECT array_position(\(instanceIDs)::uuid[], i.id), i.service_key, i.definition_version,
               i.definition_sha256, i.parameters::text, i.state, i.state_sequence, i.last_sequence,
               s.instance_id, s.sequence, s.event, s.from_state, s.to_state, s.at, s.request_sha256
        FROM workflow_instances i
        LEFT JOIN LATERAL (
            SELECT * FROM workflow_steps k
            WHERE k.tenant_id = i.tenant_id
              AND k.idempotency_key = nullif((\(idempotencyKeys)::text[])[array_position(\(instanceIDs)::uuid[], i.id)], '')
            LIMIT 1
        ) s ON true
        WHERE i.tenant_id = \(tenantID)::uuid AND i.id = ANY(\(instanceIDs)::uuid[])
        ORDER BY i.id
        FOR UPDATE OF i
        """
    }

    /// ``lockInstances(tenantID:instanceIDs:idempotencyKeys:)`` for instances that `located`
    /// finds in the same statement (``InstanceLocator``): one row per request found (a request's
    /// position from 1, then the same columns, then the instance's id), a request's key by its
    /// position. The instances are probed by `= ANY` of the located ids, so the cached generic
    /// plan stays index probes, and locked in the order of their ids.
    public static func lockLocated(
        _ located: PostgresQuery,
        tenantID: UUID,
        idempotencyKeys: [String]
    )
        -> PostgresQuery
    {
        var query = PostgresQuery(
            unsafeSQL: "WITH located (n, instance_id) AS MATERIALIZED (\n\(located.sql)\n)\n",
            binds: located.binds
        )
        let (keys, tenant) = (located.binds.count + 1, located.binds.count + 2)
        query.sql += """
            SELECT l.n, i.service_key, i.definition_version,
                   i.definition_sha256, i.parameters::text, i.state, i.state_sequence, i.last_sequence,
                   s.instance_id, s.sequence, s.event, s.from_state, s.to_state, s.at, s.request_sha256, i.id
            FROM workflow_instances i
            JOIN located l ON l.instance_id = i.id
            LEFT JOIN LATERAL (
                SELECT * FROM workflow_steps k
                WHERE k.tenant_id = i.tenant_id AND k.idempotency_key = nullif(($\(keys)::text[])[l.n], '')
                LIMIT 1
            ) s ON true
            WHERE i.tenant_id = $\(tenant)::uuid AND i.id = ANY (ARRAY(SELECT instance_id FROM located))
            ORDER BY i.id
            FOR UPDATE OF i
            """
        query.binds.append(idempotencyKeys)
        query.binds.append(tenantID)
        return query
    }
}

/// A caller's query that finds a batch's instances inside the engine's lock statement, so one
/// round trip both finds and locks them (``WorkflowEngine/fire(tenantID:take:missing:repeats:locator:answer:)``):
/// rows `(n, instance_id)` — a request's position from 1 and its instance — at most one per
/// request; a request without a row is answered as missing. Its text must not depend on the
/// values (it is prepared once per connection), and it runs with the city set.
public protocol InstanceLocator: Sendable {
    associatedtype Context: Sendable
    /// Names the lock statement prepared with this query; unique among the server's statements.
    static var name: String { get }
    static func query(_ contexts: [Context], tenantID: UUID) -> PostgresQuery
}

/// The lock statement with a locator's query, as a named prepared statement.
struct PreparedLocatedLock<Locator: InstanceLocator>: PreparedSQL {
    typealias Row = (instanceID: UUID, locked: LockedInstance)
    static var name: String { "adal_instance_lock_" + Locator.name }
    static var sql: String {
        WorkflowSQL.lockLocated(Locator.query([], tenantID: UUID()), tenantID: UUID(), idempotencyKeys: []).sql
    }

    let query: PostgresQuery

    init(_ contexts: [Locator.Context], tenantID: UUID, idempotencyKeys: [String?]) {
        query = WorkflowSQL.lockLocated(
            Locator.query(contexts, tenantID: tenantID),
            tenantID: tenantID,
            idempotencyKeys: idempotencyKeys.map { $0 ?? "" }
        )
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        let c = try row.decode(
            (
                Int32, String, Int32, String, String, String, Int64, Int64, UUID?, Int64?, String?, String?, String?,
                Date?, Data?, UUID
            ).self
        )
        return (
            c.15,
            LockedInstance(columns: (c.0, c.1, c.2, c.3, c.4, c.5, c.6, c.7, c.8, c.9, c.10, c.11, c.12, c.13, c.14))
        )
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

/// The lock query as a named prepared statement, for one instance or a batch.
public struct PreparedInstanceLock: PreparedSQL {
    public typealias Row = LockedInstance
    public static let name = "adal_instance_lock"
    public static let sql: String = WorkflowSQL.lockInstances(tenantID: UUID(), instanceIDs: [], idempotencyKeys: [])
        .sql

    public let query: PostgresQuery

    public init(tenantID: UUID, instanceID: UUID, idempotencyKey: String?) {
        self.init(tenantID: tenantID, instanceIDs: [instanceID], idempotencyKeys: [idempotencyKey])
    }

    public init(tenantID: UUID, instanceIDs: [UUID], idempotencyKeys: [String?]) {
        query = WorkflowSQL.lockInstances(
            tenantID: tenantID,
            instanceIDs: instanceIDs,
            idempotencyKeys: idempotencyKeys.map { $0 ?? "" }
        )
    }

    public func decodeRow(_ row: PostgresRow) throws -> Row {
        LockedInstance(
            columns: try row.decode(
                (
                    Int32, String, Int32, String, String, String, Int64, Int64, UUID?, Int64?, String?, String?,
                    String?, Date?, Data?
                ).self
            )
        )
    }
}

/// What the lock read of one instance: where it stands, and the step stored under the
/// request's idempotency key, if any.
public struct LockedInstance: Sendable {
    /// A step an earlier request with the same key made, and that request's hash.
    struct StoredStep: Sendable {
        let result: StepResult
        let requestSHA256: [UInt8]?
    }

    /// The request's position (from 0) in the batch.
    let position: Int
    let service: String
    let definitionVersion: Int
    let definitionSHA256: String
    let parametersJSON: String
    let state: String
    let stateSequence: Int64
    let lastSequence: Int64
    let stored: StoredStep?
}

extension LockedInstance {
    /// The lock statement's columns, in their order.
    init(
        columns: (
            Int32, String, Int32, String, String, String, Int64, Int64, UUID?, Int64?, String?, String?, String?,
            Date?, Data?
        )
    ) {
        var stored: StoredStep?
        if let instance = columns.8, let sequence = columns.9, let event = columns.10, let to = columns.12,
            let at = columns.13
        {
            stored = StoredStep(
                result: StepResult(
                    instanceID: instance,
                    sequence: sequence,
                    event: event,
                    fromState: columns.11,
                    toState: to,
                    at: at,
                    replayed: true
                ),
                requestSHA256: columns.14.map { Array($0) }
            )
        }
        self.init(
            position: Int(columns.0) - 1,
            service: columns.1,
            definitionVersion: Int(columns.2),
            definitionSHA256: columns.3,
            parametersJSON: columns.4,
            state: columns.5,
            stateSequence: columns.6,
            lastSequence: columns.7,
            stored: stored
        )
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
    /// The service's parameters as the instance keeps them: written only when it starts.
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

    /// This step's statement: ``query(_:)`` of it alone.
    public func query() throws -> PostgresQuery { try Self.query([self]) }

    /// The statement prepared once per connection and then only bound and executed: after a few
    /// runs PostgreS"""L keeps a generic plan, so a step no longer pays for parsing and planning.
    public var prepared: PreparedStepWrite {
        get throws { PreparedStepWrite(query: try query()) }
    }

    /// The statement that writes `steps` — of one city, on different instances — at once: each
    /// list below holds one value per step, in the steps' order (their audit leaves are queued
    /// in it), with an empty value standing for none where a column may be null.
    public static func query(_ steps: [StepWrite]) throws -> PostgresQuery {
        let tenantID = steps.first?.tenantID ?? UUID()
        guard steps.allSatisfy({ $0.tenantID == tenantID }) else {
            throw AdalError.unavailable(reason: "a batch of steps belongs to one city")
        }
        let start = steps.map(\.start)
        let instance = steps.map(\.instanceID)
        let service = steps.map(\.service)
        let version = steps.map { Int32($0.definitionVersion) }
        let definitionSHA256 = steps.map(\.definitionSHA256)
        let parameters = steps.map(\.parametersJSON)
        let sequence = steps.map(\.sequence)
        let event = steps.map(\.event)
        let from = steps.map { $0.fromState ?? "" }
        let to = steps.map(\.toState)
        let actor = steps.map { $0.actorID?.lowercasedText ?? "" }
        let role = steps.map(\.actorRole)
        let input = steps.map(\.inputJSON)
        let inputHash = steps.map { ByteBuffer(bytes: $0.inputSHA256) }
        let key = steps.map { $0.idempotencyKey ?? "" }
        let request = steps.map { ByteBuffer(bytes: $0.requestSHA256 ?? []) }
        let at = steps.map(\.at)
        let subject = steps.map { $0.subject ?? "" }
        let taskRole = steps.map { $0.taskRole ?? "" }
        let hasDue = steps.map { $0.taskDueAt != nil }
        let due = steps.map { $0.taskDueAt ?? $0.at }
        let closes = steps.map(\.closes)
        let stays = steps.map(\.stays)
        let cancels = steps.map(\.cancelsTimers)
        let entry = steps.map { ByteBuffer(bytes: $0.auditEntry) }
        var jobs = (step: [Int32](), kinds: [String](), events: [String](), topics: [String](), payloads: [String]())
        var runAt: [Date] = []
        for (index, step) in steps.enumerated() {
            jobs.step += Array(repeating: Int32(index + 1), count: step.jobs.kinds.count)
            jobs.kinds += step.jobs.kinds
            jobs.events += step.jobs.events
            jobs.topics += step.jobs.topics
            jobs.payloads += step.jobs.payloads
            runAt += step.jobs.runAt
        }
        let dueNow = steps.contains { $0.jobs.dueNow }
        // Every parameter is cast, so that the statement prepares the same way whatever the values:
        // its types never depend on inference from context.
        return """
            WITH w AS MATERIALIZED (
                SELECT * FROM unnest(\(start)::boolean[], \(instance)::uuid[], \(service)::text[], \(version)::integer[],
                    \(definitionSHA256)::text[], \(parameters)::text[], \(sequence)::bigint[], \(event)::text[],
                    \(from)::text[], \(to)::text[], \(actor)::text[], \(role)::text[], \(input)::text[],
                    \(inputHash)::bytea[], \(key)::text[], \(request)::bytea[], \(at)::timestamptz[], \(subject)::text[],
                    \(taskRole)::text[], \(hasDue)::boolean[], \(due)::timestamptz[], \(closes)::boolean[],
                    \(stays)::boolean[], \(cancels)::boolean[], \(entry)::bytea[])
                    WITH ORDINALITY AS w (start, instance, service, version, sha256, parameters, sequence, event,
                        from_state, to_state, actor, role, input, input_sha256, key, request, at, subject, task_role,
                        has_due, due, closes, stays, cancels, entry, n)
            ), created AS (
                INSERT INTO workflow_instances (
                    tenant_id, id, service_key, definition_version, definition_sha256, parameters, state,
                    state_sequence, state_entered_at, last_sequence, subject, task_role, task_due_at,
                    created_at, updated_at, closed_at)
                SELECT \(tenantID)::uuid, w.instance, w.service, w.version, w.sha256, w.parameters::jsonb, w.to_state,
                       w.sequence, w.at, w.sequence, w.subject, nullif(w.task_role, ''),
                       CASE WHEN w.has_due THEN w.due END, w.at, w.at, CASE WHEN w.closes THEN w.at END
                FROM w WHERE w.start
            ), moved AS (
                UPDATE workflow_instances i SET state = w.to_state,
                    state_sequence = CASE WHEN w.stays THEN i.state_sequence ELSE w.sequence END,
                    state_entered_at = CASE WHEN w.stays THEN i.state_entered_at ELSE w.at END,
                    last_sequence = w.sequence, subject = coalesce(nullif(w.subject, ''), i.subject),
                    task_role = CASE WHEN w.stays THEN i.task_role ELSE nullif(w.task_role, '') END,
                    task_due_at = CASE WHEN w.stays THEN i.task_due_at WHEN w.has_due THEN w.due END,
                    updated_at = w.at,
                    closed_at = CASE WHEN w.closes THEN w.at END
                FROM w WHERE NOT w.start AND i.tenant_id = \(tenantID)::uuid AND i.id = w.instance
            ), step AS (
                INSERT INTO workflow_steps (
                    tenant_id, instance_id, sequence, event, from_state, to_state, actor_id, actor_role, input,
                    input_sha256, idempotency_key, request_sha256, at)
                SELECT \(tenantID)::uuid, w.instance, w.sequence, w.event, nullif(w.from_state, ''), w.to_state,
                       nullif(w.actor, '')::uuid, w.role, w.input::jsonb, w.input_sha256, nullif(w.key, ''),
                       nullif(w.request, ''::bytea), w.at
                FROM w
            ), cancelled AS (
                -- A timer the runner holds is skipped, not waited for (the runner waits for this
                -- instance, so waiting here would deadlock); it finds the state left and does nothing.
                UPDATE jobs SET status = 'cancelled', finished_at = w.at
                FROM w
                WHERE jobs.tenant_id = \(tenantID)::uuid AND jobs.instance_id = w.instance AND jobs.id IN (
                    SELECT j.id FROM jobs j
                    WHERE j.tenant_id = \(tenantID)::uuid AND j.status = 'pending' AND j.kind IN ('timer', 'escalation')
                      AND j.instance_id IN (SELECT c.instance FROM w c WHERE c.cancels)
                    FOR UPDATE SKIP LOCKED)
            ), scheduled AS (
                INSERT INTO jobs (tenant_id, kind, instance_id, state_sequence, event, topic, payload, run_at)
                SELECT \(tenantID)::uuid, j.k, CASE WHEN j.k = 'outbox' THEN NULL ELSE w.instance END,
                       CASE WHEN j.k = 'outbox' THEN NULL ELSE w.sequence END, nullif(j.e, ''), nullif(j.t, ''),
                       j.p::jsonb, j.r
                FROM unnest(\(jobs.step)::integer[], \(jobs.kinds)::text[], \(jobs.events)::text[],
                            \(jobs.topics)::text[], \(jobs.payloads)::text[], \(runAt)::timestamptz[])
                    AS j (s, k, e, t, p, r)
                JOIN w ON w.n = j.s
            ), leaf AS (
                INSERT INTO audit_queue (tenant_id, entry) SELECT \(tenantID)::uuid, w.entry FROM w ORDER BY w.n
            )
            SELECT pg_notify(\(WorkflowEngine.jobsChannel)::text, \(tenantID.uuidString)::text) WHERE \(dueNow)::boolean
            """
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
