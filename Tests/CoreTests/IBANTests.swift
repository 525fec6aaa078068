import Testing

@testable import Core

@Suite("Kazakh IBANs")
struct IBANTests {
    @Test(
        "the national example and the way people write it are accepted, kept in capitals without spaces",
        arguments: ["KZ86125KZT5004100100", "kz86 125k zt50 0410 0100", " KZ86125KZT5004100100 "]
    )
    func valid(text: String) throws {
        let iban = try IBAN(text, field: "iban")
        #expect(iban.text == "KZ86125KZT5004100100")
        #expect(iban.grouped == "KZ86 125K ZT50 0410 0100")
        #expect(iban.masked == "KZ•• •••• •••• •••• 0100")
    }

    @Test(
        "each mistake is refused with its reason, naming the field",
        arguments: [
            ("KZ86125KZT5004100101", "the IBAN's check digits do not match (a character mistyped?)"),
            ("KZ68125KZT5004100100", "the IBAN's check digits do not match (a character mistyped?)"),
            ("KZ86125KZT500410010", "a Kazakh IBAN has 20 characters, this one 19"),
            ("DE89370400440532013000", "a Kazakh IBAN starts with KZ"),
            ("KZ86-125KZT5004100100", "an IBAN holds only Latin letters and digits"),
            ("KZ8б125KZT5004100100", "an IBAN holds only Latin letters and digits"),
            ("KZAB125KZT5004100100", "the IBAN's check digits do not match (a character mistyped?)"),
        ]
    )
    func invalid(text: String, reason: String) {
        #expect(throws: AdalError.invalidField(field: "iban", reason: reason)) {
            try IBAN(text, field: "iban")
        }
    }

    /// MOD 97-10 catches every change of one digit and every swap of two neighbouring digits,
    /// the typing mistakes people make most (a letter read as another may pass: ISO 13616 does
    /// not promise those).
    @Test("every single digit mistyped and every two neighbouring digits swapped are caught")
    func typingMistakes() throws {
        let valid = Array("KZ86125KZT5004100100")
        let digits = Array("0123456789")
        for index in 2..<valid.count where valid[index].isNumber {
            for replacement in digits where replacement != valid[index] {
                var changed = valid
                changed[index] = replacement
                #expect(throws: AdalError.self, "\(String(changed))") { try IBAN(String(changed), field: "iban") }
            }
        }
        for index in 2..<(valid.count - 1)
        where valid[index].isNumber && valid[index + 1].isNumber && valid[index] != valid[index + 1] {
            var swapped = valid
            swapped.swapAt(index, index + 1)
            #expect(throws: AdalError.self, "\(String(swapped))") { try IBAN(String(swapped), field: "iban") }
        }
    }
}
