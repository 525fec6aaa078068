import Core
import Foundation

/// Bounds what requests carrying photos and videos (up to 64 MiB each) can take: at most
/// ``concurrent`` are read at once — more get 429 at once instead of piling up in memory — and
/// an address reporting without signing in may send at most ``anonymousPerHour`` reports an
/// hour (signed-in people are answerable for what they send). Kept in memory per process: the
/// figures bound one process's memory, and a determined sender spread over addresses is the
/// operator's proxy's to stop.
final class MediaUploadGate: Sendable {
    static let concurrent = 4
    static let anonymousPerHour = 10
    /// Addresses remembered at most; beyond it the oldest hour is forgotten wholesale.
    static let capacity = 20_000

    private let inFlight = Locked(0)
    private let recent = Locked<[String: [Date]]>([:])

    /// Runs `body` if fewer than ``concurrent`` uploads are being read, else refuses with 429.
    func admit<Result>(_ body: () async throws -> Result) async throws -> Result {
        let admitted = inFlight.withLock { count in
            guard count < Self.concurrent else { return false }
            count += 1
            return true
        }
        guard admitted else { throw AdalError.tooManyAttempts(retryAfterSeconds: 2) }
        defer { inFlight.withLock { $0 -= 1 } }
        return try await body()
    }

    /// Counts one anonymous report from `address`, or refuses with the wait until the oldest
    /// of the hour's reports falls out of the window.
    func countAnonymous(from address: String, now: Date = Date()) throws {
        let wait: Int? = recent.withLock { recent in
            if recent.count >= Self.capacity { recent.removeAll(keepingCapacity: true) }
            let hour = (recent[address] ?? []).filter { now.timeIntervalSince($0) < 3600 }
            guard hour.count < Self.anonymousPerHour else {
                recent[address] = hour
                return Int(3600 - now.timeIntervalSince(hour[0])) + 1
            }
            recent[address] = hour + [now]
            return nil
        }
        if let wait { throw AdalError.tooManyAttempts(retryAfterSeconds: wait) }
    }
}
