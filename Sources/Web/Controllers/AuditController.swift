import Audit
import Core
import Foundation
import Hummingbird

/// The public, read-only audit log of each city, under `/audit/{tenant}`: what an auditor needs
/// to check the log without trusting Adal (see docs/audit-log.md).
struct AuditController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group("audit/:tenant")
        group.get("checkpoint", use: checkpoint)
        group.get("key", use: key)
        group.get("leaves/:index", use: leaf)
        group.get("proof/inclusion", use: inclusion)
        group.get("proof/consistency", use: consistency)
    }

    struct LeafResponse: ResponseEncodable {
        var index: Int
        var entry: String
        var leafHash: String
    }

    struct ProofResponse: ResponseEncodable {
        var index: Int?
        var size: Int?
        var from: Int?
        var to: Int?
        var leafHash: String?
        var proof: [String]
    }

    /// The latest signed checkpoint, as a C2SP signed note.
    @Sendable func checkpoint(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try await dependencies.tenant(named: context)
        do {
            return Self.text(try await dependencies.notary.latestCheckpoint(of: tenant))
        } catch let error as CheckpointError {
            // The stored tree does not extend what was signed: the database was restored or rewritten.
            context.logger.critical("audit tree does not extend its last checkpoint", metadata: ["reason": "\(error)"])
            throw AdalError.unavailable(reason: error.description)
        }
    }

    /// The verifier key that signs every city's checkpoints.
    @Sendable func key(request: Request, context: AppRequestContext) async throws -> Response {
        _ = try await dependencies.tenant(named: context)
        return Self.text(dependencies.notary.verifierKey + "\n")
    }

    /// One leaf: its entry (base64) and leaf hash (hex).
    @Sendable func leaf(request: Request, context: AppRequestContext) async throws -> LeafResponse {
        let tenant = try await dependencies.tenant(named: context)
        let index = try Self.integer(context.parameters.get("index"), name: "index")
        guard let leaf = try await dependencies.auditLog.leaf(index: index, tenantID: tenant.id) else {
            throw AdalError.notFound(what: "leaf \(index)")
        }
        return LeafResponse(index: index, entry: Data(leaf.entry).base64EncodedString(), leafHash: leaf.hash.hex)
    }

    /// `?index=&size=` or `?hash=&size=`: the audit path of a leaf, named by its index or by its
    /// leaf hash (hex), at a tree size.
    @Sendable func inclusion(request: Request, context: AppRequestContext) async throws -> ProofResponse {
        let tenant = try await dependencies.tenant(named: context)
        let parameters = request.uri.queryParameters
        let size = try Self.integer(parameters["size"].map(String.init), name: "size")
        let log = dependencies.auditLog
        if let hashText = parameters["hash"].map(String.init) {
            guard parameters["index"] == nil else {
                throw HTTPError(.badRequest, message: "give the leaf's index or its hash, not both")
            }
            guard let hash = TreeHash(hex: hashText) else {
                throw HTTPError(.badRequest, message: "hash must be a leaf hash: 64 hexadecimal digits")
            }
            guard
                let found = try await Self.answering({
                    try await log.inclusionProof(leafHash: hash, size: size, tenantID: tenant.id)
                })
            else {
                throw AdalError.notFound(what: "a leaf with hash \(hash.hex) among the first \(size) leaves")
            }
            return ProofResponse(index: found.index, size: size, leafHash: hash.hex, proof: found.proof.map(\.hex))
        }
        let index = try Self.integer(parameters["index"].map(String.init), name: "index")
        let proof = try await Self.answering {
            try await log.inclusionProof(index: index, size: size, tenantID: tenant.id)
        }
        let leaf = try await log.leaf(index: index, tenantID: tenant.id)
        return ProofResponse(index: index, size: size, leafHash: leaf?.hash.hex, proof: proof.map(\.hex))
    }

    /// `?from=&to=`: the proof that the tree of `from` leaves is a prefix of the tree of `to`.
    @Sendable func consistency(request: Request, context: AppRequestContext) async throws -> ProofResponse {
        let tenant = try await dependencies.tenant(named: context)
        let from = try Self.integer(request.uri.queryParameters["from"].map(String.init), name: "from")
        let to = try Self.integer(request.uri.queryParameters["to"].map(String.init), name: "to")
        let proof = try await Self.answering {
            try await dependencies.auditLog.consistencyProof(oldSize: from, newSize: to, tenantID: tenant.id)
        }
        return ProofResponse(from: from, to: to, proof: proof.map(\.hex))
    }

    /// A non-negative whole number, or 400 naming the parameter.
    static func integer(_ text: String?, name: String) throws -> Int {
        guard let text, let value = Int(text), value >= 0, text.count <= 19 else {
            throw HTTPError(.badRequest, message: "\(name) must be a whole number of at least 0")
        }
        return value
    }

    /// Runs a proof request; sizes or indexes outside the tree are 400 with the reason.
    static func answering<Answer>(_ body: () async throws -> Answer) async throws -> Answer {
        do {
            return try await body()
        } catch let error as MerkleError {
            switch error {
            case .sizeOutOfRange, .indexOutOfRange, .noSuchLeaves:
                throw HTTPError(.badRequest, message: error.description)
            case .missingNode: throw error
            }
        }
    }

    static func text(_ body: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}
