import Audit
import Core
import Foundation
import PostgresNIO
import Testing
import Workflow

@Suite("Steps fired in batches")
struct EngineBatchTests {
    /// One request of a batch whose context is the instance itself (nil: an instance that
    /// cannot be found).
    static func request(
        _ event: String,
        on instance: UUID?,
        as actor: StepActor,
        input: [String: InputValue] = [:],
        key: String? = nil
    ) -> BatchedStep<UUID?> {
        BatchedStep(context: instance, event: event, actor: actor, input: input, idempotencyKey: key)
    }

    /// The batch's instances found by their ids in the lock statement (an unknown one by an id
    /// no instance has).
    enum ByID: InstanceLocator {
        static let name = "test_by_id"
        static func query(_ instances: [UUID?], tenantID: UUID) -> PostgresQuery {
            """
            SELECT r.n::integer, i.id
            FROM unnest(\(instances.map { $0 ?? UUID() })::uuid[]) WITH ORDINALITY AS r (id, n)
            JOIN workflow_instances i ON i.tenant_id = \(tenantID)::uuid AND i.id = r.id
            """
        }
    }

    /// Fires `batch` with its instances found before the lock, or, `inLock`, by ``ByID`` in it.
    static func fire(
        _ batch: [BatchedStep<UUID?>],
        _ fixture: EngineFixture,
        repeats: RepeatInBatch = .runAfter,
        inLock: Bool = false
    ) async -> [Result<StepResult, any Error>] {
        guard inLock else {
            return await fixture.engine.fire(
                tenantID: fixture.astana.id,
                batch: batch,
                missing: .notFound(what: "request"),
                repeats: repeats,
                locate: { _, instances in instances },
                answer: { _, made in made.map(\.result) }
            )
        }
        return await fixture.engine.fire(
            tenantID: fixture.astana.id,
            take: { batch },
            missing: .notFound(what: "request"),
            repeats: repeats,
            locator: ByID.self,
            answer: { _, made in made.map(\.result) }
        )
    }

    @Test("a batch writes each step as it would alone: states, tasks, timers, keys and audit leaves in order")
    func writesLikeAlone() async throws {
        try await EngineFixture.with { fixture in
            let a = try await fixture.startRequest().instanceID
            let b = try await fixture.startRequest().instanceID
            let c = try await fixture.startRequest().instanceID
            let queuedBefore = try await fixture.count("SELECT count(*) FROM audit_queue")
            let results = await Self.fire(
                [
                    Self.request("approve", on: a, as: fixture.officer, key: "batch-a"),
                    Self.request("reject", on: b, as: fixture.officer, input: ["reason": .string("duplicate")]),
                    Self.request("approve", on: c, as: fixture.akimatAdmin, input: ["note": .string("urgent")]),
                ],
                fixture
            )
            let made = try results.map { try $0.get() }
            #expect(made.map(\.instanceID) == [a, b, c])
            #expect(made.map(\.toState) == ["approved", "rejected", "approved"])
            #expect(made.allSatisfy { $0.sequence == 2 && !$0.replayed && $0.fromState == "submitted" })

            for (instance, state) in [(a, "approved"), (b, "rejected"), (c, "approved")] {
                #expect(
                    try await fixture.count(
                        """
                        SELECT count(*) FROM workflow_instances
                        WHERE id = \(instance) AND state = \(state) AND last_sequence = 2 AND state_sequence = 2
                          AND task_role IS NULL AND subject = 'Oven × 2'
                          AND (closed_at IS NOT NULL) = \(state == "rejected")
                        """
                    ) == 1
                )
                // The submitted state's escalation is cancelled; approval sets its expiry timer.
                #expect(
                    try await fixture.count(
                        "SELECT count(*) FROM jobs WHERE instance_id = \(instance) AND kind = 'escalation' AND status = 'pending'"
                    ) == 0
                )
                #expect(
                    try await fixture.count(
                        """
                        SELECT count(*) FROM jobs WHERE instance_id = \(instance) AND kind = 'timer' AND event = 'expire'
                          AND status = 'pending' AND state_sequence = 2
                        """
                    ) == (state == "approved" ? 1 : 0)
                )
            }
            #expect(
                try await fixture.count(
                    """
                    SELECT count(*) FROM workflow_steps WHERE sequence = 2 AND idempotency_key = 'batch-a'
                      AND request_sha256 IS NOT NULL AND instance_id = \(a)
                    """
                ) == 1
            )
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM workflow_steps WHERE sequence = 2 AND idempotency_key IS NULL AND request_sha256 IS NULL"
                ) == 2
            )

            // The leaves are queued in the batch's order, each with its own step.
            let entries = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                var entries: [AuditEntry] = []
                for try await bytes in try await connection.query(
                    "SELECT entry FROM audit_queue ORDER BY id",
                    logger: fixture.databases.owner.logger
                ).decode(Data.self) {
                    entries.append(try AuditEntry(decoding: Array(bytes)))
                }
                return entries
            }
            #expect(entries.count == queuedBefore + 3)
            let batch = entries.suffix(3)
            #expect(batch.map(\.instanceID) == [a, b, c])
            #expect(batch.map(\.event) == ["approve", "reject", "approve"])
            #expect(batch.map(\.actorRole) == ["procurement_officer", "procurement_officer", "akimat_admin"])
            #expect(batch.allSatisfy { $0.sequence == 2 })
        }
    }

    @Test(
        "in one batch a replay, a reused key, an unknown instance and a repeated instance each get their own answer, found before the lock or in it",
        arguments: [false, true]
    )
    func ownAnswers(inLock: Bool) async throws {
        try await EngineFixture.with { fixture in
            let a = try await fixture.startRequest().instanceID
            let b = try await fixture.startRequest().instanceID
            let c = try await fixture.startRequest().instanceID
            let first = try await fixture.fire("approve", on: a, as: fixture.officer, key: "k-a")
            let results = await Self.fire(
                [
                    Self.request("approve", on: a, as: fixture.officer, key: "k-a"),
                    Self.request("approve", on: b, as: fixture.officer, key: "k-a"),
                    Self.request("approve", on: nil, as: fixture.officer),
                    Self.request("approve", on: c, as: fixture.officer, key: "k-c"),
                    Self.request("reject", on: c, as: fixture.officer, input: ["reason": .string("late")]),
                    Self.request("approve", on: b, as: fixture.officer, key: "k-b"),
                ],
                fixture,
                inLock: inLock
            )
            let replay = try results[0].get()
            #expect(replay.replayed && replay.instanceID == a && replay.sequence == first.sequence)
            #expect(throws: AdalError.conflict(reason: "idempotency key already used with a different request")) {
                try results[1].get()
            }
            #expect(throws: AdalError.notFound(what: "request")) { try results[2].get() }
            #expect(try results[3].get().toState == "approved")
            // Runs after the batch, on its own, and finds the instance already approved.
            #expect(throws: AdalError.conflict(reason: "event 'reject' is not allowed in state 'approved'")) {
                try results[4].get()
            }
            #expect(try results[5].get().toState == "approved")
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps") == 3 + 3)
        }
    }

    @Test(
        "a twin with the same key gets the first's step, or a refusal when it is another request; a repeated instance can be handed back",
        arguments: [false, true]
    )
    func twinsAndRepeats(inLock: Bool) async throws {
        try await EngineFixture.with { fixture in
            let a = try await fixture.startRequest().instanceID
            let b = try await fixture.startRequest().instanceID
            let results = await Self.fire(
                [
                    Self.request("approve", on: a, as: fixture.officer, key: "k-a"),
                    Self.request("reject", on: a, as: fixture.officer, input: ["reason": .string("late")]),
                    Self.request("approve", on: b, as: fixture.officer, key: "k-a"),
                    Self.request("approve", on: a, as: fixture.officer, key: "k-a"),
                    Self.request("approve", on: b, as: fixture.officer),
                ],
                fixture,
                repeats: .nextBatch,
                inLock: inLock
            )
            let first = try results[0].get()
            #expect(first.toState == "approved" && !first.replayed)
            #expect(throws: NextBatch.self) { try results[1].get() }
            #expect(throws: AdalError.conflict(reason: "idempotency key already used with a different request")) {
                try results[2].get()
            }
            let twin = try results[3].get()
            #expect(twin.replayed && twin.sequence == first.sequence && twin.instanceID == a)
            #expect(try results[4].get().toState == "approved")
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps") == 2 + 2)
            // Served next, the handed-back request sees the first one's step; the twin's answer
            // is what a retry gets now.
            let next = await Self.fire(
                [
                    Self.request("reject", on: a, as: fixture.officer, input: ["reason": .string("late")]),
                    Self.request("approve", on: a, as: fixture.officer, key: "k-a"),
                ],
                fixture
            )
            #expect(throws: AdalError.conflict(reason: "event 'reject' is not allowed in state 'approved'")) {
                try next[0].get()
            }
            let retried = try next[1].get()
            #expect(retried.replayed && retried.sequence == twin.sequence && retried.toState == twin.toState)
        }
    }

    @Test(
        "a request that fails rolls its batch back, and every request then runs on its own, located alone",
        arguments: [false, true]
    )
    func failureRunsAlone(inLock: Bool) async throws {
        try await EngineFixture.with { fixture in
            let a = try await fixture.startRequest().instanceID
            let b = try await fixture.startRequest().instanceID
            let c = try await fixture.startRequest().instanceID
            let results = await Self.fire(
                [
                    Self.request("approve", on: a, as: fixture.officer, key: "alone-a"),
                    // A school administrator may not approve: refused in the middle of the batch.
                    Self.request("approve", on: b, as: fixture.schoolAdmin),
                    Self.request("approve", on: c, as: fixture.officer),
                ],
                fixture,
                inLock: inLock
            )
            #expect(try results[0].get().sequence == 2)
            #expect(throws: AdalError.self) { try results[1].get() }
            #expect(try results[2].get().sequence == 2)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE instance_id = \(a)") == 2)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE instance_id = \(b)") == 1)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE instance_id = \(c)") == 2)
            #expect(try await fixture.count("SELECT count(*) FROM audit_queue") == 3 + 2)
        }
    }

    @Test("a batch taken once its transaction is open: taken once, a lone request runs in it, none commits nothing")
    func takenWhenOpen() async throws {
        try await EngineFixture.with { fixture in
            let a = try await fixture.startRequest().instanceID
            let takes = Locked(0)
            let fire = { @Sendable (batch: [BatchedStep<UUID?>]) async -> [Result<StepResult, any Error>] in
                await fixture.engine.fire(
                    tenantID: fixture.astana.id,
                    take: {
                        takes.withLock { $0 += 1 }
                        return batch
                    },
                    missing: .notFound(what: "request"),
                    locate: { _, instances in instances },
                    answer: { _, made in made.map(\.result) }
                )
            }
            let stepsBefore = try await fixture.count("SELECT count(*) FROM workflow_steps")
            #expect(await fire([]).isEmpty)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps") == stepsBefore)
            let lone = await fire([Self.request("approve", on: a, as: fixture.officer, key: "taken-a")])
            #expect(try lone.map { try $0.get().toState } == ["approved"])
            // A failing lone request is rolled back and run alone, with its own error.
            let refused = await fire([Self.request("approve", on: a, as: fixture.schoolAdmin)])
            #expect(throws: AdalError.self) { try refused[0].get() }
            #expect(takes.current == 3)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps") == stepsBefore + 1)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE instance_id = \(a)") == 2)
        }
    }

    @Test("a batch's phases are counted once per batch, each within the batch's time; a step alone counts none")
    func phasesCounted() async throws {
        try await EngineFixture.with { fixture in
            let a = try await fixture.startRequest().instanceID
            let b = try await fixture.startRequest().instanceID
            let c = try await fixture.startRequest().instanceID
            let before = fixture.engine.batchPhases.times
            let started = ContinuousClock.now
            let results = await Self.fire(
                [
                    Self.request("approve", on: a, as: fixture.officer),
                    Self.request("approve", on: b, as: fixture.officer),
                ],
                fixture,
                inLock: true
            )
            let took = ContinuousClock.now - started
            #expect(results.allSatisfy { (try? $0.get()) != nil })
            let counted = fixture.engine.batchPhases.times.since(before)
            #expect(counted.batches == 1)
            let phases = BatchPhaseTimes.Phase.allCases.map { counted.total[$0.rawValue] }
            #expect(phases.allSatisfy { $0 >= .zero } && phases.reduce(.zero, +) <= took)
            // Each statement's phase waited for PostgreSQL.
            for phase in [BatchPhaseTimes.Phase.lock, .actions, .write, .commit] {
                #expect(counted.total[phase.rawValue] > .zero, "\(phase)")
            }
            _ = await Self.fire([Self.request("approve", on: c, as: fixture.officer)], fixture)
            #expect(fixture.engine.batchPhases.times.since(before).batches == 1)
        }
    }
}
