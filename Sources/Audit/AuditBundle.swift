import Foundation

/// A city's audit log as files an outsider can check offline, with nothing from Adal but these
/// files and the published verifier key (docs/audit-log.md, "Export"):
///
/// - `checkpoint`: the signed checkpoint (C2SP signed note) of the first N leaves;
/// - `key`: the verifier key it was signed with (compare it with the published one);
/// - `leaves`: N lines, line i the base64 of leaf i's entry bytes.
public enum AuditBundle {
    public static let checkpointFile = "checkpoint"
    public static let keyFile = "key"
    public static let leavesFile = "leaves"

    /// Checks a bundle: the checkpoint's signature by `verifierKey` (or the bundle's own key),
    /// every entry's encoding and instance chain, and that the leaves' root is the checkpoint's.
    /// Returns the verified checkpoint; an error names the first line that is wrong.
    public static func verify(directory: URL, verifierKey: String? = nil) throws -> Checkpoint {
        func read(_ name: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
                throw AuditBundleError(file: name, line: nil, reason: "missing")
            }
            return String(decoding: data, as: UTF8.self)
        }
        let key = try verifierKey ?? read(keyFile).trimmingCharacters(in: .whitespacesAndNewlines)
        let checkpoint: Checkpoint
        do {
            checkpoint = try Checkpoint(text: try NoteVerifier(verifierKey: key).verify(try read(checkpointFile)))
        } catch let error as AuditBundleError {
            throw error
        } catch {
            throw AuditBundleError(file: checkpointFile, line: nil, reason: "not signed by the key: \(error)")
        }
        var replay = LogReplay()
        let lines = try read(leavesFile).split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() where !(index == lines.count - 1 && line.isEmpty) {
            guard let bytes = Data(base64Encoded: String(line)) else {
                throw AuditBundleError(file: leavesFile, line: index + 1, reason: "not base64")
            }
            do {
                replay.append(try replay.check(Array(bytes)))
            } catch {
                throw AuditBundleError(file: leavesFile, line: index + 1, reason: "leaf \(index): \(error)")
            }
        }
        let frontier = replay.frontier
        guard frontier.size == checkpoint.size else {
            throw AuditBundleError(
                file: leavesFile,
                line: nil,
                reason: "\(frontier.size) leaves, but the checkpoint is of \(checkpoint.size)"
            )
        }
        guard frontier.root == checkpoint.root else {
            throw AuditBundleError(file: leavesFile, line: nil, reason: "the leaves' root is not the checkpoint's root")
        }
        return checkpoint
    }
}

/// What is wrong with an exported bundle, by file and line.
public struct AuditBundleError: Error, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int?
    public let reason: String

    public init(file: String, line: Int?, reason: String) {
        self.file = file
        self.line = line
        self.reason = reason
    }

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(reason)"
    }
}
