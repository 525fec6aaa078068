import Audit
import Foundation
import Logging
import Storage

/// Where the audit log's signing key comes from: configuration (`ADAL_AUDIT_SIGNER_KEY`), else
/// the file `audit-signer.key` in the data folder, created on first start (mode 0600). Never
/// the database, and never logged: only the public verifier key is.
public enum AuditKeys {
    /// The signer the server uses, for commands that check what it signed.
    public static func signer(configuration: AppConfiguration, logger: Logger) throws -> NoteSigner {
        if let text = configuration.auditSignerKey, !text.isEmpty {
            return try NoteSigner(signerKey: text)
        }
        let path = configuration.dataDirectory + "/audit-signer.key"
        if let data = FileManager.default.contents(atPath: path) {
            return try NoteSigner(signerKey: String(decoding: data, as: UTF8.self))
        }
        let name = configuration.auditOriginHost ?? "adal-\(configuration.host)-\(configuration.port)"
        let signer = try NoteSigner.generate(name: name.replacingOccurrences(of: "+", with: "-"))
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        guard
            FileManager.default.createFile(
                atPath: path,
                contents: Data((signer.signerKey + "\n").utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw AuditKeyError(path: path) }
        logger.notice(
            "created the audit signing key",
            metadata: ["file": "\(path)", "verifier_key": "\(signer.verifierKey)"]
        )
        return signer
    }
}

extension AuditKeys {
    /// The notary of this installation: its signer, the folder where it keeps the last
    /// checkpoint it signed per city, and the origin host of every city's log.
    public static func notary(
        log: PostgresAuditLog,
        configuration: AppConfiguration,
        logger: Logger
    ) throws -> AuditNotary {
        AuditNotary(
            log: log,
            signer: CheckpointSigner(signer: try signer(configuration: configuration, logger: logger)),
            stateDirectory: configuration.dataDirectory + "/audit-signed",
            originHost: configuration.auditOriginHost ?? "\(configuration.host):\(configuration.port)"
        )
    }
}

struct AuditKeyError: Error, CustomStringConvertible {
    var path: String
    var description: String { "cannot write the audit signing key to \(path)" }
}
