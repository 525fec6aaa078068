import Core
import Foundation
import PostgresNIO

extension Database {
    /// Runs `body` on a pooled connection, waiting at most ``leaseTimeout`` for one, and gives
    /// up on it when the connection closes under it. Both answer ``AdalError/unavailable(reason:)``
    /// (503), so a request fails within a bound when the database goes away, and its client can
    /// retry (with the same idempotency key) once it is back.
    ///
    /// - While the database is down the pool keeps trying to connect, and a request for a
    ///   connection would otherwise wait for as long as the outage lasts.
    /// - PostgresNIO 1.33 never answers a statement written to a connection that has just closed
    ///   (the write is dropped with its reply promise), so `body` runs in a task of its own that
    ///   is abandoned if the connection closes first. Such a task stays suspended; one per
    ///   request in flight when the database died.
    public func withConnection<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let handoff = ConnectionHandoff()
        let (client, timeout) = (client, leaseTimeout)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    try await client.withConnection { connection in
                        guard handoff.give(connection) else { return }
                        await handoff.waitUntilReturned()
                    }
                } catch {
                    handoff.fail(error)
                }
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                handoff.fail(AdalError.unavailable(reason: "the database did not answer within \(timeout)"))
            }
            defer {
                handoff.giveBack()
                group.cancelAll()
            }
            let connection = try await handoff.connection()
            do {
                return try await Self.unlessClosed(connection) { try await body(connection) }
            } catch let error as PSQLError where Self.isOutage(error) {
                throw AdalError.unavailable(reason: "the connection to the database was lost")
            }
        }
    }

    /// `operation`'s result, or ``AdalError/unavailable(reason:)`` as soon as `connection` closes.
    static func unlessClosed<Result: Sendable>(
        _ connection: PostgresConnection,
        _ operation: @escaping @Sendable () async throws -> Result
    ) async throws -> Result {
        let outcome = FirstOutcome<Result>()
        let task = Task { outcome.settle(with: await Swift.Result { try await operation() }) }
        connection.closeFuture.whenComplete { _ in
            outcome.settle(with: .failure(AdalError.unavailable(reason: "the connection to the database was lost")))
        }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            task.cancel()
        }
    }

    /// Throws ``AdalError/unavailable(reason:)`` when the connection has closed.
    static func requireOpen(_ connection: PostgresConnection) throws {
        guard !connection.isClosed else {
            throw AdalError.unavailable(reason: "the connection to the database was lost")
        }
    }

    /// Errors that mean the database went away (connection lost, server shutting down or
    /// restarting after a crash), not that a statement was wrong.
    static func isOutage(_ error: PSQLError) -> Bool {
        switch error.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed:
            return true
        default:
            // Class 08: connection exception; class 57P: operator intervention (shutdown, crash).
            guard let state = error.sqlState else { return false }
            return state.hasPrefix("08") || state.hasPrefix("57P")
        }
    }
}

/// Hands one leased connection from the task that waits for it to the task that uses it, and
/// back. Whichever comes first wins: the connection, a failure or the deadline.
final class ConnectionHandoff: @unchecked Sendable {
    private enum State {
        case waiting(CheckedContinuation<PostgresConnection, any Error>?)
        case handed(PostgresConnection)
        case failed(any Error)
        case returned
    }

    private let lock = NSLock()
    private var state = State.waiting(nil)
    private var returned = false
    private var returnWaiter: CheckedContinuation<Void, Never>?

    /// The connection, once leased; throws the failure or the deadline's error otherwise.
    func connection() async throws -> PostgresConnection {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            switch state {
            case .waiting:
                state = .waiting(continuation)
                lock.unlock()
            case .handed(let connection):
                lock.unlock()
                continuation.resume(returning: connection)
            case .failed(let error):
                lock.unlock()
                continuation.resume(throwing: error)
            case .returned:
                lock.unlock()
                continuation.resume(throwing: CancellationError())
            }
        }
    }

    /// Offers the leased connection; false when the user has already given up on it.
    func give(_ connection: PostgresConnection) -> Bool {
        lock.lock()
        guard case .waiting(let waiter) = state else {
            lock.unlock()
            return false
        }
        state = .handed(connection)
        lock.unlock()
        waiter?.resume(returning: connection)
        return true
    }

    /// Ends the wait with `error` unless the connection was already handed over.
    func fail(_ error: any Error) {
        lock.lock()
        guard case .waiting(let waiter) = state else {
            lock.unlock()
            return
        }
        state = .failed(error)
        lock.unlock()
        waiter?.resume(throwing: error)
    }

    /// The user is done: the leasing task may return the connection to the pool.
    func giveBack() {
        lock.lock()
        if case .waiting(let waiter) = state {
            state = .returned
            lock.unlock()
            waiter?.resume(throwing: CancellationError())
            lock.lock()
        }
        returned = true
        let waiter = returnWaiter
        returnWaiter = nil
        lock.unlock()
        waiter?.resume()
    }

    /// Suspends the leasing task until ``giveBack()``.
    func waitUntilReturned() async {
        await withCheckedContinuation { continuation in
            lock.lock()
            if returned {
                lock.unlock()
                continuation.resume()
            } else {
                returnWaiter = continuation
                lock.unlock()
            }
        }
    }
}

/// The first of several possible outcomes, delivered once to one waiter.
final class FirstOutcome<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var outcome: Result<Value, any Error>?
    private var waiter: CheckedContinuation<Value, any Error>?

    func settle(with result: Result<Value, any Error>) {
        lock.lock()
        guard outcome == nil else {
            lock.unlock()
            return
        }
        outcome = result
        let waiter = waiter
        self.waiter = nil
        lock.unlock()
        waiter?.resume(with: result)
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            lock.lock()
            if let outcome {
                lock.unlock()
                continuation.resume(with: outcome)
            } else {
                waiter = continuation
                lock.unlock()
            }
        }
    }
}

extension Result where Failure == any Error {
    /// The result of an asynchronous throwing operation.
    init(catching body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
