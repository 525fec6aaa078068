import Core

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
        var png = PNGImage.signature
        png.appendChunk("IHDR", header)
        png.appendChunk("IDAT", ZlibStored.wrap(raw))
        png.appendChunk("IEND", [])
        return png
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
