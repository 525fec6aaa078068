/// What writing a PNG takes without a compression library: stored (uncompressed) zlib
/// streams, chunks with their CRC-32, and a plain RGB image. Used for QR codes, and for the
/// pictures the demo and the tests hand in.
public enum PNGImage {
    public static let signature: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

    /// An 8-bit RGB image of `width` × `height` whose pixel at (x, y) is `colour(x, y)`, with
    /// extra chunks (`tEXt`, say) placed before the image data.
    public static func rgb(
        width: Int,
        height: Int,
        extraChunks: [(type: String, data: [UInt8])] = [],
        colour: (Int, Int) -> (UInt8, UInt8, UInt8)
    ) -> [UInt8] {
        var raw: [UInt8] = []
        raw.reserveCapacity((width * 3 + 1) * height)
        for y in 0..<height {
            raw.append(0)
            for x in 0..<width {
                let (r, g, b) = colour(x, y)
                raw += [r, g, b]
            }
        }
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // 8 bits, truecolour, deflate, adaptive filtering, no interlace
        var png = signature
        png.appendChunk("IHDR", header)
        for chunk in extraChunks { png.appendChunk(chunk.type, chunk.data) }
        png.appendChunk("IDAT", ZlibStored.wrap(raw))
        png.appendChunk("IEND", [])
        return png
    }
}

/// A zlib stream of stored (uncompressed) deflate blocks: valid for every inflater, and enough
/// for a few kilobytes of pixels.
public enum ZlibStored {
    public static func wrap(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let count = min(65_535, data.count - offset)
            let last: UInt8 = offset + count == data.count ? 1 : 0
            out.append(last)
            out += [UInt8(count & 0xff), UInt8(count >> 8), UInt8(~count & 0xff), UInt8((~count >> 8) & 0xff)]
            out += data[offset..<(offset + count)]
            offset += count
        } while offset < data.count
        var a: UInt32 = 1
        var b: UInt32 = 0
        for byte in data {
            a = (a + UInt32(byte)) % 65_521
            b = (b + a) % 65_521
        }
        out.appendBigEndian(b << 16 | a)
        return out
    }
}

extension [UInt8] {
    public mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [
            UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff),
        ])
    }

    /// A PNG chunk: length, type, data, CRC-32 of type and data.
    public mutating func appendChunk(_ type: String, _ data: [UInt8]) {
        appendBigEndian(UInt32(data.count))
        let typed = Array(type.utf8) + data
        append(contentsOf: typed)
        appendBigEndian(CRC32.checksum(typed))
    }
}

/// CRC-32 (ISO 3309, as PNG uses it).
public enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    public static func checksum(_ bytes: some Collection<UInt8>) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xffff_ffff
    }
}
