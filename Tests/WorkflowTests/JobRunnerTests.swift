import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import TestSupport
import Testing
import Workflow

@Suite("Timers, escalations and the outbox")
struct JobRunnerTests {
    static let quietHandlers: [String: JobRunner.Handler] = [
        "request.submitted": { _, _ in },
        "task.overdue": { _, _ in },
    ]

    func runner(_ fixture: EngineFixture, handlers: [String: JobRunner.Handler] = quietHandlers) -> JobRunner {
        JobRunner(engine: fixture.engine, handlers: handlers, logger: TestCluster.logger)
    }

    @Test("an overdue task escalates by firing its event as the system")
    func escalation() async throws {
        try await EngineFixture.with { fixture in
            let id = try await fixture.startRequest().instanceID
            try await runner(fixture).runDueJobs()
            #expect(try await fixture.count("SELECT count(*) FROM workflow_instances WHERE state = 'submitted'") == 1)
            try await fixture.execute("UPDATE jobs SET run_at = now() - interval '1 second' WHERE kind = 'escalation'")
            try await runner(fixture).runDueJobs()
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM workflow_steps WHERE instance_id = \(id) AND event = 'escalate' AND actor_role = 'system' AND actor_id IS NULL"
                ) == 1
            )
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM workflow_instances WHERE state = 'escalated' AND task_role = 'akimat_admin'"
                ) == 1
            )
            #expect(
                try await fixture.count("SELECT count(*) FROM jobs WHERE kind = 'escalation' AND status = 'done'") == 1
            )
        }
    }

    @Test("a timer of a state already left does nothing")
    func cancelledTimer() async throws {
        try await EngineFixture.with { fixture in
            let id = try await fixture.startRequest().instanceID
            try await fixture.execute("UPDATE jobs SET run_at = now() - interval '1 second' WHERE kind = 'escalation'")
            try await fixture.fire("approve", on: id, as: fixture.officer)
            #expect(
                try await fixture.count("SELECT count(*) FROM jobs WHERE kind = 'escalation' AND status = 'cancelled'")
                    == 1
            )
            // As if a runner had held the escalation while the step ran, so the step skipped it.
            try await fixture.execute(
                "UPDATE jobs SET status = 'pending', finished_at = NULL WHERE kind = 'escalation'"
            )
            try await runner(fixture).runDueJobs()
            #expect(
                try await fixture.count("SELECT count(*) FROM jobs WHERE kind = 'escalation' AND status = 'cancelled'")
                    == 1
            )
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE event = 'escalate'") == 0)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_instances WHERE state = 'approved'") == 1)
        }
    }

    @Test("two runners on separate connection pools fire each due timer exactly once")
    func twoRunners() async throws {
        try await EngineFixture.with { fixture in
            for _ in 0..<30 { _ = try await fixture.startRequest() }
            try await fixture.execute("UPDATE jobs SET run_at = now() - interval '1 second' WHERE kind = 'escalation'")
            // A second server process: its own pool, registry and engine on the same database.
            try await PostgresClient.using(fixture.databases.applicationConfiguration, logger: TestCluster.logger) {
                client in
                let secondEngine = WorkflowEngine(
                    database: Database(client: client, logger: TestCluster.logger),
                    registry: try EngineFixture.registry()
                )
                let second = JobRunner(engine: secondEngine, handlers: Self.quietHandlers, logger: TestCluster.logger)
                let first = runner(fixture)
                async let a = first.runDueJobs()
                async let b = second.runDueJobs()
                async let c = first.runDueJobs()
                async let d = second.runDueJobs()
                _ = try await (a, b, c, d)
            }
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE event = 'escalate'") == 30)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_instances WHERE state = 'escalated'") == 30)
            #expect(try await fixture.count("SELECT max(sequence) FROM workflow_steps") == 2)
        }
    }

    @Test("timers that came due while no server ran fire on the first pass")
    func dueWhileDown() async throws {
        try await EngineFixture.with { fixture in
            let id = try await fixture.startRequest().instanceID
            try await fixture.fire("approve", on: id, as: fixture.officer)
            try await fixture.execute("UPDATE jobs SET run_at = now() - interval '40 days' WHERE kind = 'timer'")
            try await runner(fixture).runDueJobs()
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM workflow_instances WHERE state = 'expired' AND closed_at IS NOT NULL"
                ) == 1
            )
        }
    }

    @Test("a failing outbox handler is retried with growing delays, then the message is dead")
    func deadLetter() async throws {
        try await EngineFixture.with { fixture in
            _ = try await fixture.startRequest()
            // Sixteen by default (migration 0035), about five hours of retries; three here.
            #expect(try await fixture.count("SELECT max_attempts FROM jobs WHERE kind = 'outbox'") == 16)
            try await fixture.execute("UPDATE jobs SET max_attempts = 3 WHERE kind = 'outbox'")
            let failing: [String: JobRunner.Handler] = [
                "request.submitted": { _, _ in throw AdalError.unavailable(reason: "mail server down") }
            ]
            // Each delay is measured from just before the pass, so a slow machine only widens
            // the upper bound (by the pass's own duration), never breaks the lower one. A pass
            // that takes longer than a backoff (a loaded machine) tries the job again within
            // itself, as it is due again: the delay is checked against the attempts made so far.
            var passes: [(attempts: Int, least: Double, most: Double)] = []
            while passes.count < 3, (passes.last?.attempts ?? 0) < 3 {
                let before = Date().timeIntervalSince1970
                try await runner(fixture, handlers: failing).runDueJobs()
                let after = Date().timeIntervalSince1970
                let runAt =
                    Double(
                        try await fixture.count(
                            "SELECT (extract(epoch FROM run_at) * 1000)::bigint FROM jobs WHERE kind = 'outbox'"
                        )
                    ) / 1000
                let attempts = try await fixture.count("SELECT attempts FROM jobs WHERE kind = 'outbox'")
                passes.append((attempts, runAt - after, runAt - before))
                try await fixture.execute("UPDATE jobs SET run_at = now() - interval '1 second' WHERE kind = 'outbox'")
            }
            #expect(passes.map(\.attempts) == passes.map(\.attempts).sorted() && passes.last?.attempts == 3)
            for pass in passes where pass.attempts < 3 {
                // 2 s after the first failure, 4 s after the second.
                let delay = JobRunner.firstBackoff * pow(2, Double(pass.attempts - 1))
                #expect(pass.most >= delay - 0.5 && pass.least <= delay + 0.5, "\(passes)")
            }
            #expect(passes.contains { $0.attempts < 3 }, "no retry was scheduled: \(passes)")
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM jobs WHERE kind = 'outbox' AND status = 'dead' AND attempts = 3 AND last_error LIKE '%mail server down%'"
                ) == 1
            )
        }
    }

    @Test("a delivered outbox message reaches its handler once")
    func delivered() async throws {
        try await EngineFixture.with { fixture in
            _ = try await fixture.startRequest()
            let received = Received()
            let handlers = received.handlers
            try await runner(fixture, handlers: handlers).runDueJobs()
            try await runner(fixture, handlers: handlers).runDueJobs()
            let messages = await received.messages
            #expect(messages.count == 1)
            #expect(messages.first?.0.payload == .object(["item": .string("Oven")]))
            #expect(messages.first?.1 == fixture.astana.id)
        }
    }

    @Test("a city's due outbox messages are sent many at a time, each once")
    func concurrent() async throws {
        try await EngineFixture.with { fixture in
            // Two senders' claims at once: more than one sender's, so the senders work side by side.
            let count = JobRunner.messagesPerClaim * 2
            #expect(JobRunner.concurrentJobs >= 2)
            for _ in 0..<count { _ = try await fixture.startRequest() }
            // Patience for a loaded machine; met, it lets them through at once.
            let gate = Gate(expected: count, patience: .seconds(30))
            let received = Received()
            let handlers: [String: JobRunner.Handler] = [
                "request.submitted": { message, tenant in
                    await gate.arrive()
                    await received.add(message, tenant)
                }
            ]
            #expect(try await runner(fixture, handlers: handlers).runDueJobs() == count)
            #expect(await gate.met, "the messages were not all being sent at once")
            #expect(await received.messages.count == count)
            #expect(
                try await fixture.count("SELECT count(*) FROM jobs WHERE kind = 'outbox' AND status = 'done'") == count
            )
        }
    }

    @Test("a message is sent with no transaction open: its row can be locked meanwhile, no connection waits in one")
    func sentOutsideTransactions() async throws {
        try await EngineFixture.with { fixture in
            _ = try await fixture.startRequest()
            let seen = Seen()
            let application = fixture.databases.application
            let handlers: [String: JobRunner.Handler] = [
                "request.submitted": { _, _ in
                    do {
                        // Rows read, so a refused lock is seen.
                        let rows = try await fixture.count(
                            "SELECT count(*) FROM (SELECT id FROM jobs WHERE kind = 'outbox' FOR UPDATE NOWAIT) AS job"
                        )
                        await seen.note("row free: \(rows)")
                    } catch {
                        await seen.note("row locked: \(String(reflecting: error))")
                    }
                    // The runner's connections are the application role's, whose sessions it sees.
                    // Its other workers' claims are open for a moment each (longer on a loaded
                    // machine); one open since before the send (2 s ago) would be the send's.
                    try await Task.sleep(for: .seconds(2))
                    let waiting = try await application.withoutTenant { connection in
                        var count = 0
                        for try await number in try await connection.query(
                            """
                            SELECT count(*) FROM pg_stat_activity
                            WHERE datname = current_database() AND state LIKE 'idle in transaction%'
                                AND xact_start < clock_timestamp() - interval '1.5 seconds'
                            """,
                            logger: application.logger
                        ).decode(Int64.self) {
                            count = Int(number)
                        }
                        return count
                    }
                    await seen.note("\(waiting) in a transaction since")
                }
            ]
            try await runner(fixture, handlers: handlers).runDueJobs()
            let notes = await seen.notes
            #expect(notes == ["row free: 1", "0 in a transaction since"], "\(notes)")
            #expect(try await fixture.count("SELECT count(*) FROM jobs WHERE kind = 'outbox' AND status = 'done'") == 1)
        }
    }

    @Test("a send that outlasts its deadline is cancelled and retried later")
    func deadline() async throws {
        try await EngineFixture.with { fixture in
            _ = try await fixture.startRequest()
            let seen = Seen()
            let handlers: [String: JobRunner.Handler] = [
                "request.submitted": { _, _ in
                    do {
                        try await Task.sleep(for: .seconds(60))
                        await seen.note("finished")
                    } catch {
                        await seen.note("cancelled")
                        throw error
                    }
                }
            ]
            let runner = JobRunner(
                engine: fixture.engine,
                handlers: handlers,
                messageDeadline: .seconds(1),
                logger: TestCluster.logger
            )
            try await runner.runDueJobs()
            // Every attempt cancelled at its deadline and counted. On a machine so loaded that the
            // pass outlasts the 2 s backoff, the pass tries the message again within itself (as
            // deadLetter allows), so the attempts are counted, not assumed to be one.
            let notes = await seen.notes
            #expect(!notes.isEmpty && notes.allSatisfy { $0 == "cancelled" }, "\(notes)")
            // Retried after its backoff (deadLetter checks the delays), not left to its lease.
            #expect(
                try await fixture.count(
                    """
                    SELECT count(*) FROM jobs WHERE kind = 'outbox' AND status = 'pending'
                        AND attempts = \(notes.count)
                        AND last_error = 'no answer within 1.0 seconds; cancelled'
                        AND run_at < now() + interval '60 seconds'
                    """
                ) == 1
            )
        }
    }

    @Test("a message whose runner stopped while sending is sent again once its lease runs out")
    func leaseAfterStop() async throws {
        try await EngineFixture.with { fixture in
            _ = try await fixture.startRequest()
            let seen = Seen()
            let stopping: [String: JobRunner.Handler] = [
                "request.submitted": { _, _ in
                    await seen.note("sending")
                    try await Task.sleep(for: .seconds(60))
                }
            ]
            let stopped = Task { try await runner(fixture, handlers: stopping).runDueJobs() }
            for _ in 0..<3_000 where await seen.notes.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            #expect(await seen.notes == ["sending"])
            stopped.cancel()
            _ = try? await stopped.value
            // The attempt is counted and the message leased: no runner sends it meanwhile.
            #expect(
                try await fixture.count(
                    """
                    SELECT count(*) FROM jobs WHERE kind = 'outbox' AND status = 'pending' AND attempts = 1
                        AND last_error IS NULL AND run_at > now() + interval '100 seconds'
                    """
                ) == 1
            )
            let received = Received()
            let delivering = received.handlers
            try await runner(fixture, handlers: delivering).runDueJobs()
            #expect(await received.messages.isEmpty)
            try await fixture.execute("UPDATE jobs SET run_at = now() WHERE kind = 'outbox'")
            try await runner(fixture, handlers: delivering).runDueJobs()
            #expect(await received.messages.count == 1)
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM jobs WHERE kind = 'outbox' AND status = 'done' AND attempts = 2"
                ) == 1
            )
        }
    }

    @Test("a message whose every attempt ended with its runner stopping is dead, not sent again")
    func deadAfterStops() async throws {
        try await EngineFixture.with { fixture in
            _ = try await fixture.startRequest()
            try await fixture.execute("UPDATE jobs SET attempts = max_attempts WHERE kind = 'outbox'")
            let received = Received()
            let handlers = received.handlers
            try await runner(fixture, handlers: handlers).runDueJobs()
            #expect(await received.messages.isEmpty)
            #expect(
                try await fixture.count(
                    """
                    SELECT count(*) FROM jobs WHERE kind = 'outbox' AND status = 'dead' AND finished_at IS NOT NULL
                        AND last_error LIKE 'no outcome recorded after its last attempt%'
                    """
                ) == 1
            )
        }
    }

    @Test("two runners on separate connection pools send each due message once")
    func twoRunnersMessages() async throws {
        try await EngineFixture.with { fixture in
            for _ in 0..<30 { _ = try await fixture.startRequest() }
            let received = Received()
            let handlers: [String: JobRunner.Handler] = [
                "request.submitted": { message, tenant in
                    try await Task.sleep(for: .milliseconds(20))
                    await received.add(message, tenant)
                }
            ]
            try await PostgresClient.using(fixture.databases.applicationConfiguration, logger: TestCluster.logger) {
                client in
                let secondEngine = WorkflowEngine(
                    database: Database(client: client, logger: TestCluster.logger),
                    registry: try EngineFixture.registry()
                )
                let second = JobRunner(engine: secondEngine, handlers: handlers, logger: TestCluster.logger)
                let first = runner(fixture, handlers: handlers)
                async let a = first.runDueJobs()
                async let b = second.runDueJobs()
                async let c = first.runDueJobs()
                async let d = second.runDueJobs()
                _ = try await (a, b, c, d)
            }
            #expect(await received.messages.count == 30)
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM jobs WHERE kind = 'outbox' AND status = 'done' AND attempts = 1"
                ) == 30
            )
        }
    }

    @Test("a step that queues work due now wakes a listening runner")
    func notified() async throws {
        try await EngineFixture.with { fixture in
            let received = Received()
            let handlers = received.handlers
            // Polls only once an hour, so only the notification can wake it in time.
            let runner = JobRunner(
                engine: fixture.engine,
                handlers: handlers,
                pollInterval: .seconds(3_600),
                logger: TestCluster.logger
            )
            let task = Task { try await runner.run() }
            try await Task.sleep(for: .milliseconds(500))
            _ = try await fixture.startRequest()
            var waited = 0
            while await received.messages.isEmpty, waited < 100 {
                try await Task.sleep(for: .milliseconds(50))
                waited += 1
            }
            task.cancel()
            #expect(await received.messages.count == 1)
        }
    }
}

actor Received {
    var messages: [(OutboxMessage, UUID)] = []

    /// Handlers that keep the fixture's messages here.
    nonisolated var handlers: [String: JobRunner.Handler] {
        ["request.submitted": { message, tenant in await self.add(message, tenant) }]
    }

    func add(_ message: OutboxMessage, _ tenant: UUID) {
        messages.append((message, tenant))
    }
}

/// What handlers saw, in order.
actor Seen {
    var notes: [String] = []

    func note(_ note: String) { notes.append(note) }
}
