/// A gateway's final word on a message it took: whether it reached the phone. A gateway reports
/// it later than it takes the message (minutes, or a day for a phone that is off), so it is
/// asked for afterwards by the id the gateway gave the message.
public enum MessageDelivery: String, Sendable, CaseIterable {
    case delivered
    /// Some of a long message's parts arrived, not all.
    case partial
    /// The operator could not deliver it: a number out of service, a phone that refuses it.
    case undelivered
    /// Not delivered within the time it was given: a phone off or out of reach all along.
    case expired
    /// Refused by the operator or the gateway: a number that does not exist or is barred — or,
    /// as operators also say it, a sender's name or a text they would not carry, which is no
    /// fault of the address. So it is reported, never taken as the address refused.
    case rejected

    /// Whether the message did not reach the phone at all.
    public var failed: Bool { self != .delivered && self != .partial }
}
