/// Runs `operation` for at most `deadline`: true when it finished in time, false when the
/// deadline came first and it was cancelled (an operation that ignores cancellation is waited
/// for: a task group waits for its children). Its error, or the caller's cancellation, is thrown.
public func finished(
    within deadline: Duration,
    _ operation: @escaping @Sendable () async throws -> Void
) async throws -> Bool {
    try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            try await operation()
            return true
        }
        group.addTask {
            try await Task.sleep(for: deadline)
            return false
        }
        let finished = try await group.next() ?? false
        group.cancelAll()
        return finished
    }
}
