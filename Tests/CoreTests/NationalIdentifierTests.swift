import Testing

@testable import Core

@Suite("IIN and BIN check digits")
struct NationalIdentifierTests {
    @Test("the valid IINs from DESIGN.md are accepted", arguments: ["791028302728", "061211600012"])
    func validIINs(text: String) throws {
        #expect(try NationalIdentifier.iin(text).digits == text)
    }

    @Test("the valid BINs from DESIGN.md are accepted", arguments: ["940140000385", "070941024691"])
    func validBINs(text: String) throws {
        #expect(try NationalIdentifier.bin(text).digits == text)
    }

    @Test("the invalid IINs from DESIGN.md are refused, naming the field", arguments: ["000813159890", "123456789012"])
    func invalidIINs(text: String) {
        #expect(throws: AdalError.invalidField(field: "patient_iin", reason: "IIN check digit does not match")) {
            try NationalIdentifier.iin(text, field: "patient_iin")
        }
    }

    @Test(
        "malformed input is refused with the reason",
        arguments: ["", "79102830272", "7910283027280", "79102830272a", "７９１０２８３０２７２８"]
    )
    func malformed(text: String) {
        #expect(throws: AdalError.invalidField(field: "bin", reason: "BIN must be exactly 12 digits")) {
            try NationalIdentifier.bin(text)
        }
    }

    @Test("surrounding spaces are ignored")
    func trimmed() throws {
        #expect(try NationalIdentifier.iin("  791028302728\n").digits == "791028302728")
    }

    @Test("the second weights are used when the first sum gives 10")
    func secondWeights() {
        // Every eleven-digit prefix either completes to a number that validates or has no valid completion.
        var completed = 0
        for serial in 0..<2000 {
            let prefix = "8001013" + String(serial + 10_000).suffix(4)
            if let digits = NationalIdentifier.completing(prefix) {
                completed += 1
                #expect((try? NationalIdentifier.iin(digits)) != nil)
            }
        }
        #expect(completed > 1800)
        #expect(NationalIdentifier.completing("79102830272") == "791028302728")
    }
}
