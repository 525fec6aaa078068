import Synchronization

/// Group commit for requests: those that arrive while earlier ones are being served wait, and
/// are then served together by one call of `serve`.
///
/// At most `lanes` batches run at once, each taking up to `maximumBatch` waiting requests of one
/// key (a city: one transaction serves one city). Under light load a request is served at once,
/// alone; under heavy load each batch takes what arrived while the last ones ran, so the fixed
/// cost of a transaction — its round trips and its flush to disk — is shared by many requests
/// without any timer that makes a lone request wait. Keys take turns, so a busy city cannot
/// starve another. More than `maximumWaiting` waiting requests are refused as unavailable.
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
        var running = 0
        var served = (batches: 0, requests: 0)
    }

    public let lanes: Int
    public let maximumBatch: Int
    public let maximumWaiting: Int
    private let serve: Serve
    private let state = Mutex(State())

    public init(lanes: Int, maximumBatch: Int, maximumWaiting: Int, serve: @escaping Serve) {
        precondition(lanes > 0 && maximumBatch > 0 && maximumWaiting > 0)
        self.lanes = lanes
        self.maximumBatch = maximumBatch
        self.maximumWaiting = maximumWaiting
        self.serve = serve
    }

    /// Batches served so far and the requests in them: their ratio is the mean batch size.
    public var served: (batches: Int, requests: Int) { state.withLock { $0.served } }

    /// Requests waiting for a lane now.
    public var waiting: Int { state.withLock { $0.count } }

    /// Serves `item` in a batch of `key`'s requests; its own result.
    public func submit(_ item: Item, key: Key) async throws -> Answer {
        try await withCheckedThrowingContinuation { continuation in
            let batches = state.withLock { state -> [(Key, [Waiting])]? in
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
            for (key, batch) in batches { start(key, batch) }
        }
    }

    /// Batches for the free lanes, taken from the waiting requests.
    private func take(_ state: inout State) -> [(Key, [Waiting])] {
        var batches: [(Key, [Waiting])] = []
        while state.running < lanes, !state.turns.isEmpty {
            let key = state.turns.removeFirst()
            var queue = state.waiting[key] ?? []
            let batch = Array(queue.prefix(maximumBatch))
            queue.removeFirst(batch.count)
            state.waiting[key] = queue.isEmpty ? nil : queue
            if !queue.isEmpty { state.turns.append(key) }
            state.count -= batch.count
            state.running += 1
            state.served.batches += 1
            state.served.requests += batch.count
            batches.append((key, batch))
        }
        return batches
    }

    private func start(_ key: Key, _ batch: [Waiting]) {
        Task {
            let results = await serve(key, batch.map(\.item))
            for (index, waiting) in batch.enumerated() {
                guard index < results.count else {
                    waiting.continuation.resume(throwing: AdalError.unavailable(reason: "the request was not served"))
                    continue
                }
                waiting.continuation.resume(with: results[index])
            }
            let next = state.withLock { state in
                state.running -= 1
                return take(&state)
            }
            for (key, batch) in next { start(key, batch) }
        }
    }
}
