import Crypto
import Foundation

/// One file of `migrations/`: `NNNN_name.sql`, applied once, in order, in its own transaction.
public struct Migration: Sendable, Equatable {
    /// The largest migration file read; a larger one is refused rather than half-read.
    public static let maximumFileBytes = 1 << 20

    public let version: Int
    public let name: String
    public let fileName: String
    public let sql: String
    /// Lower-case hex SHA-256 of the file's bytes, recorded when applied.
    public let sha256: String

    public init(fileName: String, contents: Data) throws(MigrationError) {
        let stem = fileName.hasSuffix(".sql") ? String(fileName.dropLast(4)) : ""
        let parts = stem.split(separator: "_", maxSplits: 1)
        guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]), !parts[1].isEmpty else {
            throw .badFileName(fileName)
        }
        guard contents.count <= Self.maximumFileBytes else {
            throw .tooLarge(file: fileName, maximumBytes: Self.maximumFileBytes)
        }
        guard let sql = String(data: contents, encoding: .utf8) else { throw .notUTF8(fileName) }
        self.version = version
        self.name = String(parts[1])
        self.fileName = fileName
        self.sql = sql
        self.sha256 = SHA256.hash(data: contents).map { String(format: "%02x", $0) }.joined()
    }

    /// Reads every `*.sql` file in `directory`, sorted by version; two files with one version are refused.
    public static func load(directory: String) throws(MigrationError) -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }
        } catch {
            throw .missingDirectory(directory)
        }
        var migrations: [Migration] = []
        for name in names {
            guard let data = FileManager.default.contents(atPath: directory + "/" + name) else {
                throw .unreadable(name)
            }
            migrations.append(try Migration(fileName: name, contents: data))
        }
        migrations.sort { $0.version < $1.version }
        for (earlier, later) in zip(migrations, migrations.dropFirst()) where earlier.version == later.version {
            throw .duplicateVersion(earlier.fileName, later.fileName)
        }
        return migrations
    }
}

/// Why migrating stopped. Each case names the file concerned.
public enum MigrationError: Error, Equatable, CustomStringConvertible {
    case missingDirectory(String)
    case badFileName(String)
    case unreadable(String)
    case notUTF8(String)
    case tooLarge(file: String, maximumBytes: Int)
    case duplicateVersion(String, String)
    case changedAfterApply(file: String)
    case unknownApplied(version: Int, name: String)
    case failed(file: String, line: Int, message: String)

    public var description: String {
        switch self {
        case .missingDirectory(let path): "migrations folder \(path) cannot be read"
        case .badFileName(let name): "\(name): migration files are named NNNN_name.sql"
        case .unreadable(let name): "\(name): cannot be read"
        case .notUTF8(let name): "\(name): is not UTF-8 text"
        case .tooLarge(let name, let maximum): "\(name): larger than \(maximum) bytes"
        case .duplicateVersion(let first, let second): "\(first) and \(second) have the same version number"
        case .changedAfterApply(let name):
            "\(name) was changed after it was applied; applied migrations are never edited: add a new migration instead"
        case .unknownApplied(let version, let name):
            "the database has migration \(String(format: "%04d", version))_\(name) that this build does not have; run a newer adal"
        case .failed(let file, let line, let message):
            "\(file):\(line): \(message); nothing of this migration was applied"
        }
    }
}
