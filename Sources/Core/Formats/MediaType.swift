/// The type of an uploaded file as its first bytes show it, never as its name or the sender
/// claims: a file is what it starts with.
public enum MediaType: String, Sendable, CaseIterable {
    case pdf = "application/pdf"
    case jpeg = "image/jpeg"
    case png = "image/png"
    /// ISO base media (MP4, and QuickTime's close cousin): a `ftyp` box first.
    case mp4 = "video/mp4"

    /// The type the bytes begin with; nil for anything else.
    public static func sniff(_ bytes: [UInt8]) -> MediaType? {
        if bytes.starts(with: [0x25, 0x50, 0x44, 0x46, 0x2D]) { return .pdf }  // %PDF-
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.count >= 12, bytes[4..<8].elementsEqual("ftyp".utf8) { return .mp4 }
        return nil
    }
}
