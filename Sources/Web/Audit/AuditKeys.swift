import Audit
import Core
import Foundation
import Logging
import SickLeave
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

extension AuditKeys {
    /// The sealer of clinics' signing keys: `ADAL_KEY_SEALING_SECRET`, else the file
    /// `key-sealing.secret` in the data folder, created on first start (mode 0600). A database
    /// copied without this secret holds no usable signing key.
    public static func keySealer(configuration: AppConfiguration, logger: Logger) throws -> KeySealer {
        try KeySealer(
            secret: secret(
                configuration.keySealingSecret,
                variable: "ADAL_KEY_SEALING_SECRET",
                file: "key-sealing.secret",
                configuration: configuration,
                logger: logger
            )
        )
    }

    /// The secret that payment providers sign their webhooks with (`ADAL_PAYMENT_WEBHOOK_SECRET`
    /// or `<data>/payment-webhook.secret`).
    public static func webhookSecret(configuration: AppConfiguration, logger: Logger) throws -> [UInt8] {
        try secret(
            configuration.paymentWebhookSecret,
            variable: "ADAL_PAYMENT_WEBHOOK_SECRET",
            file: "payment-webhook.secret",
            configuration: configuration,
            logger: logger
        )
    }

    /// 32 bytes from the configured base64 value, or from `file` in the data folder, made there
    /// (mode 0600) on first start.
    static func secret(
        _ configured: String?,
        variable: String,
        file: String,
        configuration: AppConfiguration,
        logger: Logger
    ) throws -> [UInt8] {
        if let text = configured, !text.isEmpty {
            guard let secret = Data(base64Encoded: text), secret.count == 32 else {
                throw AdalError.invalidField(field: variable, reason: "must be base64 of 32 bytes")
            }
            return Array(secret)
        }
        let path = configuration.dataDirectory + "/" + file
        if let data = FileManager.default.contents(atPath: path),
            let secret = Data(
                base64Encoded: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            )
        {
            return Array(secret)
        }
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255) }
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        guard
            FileManager.default.createFile(
                atPath: path,
                contents: Data((Data(secret).base64EncodedString() + "\n").utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw AuditKeyError(path: path) }
        logger.notice("created a secret", metadata: ["file": "\(path)"])
        return secret
    }
}
