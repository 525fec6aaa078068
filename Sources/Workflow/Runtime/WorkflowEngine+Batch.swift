import Core
import Foundation
import PostgresNIO
import Storage

/// One request of a batch of steps (``WorkflowEngine/fire(tenantID:batch:missing:repeats:locate:answer:)``):
/// what a single fire takes, with the caller's own `context` for its `locate` and `answer`.
public struct BatchedStep<Context: Sendable>: Sendable {
    public var context: Context
    public var event: String
    public var actor: StepActor
    public var input: [String: InputValue]
    public var idempotencyKey: String?

    public init(
        context: Context,
        event: String,
        actor: StepActor,
        input: [String: InputValue],
        idempotencyKey: String?
    ) {
        self.context = context
        self.event = event
        self.actor = actor
        self.input = input
        self.idempotencyKey = idempotencyKey
    }
}

/// A step a batch made or replayed, as its `answer` gets it.
public struct MadeStep<Context: Sendable>: Sendable {
    /// The request's own context (``BatchedStep/context``).
    public let context: Context
    public let result: StepResult
    /// What the step's actions replied (``StepEffects/reply``): nil for a step replayed from an
    /// earlier request's, made by a request run alone, or whose actions reply nothing.
    public let reply: (any Sendable)?
}

/// What a batch does with a request on an instance already in it (or with a key already in it,
/// when the first request with that key made no step).
public enum RepeatInBatch: Sendable {
    /// Runs it on its own after the batch commits, before the batch answers.
    case runAfter
    /// Answers it with ``NextBatch``, for a ``BatchQueue`` to put first in the city's next batch.
    case nextBatch
}

extension WorkflowEngine {
    /// Fires a batch of events of one city in one transaction — one BEGIN, one lock statement,
    /// one write and one COMMIT (so one WAL flush) for all of them — each answered as it would
    /// have been alone. `locate` finds each request's instance (nil: answered with `missing`);
    /// `answer` gives, in the same transaction, what the caller reports for each step made or
    /// replayed — from what the step's actions replied (``MadeStep/reply``) or read again. A twin
    /// answered with its first's step gets the first's reply too.
    ///
    /// Each step is checked and its actions run as on its own. A request that throws, or any
    /// database error, rolls the whole batch back, and then every request runs on its own: one
    /// bad request costs the others time, never their result. A request with a key already in the
    /// batch gets what it would get right after the first commits (its step replayed, or the
    /// key-reuse refusal). A request on an instance already in the batch waits until the batch
    /// commits, so it sees the first one's step: as `repeats` says, run on its own or handed back
    /// for the next batch.
    public func fire<Context: Sendable, Answer: Sendable>(
        tenantID: UUID,
        batch: [BatchedStep<Context>],
        missing: AdalError,
        repeats: RepeatInBatch = .runAfter,
        locate: @escaping @Sendable (PostgresConnection, [Context]) async throws -> [UUID?],
        answer: @escaping @Sendable (PostgresConnection, [MadeStep<Context>]) async throws -> [Answer]
    ) async -> [Result<Answer, any Error>] {
        guard batch.count > 1 else {
            return await batch.asyncMap {
                await fireAlone(tenantID: tenantID, $0, missing: missing, locate: locate, answer: answer)
            }
        }
        return await fire(
            tenantID: tenantID,
            take: { batch },
            missing: missing,
            repeats: repeats,
            locating: Locating(find: locate, findAndLock: nil),
            answer: answer
        )
    }

    /// ``fire(tenantID:batch:missing:repeats:locate:answer:)`` for a batch taken once its
    /// transaction is open (BEGIN and the city set): `take` is called once, in the transaction,
    /// and may give any number of requests, none included (an empty transaction then commits).
    /// A ``BatchQueue`` opened ahead serves its batches this way, so the opening's round trips
    /// overlap the batch before.
    public func fire<Context: Sendable, Answer: Sendable>(
        tenantID: UUID,
        take: @escaping @Sendable () async -> [BatchedStep<Context>],
        missing: AdalError,
        repeats: RepeatInBatch = .runAfter,
        locate: @escaping @Sendable (PostgresConnection, [Context]) async throws -> [UUID?],
        answer: @escaping @Sendable (PostgresConnection, [MadeStep<Context>]) async throws -> [Answer]
    ) async -> [Result<Answer, any Error>] {
        await fire(
            tenantID: tenantID,
            take: take,
            missing: missing,
            repeats: repeats,
            locating: Locating(find: locate, findAndLock: nil),
            answer: answer
        )
    }

    /// ``fire(tenantID:take:missing:repeats:locate:answer:)`` with the requests' instances found
    /// by `locator`'s query inside the lock statement: one round trip finds and locks them. A
    /// request run alone (its batch failed) is located by the query on its own.
    public func fire<Locator: InstanceLocator, Answer: Sendable>(
        tenantID: UUID,
        take: @escaping @Sendable () async -> [BatchedStep<Locator.Context>],
        missing: AdalError,
        repeats: RepeatInBatch = .runAfter,
        locator: Locator.Type,
        answer: @escaping @Sendable (PostgresConnection, [MadeStep<Locator.Context>]) async throws -> [Answer]
    ) async -> [Result<Answer, any Error>] {
        let logger = logger
        let locating = Locating<Locator.Context>(
            find: { connection, contexts in
                var found = [UUID?](repeating: nil, count: contexts.count)
                let query = Locator.query(contexts, tenantID: tenantID)
                for try await (n, instance) in try await connection.query(query, logger: logger).decode(
                    (Int, UUID).self
                ) where found.indices.contains(n - 1) {
                    found[n - 1] = instance
                }
                return found
            },
            findAndLock: { connection, batch in
                let lock = PreparedLocatedLock<Locator>(
                    batch.map(\.context),
                    tenantID: tenantID,
                    idempotencyKeys: batch.map(\.idempotencyKey)
                )
                var found = [UUID?](repeating: nil, count: batch.count)
                var locked: [Int: LockedInstance] = [:]
                for try await (instance, row) in try await connection.execute(lock, logger: logger)
                where found.indices.contains(row.position) {
                    found[row.position] = instance
                    locked[row.position] = row
                }
                return (found, locked)
            }
        )
        return await fire(
            tenantID: tenantID,
            take: take,
            missing: missing,
            repeats: repeats,
            locating: locating,
            answer: answer
        )
    }

    /// How a batch finds its requests' instances: `find` before the lock (and for a request run
    /// alone), or `findAndLock` in the lock statement itself (each request's locked row by its
    /// position).
    struct Locating<Context: Sendable>: Sendable {
        let find: @Sendable (PostgresConnection, [Context]) async throws -> [UUID?]
        let findAndLock:
            (
                @Sendable (PostgresConnection, [BatchedStep<Context>]) async throws -> (
                    [UUID?], [Int: LockedInstance]
                )
            )?
    }

    private func fire<Context: Sendable, Answer: Sendable>(
        tenantID: UUID,
        take: @escaping @Sendable () async -> [BatchedStep<Context>],
        missing: AdalError,
        repeats: RepeatInBatch,
        locating: Locating<Context>,
        answer: @escaping @Sendable (PostgresConnection, [MadeStep<Context>]) async throws -> [Answer]
    ) async -> [Result<Answer, any Error>] {
        let locate = locating.find
        let alone = { @Sendable (request: BatchedStep<Context>) async -> Result<Answer, any Error> in
            await self.fireAlone(tenantID: tenantID, request, missing: missing, locate: locate, answer: answer)
        }
        // The batch as taken, for running its requests alone when the transaction fails (taken
        // then if it failed before the batch was).
        let taken = Locked<[BatchedStep<Context>]?>(nil)
        let outcome: ([Result<Answer, any Error>?], later: [Int], phases: [ContinuousClock.Instant])
        do {
            outcome = try await database.withTenant(tenantID, genericPlans: true) { connection in
                let batch = await take()
                taken.withLock { $0 = batch }
                guard !batch.isEmpty else { return ([], later: [], phases: []) }
                return try await fireTogether(
                    on: connection,
                    tenantID: tenantID,
                    batch: batch,
                    missing: missing,
                    locating: locating,
                    answer: answer
                )
            }
        } catch {
            let batch: [BatchedStep<Context>]
            if let earlier = taken.current { batch = earlier } else { batch = await take() }
            return await withTaskGroup(of: (Int, Result<Answer, any Error>).self) { group in
                for (index, request) in batch.enumerated() { group.addTask { (index, await alone(request)) } }
                var results = [Result<Answer, any Error>](repeating: .failure(missing), count: batch.count)
                for await (index, result) in group { results[index] = result }
                return results
            }
        }
        if !outcome.phases.isEmpty { batchPhases.count(outcome.phases + [.now]) }
        let batch = taken.current ?? []
        var results = outcome.0
        for index in outcome.later {
            switch repeats {
            case .runAfter: results[index] = await alone(batch[index])
            case .nextBatch: results[index] = .failure(NextBatch())
            }
        }
        return results.map { $0 ?? .failure(missing) }
    }

    /// One request as ``fire(tenantID:locate:event:actor:input:idempotencyKey:attachment:answer:)``
    /// runs it, its error as its result.
    private func fireAlone<Context: Sendable, Answer: Sendable>(
        tenantID: UUID,
        _ request: BatchedStep<Context>,
        missing: AdalError,
        locate: @escaping @Sendable (PostgresConnection, [Context]) async throws -> [UUID?],
        answer: @escaping @Sendable (PostgresConnection, [MadeStep<Context>]) async throws -> [Answer]
    ) async -> Result<Answer, any Error> {
        let context = request.context
        do {
            return .success(
                try await fire(
                    tenantID: tenantID,
                    locate: { connection in
                        guard let instance = try await locate(connection, [context]).first ?? nil else { throw missing }
                        return instance
                    },
                    event: request.event,
                    actor: request.actor,
                    input: request.input,
                    idempotencyKey: request.idempotencyKey,
                    answer: { connection, result in
                        let made = MadeStep(context: context, result: result, reply: nil)
                        guard let answer = try await answer(connection, [made]).first else {
                            throw AdalError.unavailable(reason: "the step's answer could not be read")
                        }
                        return answer
                    }
                )
            )
        } catch {
            return .failure(error)
        }
    }

    /// The batch inside its transaction: each request's result, nil for those left for later
    /// (listed in `later`), which touch an instance or a key already in the batch, and the
    /// instants its phases began and ended (``BatchPhaseTimes/Phase``, all but COMMIT).
    private func fireTogether<Context: Sendable, Answer: Sendable>(
        on connection: PostgresConnection,
        tenantID: UUID,
        batch: [BatchedStep<Context>],
        missing: AdalError,
        locating: Locating<Context>,
        answer: @escaping @Sendable (PostgresConnection, [MadeStep<Context>]) async throws -> [Answer]
    ) async throws -> ([Result<Answer, any Error>?], later: [Int], phases: [ContinuousClock.Instant]) {
        var phases: [ContinuousClock.Instant] = [.now]
        var results = [Result<Answer, any Error>?](repeating: nil, count: batch.count)
        var later: [Int] = []
        let instances: [UUID?]
        // Each request's locked row by its position, when the lock statement found the instances.
        var lockedWithFinding: [Int: LockedInstance]?
        if let findAndLock = locating.findAndLock {
            (instances, lockedWithFinding) = try await findAndLock(connection, batch)
        } else {
            instances = try await locating.find(connection, batch.map(\.context))
        }
        guard instances.count == batch.count else {
            throw AdalError.unavailable(reason: "the batch's instances could not be found")
        }
        var chosen: [Int] = []
        // Each located request's hash, which its key stands for (a twin is compared by it).
        var hashes: [Int: [UInt8]] = [:]
        var seenInstances = Set<UUID>()
        var firstWithKey: [String: Int] = [:]
        // Requests with a key already in the batch, and the request that has it first.
        var twins: [(index: Int, first: Int)] = []
        for (index, request) in batch.enumerated() {
            do {
                try Self.checkKey(request.idempotencyKey)
            } catch {
                results[index] = .failure(error)
                continue
            }
            guard let instance = instances[index] else {
                results[index] = .failure(missing)
                continue
            }
            hashes[index] = Self.requestHash(
                instanceID: instance,
                service: nil,
                event: request.event,
                input: request.input
            )
            let key = request.idempotencyKey
            if let key, let first = firstWithKey[key] {
                twins.append((index, first))
                continue
            }
            if seenInstances.contains(instance) {
                later.append(index)
                continue
            }
            seenInstances.insert(instance)
            if let key { firstWithKey[key] = index }
            chosen.append(index)
        }
        var locked: [Int: LockedInstance] = lockedWithFinding ?? [:]
        if lockedWithFinding == nil, !chosen.isEmpty {
            let lock = PreparedInstanceLock(
                tenantID: tenantID,
                instanceIDs: chosen.map { instances[$0]! },
                idempotencyKeys: chosen.map { batch[$0].idempotencyKey }
            )
            for try await row in try await connection.execute(lock, logger: logger) {
                locked[chosen[row.position]] = row
            }
        }
        phases.append(.now)
        var made: [(index: Int, result: StepResult, reply: (any Sendable)?)] = []
        var checked: [(index: Int, context: StepContext, hash: [UInt8])] = []
        let now = clock()
        for index in chosen {
            let (request, instance) = (batch[index], instances[index]!)
            guard let row = locked[index] else {
                results[index] = .failure(AdalError.notFound(what: "instance"))
                continue
            }
            let hash = hashes[index]!
            let begun: Begun
            do {
                begun = try await begin(
                    row,
                    on: connection,
                    tenantID: tenantID,
                    instanceID: instance,
                    event: request.event,
                    actor: request.actor,
                    input: request.input,
                    request: hash,
                    now: now
                )
            } catch  where row.stored != nil {
                // A key's reuse for another request: found by reading alone, so the batch goes on.
                results[index] = .failure(error)
                continue
            }
            switch begun {
            case .replayed(let earlier): made.append((index, earlier, nil))
            case .checked(let context): checked.append((index, context, hash))
            case .stale: throw AdalError.unavailable(reason: "the step could not be prepared")
            }
        }
        phases.append(.now)
        let effects = try await runActions(checked.map(\.context))
        phases.append(.now)
        var writes: [StepWrite] = []
        for (step, effects) in zip(checked, effects) {
            let prepared = try await finish(step.context, effects: effects)
            let key = batch[step.index].idempotencyKey
            writes.append(try stepWrite(prepared, start: false, key: key, request: step.hash))
            made.append((step.index, prepared.result, effects.reply))
        }
        // A twin is answered as it would be right after the first commits: with the first's
        // step when it is the same request, refused when it is another; after the batch when
        // the first made no step.
        let firstResults = Dictionary(made.map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
        for twin in twins {
            guard let first = firstResults[twin.first] else {
                later.append(twin.index)
                continue
            }
            if hashes[twin.index] == hashes[twin.first] {
                made.append((twin.index, first.result.replay, first.reply))
            } else {
                results[twin.index] = .failure(Self.keyReused)
            }
        }
        phases.append(.now)
        try await write(writes, on: connection)
        phases.append(.now)
        let answers = try await answer(
            connection,
            made.map { MadeStep(context: batch[$0.index].context, result: $0.result, reply: $0.reply) }
        )
        guard answers.count == made.count else {
            throw AdalError.unavailable(reason: "the batch's answers could not be read")
        }
        for (step, reply) in zip(made, answers) { results[step.index] = .success(reply) }
        phases.append(.now)
        return (results, later, phases)
    }
}

extension WorkflowEngine {
    /// The actions of checked steps: an action with a batch form runs once for all the steps of
    /// one service's event (in the steps' order), any other once per step.
    func runActions(_ contexts: [StepContext]) async throws -> [StepEffects] {
        guard let first = contexts.first else { return [] }
        let implementation = registry.implementation(first.definition.key)
        let together = contexts.allSatisfy {
            $0.definition.key == first.definition.key && $0.event.name == first.event.name
        }
        guard together, first.event.actions.contains(where: { implementation.batchActions[$0] != nil }) else {
            return try await contexts.asyncMap(runActions)
        }
        var effects = [StepEffects](repeating: .none, count: contexts.count)
        for name in first.event.actions {
            if let action = implementation.batchActions[name] {
                let made = try await action(contexts)
                guard made.count == contexts.count else {
                    throw AdalError.unavailable(reason: "action '\(name)' answered for some steps of its batch only")
                }
                for index in effects.indices { effects[index].merge(made[index]) }
            } else {
                guard let action = implementation.actions[name] else {
                    throw AdalError.unavailable(
                        reason: "action '\(name)' of \(first.definition.key) is not implemented"
                    )
                }
                for index in effects.indices { effects[index].merge(try await action(contexts[index])) }
            }
        }
        return effects
    }
}

extension Array where Element: Sendable {
    /// The elements transformed one after another.
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var mapped: [T] = []
        mapped.reserveCapacity(count)
        for element in self { mapped.append(try await transform(element)) }
        return mapped
    }
}
