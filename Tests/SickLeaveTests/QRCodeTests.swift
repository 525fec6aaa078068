import Crypto
import Foundation
import TestSupport
import Testing

@testable import SickLeave

@Suite("QR codes of tokens")
struct QRCodeTests {
    @Test("a token's PNG, at screen and print error correction, reads back exactly with zbarimg")
    func zbarRoundTrip() throws {
        let clinic = ClinicFixture()
        let token = try ClinicFixture.token().signed(keyID: clinic.keyID, key: clinic.key)
        for (correction, scale) in [(QRCode.Correction.medium, 4), (.quartile, 8)] {
            let code = try QRCode(token, correction: correction)
            #expect(try ZBar.read(code.png(scale: scale)) == token)
        }
    }

    @Test("the link a code carries opens the verification page and gives back the exact token")
    func link() throws {
        let clinic = ClinicFixture()
        let token = try ClinicFixture.token().signed(keyID: clinic.keyID, key: clinic.key)
        let link = CertificateLink.text(token: token, base: "https://adal.example.kz/")
        #expect(link.hasPrefix("HTTPS://ADAL.EXAMPLE.KZ/V#SL1:"))
        #expect(!link.dropFirst(8).contains(" ") && URL(string: link) != nil)
        #expect(try ZBar.read(QRCode(link, correction: .quartile).png(scale: 8)) == link)
        #expect(CertificateLink.token(in: link) == token)
        #expect(CertificateLink.token(in: "  \(token)\n") == token)
        // A path under the host keeps its case; only scheme and host are capitalised.
        #expect(
            CertificateLink.text(token: "SL1:A B%", base: "http://kz.example:8080/adal")
                == "HTTP://KZ.EXAMPLE:8080/adal/V#SL1:A%20B%25"
        )
        // The link costs little beyond the token: capitals keep it in alphanumeric mode.
        #expect(try QRCode(link, correction: .medium).version <= QRCode(token, correction: .medium).version + 1)
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
