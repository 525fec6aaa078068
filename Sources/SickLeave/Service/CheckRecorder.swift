import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

/// Collects the checks of genuine certificates and writes them in batches: one insert per city
/// every ``flushInterval`` (or every ``batchLimit`` checks), committed without waiting for the
/// disk. An employer's scan never waits for a write; a crash loses at most the last interval's
/// entries of a history that is informational.
public actor CheckRecorder: Service {
    public static let flushInterval: Duration = .milliseconds(200)
    public static let batchLimit = 1_000

    struct Pending {
        var tenantID: UUID
        var certificateID: [UInt8]
        var version: Int
        var checker: CertificateVerifier.Checker?
        var verdict: String
        var at: Date
    }

    let database: Database
    private var pending: [Pending] = []

    public init(database: Database) {
        self.database = database
    }

    func record(_ check: Pending) async throws {
        pending.append(check)
        if pending.count >= Self.batchLimit { try await flush() }
    }

    /// Writes everything collected so far.
    public func flush() async throws {
        guard !pending.isEmpty else { return }
        let batch = pending
        pending = []
        let logger = database.logger
        for (tenantID, checks) in Dictionary(grouping: batch, by: \.tenantID) {
            try await database.withTenant(tenantID) { connection in
                try await connection.run("SET LOCAL synchronous_commit = off", logger: logger)
                // bytea arrays travel as hex text: PostgresNIO binds no bytea[].
                try await connection.run(
                    """
                    INSERT INTO certificate_checks (tenant_id, certificate_id, version, checked_at, checker_user_id,
                        checker_name, verdict)
                    SELECT \(tenantID), decode(c, 'hex'), v, t, NULLIF(u, '')::uuid, NULLIF(n, ''), d
                    FROM unnest(\(checks.map(\.certificateID.hexString))::text[], \(checks.map { Int32(clamping: $0.version) })::int[],
                        \(checks.map(\.at))::timestamptz[], \(checks.map { $0.checker?.userID.uuidString ?? "" })::text[],
                        \(checks.map { $0.checker?.name ?? "" })::text[], \(checks.map(\.verdict))::text[])
                      AS x (c, v, t, u, n, d)
                    """,
                    logger: logger
                )
            }
        }
    }

    public func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: Self.flushInterval)
            do {
                try await flush()
            } catch {
                database.logger.error("recording certificate checks failed", metadata: ["error": "\(type(of: error))"])
            }
        }
        try? await flush()
    }
}
