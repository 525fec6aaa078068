import Core
import Testing

@testable import OpenBudget
@testable import TestSupport

@Suite("Uploaded files are checked by their bytes and cleaned of what identifies a person")
struct MediaFileTests {
    func clean(
        _ bytes: [UInt8],
        claimed: String? = nil,
        allowed: [MediaType] = MediaFile.reportTypes
    ) throws -> MediaFile {
        try MediaFile.checked(bytes, claimedType: claimed, allowed: allowed, field: "media")
    }

    @Test("a JPEG loses its Exif, XMP and comment, keeps its image segments, and ends at its end")
    func jpeg() throws {
        let file = try clean(
            CraftedMedia.jpeg(afterScan: CraftedMedia.exifSegment, trailer: Array("PK\u{3}\u{4}zip".utf8))
        )
        #expect(file.mediaType == .jpeg)
        for secret in CraftedMedia.secrets {
            #expect(!CraftedMedia.contains(file.content, secret), "\(secret) survived")
        }
        #expect(CraftedMedia.contains(file.content, "JFIF"))
        #expect(!CraftedMedia.contains(file.content, "PK"))
        #expect(file.content.suffix(2) == [0xFF, 0xD9])
        // The scan's bytes are untouched: stuffing and restart markers included.
        #expect(CraftedMedia.contains(file.content, String(decoding: [0x12, 0x34], as: UTF8.self)))
        // Cleaning a clean file changes nothing: the stored hash is stable.
        #expect(try clean(file.content).content == file.content)
    }

    @Test("a PNG loses its text and Exif chunks and stays a valid PNG")
    func png() throws {
        let file = try clean(CraftedMedia.png())
        for secret in CraftedMedia.secrets {
            #expect(!CraftedMedia.contains(file.content, secret), "\(secret) survived")
        }
        #expect(CraftedMedia.contains(file.content, "IHDR") && CraftedMedia.contains(file.content, "IDAT"))
        #expect(try clean(file.content).content == file.content)
    }

    @Test("an MP4's user data and metadata are blanked in place, every size and offset kept")
    func mp4() throws {
        let original = CraftedMedia.mp4()
        let file = try clean(original)
        #expect(file.mediaType == .mp4)
        #expect(file.content.count == original.count)
        for secret in CraftedMedia.secrets {
            #expect(!CraftedMedia.contains(file.content, secret), "\(secret) survived")
        }
        #expect(file.content.suffix(256) == original.suffix(256))
        #expect(CraftedMedia.contains(file.content, "free"))
    }

    @Test("broken structures are refused with the reason, not guessed at")
    func damaged() {
        var jpegCut = CraftedMedia.jpeg()
        jpegCut.removeLast(2)
        var pngBadCRC = CraftedMedia.png()
        pngBadCRC[pngBadCRC.count - 20] ^= 0xFF
        var mp4Long = CraftedMedia.mp4()
        mp4Long[28] = 0x7F  // moov's size now runs past the file
        let longSegment: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0xFF, 0xF0, 0x00]
        for (name, bytes) in [
            ("jpeg without end", jpegCut), ("png checksum", pngBadCRC), ("mp4 box", mp4Long), ("segment", longSegment),
        ] {
            do {
                _ = try clean(bytes)
                Issue.record("\(name) was accepted")
            } catch AdalError.invalidField(let field, let reason) {
                #expect(field == "media")
                #expect(reason.hasPrefix("a damaged"), "\(name): \(reason)")
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }

    @Test("types are read from the bytes: other types, lying names and oversize files are refused")
    func types() throws {
        #expect(
            throws: AdalError.unsupportedMediaType(
                field: "media",
                reason: "the bytes are not of a type taken here (image/jpeg, image/png, video/mp4)"
            )
        ) {
            try clean(CraftedMedia.gif)
        }
        #expect(
            throws: AdalError.unsupportedMediaType(
                field: "media",
                reason: "application/pdf is not taken here (image/jpeg, image/png, video/mp4)"
            )
        ) {
            try clean(CraftedMedia.pdf)
        }
        #expect(
            throws: AdalError.unsupportedMediaType(field: "media", reason: "the bytes are image/png, not image/jpeg")
        ) {
            try clean(CraftedMedia.png(), claimed: "image/jpeg")
        }
        let huge = CraftedMedia.jpeg(afterScan: [UInt8](repeating: 0x11, count: 10 << 20))
        #expect(throws: AdalError.tooLarge(limit: "media (image/jpeg)", maximumBytes: 10 << 20)) { try clean(huge) }
        #expect(throws: AdalError.invalidField(field: "media", reason: "the file is empty")) { try clean([]) }
        #expect(try clean(CraftedMedia.pdf, allowed: MediaFile.documentTypes).mediaType == .pdf)
    }
}
