import Core
import Crypto
import Foundation

/// A photo, video or document as Adal stores it: its type read from its bytes (never from its
/// name or the sender's word), within the limit for that type, with the metadata that could
/// reveal a person — GPS position, camera, owner, comments — removed before it is hashed and
/// stored. The SHA-256 of the stored bytes is its address.
public struct MediaFile: Sendable, Equatable {
    public let mediaType: MediaType
    public let content: [UInt8]

    public var sha256: [UInt8] { Array(SHA256.hash(data: content)) }
    public var sha256Hex: String { Self.hex(sha256) }

    /// Limits per type, checked before anything is stored.
    public static func maximumBytes(_ type: MediaType) -> Int {
        switch type {
        case .jpeg, .png: 10 << 20
        case .pdf: 10 << 20
        case .mp4: 50 << 20
        }
    }

    /// What a citizen's report may carry, and what a spending entry's document may be.
    public static let reportTypes: [MediaType] = [.jpeg, .png, .mp4]
    public static let documentTypes: [MediaType] = [.pdf, .jpeg, .png]
    /// Files one report carries at most.
    public static let maximumPerReport = 5

    /// Checks and cleans an uploaded file. A type not in `allowed`, or bytes that differ from
    /// `claimedType`, is refused as unsupported (415); a file over its type's limit as too
    /// large (413); a file whose structure is broken as invalid (422).
    public static func checked(
        _ content: [UInt8],
        claimedType: String?,
        allowed: [MediaType],
        field: String
    ) throws(AdalError) -> MediaFile {
        let taken = allowed.map(\.rawValue).joined(separator: ", ")
        guard !content.isEmpty else { throw .invalidField(field: field, reason: "the file is empty") }
        guard let type = MediaType.sniff(content) else {
            throw .unsupportedMediaType(field: field, reason: "the bytes are not of a type taken here (\(taken))")
        }
        guard allowed.contains(type) else {
            throw .unsupportedMediaType(field: field, reason: "\(type.rawValue) is not taken here (\(taken))")
        }
        if let claimed = claimedType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased(),
            !claimed.isEmpty, claimed != "application/octet-stream", claimed != type.rawValue
        {
            throw .unsupportedMediaType(field: field, reason: "the bytes are \(type.rawValue), not \(claimed)")
        }
        guard content.count <= maximumBytes(type) else {
            throw .tooLarge(limit: "\(field) (\(type.rawValue))", maximumBytes: maximumBytes(type))
        }
        let cleaned: [UInt8]
        do {
            switch type {
            case .jpeg: cleaned = try MetadataStripper.jpeg(content)
            case .png: cleaned = try MetadataStripper.png(content)
            case .mp4: cleaned = try MetadataStripper.mp4(content)
            case .pdf: cleaned = content
            }
        } catch {
            throw .invalidField(field: field, reason: "a damaged \(type.rawValue) file: \(error.reason)")
        }
        return MediaFile(mediaType: type, content: cleaned)
    }

    init(mediaType: MediaType, content: [UInt8]) {
        self.mediaType = mediaType
        self.content = content
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// 64 lower-case hex digits → 32 bytes.
    public static func bytes(hex: String) -> [UInt8]? {
        guard hex.wholeMatch(of: /[0-9a-f]{64}/) != nil else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }
}
