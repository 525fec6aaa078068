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

    /// One pass over the tenants with queued leaves: integrates what each had queued when its
    /// turn came (in batches of ``PostgresAuditLog/maximumBatch``), and returns how many leaves
    /// that was. Leaves queued meanwhile wait for the next pass: at a lunch rush they keep
    /// coming, and integrating them straight away made one small batch after another (70 leaves
    /// a transaction on average, against 320 in passes a second apart), each paying the
    /// batch's fixed reads and writes.
    @discardableResult
    public func integrateAll() async throws -> Int {
        var moved = 0
        for tenant in try await log.tenantsWithQueuedLeaves() {
            var count = 0
            repeat {
                count = try await log.integrate(tenantID: tenant)
                moved += count
            } while count == PostgresAuditLog.maximumBatch
        }
        return moved
    }
}
