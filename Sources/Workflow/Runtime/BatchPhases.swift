import Core

/// Where a ``WorkflowEngine``'s batches spent their time, phase by phase, summed since the
/// engine was made: what `adal bench meals` prints to show which part of a batch is slow.
public struct BatchPhaseTimes: Sendable, Equatable {
    /// A batch's phases, in the order they run.
    public enum Phase: Int, CaseIterable, Sendable {
        /// Finding and locking the requests' instances (one statement, or two).
        case lock
        /// Each step's checks: the event allowed, the actor's role, the input.
        case checks
        /// The steps' actions (a batch action's statement).
        case actions
        /// Each step's records and audit leaf, made in memory.
        case records
        /// The statement that writes all the steps.
        case write
        /// The caller's answers, read in the transaction.
        case answers
        /// COMMIT, the WAL's flush with it, until the connection is back.
        case commit

        public var label: String {
            switch self {
            case .lock: "lock"
            case .checks: "checks"
            case .actions: "actions"
            case .records: "records"
            case .write: "step write"
            case .answers: "answers"
            case .commit: "COMMIT"
            }
        }
    }

    /// A phase that takes this long or more counts as slow (``slow``).
    public static let slowLimit = Duration.milliseconds(8)

    public var batches = 0
    /// Each phase's time, summed over the batches (by ``Phase/rawValue``).
    public var total = [Duration](repeating: .zero, count: Phase.allCases.count)
    /// How many batches took ``slowLimit`` or more in each phase.
    public var slow = [Int](repeating: 0, count: Phase.allCases.count)

    public init() {}

    /// A phase's time in a batch on average, in milliseconds.
    public func meanMilliseconds(_ phase: Phase) -> Double {
        let (seconds, attoseconds) = total[phase.rawValue].components
        return (Double(seconds) + Double(attoseconds) / 1e18) * 1000 / Double(max(batches, 1))
    }

    /// Counts a batch whose phases took `took`, in ``Phase`` order.
    mutating func count(_ took: [Duration]) {
        guard took.count == Phase.allCases.count else { return }
        batches += 1
        for (index, duration) in took.enumerated() {
            total[index] += duration
            if duration >= Self.slowLimit { slow[index] += 1 }
        }
    }

    /// What was counted between `earlier` and this.
    public func since(_ earlier: BatchPhaseTimes) -> BatchPhaseTimes {
        var between = BatchPhaseTimes()
        between.batches = batches - earlier.batches
        between.total = zip(total, earlier.total).map { $0 - $1 }
        between.slow = zip(slow, earlier.slow).map { $0 - $1 }
        return between
    }
}

/// The count behind ``BatchPhaseTimes``, shared by an engine's copies.
public final class BatchPhases: Sendable {
    private let counted = Locked(BatchPhaseTimes())

    init() {}

    /// What was counted so far.
    public var times: BatchPhaseTimes { counted.current }

    /// Counts a batch from the instants that end its phases, `marks[0]` being its start.
    func count(_ marks: [ContinuousClock.Instant]) {
        let took = zip(marks.dropFirst(), marks).map { $0 - $1 }
        counted.withLock { $0.count(took) }
    }
}
