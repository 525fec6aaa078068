import Audit
import Core
import Foundation
import Logging

/// Signs each tenant's tree heads as checkpoints. The key and the record of the last checkpoint
/// signed per tenant live outside the database (a key from configuration, a folder of state
/// files), so a restored or rewritten database cannot make the notary sign a fork.
public struct AuditNotary: Sendable {
    public let log: PostgresAuditLog
    public let signer: CheckpointSigner
    /// Where the last signed checkpoint of each tenant is kept, one file per tenant id.
    public let stateDirectory: String
    /// The host part of each log's origin: `<host>/audit/<tenant>`.
    public let originHost: String

    public init(log: PostgresAuditLog, signer: CheckpointSigner, stateDirectory: String, originHost: String) {
        self.log = log
        self.signer = signer
        self.stateDirectory = stateDirectory
        self.originHost = originHost
    }

    public func origin(of tenant: Tenant) -> String { "\(originHost)/audit/\(tenant.slug)" }

    /// The published verifier key.
    public var verifierKey: String { signer.signer.verifierKey }

    /// The signed checkpoint of the tenant's current tree, signing a new one when the tree grew.
    public func latestCheckpoint(of tenant: Tenant) async throws -> String {
        let head = try await log.head(tenantID: tenant.id)
        let current = Checkpoint(origin: origin(of: tenant), size: head.size, root: head.root)
        let statePath = stateDirectory + "/" + tenant.id.uuidString.lowercased() + ".checkpoint"
        var previous: Checkpoint?
        if let data = FileManager.default.contents(atPath: statePath) {
            let note = String(decoding: data, as: UTF8.self)
            let verifier = try NoteVerifier(verifierKey: verifierKey)
            previous = try Checkpoint(text: try verifier.verify(note))
            if previous == current { return note }
        }
        let proof =
            if let previous, previous.size <= current.size {
                try await log.consistencyProof(oldSize: previous.size, newSize: current.size, tenantID: tenant.id)
            } else { [TreeHash]() }
        let note = try signer.sign(current, previous: previous, proof: proof)
        try FileManager.default.createDirectory(
            atPath: stateDirectory,
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        // Written aside and renamed, so a crash never leaves half a record.
        let temporary = statePath + ".tmp-\(UUID().uuidString)"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(note.utf8)) else {
            throw AdalError.unavailable(reason: "cannot write \(temporary)")
        }
        guard rename(temporary, statePath) == 0 else {
            throw AdalError.unavailable(reason: "cannot replace \(statePath)")
        }
        return note
    }
}
