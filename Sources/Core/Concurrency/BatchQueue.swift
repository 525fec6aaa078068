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
public final class BatchQueue<Key: Hashable & Sendable, Item: Sendable, Answer: Sendable>: Sendable {
    public typealias Serve = @Sendable (Key, [Item]) async -> [Result<Answer, any Error>]

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
        var served = BatchesServed()
    }

    public let lanes: Int
    public let maximumBatch: Int
    public let maximumWaiting: Int
    private let serve: Serve
    private let executor: @Sendable () -> (any TaskExecutor)?
    private let state = Mutex(State())

    /// `executor` gives each task that serves batches its preferred executor (nil: the global
    /// one), such as the database's event loops for batches that mostly wait for the database.
    public init(
        lanes: Int,
        maximumBatch: Int,
        maximumWaiting: Int,
        executor: @escaping @Sendable () -> (any TaskExecutor)? = { nil },
        serve: @escaping Serve
    ) {
        precondition(lanes > 0 && maximumBatch > 0 && maximumWaiting > 0)
        self.lanes = lanes
        self.maximumBatch = maximumBatch
        self.maximumWaiting = maximumWaiting
        self.executor = executor
        self.serve = serve
    }

    /// Batches served so far, the requests in them and the time spent serving them.
    public var served: BatchesServed { state.withLock { $0.served } }

    /// Requests waiting for a batch now.
    public var waiting: Int { state.withLock { $0.count } }

    /// Serves `item` in a batch of `key`'s requests; its own result.
    public func submit(_ item: Item, key: Key) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            let batches = state.withLock { state -> [Batch]? in
                guard state.count < maximumWaiting else { return nil }
                if state.waiting[key, default: []].isEmpty { state.turns.append(key) }
                state.waiting[key, default: []].append(Waiting(item: item, continuation: continuation))
                state.count += 1
                return take(&state)
            }
            guard let batches else {
                continuation.resume(
                    throwing: AdalError.unavailable(reason: "too many requests are waiting; try again shortly")
                )
                return
            }
            for batch in batches { start(batch) }
        }
    }

    private struct Batch {
        let key: Key
        let requests: [Waiting]
    }

    /// Batches for the keys without one in flight, while lanes are free.
    private func take(_ state: inout State) -> [Batch] {
        var batches: [Batch] = []
        var passed: [Key] = []
        while state.running < lanes, !state.turns.isEmpty {
            let key = state.turns.removeFirst()
            guard !state.working.contains(key) else {
                passed.append(key)
                continue
            }
            var queue = state.waiting[key] ?? []
            let requests = Array(queue.prefix(maximumBatch))
            queue.removeFirst(requests.count)
            state.waiting[key] = queue.isEmpty ? nil : queue
            // What is left waits for its next turn, after the other keys'.
            if !queue.isEmpty { state.turns.append(key) }
            state.count -= requests.count
            state.running += 1
            state.working.insert(key)
            state.served.batches += 1
            state.served.requests += requests.count
            batches.append(Batch(key: key, requests: requests))
        }
        state.turns.insert(contentsOf: passed, at: 0)
        return batches
    }

    private func start(_ batch: Batch) {
        Task(executorPreference: executor()) { await self.run(batch) }
    }

    /// Serves `batch`, then, in the same task, the next batch it leaves to take (starting a new
    /// task costs the next batch a wait for a free thread while the server is busy).
    private func run(_ first: Batch) async {
        var batch = first
        while true {
            let began = ContinuousClock.now
            let results = await serve(batch.key, batch.requests.map(\.item))
            let took = ContinuousClock.now - began
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
            let next = state.withLock { state in
                state.running -= 1
                state.working.remove(key)
                state.served.serving += took
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
                return take(&state)
            }
            guard let following = next.first else { return }
            for other in next.dropFirst() { start(other) }
            batch = following
        }
    }
}

/// What a ``BatchQueue`` has served so far.
public struct BatchesServed: Sendable, Equatable {
    public var batches = 0
    public var requests = 0
    /// Time from each batch's start to its answers, summed over the batches.
    public var serving = Duration.zero

    /// Requests per batch on average.
    public var meanSize: Double { Double(requests) / Double(max(batches, 1)) }
    /// A batch's time from its start to its answers on average, in milliseconds.
    public var meanMilliseconds: Double {
        let (seconds, attoseconds) = serving.components
        return (Double(seconds) + Double(attoseconds) / 1e18) * 1000 / Double(max(batches, 1))
    }

    /// What was served between `earlier` and this.
    public func since(_ earlier: BatchesServed) -> BatchesServed {
        BatchesServed(
            batches: batches - earlier.batches,
            requests: requests - earlier.requests,
            serving: serving - earlier.serving
        )
    }
}

/// The answer of a batch's `serve` for a request that belongs in its key's next batch
/// (``BatchQueue``).
public struct NextBatch: Error, Sendable {
    public init() {}
}
