import Core

/// Removes what a photo or video says about its maker before it is stored: for JPEG the Exif,
/// XMP and IPTC segments (GPS, camera, owner) and comments; for PNG the text, time and Exif
/// chunks; for MP4 the user-data and metadata boxes (location, device), blanked in place so the
/// offsets of the media data stay right. Anything after the end of the image is dropped. The
/// structure is walked strictly: a length that runs past the end is an error, not a guess.
enum MetadataStripper {
    struct Damaged: Error {
        var reason: String
    }

    // MARK: JPEG

    static func jpeg(_ bytes: [UInt8]) throws(Damaged) -> [UInt8] {
        guard bytes.count >= 4, bytes[0] == 0xFF, bytes[1] == 0xD8 else { throw Damaged(reason: "no start of image") }
        var output: [UInt8] = [0xFF, 0xD8]
        output.reserveCapacity(bytes.count)
        var index = 2
        while true {
            guard index < bytes.count, bytes[index] == 0xFF else { throw Damaged(reason: "a segment without a marker") }
            while index < bytes.count, bytes[index] == 0xFF { index += 1 }
            guard index < bytes.count else { throw Damaged(reason: "the image ends inside a marker") }
            let marker = bytes[index]
            index += 1
            switch marker {
            case 0xD9:
                output += [0xFF, 0xD9]
                return output
            case 0xD0...0xD7, 0x01:
                output += [0xFF, marker]
                continue
            default:
                break
            }
            guard index + 2 <= bytes.count else { throw Damaged(reason: "a segment's length is missing") }
            let length = Int(bytes[index]) << 8 | Int(bytes[index + 1])
            guard length >= 2, index + length <= bytes.count else {
                throw Damaged(reason: "a segment runs past the end of the file")
            }
            let segment = bytes[index..<(index + length)]
            index += length
            if keeps(jpegMarker: marker) { output += [0xFF, marker] + segment }
            if marker == 0xDA {
                // The entropy-coded scan: copied up to the next marker that is not a stuffed
                // byte or a restart, after which segments continue.
                let start = index
                while true {
                    guard index + 1 < bytes.count else { throw Damaged(reason: "the image data has no end") }
                    if bytes[index] == 0xFF, bytes[index + 1] != 0x00, !(0xD0...0xD7).contains(bytes[index + 1]) {
                        break
                    }
                    index += 1
                }
                output += bytes[start..<index]
            }
        }
    }

    /// APP0 (JFIF), APP2 (colour profile) and APP14 (Adobe colour) stay; the other application
    /// segments (Exif and XMP in APP1, IPTC in APP13, makers' notes) and comments go.
    static func keeps(jpegMarker marker: UInt8) -> Bool {
        switch marker {
        case 0xE0, 0xE2, 0xEE: true
        case 0xE1, 0xE3...0xED, 0xEF, 0xFE: false
        default: true
        }
    }

    // MARK: PNG

    static let pngSignature = PNGImage.signature
    /// Ancillary chunks that carry words, times or Exif.
    static let pngDropped: Set<String> = ["tEXt", "zTXt", "iTXt", "eXIf", "tIME"]

    static func png(_ bytes: [UInt8]) throws(Damaged) -> [UInt8] {
        guard bytes.starts(with: pngSignature) else { throw Damaged(reason: "no PNG signature") }
        var output = pngSignature
        var index = pngSignature.count
        var first = true
        while true {
            guard index + 12 <= bytes.count else { throw Damaged(reason: "the image ends without IEND") }
            let length =
                Int(bytes[index]) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8
                | Int(bytes[index + 3])
            guard length <= bytes.count - index - 12 else { throw Damaged(reason: "a chunk runs past the end") }
            let type = String(decoding: bytes[(index + 4)..<(index + 8)], as: UTF8.self)
            let chunk = bytes[index..<(index + 12 + length)]
            let stored =
                UInt32(bytes[index + 8 + length]) << 24 | UInt32(bytes[index + 9 + length]) << 16
                | UInt32(bytes[index + 10 + length]) << 8 | UInt32(bytes[index + 11 + length])
            guard CRC32.checksum(bytes[(index + 4)..<(index + 8 + length)]) == stored else {
                throw Damaged(reason: "chunk \(type) has a wrong checksum")
            }
            if first, type != "IHDR" { throw Damaged(reason: "the first chunk is not IHDR") }
            first = false
            index += 12 + length
            if !pngDropped.contains(type) { output += chunk }
            if type == "IEND" { return output }
        }
    }

    // MARK: MP4

    /// Boxes that hold other boxes, walked to find the metadata inside.
    static let mp4Containers: Set<String> = [
        "moov", "trak", "mdia", "minf", "stbl", "edts", "dinf", "mvex", "moof", "traf",
    ]
    /// User data (`udta`: location, device, title), metadata (`meta`), and vendors' `uuid` boxes
    /// (XMP) become `free` boxes of zeros.
    static let mp4Blanked: Set<String> = ["udta", "meta", "uuid"]

    static func mp4(_ bytes: [UInt8]) throws(Damaged) -> [UInt8] {
        var output = bytes
        guard bytes.count >= 8, bytes[4..<8].elementsEqual("ftyp".utf8) else { throw Damaged(reason: "no ftyp box") }
        try walkBoxes(&output, from: 0, to: bytes.count, depth: 0)
        return output
    }

    static func walkBoxes(_ bytes: inout [UInt8], from start: Int, to end: Int, depth: Int) throws(Damaged) {
        guard depth < 12 else { throw Damaged(reason: "boxes nested too deep") }
        var index = start
        while index < end {
            guard index + 8 <= end else { throw Damaged(reason: "a box header runs past its parent") }
            var size =
                Int(bytes[index]) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8
                | Int(bytes[index + 3])
            var header = 8
            if size == 1 {
                guard index + 16 <= end else { throw Damaged(reason: "a large box header runs past its parent") }
                size = 0
                for byte in bytes[(index + 8)..<(index + 16)] {
                    guard size < Int.max >> 8 else { throw Damaged(reason: "a box is impossibly large") }
                    size = size << 8 | Int(byte)
                }
                header = 16
            } else if size == 0 {
                size = end - index
            }
            guard size >= header, size <= end - index else { throw Damaged(reason: "a box runs past its parent") }
            let type = String(decoding: bytes[(index + 4)..<(index + 8)], as: UTF8.self)
            if mp4Blanked.contains(type) {
                bytes.replaceSubrange((index + 4)..<(index + 8), with: Array("free".utf8))
                for position in (index + header)..<(index + size) { bytes[position] = 0 }
            } else if mp4Containers.contains(type) {
                try walkBoxes(&bytes, from: index + header, to: index + size, depth: depth + 1)
            }
            index += size
        }
    }
}
