import Audit
import Core
import Foundation
import PostgresNIO

/// Writes a city's log as an ``AuditBundle``: a freshly signed checkpoint, the verifier key, and
/// exactly the leaves the checkpoint covers.
public struct AuditExport: Sendable {
    let log: PostgresAuditLog
    let notary: AuditNotary

    public init(log: PostgresAuditLog, notary: AuditNotary) {
        self.log = log
        self.notary = notary
    }

    /// Writes the bundle into `directory` (created if missing) and returns the checkpoint's size.
    @discardableResult
    public func write(tenant: Tenant, to directory: URL) async throws -> Int {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let note = try await notary.latestCheckpoint(of: tenant)
        let size = try Checkpoint(text: try NoteVerifier(verifierKey: notary.verifierKey).verify(note)).size
        let leavesPath = directory.appendingPathComponent(AuditBundle.leavesFile).path
        guard FileManager.default.createFile(atPath: leavesPath, contents: nil) else {
            throw AuditExportError(path: leavesPath)
        }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: leavesPath))
        defer { try? handle.close() }
        try await log.database.withTenant(tenant.id) { connection in
            let rows = try await connection.query(
                """
                SELECT entry FROM audit_leaves WHERE tenant_id = \(tenant.id) AND leaf_index < \(Int64(size))
                ORDER BY leaf_index
                """,
                logger: log.database.logger
            )
            var buffer = Data()
            for try await entry in rows.decode(Data.self) {
                buffer.append(Data((entry.base64EncodedString() + "\n").utf8))
                if buffer.count > 1 << 20 {
                    try handle.write(contentsOf: buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
            try handle.write(contentsOf: buffer)
        }
        try Data(note.utf8).write(to: directory.appendingPathComponent(AuditBundle.checkpointFile))
        try Data((notary.verifierKey + "\n").utf8).write(to: directory.appendingPathComponent(AuditBundle.keyFile))
        return size
    }
}

/// The bundle's file could not be created.
public struct AuditExportError: Error, CustomStringConvertible {
    public let path: String
    public var description: String { "cannot write \(path)" }
}
