import Audit
import Core
import Foundation
import Hummingbird
import Storage

/// The auditors' pages of a city's log, open to everyone: the log's size and signed checkpoint,
/// its latest steps (or one service's, or one instance's), and each step with its inclusion
/// proof, which the page checks again in the reader's browser.
struct AuditPagesController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant/audit").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get(use: log)
        group.get("leaves/:index", use: leaf)
    }

    @Sendable func log(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let query = request.uri.queryParameters
        let note = try await dependencies.notary.latestCheckpoint(of: tenant)
        let checkpoint = try Checkpoint(
            text: try NoteVerifier(verifierKey: dependencies.notary.verifierKey).verify(note)
        )
        let service = query["service"].map(String.init).flatMap { $0.isEmpty ? nil : String($0.prefix(64)) }
        var leaves: [(index: Int, entry: [UInt8])]
        if let text = query["instance"], !text.isEmpty {
            guard let instance = UUID(uuidString: String(text)) else {
                throw AdalError.invalidField(field: "instance", reason: "an instance id (UUID)")
            }
            leaves = try await dependencies.auditLog.leaves(ofInstance: instance, tenantID: tenant.id)
        } else {
            let before = try query["before"].map { text -> Int in
                guard let number = Int(text), number >= 0 else {
                    throw AdalError.invalidField(field: "before", reason: "a leaf index")
                }
                return number
            }
            // A service filter looks through the latest page of steps only.
            leaves = try await dependencies.auditLog.recentLeaves(
                tenantID: tenant.id,
                before: before,
                limit: service == nil ? 50 : PostgresAuditLog.maximumPage
            )
        }
        let rows = leaves.compactMap { leaf -> [String: Any]? in
            guard let entry = try? AuditEntry(decoding: leaf.entry) else { return nil }
            if let service, entry.service != service { return nil }
            return Self.describe(entry, index: leaf.index, slug: tenant.slug.value)
        }
        let oldest = leaves.map(\.index).min()
        return dependencies.pages.page(
            "audit_log",
            titleKey: "audit_title",
            values: [
                "size": String(checkpoint.size), "root": checkpoint.root.hex, "checkpoint": note,
                "key": dependencies.notary.verifierKey, "leaves": rows, "hasLeaves": !rows.isEmpty,
                "service": service ?? "", "instance": query["instance"].map(String.init) ?? "",
                "older": (oldest.map { $0 > 0 } ?? false) && query["instance"] == nil
                    ? "/\(tenant.slug)/audit?before=\(oldest!)" + (service.map { "&service=\($0)" } ?? "") : "",
            ],
            request: request,
            context: context
        )
    }

    @Sendable func leaf(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let text = context.parameters.get("index"), let index = Int(text), index >= 0 else {
            throw AdalError.notFound(what: "leaf")
        }
        let note = try await dependencies.notary.latestCheckpoint(of: tenant)
        let checkpoint = try Checkpoint(
            text: try NoteVerifier(verifierKey: dependencies.notary.verifierKey).verify(note)
        )
        guard index < checkpoint.size,
            let leaf = try await dependencies.auditLog.leaf(index: index, tenantID: tenant.id)
        else { throw AdalError.notFound(what: "leaf \(index)") }
        let proof = try await dependencies.auditLog.inclusionProof(
            index: index,
            size: checkpoint.size,
            tenantID: tenant.id
        )
        let checked = ProofVerifier.verifyInclusion(
            index: index,
            size: checkpoint.size,
            leafHash: leaf.hash,
            proof: proof,
            root: checkpoint.root
        )
        var values: [String: Any] = [
            "index": String(index), "size": String(checkpoint.size), "leafHash": leaf.hash.hex,
            "entry": Data(leaf.entry).base64EncodedString(), "root": Data(checkpoint.root.bytes).base64EncodedString(),
            "rootHex": checkpoint.root.hex, "proof": proof.map(\.hex),
            "proofText": proof.map(\.hex).joined(separator: " "),
            "checked": checked, "checkpoint": note,
        ]
        if let entry = try? AuditEntry(decoding: leaf.entry) {
            values["step"] = Self.describe(entry, index: index, slug: tenant.slug.value)
        }
        return dependencies.pages.page(
            "audit_leaf",
            titleKey: "audit_leaf_title",
            values: values,
            request: request,
            context: context
        )
    }

    /// A leaf's fields as the pages show them.
    static func describe(_ entry: AuditEntry, index: Int, slug: String) -> [String: Any] {
        let time = Date(timeIntervalSince1970: Double(entry.timeMicroseconds) / 1_000_000)
        return [
            "index": String(index), "slug": slug, "service": entry.service,
            "instance": entry.instanceID.uuidString.lowercased(), "sequence": String(entry.sequence),
            "event": entry.event,
            "role": entry.actorRole, "time": WorkflowPagesController.format(time),
            "amounts": entry.amounts.map { "\($0.label): \(Self.tenge($0.tiyn))" }.joined(separator: ", "),
            "inputHash": entry.inputHash.map { String(format: "%02x", $0) }.joined(),
            "subjects": String(entry.subjects.count),
            "previous": PageRenderer.optional(
                entry.previousLeafIndex == AuditEntry.noPreviousLeaf ? nil : String(entry.previousLeafIndex)
            ),
        ]
    }

    /// Tiyn as tenge with two decimals and a thin-space thousands separator: `12 345,00 ₸`.
    static func tenge(_ tiyn: Int64) -> String { Tenge.shown(tiyn) + " ₸" }
}
