import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import Storage

extension HTTPServerBuilder {
    /// HTTP/1.1 whose connections do all their work on their own event loop: reading each
    /// request, the middleware, the route and writing the response (``EventLoopChildChannel``).
    public static var http1OnEventLoops: HTTPServerBuilder {
        HTTPServerBuilder { responder in EventLoopChildChannel(HTTP1Channel(responder: responder)) }
    }
}

/// The HTTP server's event loops: the cores the database's loops leave (``DatabaseLoops``), at
/// least one. With a thread per core in all, neither side's loop waits for a core behind the
/// other's: on 2 cores, with NIO's shared group (2 threads) beside the database's one, the server
/// sent up to 29 % fewer charges a second, and stalled for half a second in two runs of five
/// (docs/meal-payments.md, "The database's own event loops").
public enum ServerLoops {
    public static let group = MultiThreadedEventLoopGroup(
        numberOfThreads: max(1, System.coreCount - DatabaseLoops.threads)
    )
}

/// A server's connections, each handled by a task that prefers its channel's event loop
/// (``EventLoopExecutor``).
///
/// Hummingbird handles a connection in a task on Swift's global executor: each request's bytes
/// arrive on the channel's event loop and wait for a thread of that executor, and its response
/// goes back to the loop to be written — two hand-overs between threads per request, and more
/// around every database round trip, which also lands on an event loop. With two cores busy
/// each hand-over costs CPU and a wait for a core. Here a request runs where its bytes arrive.
///
/// The price: while a request computes, the other connections of its loop wait (the database's
/// connections have loops of their own, ``DatabaseLoops``). Routes compute little (a page, a
/// bounded export); hashing a password runs on NIO's thread pool; anything that must compute for
/// long belongs on a thread pool too.
struct EventLoopChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
    typealias Value = Inner.Value
    let inner: Inner

    init(_ inner: Inner) {
        self.inner = inner
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await withTaskExecutorPreference(EventLoopExecutor(value.channel.eventLoop)) {
            await inner.handle(value: value, logger: logger)
        }
    }
}
