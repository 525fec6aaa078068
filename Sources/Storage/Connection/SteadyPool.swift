import PostgresNIO

extension PostgresClient.Configuration {
    /// The server's pool: `connections` connections, opened when the client starts and kept
    /// open, none pinged or closed for being idle.
    ///
    /// With PostgresNIO's defaults every connection that goes back to the pool gets a keep-alive
    /// timer, and one beyond the pool's minimum an idle timer too; its next lease cancels them.
    /// Each timer is a task sleeping on Swift's global executor, so every transaction started
    /// and cancelled two of them on threads of their own: 11 % of the server's CPU in
    /// `adal bench meals` (docs/meal-payments.md). A connection the database closes is still
    /// noticed (its channel closes, the pool opens another); requests meanwhile fail within
    /// ``Database/leaseTimeout`` as before.
    public func steadyPool(connections: Int) -> PostgresClient.Configuration {
        precondition(connections > 0, "a pool needs at least one connection")
        var configuration = self
        configuration.options.minimumConnections = connections
        configuration.options.maximumConnections = connections
        configuration.options.keepAliveBehavior = nil
        return configuration
    }
}
