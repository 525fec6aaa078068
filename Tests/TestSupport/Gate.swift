/// Lets `expected` callers through together, once all of them are in; a caller that waited
/// `patience` without that goes on alone, and so does every later one.
public actor Gate {
    let expected: Int
    let patience: Duration
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// Whether `expected` callers were in at once.
    public private(set) var met = false
    private var gaveUp = false

    public init(expected: Int, patience: Duration = .seconds(5)) {
        self.expected = expected
        self.patience = patience
    }

    public func arrive() async {
        guard !met, !gaveUp else { return }
        if waiting.count + 1 == expected {
            met = true
            release()
            return
        }
        let patience = patience
        Task {
            try? await Task.sleep(for: patience)
            await self.giveUp()
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    private func giveUp() {
        guard !met else { return }
        gaveUp = true
        release()
    }

    private func release() {
        for continuation in waiting { continuation.resume() }
        waiting = []
    }
}
