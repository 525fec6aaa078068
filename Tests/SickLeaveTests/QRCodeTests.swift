import Crypto
import Foundation
import Testing

@testable import SickLeave

@Suite("QR codes of tokens")
struct QRCodeTests {
    /// Decodes a PNG with zbar (`zbarimg --raw`), a reader that shares no code with ours.
    static func zbar(_ png: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "adal-qr-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(png).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/zbarimg")
        process.arguments = ["--raw", "--quiet", path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "zbarimg found no code")
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }

    @Test("a token's PNG, at screen and print error correction, reads back exactly with zbarimg")
    func zbarRoundTrip() throws {
        let clinic = ClinicFixture()
        let token = try ClinicFixture.token().signed(keyID: clinic.keyID, key: clinic.key)
        for (correction, scale) in [(QRCode.Correction.medium, 4), (.quartile, 8)] {
            let code = try QRCode(token, correction: correction)
            #expect(try Self.zbar(code.png(scale: scale)) == token)
        }
    }

    @Test("the smallest version that fits is chosen, and print correction needs at least as large a symbol")
    func smallestVersion() throws {
        let short = try QRCode("SL1:ABC", correction: .medium)
        #expect(short.version == 1 && short.size == 21)
        let clinic = ClinicFixture()
        let token = try ClinicFixture.token().signed(keyID: clinic.keyID, key: clinic.key)
        let screen = try QRCode(token, correction: .medium)
        let print = try QRCode(token, correction: .quartile)
        #expect(screen.size == 17 + 4 * screen.version)
        #expect(print.version >= screen.version)
        #expect(throws: QRCodeError.cannotEncode) { try QRCode("", correction: .medium) }
        #expect(throws: QRCodeError.cannotEncode) {
            try QRCode(String(repeating: "9", count: QRCode.maximumLength + 1), correction: .medium)
        }
    }

    @Test("the SVG draws every dark module inside a white quiet zone and labels the image")
    func svg() throws {
        let code = try QRCode("SL1:ABC", correction: .medium)
        let svg = code.svg(title: "Certificate <1>")
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 29 29\""))
        #expect(svg.contains("aria-label=\"Certificate &lt;1&gt;\""))
        // The top-left finder pattern's first row is a run of 7 dark modules at (4, 4).
        #expect(svg.contains("M4 4h7v1h-7z"))
    }
}
