import struct Foundation.Data

/// A tree head in the C2SP `tlog-checkpoint` form: the log's origin, the tree size and the root
/// hash (base64), one per line, as the text of a signed note.
public struct Checkpoint: Hashable, Sendable {
    /// The log's name, such as `adal.example/audit/astana`.
    public var origin: String
    public var size: Int
    public var root: TreeHash

    public init(origin: String, size: Int, root: TreeHash) {
        self.origin = origin
        self.size = size
        self.root = root
    }

    /// The note text: three lines, each ending in a newline.
    public var text: String {
        "\(origin)\n\(size)\n\(Data(root.bytes).base64EncodedString())\n"
    }

    /// Parses a checkpoint's text (extension lines after the third are allowed and ignored).
    public init(text: String) throws(SignedNoteError) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 4, lines.last == "", !lines[0].isEmpty,
            let size = Int(lines[1]), size >= 0, String(size) == lines[1],
            let raw = Data(base64Encoded: String(lines[2])), let root = TreeHash(bytes: Array(raw))
        else { throw .malformedNote("a checkpoint is origin, size and base64 root hash, one per line") }
        self.init(origin: String(lines[0]), size: size, root: root)
    }
}

/// Signs checkpoints, refusing any that does not extend the last one it signed: a restored or
/// rewritten database cannot make it sign a fork of the log.
public struct CheckpointSigner: Sendable {
    public let signer: NoteSigner

    public init(signer: NoteSigner) {
        self.signer = signer
    }

    /// The signed note for `checkpoint`. `previous` is the last checkpoint this key signed (kept
    /// by the signer outside the database); `proof` shows `checkpoint` extends it.
    public func sign(_ checkpoint: Checkpoint, previous: Checkpoint?, proof: [TreeHash]) throws -> String {
        if let previous {
            guard previous.origin == checkpoint.origin else {
                throw CheckpointError.forked(reason: "the origin changed from \(previous.origin)")
            }
            guard previous.size <= checkpoint.size else {
                throw CheckpointError.forked(
                    reason: "the tree shrank from \(previous.size) to \(checkpoint.size) leaves"
                )
            }
            guard
                ProofVerifier.verifyConsistency(
                    oldSize: previous.size,
                    newSize: checkpoint.size,
                    oldRoot: previous.root,
                    newRoot: checkpoint.root,
                    proof: proof
                )
            else {
                throw CheckpointError.forked(
                    reason: "the tree of \(checkpoint.size) leaves does not extend the signed one of \(previous.size)"
                )
            }
        }
        return try signer.sign(checkpoint.text)
    }
}

/// A checkpoint the signer will not sign.
public enum CheckpointError: Error, Equatable, CustomStringConvertible {
    case forked(reason: String)

    public var description: String {
        switch self {
        case .forked(let reason): "refusing to sign: \(reason)"
        }
    }
}
