import Core
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

/// Does the work in the `jobs` table: fires timers and escalations, delivers outbox messages.
///
/// A timer or escalation is claimed with `FOR UPDATE SKIP LOCKED` and done in the same
/// transaction that marks it done, so any number of processes can run a runner and no timer
/// fires twice. An outbox message is sent outside any transaction — a gateway's call may take a
/// second, and no connection or row lock waits for it: its claim (a short transaction) counts the
/// attempt and leases it for ``messageLease``, the send has ``messageDeadline``, and the outcome
/// is written after. A runner that stops while sending leaves the lease, after which the message
/// is sent again (at least once, as before); one whose every attempt ended so is marked dead. A
/// failed job is retried with exponential backoff and, after its last attempt, marked dead for
/// administrators to see. The runner wakes on `NOTIFY adal_jobs` and polls every
/// `pollInterval` for timers that came due; timers due while no server ran fire on the first poll.
public struct JobRunner: Service {
    /// Delivers one outbox message; throwing schedules a retry.
    public typealias Handler = @Sendable (OutboxMessage, UUID) async throws -> Void

    let engine: WorkflowEngine
    let handlers: [String: Handler]
    let pollInterval: Duration
    /// Longest a message's send may take; one still sending then is cancelled and counts as a
    /// failed attempt.
    let messageDeadline: Duration
    let logger: Logger

    /// Most jobs of each kind (timers and escalations; messages) done for one tenant before the
    /// next tenant gets a turn.
    public static let batch = 100
    /// A tenant's timers and escalations run this many at a time, each in its own transaction
    /// (each holds a connection while it runs, so few).
    public static let concurrentJobs = 4
    /// A tenant's outbox messages are claimed this many at a time by each of ``concurrentJobs``
    /// senders, and sent at once: up to 32 sends wait for gateways together, holding no
    /// connection (docs/meal-payments.md, "A gateway that takes its time").
    public static let messagesPerClaim = 8
    /// How long a claimed message is not claimed again: longer than its deadline, so only a
    /// runner that stopped while sending leaves one to be sent again.
    public static let messageLease: Duration = .seconds(120)
    /// The first retry waits this long; each later one twice as long, up to `maximumBackoff`.
    public static let firstBackoff: Double = 2
    public static let maximumBackoff: Double = 3_600

    public init(
        engine: WorkflowEngine,
        handlers: [String: Handler],
        pollInterval: Duration = .seconds(1),
        messageDeadline: Duration = .seconds(60),
        logger: Logger
    ) {
        precondition(messageDeadline < Self.messageLease, "a message's deadline must end before its lease")
        self.engine = engine
        self.handlers = handlers
        self.pollInterval = pollInterval
        self.messageDeadline = messageDeadline
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

    /// Runs every job due now, tenant by tenant (a tenant's timers ``concurrentJobs`` at a time,
    /// its messages as many senders' claims at once); returns how many were done or given up.
    @discardableResult
    public func runDueJobs() async throws -> Int {
        var total = 0
        let tenants = try await database.withoutTenant { connection in
            var tenants: [UUID] = []
            let rows = try await connection.query("SELECT adal_tenants_with_due_jobs(now())", logger: logger)
            for try await tenant in rows.decode(UUID.self) { tenants.append(tenant) }
            return tenants
        }
        let share = Self.batch / Self.concurrentJobs
        for tenant in tenants {
            total += try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<Self.concurrentJobs {
                    group.addTask {
                        var done = 0
                        while done < share, try await runOne(tenantID: tenant) { done += 1 }
                        return done
                    }
                    group.addTask {
                        var done = 0
                        while done < share {
                            let sent = try await sendMessages(tenantID: tenant)
                            guard sent > 0 else { break }
                            done += sent
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

    /// Claims and runs one due timer or escalation of `tenantID` in one transaction; false when
    /// none is left.
    func runOne(tenantID: UUID) async throws -> Bool {
        // The job claimed, if any: a failure after the claim is recorded against it.
        let claimed = Locked<ClaimedJob?>(nil)
        do {
            return try await database.withTenant(tenantID) { connection in
                let rows = try await connection.query(
                    """
                    SELECT id, kind, instance_id, state_sequence, event, topic, payload::text, attempts, max_attempts
                    FROM jobs WHERE tenant_id = \(tenantID) AND status = 'pending' AND run_at <= now()
                        AND kind <> 'outbox'
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
            try await recordFailure(job, attempts: Int(job.attempts) + 1, tenantID: tenantID, error: error)
            return true
        }
    }

    /// Does a timer's or an escalation's work inside the claiming transaction; returns the status
    /// it ends in.
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
        default:
            throw JobError.unknownKind(job.kind)
        }
    }

    /// Claims up to ``messagesPerClaim`` due outbox messages of `tenantID` (each attempt counted
    /// and leased in one short transaction), sends them at once outside any transaction, and
    /// records their outcomes; how many it claimed (0: none was due).
    func sendMessages(tenantID: UUID) async throws -> Int {
        let claimed = try await claimMessages(tenantID: tenantID)
        let outcomes = await withTaskGroup(of: (ClaimedJob, (any Error)?).self) { group in
            for job in claimed where job.attempts <= job.maximumAttempts {
                group.addTask { (job, await send(job, tenantID: tenantID)) }
            }
            var outcomes: [(ClaimedJob, (any Error)?)] = []
            for await outcome in group { outcomes.append(outcome) }
            return outcomes
        }
        let sent = outcomes.filter { $0.1 == nil }.map(\.0)
        if !sent.isEmpty {
            // Only while the lease is this runner's: a runner that took a message again after the
            // lease ran out records its own outcome.
            try await database.withTenant(tenantID) { connection in
                try await connection.query(
                    """
                    UPDATE jobs SET status = 'done', finished_at = now(), last_error = NULL
                    FROM unnest(\(sent.map(\.id)), \(sent.map(\.attempts))) AS sent(id, attempts)
                    WHERE jobs.tenant_id = \(tenantID) AND jobs.id = sent.id AND jobs.attempts = sent.attempts
                        AND jobs.status = 'pending'
                    """,
                    logger: logger
                )
            }
        }
        for case (let job, let error?) in outcomes where !(error is CancellationError) {
            try await recordFailure(job, attempts: Int(job.attempts), tenantID: tenantID, error: error)
        }
        return claimed.count
    }

    /// Due outbox messages of `tenantID`, each with its attempt counted and leased for
    /// ``messageLease``. One that has had every attempt already — each ended by its runner
    /// stopping, with no outcome recorded — is marked dead instead (returned with more attempts
    /// than its most, not to be sent).
    private func claimMessages(tenantID: UUID) async throws -> [ClaimedJob] {
        let lease = Double(Self.messageLease.components.seconds)
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                WITH due AS (
                    SELECT id FROM jobs
                    WHERE tenant_id = \(tenantID) AND status = 'pending' AND run_at <= now() AND kind = 'outbox'
                    ORDER BY run_at, id LIMIT \(Self.messagesPerClaim) FOR UPDATE SKIP LOCKED
                )
                UPDATE jobs SET
                    attempts = jobs.attempts + 1,
                    run_at = now() + make_interval(secs => \(lease)),
                    status = CASE WHEN jobs.attempts >= jobs.max_attempts THEN 'dead' ELSE 'pending' END,
                    finished_at = CASE WHEN jobs.attempts >= jobs.max_attempts THEN now() END,
                    last_error = CASE WHEN jobs.attempts >= jobs.max_attempts
                        THEN left('no outcome recorded after its last attempt (its runner stopped while sending); '
                            || coalesce(jobs.last_error, ''), 2000)
                        ELSE jobs.last_error END
                FROM due WHERE jobs.tenant_id = \(tenantID) AND jobs.id = due.id
                RETURNING jobs.id, jobs.kind, jobs.topic, jobs.payload::text, jobs.attempts, jobs.max_attempts
                """,
                logger: logger
            )
            var claimed: [ClaimedJob] = []
            for try await row in rows.decode((Int64, String, String?, String, Int32, Int32).self) {
                claimed.append(
                    ClaimedJob(
                        id: row.0,
                        kind: row.1,
                        instanceID: nil,
                        stateSequence: nil,
                        event: nil,
                        topic: row.2,
                        payload: row.3,
                        attempts: row.4,
                        maximumAttempts: row.5
                    )
                )
            }
            return claimed
        }
    }

    /// Sends a claimed message through its topic's handler within ``messageDeadline``; nil when
    /// it went out, else why not (`CancellationError` when the runner is stopping: its lease
    /// then brings it back). A handler still running at the deadline is cancelled (one that
    /// ignores cancellation is waited for).
    private func send(_ job: ClaimedJob, tenantID: UUID) async -> (any Error)? {
        do {
            guard let topic = job.topic else { return nil }
            guard let handler = handlers[topic] else { throw JobError.noHandler(topic: topic) }
            let payload = try JSONDecoder().decode(InputValue.self, from: Data(job.payload.utf8))
            let sent = try await finished(within: messageDeadline) {
                try await handler(OutboxMessage(topic: topic, payload: payload, jobID: job.id), tenantID)
            }
            if !sent { throw JobError.noAnswer(within: messageDeadline) }
            return nil
        } catch {
            return Task.isCancelled ? CancellationError() : error
        }
    }

    /// Schedules the next attempt after a failure, or marks the job dead after its last
    /// (`attempts`: those made, this one included) — unless the job's row has changed since it
    /// was claimed (its attempts no longer those read).
    private func recordFailure(_ job: ClaimedJob, attempts: Int, tenantID: UUID, error: any Error) async throws {
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
                    AND attempts = \(job.attempts)
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
    /// A message's send still had not finished at its deadline.
    case noAnswer(within: Duration)

    public var description: String {
        switch self {
        case .noHandler(let topic): "no handler for outbox topic '\(topic)'"
        case .unknownKind(let kind): "unknown job kind '\(kind)'"
        case .noAnswer(let deadline): "no answer within \(deadline); cancelled"
        }
    }
}

extension JobRunner {
    /// A timer, escalation or message done or cancelled is deleted `keep` after it finished;
    /// a dead one stays until an administrator sends it again (it is then done).
    public static func retentionRules(keep: Duration) -> [RetentionRule] {
        [
            RetentionRule(
                name: "finished jobs",
                table: "jobs",
                condition: "status IN ('done', 'cancelled') AND finished_at < $2",
                keep: keep
            )
        ]
    }
}
