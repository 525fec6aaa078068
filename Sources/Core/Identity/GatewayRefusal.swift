/// An error of a message gateway that tells whether the gateway refused the address itself, for
/// good — a mailbox that does not exist, a number the aggregator will not take — so that sending
/// to it again cannot help, as opposed to a gateway that was away or busy.
public protocol GatewayRefusal: Error {
    var refusesAddress: Bool { get }
}
