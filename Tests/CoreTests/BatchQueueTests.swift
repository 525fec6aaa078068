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

        /// Opens counted so far (a queue opened ahead), and what the next opens do before they
        /// take their requests: go on, wait for `opened`, or give up without taking any.
        let opens = Locked(0)
        let beforeTaking = Locked<[Opening]>([])
        let (openGate, opened) = AsyncStream<Void>.makeStream()
        enum Opening { case wait, giveUp }

        /// A queue whose batches are opened ahead, then served by this.
        func queueOpenedAhead(maximumBatch: Int = 4) -> BatchQueue<String, String, String> {
            BatchQueue(lanes: 1, maximumBatch: maximumBatch, maximumWaiting: 100) { _, take in
                self.opens.withLock { $0 += 1 }
                let next = self.beforeTaking.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                switch next {
                case .giveUp: return []
                case .wait: for await _ in self.openGate { break }
                case nil: break
                }
                let items = await take()
                return items.isEmpty ? [] : await self.serve(items)
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
        #expect(queue.served.byTenth.reduce(0, +) == 4)
    }

    @Test("the batches' times are counted by tenths of a millisecond, for their percentiles")
    func batchTimes() {
        var served = BatchesServed()
        #expect(served.milliseconds(within: 0.99) == 0)
        for _ in 0..<98 { served.count(.microseconds(2_040)) }
        served.count(.milliseconds(50))
        served.count(.seconds(3))
        #expect(served.milliseconds(within: 0.5) == 2.0)
        #expect(served.milliseconds(within: 0.98) == 2.0)
        #expect(served.milliseconds(within: 0.99) == 50.0)
        #expect(served.milliseconds(within: 1) == 100.0)
        let earlier = served
        served.count(.microseconds(7_390))
        let since = served.since(earlier)
        #expect(since.byTenth.reduce(0, +) == 1 && since.milliseconds(within: 0.99) == 7.3)
        #expect(since.serving == .microseconds(7_390))
    }

    @Test(
        "a batch is opened beside the city's batch in flight once a request waits, and takes all that wait when it ends"
    )
    func opensAhead() async throws {
        let served = Served()
        let queue = served.queueOpenedAhead()
        async let first = queue.submit("0", key: "astana")
        try await Served.until { served.batches.current.count == 1 }
        #expect(served.opens.current == 1)
        var tasks: [Task<String, any Error>] = []
        for item in 1...3 {
            tasks.append(Task { try await queue.submit("\(item)", key: "astana") })
            try await Served.until { queue.waiting == item }
        }
        // One batch opened ahead for all that wait; it has not taken them yet.
        try await Served.until { served.opens.current == 2 }
        try await Task.sleep(for: .milliseconds(20))
        #expect(served.opens.current == 2 && served.batches.current.count == 1 && queue.waiting == 3)
        served.opener.yield()
        #expect(try await first == "ok 0")
        for (index, task) in tasks.enumerated() { #expect(try await task.value == "ok \(index + 1)") }
        #expect(served.batches.current == [["0"], ["1", "2", "3"]])
        // Without a batch in flight a request is served at once, and nothing is opened ahead.
        #expect(try await queue.submit("4", key: "astana") == "ok 4")
        #expect(served.opens.current == 3 && served.batches.current.last == ["4"])
        #expect(queue.served.batches == 3 && queue.served.requests == 5)
    }

    @Test("requests left to a batch opened ahead wait for it while it opens, and go to an ordinary batch if it cannot")
    func openingAheadLateOrFailing() async throws {
        // Opened ahead, but not open yet when the batch in flight ends: nothing else takes them.
        let served = Served()
        let queue = served.queueOpenedAhead()
        async let first = queue.submit("a", key: "astana")
        try await Served.until { served.batches.current.count == 1 }
        served.beforeTaking.withLock { $0 = [.wait] }
        let later = Task { try await queue.submit("b", key: "astana") }
        try await Served.until { served.opens.current == 2 }
        served.opener.yield()
        #expect(try await first == "ok a")
        try await Task.sleep(for: .milliseconds(20))
        #expect(queue.waiting == 1 && served.batches.current.count == 1 && served.opens.current == 2)
        served.opened.yield()
        #expect(try await later.value == "ok b")
        #expect(served.batches.current == [["a"], ["b"]])

        // Opened ahead, but given up before taking (the database is away): an ordinary batch.
        let other = Served()
        let second = other.queueOpenedAhead()
        async let held = second.submit("c", key: "astana")
        try await Served.until { other.batches.current.count == 1 }
        other.beforeTaking.withLock { $0 = [.giveUp] }
        let left = Task { try await second.submit("d", key: "astana") }
        try await Served.until { other.opens.current == 2 && other.beforeTaking.current.isEmpty }
        other.opener.yield()
        #expect(try await held == "ok c")
        #expect(try await left.value == "ok d")
        #expect(other.batches.current == [["c"], ["d"]] && other.opens.current == 3)
    }
}
