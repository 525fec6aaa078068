import Core

/// Files built byte by byte for the upload tests: structurally sound JPEG, PNG and MP4 files
/// carrying the metadata a phone writes (GPS position, camera, owner), and broken or disguised
/// variants of them. The pixels are not meant to be seen; the structure is what is checked.
public enum CraftedMedia {
    /// Words that must not survive cleaning.
    public static let secrets = ["GPSLatitude", "51.1282N", "DemoPhone", "owner@example.kz", "+51.1282+071.4304"]

    static func segment(_ marker: UInt8, _ payload: [UInt8]) -> [UInt8] {
        let length = payload.count + 2
        return [0xFF, marker, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
    }

    /// A JPEG with JFIF, Exif (GPS and camera), XMP, a comment, tables, one scan with stuffed
    /// bytes and a restart marker, and the end; `afterScan` goes between the scan and the end.
    public static func jpeg(afterScan: [UInt8] = [], trailer: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = [0xFF, 0xD8]
        bytes += segment(0xE0, Array("JFIF".utf8) + [0, 1, 1, 0, 0, 1, 0, 1, 0, 0])
        bytes += segment(
            0xE1,
            Array("Exif".utf8) + [0, 0] + Array("GPSLatitude 51.1282N GPSLongitude 71.4304E Make DemoPhone".utf8)
        )
        bytes += segment(
            0xE1,
            Array("http://ns.adobe.com/xap/1.0/".utf8) + [0] + Array("<x:xmpmeta>owner@example.kz</x:xmpmeta>".utf8)
        )
        bytes += segment(0xFE, Array("owner@example.kz".utf8))
        bytes += segment(0xDB, [0] + [UInt8](repeating: 1, count: 64))
        bytes += segment(0xC0, [8, 0, 16, 0, 16, 1, 1, 0x11, 0])
        bytes += segment(0xC4, [0] + [UInt8](repeating: 0, count: 16) + [0])
        bytes += segment(0xDA, [1, 1, 0, 0, 0x3F, 0])
        bytes += [0x12, 0x34, 0xFF, 0x00, 0x56, 0xFF, 0xD0, 0x78, 0x9A]
        bytes += afterScan
        bytes += [0xFF, 0xD9]
        return bytes + trailer
    }

    /// An Exif segment, for hiding after the scan.
    public static var exifSegment: [UInt8] {
        segment(0xE1, Array("Exif".utf8) + [0, 0] + Array("GPSLatitude 51.1282N".utf8))
    }

    /// A real 24×16 PNG with text chunks (a comment, the owner) and an Exif chunk.
    public static func png(width: Int = 24, height: Int = 16) -> [UInt8] {
        PNGImage.rgb(
            width: width,
            height: height,
            extraChunks: [
                ("tEXt", Array("Comment".utf8) + [0] + Array("GPSLatitude 51.1282N".utf8)),
                ("iTXt", Array("Author".utf8) + [0, 0, 0, 0, 0] + Array("owner@example.kz".utf8)),
                ("eXIf", Array("MM".utf8) + Array("DemoPhone".utf8)),
            ]
        ) { x, y in (UInt8(x * 10), UInt8(y * 15), 120) }
    }

    static func box(_ type: String, _ payload: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(UInt32(payload.count + 8))
        return bytes + Array(type.utf8) + payload
    }

    /// An MP4 with the location and device a phone writes in `moov/udta` and `moov/meta`, a
    /// track, and media data after the metadata (so blanking must keep every size).
    public static func mp4() -> [UInt8] {
        let ftyp = box("ftyp", Array("isom".utf8) + [0, 0, 2, 0] + Array("isomiso2mp41".utf8))
        let mvhd = box("mvhd", [UInt8](repeating: 0, count: 100))
        let udta = box(
            "udta",
            box("\u{A9}xyz", Array("+51.1282+071.4304/".utf8)) + box("\u{A9}mak", Array("DemoPhone".utf8))
        )
        let meta = box("meta", [0, 0, 0, 0] + box("keys", Array("owner@example.kz".utf8)))
        let trak = box(
            "trak",
            box("tkhd", [UInt8](repeating: 0, count: 84)) + box("mdia", box("mdhd", [UInt8](repeating: 0, count: 24)))
        )
        let moov = box("moov", mvhd + udta + meta + trak)
        let mdat = box("mdat", [UInt8](repeating: 0x42, count: 256))
        return ftyp + moov + mdat
    }

    /// The first bytes of a GIF, of an HTML page, of an SVG with a script, of a Windows program.
    public static let gif: [UInt8] = Array("GIF89a".utf8) + [1, 0, 1, 0, 0, 0, 0, 0x3B]
    public static let html: [UInt8] = Array("<!doctype html><script>alert(1)</script>".utf8)
    public static let svg: [UInt8] = Array(
        "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".utf8
    )
    public static let exe: [UInt8] = Array("MZ".utf8) + [UInt8](repeating: 0x90, count: 62)
    public static let pdf: [UInt8] = Array("%PDF-1.4\n% an act of completed works\n%%EOF\n".utf8)

    /// Whether `needle` appears anywhere in `bytes`.
    public static func contains(_ bytes: [UInt8], _ needle: String) -> Bool {
        let pattern = Array(needle.utf8)
        guard pattern.count <= bytes.count else { return false }
        return (0...(bytes.count - pattern.count)).contains { start in
            bytes[start..<(start + pattern.count)].elementsEqual(pattern)
        }
    }
}
