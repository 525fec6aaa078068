import Core
import Foundation
import Logging
import ServiceLifecycle

/// Integrates queued audit leaves for every tenant, at most `mergeDelay` after they were queued.
/// Any number of server processes may run one: the per-tenant advisory lock lets one work.
public struct AuditSequencer: Service {
    let log: PostgresAuditLog
    let mergeDelay: Duration
    let logger: Logger

    public init(log: PostgresAuditLog, mergeDelay: Duration = .seconds(1), logger: Logger) {
        self.log = log
        self.mergeDelay = mergeDelay
        self.logger = logger
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await integrateAll()
            } catch {
                logger.error("audit sequencing failed", metadata: ["error": "\(type(of: error))"])
            }
            try? await Task.sleep(for: mergeDelay)
        }
    }

    /// One pass over the tenants with queued leaves: integrates everything queued so far.
    public func integrateAll() async throws {
        for tenant in try await log.tenantsWithQueuedLeaves() {
            while try await log.integrate(tenantID: tenant) > 0 {}
        }
    }
}
