/// Base45 (RFC 9285): bytes as characters of the QR code alphanumeric set, so a token fills a QR
/// code in its compact alphanumeric mode.
public enum Base45 {
    static let alphabet = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".utf8)

    private static let values: [UInt8: Int] = Dictionary(
        uniqueKeysWithValues: alphabet.enumerated().map { ($0.element, $0.offset) }
    )

    /// Two bytes become three characters, a last single byte two.
    public static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 1) / 2 * 3)
        var index = 0
        while index + 1 < bytes.count {
            var n = Int(bytes[index]) << 8 | Int(bytes[index + 1])
            for _ in 0..<3 {
                out.append(alphabet[n % 45])
                n /= 45
            }
            index += 2
        }
        if index < bytes.count {
            let n = Int(bytes[index])
            out += [alphabet[n % 45], alphabet[n / 45]]
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes of a Base45 string; refuses characters outside the alphabet, a dangling single
    /// character and groups whose value does not fit their bytes.
    public static func decode(_ text: String) throws(Base45Error) -> [UInt8] {
        let characters = Array(text.utf8)
        guard characters.count % 3 != 1 else { throw .badLength }
        var out: [UInt8] = []
        out.reserveCapacity(characters.count / 3 * 2 + 1)
        var index = 0
        while index < characters.count {
            let group = characters[index..<min(index + 3, characters.count)]
            var n = 0
            var factor = 1
            for character in group {
                guard let value = values[character] else { throw .invalidCharacter(position: index) }
                n += value * factor
                factor *= 45
            }
            if group.count == 3 {
                guard n <= 0xffff else { throw .valueTooLarge(position: index) }
                out += [UInt8(n >> 8), UInt8(n & 0xff)]
            } else {
                guard n <= 0xff else { throw .valueTooLarge(position: index) }
                out.append(UInt8(n))
            }
            index += 3
        }
        return out
    }
}

public enum Base45Error: Error, Equatable, CustomStringConvertible {
    case invalidCharacter(position: Int)
    case badLength
    case valueTooLarge(position: Int)

    public var description: String {
        switch self {
        case .invalidCharacter(let position): "Base45: a character outside the alphabet near position \(position)"
        case .badLength: "Base45: the text length leaves a single character over"
        case .valueTooLarge(let position): "Base45: the group at position \(position) is too large for its bytes"
        }
    }
}
