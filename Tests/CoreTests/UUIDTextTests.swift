import Foundation
import Testing

@testable import Core

@Suite("UUIDs' text, read and written without C's scanf and printf")
struct UUIDTextTests {
    @Test("a thousand random UUIDs are written as Foundation writes them and read back")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<1_000 {
            // The first rounds cover the edges: every nibble 0, every nibble f.
            let id =
                switch round {
                case 0: UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
                case 1:
                    UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))
                default: UUID(uuid: UUIDTextTests.bytes(&generator))
                }
            #expect(id.uppercasedText == id.uuidString)
            #expect(id.lowercasedText == id.uuidString.lowercased())
            #expect(UUID(hyphenated: id.uuidString) == id)
            #expect(UUID(hyphenated: id.lowercasedText) == id)
            #expect(UUID(hyphenated: id.uuidString[...]) == id)
        }
    }

    @Test(
        "what UUID(uuidString:) refuses is refused, what it reads is read the same",
        arguments: [
            "", "6ba7b810-9dad-11d1-80b4-00c04fd430c", "6ba7b810-9dad-11d1-80b4-00c04fd430c80",
            "6ba7b8109dad11d180b400c04fd430c8", "6ba7b810-9dad-11d1-80b4_00c04fd430c8",
            "6ba7b810-9dad-11d1-80b-400c04fd430c8", "6ba7b810-9dad-11d1-80b4-00c04fd430cg",
            "{6ba7b810-9dad-11d1-80b4-00c04fd430c8}", " 6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8 ", "6ba7b810-9dad-11d1-80b4-00c04fd430с8",
            "6BA7B810-9DAD-11D1-80B4-00C04FD430C8", "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "6Ba7B810-9dAd-11D1-80b4-00C04fd430C8", "--------------------------------0000",
        ]
    )
    func sameAsFoundation(text: String) {
        #expect(UUID(hyphenated: text) == UUID(uuidString: text))
    }

    static func bytes(_ generator: inout SystemRandomNumberGenerator) -> uuid_t {
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { raw in
            for index in raw.indices { raw[index] = UInt8.random(in: 0...255, using: &generator) }
        }
        return bytes
    }
}
