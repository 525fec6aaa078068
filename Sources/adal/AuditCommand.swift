import ArgumentParser
import Audit
import Foundation

/// `adal audit`: keys for the audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Manage the audit log's signing key.",
        subcommands: [Keygen.self]
    )

    struct Keygen: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an Ed25519 key for signing audit checkpoints.",
            discussion: """
                Writes the private key (PRIVATE+KEY+…) to --out with mode 0600 and prints the verifier \
                key to publish. Give the server the private key with ADAL_AUDIT_SIGNER_KEY or by placing \
                the file at <data folder>/audit-signer.key; never store it in the database.
                """
        )

        @Option(help: "The key's name, usually the public host, e.g. adal.astana.kz.") var name: String
        @Option(help: "File to write the private key to; it must not exist yet.") var out: String

        func run() async throws {
            guard !FileManager.default.fileExists(atPath: out) else {
                throw ValidationError("\(out) exists already; an audit key is never overwritten")
            }
            let signer = try NoteSigner.generate(name: name)
            guard
                FileManager.default.createFile(
                    atPath: out,
                    contents: Data((signer.signerKey + "\n").utf8),
                    attributes: [.posixPermissions: 0o600]
                )
            else { throw ValidationError("cannot write \(out)") }
            print("Private key written to \(out) (mode 0600).")
            print("Verifier key to publish: \(signer.verifierKey)")
        }
    }
}
