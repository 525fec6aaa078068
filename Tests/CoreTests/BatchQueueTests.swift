import Foundation
import Testing

@testable import Core

@Suite("Batches of requests")
struct BatchQueueTests {
    /// Holds the first batch until opened, and records every batch served.
    final class Served: Sendable {
        let batches = Locked<[[String]]>([])
        let (gate, opener) = AsyncStream<Void>.makeStream()

        func serve(_ items: [String]) async -> [Result<String, any Error>] {
            let first = batches.withLock { batches in
                batches.append(items)
                return batches.count == 1
            }
            if first { for await _ in gate { break } }
            // A repeat of an item already in this batch belongs in the next one.
            var seen: Set<String> = []
            return items.map { item in
                guard seen.insert(item).inserted else { return .failure(NextBatch()) }
                return item == "fails" ? .failure(AdalError.conflict(reason: "refused")) : .success("ok " + item)
            }
        }

        /// A queue whose batches this serves.
        func queue(
            lanes: Int = 1,
            maximumBatch: Int = 4,
            maximumWaiting: Int = 100
        ) -> BatchQueue<String, String, String> {
            BatchQueue(lanes: lanes, maximumBatch: maximumBatch, maximumWaiting: maximumWaiting) { _, items in
                await self.serve(items)
            }
        }

        /// Waits until `condition` holds (the queue's state changes on other tasks).
        static func until(_ condition: () -> Bool) async throws {
            for _ in 0..<2_000 where !condition() { try await Task.sleep(for: .milliseconds(1)) }
            #expect(condition())
        }
    }

    @Test("a lone request is served at once; those that arrive meanwhile are served together, a batch at most")
    func groupsWhatWaits() async throws {
        let served = Served()
        let queue = served.queue()
        async let first = queue.submit("0", key: "astana")
        try await Served.until { served.batches.current.count == 1 }
        let answers = Task {
            try await withThrowingTaskGroup(of: (String, String).self) { group in
                for item in 1...9 { group.addTask { ("\(item)", try await queue.submit("\(item)", key: "astana")) } }
                return try await group.reduce(into: [String: String]()) { $0[$1.0] = $1.1 }
            }
        }
        try await Served.until { queue.waiting == 9 }
        served.opener.yield()
        #expect(try await first == "ok 0")
        let later = try await answers.value
        #expect(later.count == 9 && later.allSatisfy { $0.value == "ok " + $0.key })
        let batches = served.batches.current
        #expect(batches.map(\.count) == [1, 4, 4, 1])
        #expect(Set(batches.dropFirst().joined()) == Set((1...9).map { "\($0)" }))
        #expect(queue.waiting == 0)
    }

    @Test("cities take turns, so a busy city cannot hold another back")
    func citiesTakeTurns() async throws {
        let served = Served()
        let queue = served.queue()
        async let first = queue.submit("a0", key: "astana")
        try await Served.until { served.batches.current.count == 1 }
        var tasks: [Task<String, any Error>] = []
        for item in 1...6 {
            tasks.append(Task { try await queue.submit("a\(item)", key: "astana") })
            try await Served.until { queue.waiting == item }
        }
        for item in 1...2 {
            tasks.append(Task { try await queue.submit("s\(item)", key: "shymkent") })
            try await Served.until { queue.waiting == 6 + item }
        }
        served.opener.yield()
        _ = try await first
        for task in tasks { _ = try await task.value }
        let batches = served.batches.current
        #expect(batches == [["a0"], ["a1", "a2", "a3", "a4"], ["s1", "s2"], ["a5", "a6"]])
    }

    @Test("a city has one batch in flight at a time, while other cities' batches run beside it")
    func oneBatchPerCity() async throws {
        let served = Served()
        let queue = served.queue(lanes: 2)
        async let first = queue.submit("a0", key: "astana")
        try await Served.until { served.batches.current.count == 1 }
        #expect(try await queue.submit("s0", key: "shymkent") == "ok s0")
        let second = Task { try await queue.submit("a1", key: "astana") }
        try await Served.until { queue.waiting == 1 }
        // A lane is free, but Astana's first batch is still in flight.
        try await Task.sleep(for: .milliseconds(20))
        #expect(queue.waiting == 1 && served.batches.current.count == 2)
        served.opener.yield()
        #expect(try await first == "ok a0")
        #expect(try await second.value == "ok a1")
        #expect(served.batches.current == [["a0"], ["s0"], ["a1"]])
    }

    @Test("a failure reaches only its own request, and more than the limit of waiting requests are refused")
    func failuresAndLimit() async throws {
        let served = Served()
        let queue = served.queue(maximumBatch: 8, maximumWaiting: 2)
        async let first = queue.submit("0", key: "astana")
        try await Served.until { served.batches.current.count == 1 }
        let failing = Task { try await queue.submit("fails", key: "astana") }
        try await Served.until { queue.waiting == 1 }
        let passing = Task { try await queue.submit("2", key: "astana") }
        try await Served.until { queue.waiting == 2 }
        await #expect(throws: AdalError.unavailable(reason: "too many requests are waiting; try again shortly")) {
            try await queue.submit("3", key: "shymkent")
        }
        served.opener.yield()
        #expect(try await first == "ok 0")
        await #expect(throws: AdalError.conflict(reason: "refused")) { try await failing.value }
        #expect(try await passing.value == "ok 2")
        #expect(served.batches.current == [["0"], ["fails", "2"]])
    }

    @Test("a request handed back for the next batch goes first in it, and is answered once it is served")
    func handedBackGoesFirst() async throws {
        let served = Served()
        let queue = served.queue(maximumBatch: 4, maximumWaiting: 4)
        async let first = queue.submit("0", key: "astana")
        try await Served.until { served.batches.current.count == 1 }
        let answers = Task {
            try await withThrowingTaskGroup(of: String.self) { group in
                for item in ["a", "a", "b", "a"] { group.addTask { try await queue.submit(item, key: "astana") } }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
        }
        try await Served.until { queue.waiting == 4 }
        served.opener.yield()
        #expect(try await first == "ok 0")
        #expect(try await answers.value.sorted() == ["ok a", "ok a", "ok a", "ok b"])
        let batches = served.batches.current
        #expect(batches.count == 4 && batches[2] == ["a", "a"] && batches[3] == ["a"])
        #expect(batches[1].sorted() == ["a", "a", "a", "b"])
        #expect(queue.waiting == 0)
        #expect(queue.served.requests == 5 && queue.served.batches == 4 && queue.served.serving > .zero)
    }
}
