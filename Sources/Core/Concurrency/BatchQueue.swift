import Synchronization

/// Group commit for requests: those that arrive while earlier ones are being served wait, and
/// are then served together by one call of `serve`.
///
/// Each key (a city: one transaction serves one city) has at most one batch in flight. Under
/// light load a request is served at once, alone; under heavy load each batch takes everything
/// that arrived while the last one ran (up to `maximumBatch`), so the fixed cost of a
/// transaction — its round trips, its statements' start-up, its flush to disk — is shared by many
/// requests, without any timer that makes a lone request wait. (A second batch of the same key
/// beside the first, to overlap one's flush with the next one's work, was measured and dropped:
/// both batches came out smaller, cost more per request, and waited on each other's locks.)
/// At most `lanes` batches run at once in all; keys take turns, so a busy city cannot starve
/// another. More than `maximumWaiting` waiting requests are refused as unavailable.
///
/// `serve` may answer a request with ``NextBatch``: it then waits at the head of its key's
/// next batch (a request that must see the first's effects, such as a second one on the same
/// record), instead of holding up this batch's answers with a transaction of its own.
///
/// Opened ahead (``init(lanes:maximumBatch:maximumWaiting:executor:opening:)``): a batch's
/// `serve` first opens what it needs (a connection, BEGIN, the tenant) and then calls `take` for
/// its requests. When requests wait while a key's batch is in flight, its next batch is opened
/// beside it at once and takes them the moment the first one ends, so the opening's round trips
/// are off their path: under load every request waits for the batch in flight and then its own,
/// and the opening was a fifth of each.
public final class BatchQueue<Key: Hashable & Sendable, Item: Sendable, Answer: Sendable>: Sendable {
    public typealias Serve = @Sendable (Key, [Item]) async -> [Result<Answer, any Error>]
    /// A batch's requests, once it has opened what it needs (called once; may be empty).
    public typealias Take = @Sendable () async -> [Item]
    /// Opens what a batch needs, calls `take` once for its requests, serves them; their results.
    public typealias Opening = @Sendable (Key, @escaping Take) async -> [Result<Answer, any Error>]

    private struct Waiting {
        let item: Item
        let continuation: CheckedContinuation<Answer, any Error>
    }

    private struct State {
        var waiting: [Key: [Waiting]] = [:]
        /// Keys with waiting requests, in the order they should be served.
        var turns: [Key] = []
        var count = 0
        /// Batches in flight, and the keys they serve.
        var running = 0
        var working: Set<Key> = []
        /// Next batches opened ahead, by key: nil while opening, then its wait for its requests.
        var ahead: [Key: CheckedContinuation<[Waiting], Never>?] = [:]
        var served = BatchesServed()
    }

    public let lanes: Int
    public let maximumBatch: Int
    public let maximumWaiting: Int
    private let serve: Opening
    /// Whether next batches are opened ahead (``Opening``).
    private let opensAhead: Bool
    private let executor: @Sendable () -> (any TaskExecutor)?
    private let state = Mutex(State())

    /// `executor` gives each task that serves batches its preferred executor (nil: the global
    /// one), such as the database's event loops for batches that mostly wait for the database.
    public convenience init(
        lanes: Int,
        maximumBatch: Int,
        maximumWaiting: Int,
        executor: @escaping @Sendable () -> (any TaskExecutor)? = { nil },
        serve: @escaping Serve
    ) {
        self.init(
            lanes: lanes,
            maximumBatch: maximumBatch,
            maximumWaiting: maximumWaiting,
            executor: executor,
            opensAhead: false,
            serve: { key, take in await serve(key, await take()) }
        )
    }

    /// A queue whose batches are opened ahead: `opening` opens what a batch needs, then calls
    /// `take` once for its requests (an empty list when none are left by then).
    public convenience init(
        lanes: Int,
        maximumBatch: Int,
        maximumWaiting: Int,
        executor: @escaping @Sendable () -> (any TaskExecutor)? = { nil },
        opening: @escaping Opening
    ) {
        self.init(
            lanes: lanes,
            maximumBatch: maximumBatch,
            maximumWaiting: maximumWaiting,
            executor: executor,
            opensAhead: true,
            serve: opening
        )
    }

    private init(
        lanes: Int,
        maximumBatch: Int,
        maximumWaiting: Int,
        executor: @escaping @Sendable () -> (any TaskExecutor)?,
        opensAhead: Bool,
        serve: @escaping Opening
    ) {
        precondition(lanes > 0 && maximumBatch > 0 && maximumWaiting > 0)
        self.lanes = lanes
        self.maximumBatch = maximumBatch
        self.maximumWaiting = maximumWaiting
        self.executor = executor
        self.opensAhead = opensAhead
        self.serve = serve
    }

    /// Batches served so far, the requests in them and the time spent serving them.
    public var served: BatchesServed { state.withLock { $0.served } }

    /// Requests waiting for a batch now.
    public var waiting: Int { state.withLock { $0.count } }

    /// Serves `item` in a batch of `key`'s requests; its own result.
    public func submit(_ item: Item, key: Key) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            let started = state.withLock { state -> (batches: [Batch], ahead: Bool)? in
                guard state.count < maximumWaiting else { return nil }
                if state.waiting[key, default: []].isEmpty { state.turns.append(key) }
                state.waiting[key, default: []].append(Waiting(item: item, continuation: continuation))
                state.count += 1
                return (take(&state), opensAhead(key, &state))
            }
            guard let started else {
                continuation.resume(
                    throwing: AdalError.unavailable(reason: "too many requests are waiting; try again shortly")
                )
                return
            }
            for batch in started.batches { start(batch) }
            if started.ahead { openAhead(key) }
        }
    }

    private struct Batch {
        let key: Key
        let requests: [Waiting]
    }

    /// Batches for the keys without one in flight (or opened ahead), while lanes are free.
    private func take(_ state: inout State) -> [Batch] {
        var batches: [Batch] = []
        var passed: [Key] = []
        while state.running < lanes, !state.turns.isEmpty {
            let key = state.turns.removeFirst()
            guard !state.working.contains(key), state.ahead[key] == nil else {
                passed.append(key)
                continue
            }
            batches.append(Batch(key: key, requests: next(key, &state)))
        }
        state.turns.insert(contentsOf: passed, at: 0)
        return batches
    }

    /// Takes `key`'s next batch from its waiting requests (those left over wait for its next
    /// turn, after the other keys') and counts it in flight; none when none wait.
    private func next(_ key: Key, _ state: inout State) -> [Waiting] {
        var queue = state.waiting[key] ?? []
        let requests = Array(queue.prefix(maximumBatch))
        guard !requests.isEmpty else { return [] }
        queue.removeFirst(requests.count)
        state.waiting[key] = queue.isEmpty ? nil : queue
        state.turns.removeAll { $0 == key }
        if !queue.isEmpty { state.turns.append(key) }
        state.count -= requests.count
        state.running += 1
        state.working.insert(key)
        state.served.batches += 1
        state.served.requests += requests.count
        return requests
    }

    /// Whether `key`'s next batch should be opened ahead now: requests wait while its batch is in
    /// flight, and none is opened yet. Marks it as opening.
    private func opensAhead(_ key: Key, _ state: inout State) -> Bool {
        guard opensAhead, state.working.contains(key), state.ahead[key] == nil,
            !(state.waiting[key] ?? []).isEmpty
        else { return false }
        state.ahead[key] = .some(nil)
        return true
    }

    private func start(_ batch: Batch) {
        Task(executorPreference: executor()) { await self.run(batch) }
    }

    /// Opens `key`'s next batch while its batch in flight runs; it takes its requests when that
    /// one ends, then goes on as any batch.
    private func openAhead(_ key: Key) {
        Task(executorPreference: executor()) { await self.serveAhead(key) }
    }

    private func serveAhead(_ key: Key) async {
        let taken = Locked<(requests: [Waiting], at: ContinuousClock.Instant)?>(nil)
        let results = await serve(key) {
            let requests = await self.takeAhead(key)
            taken.withLock { $0 = (requests, ContinuousClock.now) }
            return requests.map(\.item)
        }
        guard let (requests, began) = taken.current.map({ ($0.requests, $0.at) }) else {
            // It could not open (the database is away): its requests go to an ordinary batch.
            let batches = state.withLock { state in
                state.ahead[key] = nil
                return take(&state)
            }
            for batch in batches { start(batch) }
            return
        }
        guard !requests.isEmpty,
            let following = finish(
                Batch(key: key, requests: requests),
                results: results,
                took: ContinuousClock.now - began
            )
        else { return }
        await run(following)
    }

    /// The requests of `key`'s batch opened ahead: at once when its batch in flight has ended,
    /// else when it ends.
    private func takeAhead(_ key: Key) async -> [Waiting] {
        await withCheckedContinuation { continuation in
            let now = state.withLock { state -> [Waiting]? in
                guard !state.working.contains(key) else {
                    state.ahead[key] = .some(continuation)
                    return nil
                }
                state.ahead[key] = nil
                return next(key, &state)
            }
            if let now { continuation.resume(returning: now) }
        }
    }

    /// Serves `batch`, then, in the same task, the next batch it leaves to take (starting a new
    /// task costs the next batch a wait for a free thread while the server is busy).
    private func run(_ first: Batch) async {
        var batch = first
        while true {
            let began = ContinuousClock.now
            let requests = batch.requests
            let results = await serve(batch.key) { requests.map(\.item) }
            guard let following = finish(batch, results: results, took: ContinuousClock.now - began) else {
                return
            }
            batch = following
        }
    }

    /// Answers `batch`'s requests (a request handed back waits first in its key's next batch),
    /// hands the key's waiting requests to a batch opened ahead, and starts the batches this
    /// leaves to take; the first of them for the caller to serve.
    private func finish(_ batch: Batch, results: [Result<Answer, any Error>], took: Duration) -> Batch? {
        var deferred: [Waiting] = []
        for (index, waiting) in batch.requests.enumerated() {
            guard index < results.count else {
                waiting.continuation.resume(throwing: AdalError.unavailable(reason: "the request was not served"))
                continue
            }
            if case .failure(let error) = results[index], error is NextBatch {
                deferred.append(waiting)
            } else {
                waiting.continuation.resume(with: results[index])
            }
        }
        let key = batch.key
        let (batches, handOver, ahead) = state.withLock { state in
            state.running -= 1
            state.working.remove(key)
            state.served.count(took)
            if !deferred.isEmpty {
                // Already admitted, so not counted against the limit again; first in the key's
                // next batch, and the key's turn comes first.
                if state.waiting[key, default: []].isEmpty {
                    state.turns.insert(key, at: 0)
                }
                state.waiting[key, default: []].insert(contentsOf: deferred, at: 0)
                state.count += deferred.count
                state.served.requests -= deferred.count
            }
            var handOver: (CheckedContinuation<[Waiting], Never>, [Waiting])?
            if case .some(.some(let waiter)) = state.ahead[key] {
                state.ahead[key] = nil
                handOver = (waiter, next(key, &state))
            }
            return (take(&state), handOver, opensAhead(key, &state))
        }
        if let (waiter, requests) = handOver { waiter.resume(returning: requests) }
        if ahead { openAhead(key) }
        guard let following = batches.first else { return nil }
        for other in batches.dropFirst() { start(other) }
        return following
    }
}

/// What a ``BatchQueue`` has served so far.
public struct BatchesServed: Sendable, Equatable {
    public var batches = 0
    public var requests = 0
    /// Time from each batch's start to its answers, summed over the batches.
    public var serving = Duration.zero
    /// Batches by that time, in tenths of a millisecond (the last: 100 ms or more), for its spread.
    public var byTenth = [Int](repeating: 0, count: Self.tenths)
    static let tenths = 1_001

    public init() {}

    /// Counts a batch that took `took` from its start to its answers.
    mutating func count(_ took: Duration) {
        serving += took
        let (seconds, attoseconds) = took.components
        let tenth = seconds * 10_000 + attoseconds / 100_000_000_000_000
        byTenth[Int(min(max(tenth, 0), Int64(Self.tenths - 1)))] += 1
    }

    /// Requests per batch on average.
    public var meanSize: Double { Double(requests) / Double(max(batches, 1)) }
    /// A batch's time from its start to its answers on average, in milliseconds.
    public var meanMilliseconds: Double {
        let (seconds, attoseconds) = serving.components
        return (Double(seconds) + Double(attoseconds) / 1e18) * 1000 / Double(max(batches, 1))
    }

    /// The time from start to answers within which `share` (0…1) of the batches were answered,
    /// in milliseconds, to a tenth (100 when more took longer); 0 before any batch.
    public func milliseconds(within share: Double) -> Double {
        let total = byTenth.reduce(0, +)
        guard total > 0 else { return 0 }
        let wanted = max(1, Int((share * Double(total)).rounded(.up)))
        var seen = 0
        for (tenth, count) in byTenth.enumerated() {
            seen += count
            if seen >= wanted { return Double(tenth) / 10 }
        }
        return Double(Self.tenths - 1) / 10
    }

    /// What was served between `earlier` and this.
    public func since(_ earlier: BatchesServed) -> BatchesServed {
        var between = BatchesServed()
        between.batches = batches - earlier.batches
        between.requests = requests - earlier.requests
        between.serving = serving - earlier.serving
        between.byTenth = zip(byTenth, earlier.byTenth).map { $0 - $1 }
        return between
    }
}

/// The answer of a batch's `serve` for a request that belongs in its key's next batch
/// (``BatchQueue``).
public struct NextBatch: Error, Sendable {
    public init() {}
}
