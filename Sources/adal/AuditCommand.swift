import ArgumentParser
import Audit
import Foundation
import Storage
import Web

/// `adal audit`: keys for the audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The audit log: its signing key, verification, export and proofs.",
        subcommands: [Keygen.self, Verify.self, Export.self, Check.self, Prove.self]
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

extension AuditCommand {
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a city's log as files anyone can check offline (checkpoint, key, leaves).",
            discussion:
                "Signs the current tree first. Check the result with 'adal audit check DIR' or your own verifier."
        )

        @OptionGroup var common: CommonOptions
        @Option(help: "The city's short name.") var tenant: String
        @Option(help: "Folder to write into.") var out: String

        func run() async throws {
            let configuration = try common.configuration()
            let logger = try common.logger()
            let (slug, out) = (tenant, out)
            let size = try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(slug, in: database)
                    let log = PostgresAuditLog(database: database)
                    let notary = try AuditKeys.notary(log: log, configuration: configuration, logger: logger)
                    return try await AuditExport(log: log, notary: notary).write(
                        tenant: tenant,
                        to: URL(fileURLWithPath: out)
                    )
                }
            }
            print("\(slug): \(size) leaves and their signed checkpoint written to \(out)")
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check an exported log offline: signature, every entry, the chain of each instance, the root.",
            discussion:
                "Needs no database. Pass the key published by the city with --key; without it the bundle's own key is used."
        )

        @Argument(help: "A folder written by 'adal audit export'.") var directory: String
        @Option(help: "The verifier key the city publishes.") var key: String?

        func run() async throws {
            do {
                let checkpoint = try AuditBundle.verify(directory: URL(fileURLWithPath: directory), verifierKey: key)
                print(
                    "\(checkpoint.origin): \(checkpoint.size) leaves verified against the signed root \(checkpoint.root.hex)"
                )
            } catch let error as AuditBundleError {
                throw CommandFailure(error.description)
            }
        }
    }

    struct Prove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a leaf, a freshly signed checkpoint and the inclusion proof that ties them, checked first."
        )

        @OptionGroup var common: CommonOptions
        @Option(help: "The city's short name.") var tenant: String
        @Option(help: "The leaf index.") var index: Int

        func run() async throws {
            let configuration = try common.configuration()
            let logger = try common.logger()
            let (slug, index) = (tenant, index)
            let lines = try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(slug, in: database)
                    let log = PostgresAuditLog(database: database)
                    let notary = try AuditKeys.notary(log: log, configuration: configuration, logger: logger)
                    let note = try await notary.latestCheckpoint(of: tenant)
                    let checkpoint = try Checkpoint(
                        text: try NoteVerifier(verifierKey: notary.verifierKey).verify(note)
                    )
                    guard index >= 0, index < checkpoint.size,
                        let leaf = try await log.leaf(index: index, tenantID: tenant.id)
                    else {
                        throw CommandFailure("leaf \(index) is not in the log of \(checkpoint.size) leaves")
                    }
                    let proof = try await log.inclusionProof(index: index, size: checkpoint.size, tenantID: tenant.id)
                    guard
                        ProofVerifier.verifyInclusion(
                            index: index,
                            size: checkpoint.size,
                            leafHash: leaf.hash,
                            proof: proof,
                            root: checkpoint.root
                        )
                    else {
                        throw CommandFailure(
                            "the proof does not verify: the stored tree is damaged; run 'adal audit verify'"
                        )
                    }
                    return [
                        "leaf \(index) of \(checkpoint.size)",
                        "entry \(Data(leaf.entry).base64EncodedString())",
                        "leaf hash \(leaf.hash.hex)",
                    ] + proof.map { "proof \($0.hex)" } + ["", note]
                }
            }
            print(lines.joined(separator: "\n"), terminator: "")
        }
    }
}
