import Crypto
import Foundation
import Testing

@testable import SickLeave

func hexBytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)!
    }
}

func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

/// RFC 8949 Appendix A: every example, decoded; those in deterministic form also encoded.
@Suite("CBOR against RFC 8949 Appendix A")
struct CBORVectorTests {
    static let one = CBOR.unsigned(1)
    static func text(_ value: String) -> CBOR { .text(value) }

    /// Examples whose encoding is the deterministic one: encode and decode both ways.
    static let canonical: [(CBOR, String)] = [
        (.unsigned(0), "00"), (.unsigned(1), "01"), (.unsigned(10), "0a"), (.unsigned(23), "17"),
        (.unsigned(24), "1818"), (.unsigned(25), "1819"), (.unsigned(100), "1864"), (.unsigned(1000), "1903e8"),
        (.unsigned(1_000_000), "1a000f4240"), (.unsigned(1_000_000_000_000), "1b000000e8d4a51000"),
        (.unsigned(18_446_744_073_709_551_615), "1bffffffffffffffff"),
        (.tagged(2, .bytes(hexBytes("010000000000000000"))), "c249010000000000000000"),
        (.negative(18_446_744_073_709_551_615), "3bffffffffffffffff"),
        (.tagged(3, .bytes(hexBytes("010000000000000000"))), "c349010000000000000000"),
        (.integer(-1), "20"), (.integer(-10), "29"), (.integer(-100), "3863"), (.integer(-1000), "3903e7"),
        (.float(0.0), "f90000"), (.float(-0.0), "f98000"), (.float(1.0), "f93c00"), (.float(1.1), "fb3ff199999999999a"),
        (.float(1.5), "f93e00"), (.float(65504.0), "f97bff"), (.float(100000.0), "fa47c35000"),
        (.float(3.4028234663852886e+38), "fa7f7fffff"), (.float(1.0e+300), "fb7e37e43c8800759c"),
        (.float(5.960464477539063e-8), "f90001"), (.float(0.00006103515625), "f90400"), (.float(-4.0), "f9c400"),
        (.float(-4.1), "fbc010666666666666"), (.float(.infinity), "f97c00"), (.float(-.infinity), "f9fc00"),
        (.bool(false), "f4"), (.bool(true), "f5"), (.null, "f6"), (.undefined, "f7"), (.simple(16), "f0"),
        (.simple(255), "f8ff"),
        (.tagged(0, .text("2013-03-21T20:04:00Z")), "c074323031332d30332d32315432303a30343a30305a"),
        (.tagged(1, .unsigned(1_363_896_240)), "c11a514b67b0"),
        (.tagged(1, .float(1_363_896_240.5)), "c1fb41d452d9ec200000"),
        (.tagged(23, .bytes([1, 2, 3, 4])), "d74401020304"),
        (.tagged(24, .bytes(hexBytes("6449455446"))), "d818456449455446"),
        (.tagged(32, .text("http://www.example.com")), "d82076687474703a2f2f7777772e6578616d706c652e636f6d"),
        (.bytes([]), "40"), (.bytes([1, 2, 3, 4]), "4401020304"), (.text(""), "60"), (.text("a"), "6161"),
        (.text("IETF"), "6449455446"), (.text("\"\\"), "62225c"), (.text("\u{00fc}"), "62c3bc"),
        (.text("\u{6c34}"), "63e6b0b4"), (.text("\u{10151}"), "64f0908591"), (.array([]), "80"),
        (.array([one, .unsigned(2), .unsigned(3)]), "83010203"),
        (
            .array([one, .array([.unsigned(2), .unsigned(3)]), .array([.unsigned(4), .unsigned(5)])]),
            "8301820203820405"
        ),
        (.array((1...25).map { .unsigned(UInt64($0)) }), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
        (.map([]), "a0"), (.map([.init(one, .unsigned(2)), .init(.unsigned(3), .unsigned(4))]), "a201020304"),
        (
            .map([.init(text("a"), one), .init(text("b"), .array([.unsigned(2), .unsigned(3)]))]),
            "a26161016162820203"
        ),
        (.array([text("a"), .map([.init(text("b"), text("c"))])]), "826161a161626163"),
        (
            .map(["a", "b", "c", "d", "e"].map { .init(text($0), text($0.uppercased())) }),
            "a56161614161626142616361436164614461656145"
        ),
    ]

    /// Examples in other valid spellings (longer floats, indefinite lengths): decoded only.
    static let decodedOnly: [(CBOR, String)] = [
        (.float(.infinity), "fa7f800000"), (.float(-.infinity), "faff800000"),
        (.float(.infinity), "fb7ff0000000000000"), (.float(-.infinity), "fbfff0000000000000"),
        (.bytes([1, 2, 3, 4, 5]), "5f42010243030405ff"), (.text("streaming"), "7f657374726561646d696e67ff"),
        (.array([]), "9fff"),
        (
            .array([one, .array([.unsigned(2), .unsigned(3)]), .array([.unsigned(4), .unsigned(5)])]),
            "9f018202039f0405ffff"
        ),
        (
            .array([one, .array([.unsigned(2), .unsigned(3)]), .array([.unsigned(4), .unsigned(5)])]),
            "9f01820203820405ff"
        ),
        (
            .array([one, .array([.unsigned(2), .unsigned(3)]), .array([.unsigned(4), .unsigned(5)])]),
            "83018202039f0405ff"
        ),
        (
            .array([one, .array([.unsigned(2), .unsigned(3)]), .array([.unsigned(4), .unsigned(5)])]),
            "83019f0203ff820405"
        ),
        (
            .array((1...25).map { .unsigned(UInt64($0)) }),
            "9f0102030405060708090a0b0c0d0e0f101112131415161718181819ff"
        ),
        (
            .map([.init(text("a"), one), .init(text("b"), .array([.unsigned(2), .unsigned(3)]))]),
            "bf61610161629f0203ffff"
        ),
        (.array([text("a"), .map([.init(text("b"), text("c"))])]), "826161bf61626163ff"),
        (.map([.init(text("Fun"), .bool(true)), .init(text("Amt"), .integer(-2))]), "bf6346756ef563416d7421ff"),
    ]

    @Test("deterministic examples encode to the RFC's bytes and decode back")
    func canonicalExamples() throws {
        for (value, hex) in Self.canonical {
            #expect(hexString(value.encoded()) == hex, "\(value)")
            #expect(try CBOR(decoding: hexBytes(hex)) == value, "\(hex)")
        }
    }

    @Test("NaN in all three widths decodes to NaN and encodes as f97e00")
    func notANumber() throws {
        for hex in ["f97e00", "fa7fc00000", "fb7ff8000000000000"] {
            guard case .float(let value) = try CBOR(decoding: hexBytes(hex)) else {
                Issue.record("\(hex) is not a float")
                continue
            }
            #expect(value.isNaN)
        }
        #expect(hexString(CBOR.float(.nan).encoded()) == "f97e00")
    }

    @Test("other spellings of the examples decode to the same values")
    func otherSpellings() throws {
        for (value, hex) in Self.decodedOnly {
            #expect(try CBOR(decoding: hexBytes(hex)) == value, "\(hex)")
        }
    }

    @Test("malformed input is refused with a reason, never a crash")
    func malformed() {
        let cases: [(String, CBORError)] = [
            ("", .truncated), ("18", .truncated), ("1a0000", .truncated), ("62c3", .truncated), ("8301", .truncated),
            ("0101", .trailingBytes), ("1c", .malformed("reserved additional information 28")),
            ("ff", .malformed("a break outside an indefinite-length item")),
            ("62c328", .malformed("text is not UTF-8")),
            ("a201020103", .malformed("a map repeats a key")),
            ("9bffffffffffffffff", .truncated),
        ]
        for (hex, expected) in cases {
            #expect(throws: expected, "\(hex)") { try CBOR(decoding: hexBytes(hex)) }
        }
        let deep = [UInt8](repeating: 0x81, count: 200) + [0x00]
        #expect(throws: CBORError.tooDeep) { try CBOR(decoding: deep) }
    }
}

/// RFC 9285's examples.
@Suite("Base45 against RFC 9285")
struct Base45VectorTests {
    @Test("the RFC's examples encode and decode")
    func examples() throws {
        for (text, encoded) in [
            ("AB", "BB8"), ("Hello!!", "%69 VD92EX0"), ("base-45", "UJCLQE7W581"), ("ietf!", "QED8WEX0"),
        ] {
            #expect(Base45.encode(Array(text.utf8)) == encoded)
            #expect(try Base45.decode(encoded) == Array(text.utf8))
        }
    }

    @Test("characters outside the alphabet, a dangling character and oversized groups are refused")
    func invalid() {
        #expect(throws: Base45Error.valueTooLarge(position: 0)) { try Base45.decode("GGW") }
        #expect(throws: Base45Error.invalidCharacter(position: 0)) { try Base45.decode("bb8") }
        #expect(throws: Base45Error.badLength) { try Base45.decode("BB8A") }
        #expect(throws: Base45Error.valueTooLarge(position: 3)) { try Base45.decode("BB8::") }
    }

    @Test("random bytes survive the round trip")
    func roundTrip() throws {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<64 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(try Base45.decode(Base45.encode(bytes)) == bytes)
        }
    }
}

/// The COSE working group's examples of COSE_Sign1 (RFC 9052 Appendix C.2.1 and its test set).
@Suite("COSE_Sign1 against the published examples")
struct COSEVectorTests {
    static func base64URL(_ text: String) -> [UInt8] {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Array(Data(base64Encoded: base64)!)
    }

    /// The examples' P-256 key "11".
    static let key = COSEPublicKey(
        algorithm: .es256,
        raw: base64URL("usWxHK2PmfnHKwXPS54m0kTcGJ90UiglWiGahtagnv8")
            + base64URL("IBOL-C3BttVivg-lSreASjpkttcsz-1rb7btKLv8EX4")
    )!

    @Test("RFC 9052 C.2.1: an ECDSA P-256 signature verifies with key 11")
    func rfcExample() throws {
        let message = try COSESign1(
            decoding: hexBytes(
                "d28443a10126a10442313154546869732069732074686520636f6e74656e742e58408eb33e4ca31d1c465ab05aac34cc6b23d58fef5c083106c4d25a91aef0b0117e2af9a291aa32e14ab834dc56ed2a223444547e01f11d3b0916e5a4c345cacb36"
            )
        )
        #expect(message.algorithm == .es256)
        #expect(message.keyID == Array("11".utf8))
        #expect(!message.keyIDIsProtected)
        #expect(message.payload == Array("This is the content.".utf8))
        #expect(message.isSigned(by: Self.key))
    }

    @Test("sign-pass-02: the signature covers external data, whose Sig_structure matches the published one")
    func externalData() throws {
        let message = try COSESign1(
            decoding: hexBytes(
                "d28443a10126a10442313154546869732069732074686520636f6e74656e742e5840eae868ecc176883766c5dc5ba5b8dca25dab3c2e56a551ce5705b793914348e155388b10c4f1b59a6733eab416870a945111a4b2fbdbef33a77234b1deff2f9b"
            )
        )
        let external = hexBytes("11aa22bb33cc44dd55006699")
        #expect(
            hexString(message.toBeSigned(externalAAD: external))
                == "846a5369676e61747572653143a101264c11aa22bb33cc44dd5500669954546869732069732074686520636f6e74656e742e"
        )
        #expect(message.isSigned(by: Self.key, externalAAD: external))
        #expect(!message.isSigned(by: Self.key))
    }

    @Test("sign-fail-02: a changed payload does not verify")
    func changedPayload() throws {
        let message = try COSESign1(
            decoding: hexBytes(
                "d28443a10126a10442313154546869732069732074686520636f6e74656e742f5840eae868ecc176883766c5dc5ba5b8dca25dab3c2e56a551ce5705b793914348e19f43d6c6ba654472da301b645b293c9ba939295b97c4bdb847782bff384c5794"
            )
        )
        #expect(!message.isSigned(by: Self.key))
    }

    @Test("our own messages verify for both algorithms and not with another key")
    func ownMessages() throws {
        for key in [COSEPrivateKey.p256(P256.Signing.PrivateKey()), .ed25519(Curve25519.Signing.PrivateKey())] {
            let message = try COSESign1.sign(payload: [1, 2, 3], keyID: [9], key: key)
            let decoded = try COSESign1(decoding: message.encoded())
            #expect(decoded == message)
            #expect(decoded.keyIDIsProtected && decoded.keyID == [9])
            #expect(decoded.isSigned(by: key.publicKey))
            let other: COSEPrivateKey =
                switch key {
                case .p256: .p256(P256.Signing.PrivateKey())
                case .ed25519: .ed25519(Curve25519.Signing.PrivateKey())
                }
            #expect(!decoded.isSigned(by: other.publicKey))
        }
    }
}
