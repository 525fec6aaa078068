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
    ///   (the write is dropped with its reply promise), so the work runs in a task of its own that
    ///   is abandoned if the connection closes first. Such a task stays suspended; one per
    ///   request in flight when the database died.
    ///
    /// The cost per call is one task and one timer on an event loop (no task group): this is on
    /// every transaction's path.
    ///
    /// `body` runs on the connection's event loop (``EventLoopExecutor``), where each of its
    /// statements' replies arrives. So it must not compute for long: hash passwords, render
    /// pages and build exports outside it (work inside a transaction holds its locks anyway).
    public func withConnection<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let outcome = FirstOutcome<Result>()
        // Whichever comes first, the lease or the deadline, decides; the other then does nothing.
        let lease = Locked(LeaseState.waiting)
        let client = client
        // On an event loop of the pool's, the current one if there is one: the lease's reply
        // and the body's statements then need no hop to a thread of the global executor.
        let work = Task(executorPreference: Self.executor()) {
            do {
                let result = try await client.withConnection { connection in
                    let won = lease.withLock { state in
                        guard state == .waiting else { return false }
                        state = .leased
                        return true
                    }
                    // The deadline passed while the lease was being granted: the caller has gone.
                    guard won else { throw CancellationError() }
                    try Self.requireOpen(connection)
                    ConnectionWatch.shared.watch(connection) {
                        outcome.settle(
                            with: .failure(AdalError.unavailable(reason: "the connection to the database was lost"))
                        )
                    }
                    defer { ConnectionWatch.shared.unwatch(connection) }
                    return try await withTaskExecutorPreference(EventLoopExecutor(connection.eventLoop)) {
                        try await body(connection)
                    }
                }
                outcome.settle(with: .success(result))
            } catch let error as PSQLError where Self.isOutage(error) {
                outcome.settle(with: .failure(AdalError.unavailable(reason: "the connection to the database was lost")))
            } catch {
                outcome.settle(with: .failure(error))
            }
        }
        let timeout = leaseTimeout
        let deadline = DatabaseLoops.group.any().scheduleTask(
            in: .nanoseconds(
                Int64(timeout.components.seconds) * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
            )
        ) {
            // Only a wait for a connection is cut short; work already running is not.
            let expired = lease.withLock { state in
                guard state == .waiting else { return false }
                state = .expired
                return true
            }
            guard expired else { return }
            outcome.settle(
                with: .failure(AdalError.unavailable(reason: "the database did not answer within \(timeout)"))
            )
            work.cancel()
        }
        defer { deadline.cancel() }
        return try await withTaskCancellationHandler {
            try await outcome.value()
        } onCancel: {
            work.cancel()
        }
    }

    /// An executor on an event loop of the pool's (the current one when called on one), for a
    /// task that mostly waits for the database: each reply then resumes it where it arrived.
    public static func executor() -> EventLoopExecutor {
        EventLoopExecutor(DatabaseLoops.group.any())
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

enum LeaseState: Sendable {
    case waiting
    case leased
    case expired
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

/// Tells the current user of a pooled connection when it closes. One callback is registered on
/// each connection's close future for its whole life (a callback per use would pile up on a
/// long-lived connection); each use only sets and clears what that callback calls.
final class ConnectionWatch: @unchecked Sendable {
    static let shared = ConnectionWatch()

    private let lock = NSLock()
    /// Live connections seen so far, with what to call if one closes now.
    private var handlers: [ObjectIdentifier: (@Sendable () -> Void)?] = [:]

    func watch(_ connection: PostgresConnection, onClose: @escaping @Sendable () -> Void) {
        let key = ObjectIdentifier(connection)
        lock.lock()
        let known = handlers[key] != nil
        handlers[key] = .some(onClose)
        lock.unlock()
        guard !known else { return }
        connection.closeFuture.whenComplete { [weak self] _ in
            guard let self else { return }
            self.lock.lock()
            let handler = self.handlers.removeValue(forKey: key) ?? nil
            self.lock.unlock()
            handler?()
        }
    }

    func unwatch(_ connection: PostgresConnection) {
        let key = ObjectIdentifier(connection)
        lock.lock()
        if handlers[key] != nil { handlers[key] = .some(nil) }
        lock.unlock()
    }

    /// Connections being watched; for tests.
    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return handlers.count
    }
}
