import Core
import Crypto
import Foundation

/// A file a supplier hands in — a registration certificate, a sanitary permit, a bid's
/// supporting papers: PDF, JPEG or PNG as its bytes show, at most ``maximumBytes``.
public struct Document: Sendable, Equatable {
    /// Larger files are refused before anything is stored.
    public static let maximumBytes = 2 * 1024 * 1024
    /// The most documents one bid or one registration carries.
    public static let maximumCount = 5

    public let name: String
    public let mediaType: MediaType
    public let content: [UInt8]

    public var sha256: [UInt8] { Array(SHA256.hash(data: content)) }

    /// Checks a document as it arrives: a plain file name, bytes of an allowed type (read from
    /// the bytes; a claimed type that differs is refused), within the size limit.
    public static func checked(
        name: String,
        claimedType: String?,
        content: [UInt8],
        field: String
    ) throws(AdalError) -> Document {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...200).contains(trimmed.count),
            !trimmed.unicodeScalars.contains(where: {
                $0.properties.generalCategory == .control || "/\\".unicodeScalars.contains($0)
            })
        else { throw .invalidField(field: "\(field).name", reason: "a file name of 1 to 200 characters, no folders") }
        guard !content.isEmpty else { throw .invalidField(field: field, reason: "the file is empty") }
        guard content.count <= maximumBytes else {
            throw .tooLarge(limit: "\(field) (\(trimmed))", maximumBytes: maximumBytes)
        }
        guard let type = MediaType.sniff(content), type != .mp4 else {
            throw .invalidField(field: field, reason: "\(trimmed) is not a PDF, JPEG or PNG file")
        }
        if let claimedType, !claimedType.isEmpty, claimedType.lowercased() != type.rawValue {
            throw .invalidField(field: field, reason: "\(trimmed) is \(type.rawValue), not \(claimedType)")
        }
        return Document(name: trimmed, mediaType: type, content: content)
    }
}
