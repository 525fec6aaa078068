/// Pictures of a QR code: SVG for pages, PNG for printing and download. Both keep the four-module
/// quiet zone readers need.
extension QRCode {
    public static let quietZone = 4

    /// An SVG in module units (scalable without blur): one path of dark runs per row.
    public func svg(title: String) -> String {
        let side = size + 2 * Self.quietZone
        var path = ""
        for row in 0..<size {
            var column = 0
            while column < size {
                guard isDark(row: row, column: column) else {
                    column += 1
                    continue
                }
                let start = column
                while column < size && isDark(row: row, column: column) { column += 1 }
                path += "M\(start + Self.quietZone) \(row + Self.quietZone)h\(column - start)v1h-\(column - start)z"
            }
        }
        let escapedTitle = title.replacingAll(["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;"])
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(side) \(side)" role="img" \
            aria-label="\(escapedTitle)" shape-rendering="crispEdges"><rect width="\(side)" height="\(side)" \
            fill="#fff"/><path fill="#000" d="\(path)"/></svg>
            """
    }

    /// A black-and-white PNG, `scale` pixels per module (a print at 300 dpi wants about 10).
    public func png(scale: Int) -> [UInt8] {
        let scale = min(max(scale, 1), 32)
        let side = (size + 2 * Self.quietZone) * scale
        // One bit per pixel, 1 = white; each row starts with filter type 0.
        let rowBytes = (side + 7) / 8
        var raw: [UInt8] = []
        raw.reserveCapacity((rowBytes + 1) * side)
        for y in 0..<side {
            raw.append(0)
            var row = [UInt8](repeating: 0xff, count: rowBytes)
            let moduleRow = y / scale - Self.quietZone
            if (0..<size).contains(moduleRow) {
                for x in 0..<side {
                    let moduleColumn = x / scale - Self.quietZone
                    if (0..<size).contains(moduleColumn) && isDark(row: moduleRow, column: moduleColumn) {
                        row[x / 8] &= ~(0x80 >> UInt8(x % 8))
                    }
                }
            }
            raw += row
        }
        var header: [UInt8] = []
        header.appendBigEndian(UInt32(side))
        header.appendBigEndian(UInt32(side))
        header += [1, 0, 0, 0, 0]  // bit depth 1, greyscale, deflate, adaptive filtering, no interlace
        var png: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
        png.appendChunk("IHDR", header)
        png.appendChunk("IDAT", ZlibStored.wrap(raw))
        png.appendChunk("IEND", [])
        return png
    }
}

/// A zlib stream of stored (uncompressed) deflate blocks: valid for every inflater, and enough
/// for a few kilobytes of QR pixels.
enum ZlibStored {
    static func wrap(_ data: [UInt8]) -> [UInt8] {
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
    mutating func appendBigEndian(_ value: UInt32) {
        append(contentsOf: [
            UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff),
        ])
    }

    /// A PNG chunk: length, type, data, CRC-32 of type and data.
    mutating func appendChunk(_ type: String, _ data: [UInt8]) {
        appendBigEndian(UInt32(data.count))
        let typed = Array(type.utf8) + data
        append(contentsOf: typed)
        appendBigEndian(CRC32.checksum(typed))
    }
}

/// CRC-32 (ISO 3309, as PNG uses it).
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { n in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xffff_ffff
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xffff_ffff
    }
}

extension String {
    func replacingAll(_ replacements: KeyValuePairs<Character, String>) -> String {
        var out = ""
        for character in self {
            if let replacement = replacements.first(where: { $0.key == character })?.value {
                out += replacement
            } else {
                out.append(character)
            }
        }
        return out
    }
}
