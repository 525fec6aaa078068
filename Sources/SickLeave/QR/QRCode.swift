import CQRencode

/// A QR code symbol made by libqrencode: the smallest version that holds the text at the chosen
/// error correction, with the encoding modes chosen per segment (a Base45 token is alphanumeric).
public struct QRCode: Sendable, Equatable {
    /// Error correction: M (15 %) for screens, Q (25 %) for paper, which gets folded and stained.
    public enum Correction: Sendable {
        case medium
        case quartile

        var level: QRecLevel {
            switch self {
            case .medium: QR_ECLEVEL_M
            case .quartile: QR_ECLEVEL_Q
            }
        }
    }

    /// Modules per side, without the quiet zone.
    public let size: Int
    /// The QR version (1–40).
    public let version: Int
    /// Row by row, true for a dark module.
    public let modules: [Bool]

    /// Longest text accepted: more than a version-40 symbol holds at any level.
    public static let maximumLength = 4_296

    /// Encodes `text`; fails when it is empty, too long, or holds a NUL.
    public init(_ text: String, correction: Correction) throws(QRCodeError) {
        guard !text.isEmpty, text.utf8.count <= Self.maximumLength, !text.utf8.contains(0) else {
            throw .cannotEncode
        }
        guard let symbol = QRcode_encodeString(text, 0, correction.level, QR_MODE_8, 1) else { throw .cannotEncode }
        defer { QRcode_free(symbol) }
        let width = Int(symbol.pointee.width)
        // Bit 0 of each byte is the module's colour; the other bits describe its role.
        modules = (0..<(width * width)).map { symbol.pointee.data[$0] & 1 == 1 }
        size = width
        version = Int(symbol.pointee.version)
    }

    public func isDark(row: Int, column: Int) -> Bool {
        modules[row * size + column]
    }
}

public enum QRCodeError: Error, Equatable, CustomStringConvertible {
    case cannotEncode

    public var description: String { "the text cannot be put in a QR code (empty, too long or with NUL)" }
}
