import Core
import Foundation
import PostgresNIO
import Storage

extension WorkflowEngine {
    /// Most jobs one call sends again.
    public static let maximumRetried = 1_000

    /// Makes jobs of the city that failed for good (`dead`) due again now with their attempts
    /// afresh — the one numbered `id`, or when nil the latest ``maximumRetried`` — and wakes the
    /// job runners; the numbers of the jobs made due. Their last error stays until their next
    /// outcome. For an administrator, once a gateway or provider that was away is back.
    public func retryDeadJobs(tenantID: UUID, id: Int64? = nil) async throws -> [Int64] {
        let logger = logger
        return try await database.withTenant(tenantID) { connection in
            let chosen: PostgresQuery =
                if let id {
                    "SELECT id FROM jobs WHERE tenant_id = \(tenantID) AND status = 'dead' AND id = \(id) FOR UPDATE"
                } else {
                    """
                    SELECT id FROM jobs WHERE tenant_id = \(tenantID) AND status = 'dead'
                    ORDER BY finished_at DESC LIMIT \(Int64(Self.maximumRetried)) FOR UPDATE
                    """
                }
            var ids: [Int64] = []
            for try await row in try await connection.query(chosen, logger: logger).decode(Int64.self) {
                ids.append(row)
            }
            guard !ids.isEmpty else { return [] }
            try await connection.run(
                """
                UPDATE jobs SET status = 'pending', attempts = 0, run_at = now(), finished_at = NULL
                WHERE tenant_id = \(tenantID) AND id = ANY(\(ids))
                """,
                logger: logger
            )
            try await connection.run(
                "SELECT pg_notify(\(Self.jobsChannel)::text, \(tenantID.uuidString)::text)",
                logger: logger
            )
            return ids
        }
    }
}
