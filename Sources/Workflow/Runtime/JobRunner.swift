import Core
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

/// Does the work in the `jobs` table: fires timers and escalations, delivers outbox messages.
///
/// Each job is claimed with `FOR UPDATE SKIP LOCKED` and done in the same transaction that
/// marks it done, so any number of processes can run a runner and no timer fires twice. A
/// failed job is retried with exponential backoff and, after its last attempt, marked dead for
/// administrators to see. The runner wakes on `NOTIFY adal_jobs` and polls every
/// `pollInterval` for timers that came due; timers due while no server ran fire on the first poll.
public struct JobRunner: Service {
    /// Delivers one outbox message; throwing schedules a retry.
    public typealias Handler = @Sendable (OutboxMessage, UUID) async throws -> Void

    let engine: WorkflowEngine
    let handlers: [String: Handler]
    let pollInterval: Duration
    let logger: Logger

    /// Most jobs done for one tenant before the next tenant gets a turn.
    public static let batch = 100
    /// A tenant's jobs run this many at a time. An outbox handler mostly waits — for a gateway,
    /// the payment provider, a transaction of its own — and one after another a lunch rush's
    /// alerts were queued faster than they went out (docs/meal-payments.md, "A city's
    /// guardians"). Each holds a connection for its claim and may take another, so few.
    public static let concurrentJobs = 4
    /// The first retry waits this long; each later one twice as long, up to `maximumBackoff`.
    public static let firstBackoff: Double = 2
    public static let maximumBackoff: Double = 3_600

    public init(
        engine: WorkflowEngine,
        handlers: [String: Handler],
        pollInterval: Duration = .seconds(1),
        logger: Logger
    ) {
        self.engine = engine
        self.handlers = handlers
        self.pollInterval = pollInterval
        self.logger = logger
    }

    private var database: Database { engine.database }

    public func run() async throws {
        let (wakeups, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        await withDiscardingTaskGroup { group in
            group.addTask { await listen(wake: wake) }
            group.addTask {
                while !Task.isCancelled {
                    wake.yield()
                    try? await Task.sleep(for: pollInterval)
                }
            }
            group.addTask {
                for await _ in wakeups {
                    do {
                        try await runDueJobs()
                    } catch {
                        logger.error("job runner pass failed", metadata: ["error": "\(String(reflecting: error))"])
                    }
                }
            }
            // Stops every child when the server shuts down.
            try? await gracefulShutdown()
            group.cancelAll()
            wake.finish()
        }
    }

    /// Keeps a connection listening on the jobs channel, reconnecting after a failure.
    private func listen(wake: AsyncStream<Void>.Continuation) async {
        while !Task.isCancelled {
            do {
                try await database.client.withConnection { connection in
                    try await connection.listen(on: WorkflowEngine.jobsChannel) { notifications in
                        for try await _ in notifications { wake.yield() }
                    }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("job notifications lost; listening again", metadata: ["error": "\(type(of: error))"])
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    /// Runs every job due now, tenant by tenant (a tenant's ``concurrentJobs`` at a time);
    /// returns how many were done or given up.
    @discardableResult
    public func runDueJobs() async throws -> Int {
        var total = 0
        let tenants = try await database.withoutTenant { connection in
            var tenants: [UUID] = []
            let rows = try await connection.query("SELECT adal_tenants_with_due_jobs(now())", logger: logger)
            for try await tenant in rows.decode(UUID.self) { tenants.append(tenant) }
            return tenants
        }
        for tenant in tenants {
            total += try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<Self.concurrentJobs {
                    group.addTask {
                        var done = 0
                        while done < Self.batch / Self.concurrentJobs, try await runOne(tenantID: tenant) {
                            done += 1
                        }
                        return done
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        return total
    }

    /// A claimed job, as read from its row.
    struct ClaimedJob: Sendable {
        let id: Int64
        let kind: String
        let instanceID: UUID?
        let stateSequence: Int64?
        let event: String?
        let topic: String?
        let payload: String
        let attempts: Int32
        let maximumAttempts: Int32
    }

    /// Claims and runs one due job of `tenantID`; false when none is left.
    func runOne(tenantID: UUID) async throws -> Bool {
        // The job claimed, if any: a failure after the claim is recorded against it.
        let claimed = Locked<ClaimedJob?>(nil)
        do {
            return try await database.withTenant(tenantID) { connection in
                let rows = try await connection.query(
                    """
                    SELECT id, kind, instance_id, state_sequence, event, topic, payload::text, attempts, max_attempts
                    FROM jobs WHERE tenant_id = \(tenantID) AND status = 'pending' AND run_at <= now()
                    ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED
                    """,
                    logger: logger
                )
                var job: ClaimedJob? = nil
                for try await row in rows.decode(
                    (Int64, String, UUID?, Int64?, String?, String?, String, Int32, Int32).self
                ) {
                    job = ClaimedJob(
                        id: row.0,
                        kind: row.1,
                        instanceID: row.2,
                        stateSequence: row.3,
                        event: row.4,
                        topic: row.5,
                        payload: row.6,
                        attempts: row.7,
                        maximumAttempts: row.8
                    )
                }
                guard let job else { return false }
                claimed.withLock { $0 = job }
                let outcome = try await perform(job, tenantID: tenantID, on: connection)
                try await connection.query(
                    """
                    UPDATE jobs SET status = \(outcome), attempts = attempts + 1, finished_at = now(), last_error = NULL
                    WHERE tenant_id = \(tenantID) AND id = \(job.id)
                    """,
                    logger: logger
                )
                return true
            }
        } catch {
            guard let job = claimed.current else { throw error }
            try await recordFailure(job, tenantID: tenantID, error: error)
            return true
        }
    }

    /// Does the job's work inside the claiming transaction; returns the status it ends in.
    private func perform(_ job: ClaimedJob, tenantID: UUID, on connection: PostgresConnection) async throws -> String {
        switch job.kind {
        case "timer", "escalation":
            guard let instanceID = job.instanceID, let stateSequence = job.stateSequence else { return "cancelled" }
            guard let event = job.event else {
                // An overdue task with no escalation event: administrators are told.
                try await connection.query(
                    """
                    INSERT INTO jobs (tenant_id, kind, topic, payload, run_at)
                    VALUES (\(tenantID), 'outbox', 'task.overdue', \(InputValue.object(["instance": .string(instanceID.uuidString.lowercased())]).canonicalJSON)::jsonb, now())
                    """,
                    logger: logger
                )
                return "done"
            }
            let request = WorkflowEngine.requestHash(instanceID: instanceID, service: nil, event: event, input: [:])
            let result = try await engine.fire(
                on: connection,
                tenantID: tenantID,
                instanceID: instanceID,
                event: event,
                actor: .system,
                input: [:],
                idempotencyKey: nil,
                request: request,
                expectedStateSequence: stateSequence
            )
            return result == nil ? "cancelled" : "done"
        case "outbox":
            guard let topic = job.topic else { return "cancelled" }
            guard let handler = handlers[topic] else { throw JobError.noHandler(topic: topic) }
            let payload = try JSONDecoder().decode(InputValue.self, from: Data(job.payload.utf8))
            try await handler(OutboxMessage(topic: topic, payload: payload), tenantID)
            return "done"
        default:
            throw JobError.unknownKind(job.kind)
        }
    }

    /// Schedules the next attempt after a failure, or marks the job dead after its last.
    private func recordFailure(_ job: ClaimedJob, tenantID: UUID, error: any Error) async throws {
        let attempts = Int(job.attempts) + 1
        let dead = attempts >= Int(job.maximumAttempts)
        let delay = min(Self.firstBackoff * pow(2, Double(attempts - 1)), Self.maximumBackoff)
        let message = String(String(describing: error).prefix(2_000))
        logger.warning(
            dead ? "job failed for the last time" : "job failed; will retry",
            metadata: ["job": "\(job.id)", "kind": "\(job.kind)", "attempt": "\(attempts)"]
        )
        try await database.withTenant(tenantID) { connection in
            try await connection.query(
                """
                UPDATE jobs SET attempts = \(Int32(attempts)), last_error = \(message),
                    status = CASE WHEN \(dead) THEN 'dead' ELSE 'pending' END,
                    finished_at = CASE WHEN \(dead) THEN now() END,
                    run_at = now() + make_interval(secs => \(delay))
                WHERE tenant_id = \(tenantID) AND id = \(job.id) AND status = 'pending'
                """,
                logger: logger
            )
        }
    }
}

/// Why a job could not be done.
public enum JobError: Error, Equatable, CustomStringConvertible {
    case noHandler(topic: String)
    case unknownKind(String)

    public var description: String {
        switch self {
        case .noHandler(let topic): "no handler for outbox topic '\(topic)'"
        case .unknownKind(let kind): "unknown job kind '\(kind)'"
        }
    }
}
