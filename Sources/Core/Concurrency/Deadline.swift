/// Runs `operation` for at most `deadline`: true when it finished in time, false when the
/// deadline came first and it was cancelled (an operation that ignores cancellation is waited
/// for: a task group waits for its children). Its error, or the caller's cancellation, is thrown.
public func finished(
    within deadline: Duration,
    _ operation: @escaping @Sendable () async throws -> Void
) async throws -> Bool {
    try await result(within: deadline, operation) != nil
}

/// What `operation` returns, or nil when `deadline` passed first (the operation is then
/// cancelled); its error, thrown.
public func result<Value: Sendable>(
    within deadline: Duration,
    _ operation: @escaping @Sendable () async throws -> Value
) async throws -> Value? {
    try await withThrowingTaskGroup(of: Value?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: deadline)
            return nil
        }
        let first = try await group.next() ?? nil
        group.cancelAll()
        return first
    }
}
