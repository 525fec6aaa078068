import struct Foundation.Date
import struct Foundation.TimeInterval

/// How failed sign-ins slow down guessing. Failures are counted per subject (an account or a
/// client address) within a window; past a free allowance each further failure doubles the
/// wait, up to a ceiling. A success clears the account's count, not the address's.
public struct ThrottlePolicy: Sendable, Equatable {
    /// Failures allowed per account before waiting starts.
    public var accountAllowance: Int
    /// Failures allowed per address (many accounts) before waiting starts.
    public var addressAllowance: Int
    /// How long failures are remembered after the first one in a window.
    public var window: TimeInterval
    /// The first wait, doubled with each failure past the allowance.
    public var baseDelay: TimeInterval
    /// The longest wait.
    public var maximumDelay: TimeInterval

    public init(
        accountAllowance: Int = 5,
        addressAllowance: Int = 20,
        window: TimeInterval = 15 * 60,
        baseDelay: TimeInterval = 30,
        maximumDelay: TimeInterval = 15 * 60
    ) {
        self.accountAllowance = accountAllowance
        self.addressAllowance = addressAllowance
        self.window = window
        self.baseDelay = baseDelay
        self.maximumDelay = maximumDelay
    }

    /// Seconds to wait before the next attempt, or nil when an attempt may be made now.
    public func retryAfter(failures: Int, allowance: Int, lastFailure: Date, windowStart: Date, now: Date) -> Int? {
        guard failures >= allowance, now.timeIntervalSince(windowStart) < window else { return nil }
        let doublings = min(failures - allowance, 20)
        let delay = min(baseDelay * Double(1 << doublings), maximumDelay)
        let remaining = lastFailure.addingTimeInterval(delay).timeIntervalSince(now)
        return remaining > 0 ? Int(remaining.rounded(.up)) : nil
    }
}

/// A throttle subject: what failures are counted against.
public enum ThrottleSubject: Hashable, Sendable {
    case account(login: String)
    case address(String)

    /// The stored key; bounded so that a long forged header cannot grow the table's rows.
    public var key: String {
        switch self {
        case .account(let login): "account:" + String(login.prefix(100))
        case .address(let address): "address:" + String(address.prefix(100))
        }
    }
}
