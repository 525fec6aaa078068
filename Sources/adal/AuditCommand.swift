import ArgumentParser
import Audit
import Foundation
import Storage
import Web

/// `adal audit`: keys for the audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Manage the audit log's signing key.",
        subcommands: [Keygen.self, Verify.self]
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

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute a city's audit tree from its stored leaves and check everything against it.",
            discussion: """
                Checks each leaf hash against its entry, the indexes for gaps, every stored subtree, the \
                recorded size and root, the last checkpoint this installation signed, and any published \
                checkpoints given with --checkpoint. Names the first leaf index where anything differs and \
                exits non-zero.
                """
        )

        @OptionGroup var common: CommonOptions
        @Option(help: "The city's short name.") var tenant: String
        @Option(name: .customLong("checkpoint"), help: "A signed checkpoint file to check against; repeat for several.")
        var checkpointFiles: [String] = []

        func run() async throws {
            let configuration = try common.configuration()
            let logger = try common.logger()
            let verifier = try NoteVerifier(
                verifierKey: try AuditKeys.signer(configuration: configuration, logger: logger).verifierKey
            )
            var checkpoints: [Checkpoint] = []
            for file in checkpointFiles {
                guard let data = FileManager.default.contents(atPath: file) else {
                    throw ValidationError("cannot read \(file)")
                }
                checkpoints.append(try Checkpoint(text: try verifier.verify(String(decoding: data, as: UTF8.self))))
            }
            let slug = tenant
            let given = checkpoints
            let stateDirectory = configuration.dataDirectory + "/audit-signed"
            let verified = try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(slug, in: database)
                    var all = given
                    let state = stateDirectory + "/" + tenant.id.uuidString.lowercased() + ".checkpoint"
                    if let data = FileManager.default.contents(atPath: state) {
                        all.append(try Checkpoint(text: try verifier.verify(String(decoding: data, as: UTF8.self))))
                    }
                    return (
                        try await AuditVerifier(database: database).verify(tenantID: tenant.id, checkpoints: all),
                        all.count
                    )
                }
            }
            print(
                "The audit log of \(slug) verifies: \(verified.0.size) leaves, root \(verified.0.root.hex), \(verified.1) checkpoint(s) matched."
            )
        }
    }
}
