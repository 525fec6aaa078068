import Core
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Listens for PostgreSQL's announcements of changed principals (``PrincipalCache/channel``,
/// migration 0022) on a connection of its own, and keeps its ``PrincipalCache`` live only while
/// it listens: the cache goes live once the `LISTEN` is confirmed and dark when the connection is
/// lost or the server shuts down. The listener then connects again after `retryDelay`, twice as
/// long after each failure in a row up to 30 s (where `LISTEN` cannot work at all, such as
/// through a pooler in transaction mode, it warns twice a minute, not every second).
public struct PrincipalListener: Service {
    let configuration: PostgresClient.Configuration
    /// The cache it keeps live.
    public let cache: PrincipalCache
    let retryDelay: Duration
    let logger: Logger

    /// `configuration` is the server's (the application role); the listener opens one connection
    /// with it, apart from the server's pool.
    public init(
        configuration: PostgresClient.Configuration,
        cache: PrincipalCache,
        retryDelay: Duration = .seconds(1),
        logger: Logger
    ) {
        var own = configuration
        own.options.minimumConnections = 0
        own.options.maximumConnections = 1
        self.configuration = own
        self.cache = cache
        self.retryDelay = retryDelay
        self.logger = logger
    }

    public func run() async throws {
        let client = PostgresClient.onDatabaseLoops(configuration, logger: logger)
        let (cache, logger, retryDelay) = (cache, logger, retryDelay)
        await withDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            await cancelWhenGracefulShutdown {
                var delay = retryDelay
                while !Task.isCancelled {
                    do {
                        try await client.withConnection { connection in
                            try await connection.listen(on: PrincipalCache.channel) { announcements in
                                cache.goLive()
                                for try await announcement in announcements { cache.changed(announcement.payload) }
                            }
                        }
                    } catch {
                        // The type only: a connection error may quote the server's settings.
                        if !Task.isCancelled {
                            logger.warning(
                                "principal announcements lost; tokens are looked up on every request until listening again",
                                metadata: ["error": "\(type(of: error))"]
                            )
                        }
                    }
                    // After listening, the first retry comes soon; each failure in a row waits twice as long.
                    delay = cache.isLive ? retryDelay : min(delay * 2, .seconds(30))
                    cache.goDark()
                    try? await Task.sleep(for: delay)
                }
            }
            cache.goDark()
            group.cancelAll()
        }
    }
}
