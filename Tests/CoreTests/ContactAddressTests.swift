import Testing

@testable import Core

@Suite("Contact addresses")
struct ContactAddressTests {
    @Test(
        "a Kazakh mobile number in the ways people write it is kept as +7 and ten digits",
        arguments: [
            "+7 701 123 45 67", "+77011234567", "8 (701) 123-45-67", "87011234567", "7011234567", "7 701 123 45 67",
            "+7.701.123.45.67",
        ]
    )
    func mobile(text: String) throws {
        let number = try ContactAddress(text, kind: .sms, field: "sms")
        #expect(number.text == "+77011234567")
        #expect(number.spaced == "+7 701 123 45 67")
        #expect(number.masked == "+7 701 ••• •• 67")
    }

    @Test(
        "a number that is not a Kazakh mobile one is refused with its reason",
        arguments: [
            ("+7 7172 55 66 77", ContactAddress.landline),  // Astana's landline code
            ("8 727 250 00 00", ContactAddress.landline),  // Almaty's
            ("+7 916 123 45 67", ContactAddress.mobileShape),  // a Russian mobile
            ("+49 151 2345 6789", ContactAddress.mobileShape),
            ("+7 701 123 45 6", ContactAddress.mobileShape),
            ("+7 701 123 45 678", ContactAddress.mobileShape),
            ("+7 701 I23 45 67", ContactAddress.mobileShape),
            ("+7 701 １23 45 67", ContactAddress.mobileShape),  // a full-width digit
            ("", ContactAddress.mobileShape),
        ]
    )
    func notMobile(text: String, reason: String) {
        #expect(throws: AdalError.invalidField(field: "sms", reason: reason)) {
            try ContactAddress(text, kind: .sms, field: "sms")
        }
    }

    @Test(
        "an email address keeps its local part as typed and its domain in small letters",
        arguments: [
            (" Aigerim.S@Mail.KZ ", "Aigerim.S@mail.kz"),
            ("parent+meals@school-7.astana.kz", "parent+meals@school-7.astana.kz"),
            ("ата-ана@пошта.қаз", "ата-ана@пошта.қаз"),
        ]
    )
    func email(text: String, kept: String) throws {
        let address = try ContactAddress(text, kind: .email, field: "email")
        #expect(address.text == kept)
    }

    @Test(
        "what cannot be an email address is refused",
        arguments: [
            "", "parent", "parent@", "@mail.kz", "parent@mail", "parent@@mail.kz", "pa rent@mail.kz",
            "parent@mail..kz", "parent@-mail.kz", "parent@mail.kz.", ".parent@mail.kz", "par..ent@mail.kz",
            "parent@mail.123", "\"parent\"@mail.kz", "parent@mail\n.kz", "parent,other@mail.kz",
            "a@b@mail.kz", String(repeating: "a", count: 65) + "@mail.kz",
        ]
    )
    func notEmail(text: String) {
        #expect(throws: AdalError.invalidField(field: "email", reason: ContactAddress.emailShape)) {
            try ContactAddress(text, kind: .email, field: "email")
        }
    }

    @Test("an email address over 254 characters is refused as too long")
    func emailTooLong() throws {
        let long =
            "parent@" + Array(repeating: String(repeating: "a", count: 60), count: 5).joined(separator: ".") + ".kz"
        #expect(throws: AdalError.invalidField(field: "email", reason: ContactAddress.emailTooLong)) {
            try ContactAddress(long, kind: .email, field: "email")
        }
        #expect(try ContactAddress("parent@mail.kz", kind: .email, field: "email").masked == "p•••@mail.kz")
    }
}
