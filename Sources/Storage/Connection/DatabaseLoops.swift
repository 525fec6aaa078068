import Logging
import NIOCore
import NIOPosix
import PostgresNIO

/// The event loops of the database's connections: threads of their own, apart from the HTTP
/// server's (`ServerLoops` in Web).
///
/// On loops shared with the HTTP connections a reply from PostgreSQL waited behind whatever the loop was doing when it
/// arrived: under load, reading and answering a batch's worth of HTTP requests. A batch of
/// till charges holds its pupils' rows locked through four round trips, and every charge in
/// the city waits for it, so each of those waits counted in every charge's latency. On a loop
/// of their own the replies are read as soon as the thread gets a core (docs/meal-payments.md,
/// "The database's own event loops").
public enum DatabaseLoops {
    /// Its threads: half the cores, at least one (the HTTP server's loops take the rest).
    public static let threads = max(1, System.coreCount / 2)
    public static let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
}

extension PostgresClient {
    /// A client whose connections run on ``DatabaseLoops``; every client of the server's is one.
    public static func onDatabaseLoops(_ configuration: Configuration, logger: Logger) -> PostgresClient {
        PostgresClient(configuration: configuration, eventLoopGroup: DatabaseLoops.group, backgroundLogger: logger)
    }
}
