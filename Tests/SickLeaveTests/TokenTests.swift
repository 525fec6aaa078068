import Crypto
import Foundation
import TestSupport
import Testing

@testable import SickLeave

/// A clinic with a key, and tokens it signs.
struct ClinicFixture {
    static let bin = "940140000385"
    let key = COSEPrivateKey.p256(P256.Signing.PrivateKey())
    let keyID: [UInt8] = [0x4b, 0x31, 0x00, 0x01]
    let validFrom: Int64 = 1_790_000_000
    let validUntil: Int64 = 1_800_000_000

    var trusted: TrustedKey {
        TrustedKey(
            keyID: keyID,
            publicKey: key.publicKey.rawRepresentation,
            algorithm: .es256,
            clinicBIN: Self.bin,
            validFrom: validFrom,
            validUntil: validUntil
        )
    }

    static func token(
        version: Int = 1,
        status: SickLeaveToken.Status = .open,
        issuedAt: Int64 = 1_795_000_000
    )
        -> SickLeaveToken
    {
        SickLeaveToken(
            certificateID: Array(repeating: 0xa7, count: 12),
            version: version,
            patientName: "Әлия Серікқызы Нұрланова",
            dateOfBirth: CalendarDate("1987-04-12")!,
            periodStart: CalendarDate("2026-11-16")!,
            periodEnd: CalendarDate("2026-11-25")!,
            status: status,
            clinicName: "Қалалық емхана №4",
            clinicBIN: bin,
            statusIndex: 40_117,
            issuedAt: issuedAt
        )
    }
}

@Suite("Sick-leave tokens")
struct TokenTests {
    let clinic = ClinicFixture()

    @Test("a signed token reads back as genuine, starts with SL1: and uses only QR alphanumeric characters")
    func roundTrip() throws {
        let token = ClinicFixture.token()
        let text = try token.signed(keyID: clinic.keyID, key: clinic.key)
        #expect(text.hasPrefix("SL1:"))
        #expect(text.utf8.allSatisfy { Base45.alphabet.contains($0) })
        #expect(text.utf8.count < SickLeaveToken.maximumLength)
        #expect(TokenVerifier(trusted: [clinic.trusted]).verify(text) == .genuine(token))
    }

    @Test("the payload names no diagnosis, reason or IIN: exactly the documented fields")
    func noMedicalData() throws {
        guard case .map(let entries) = ClinicFixture.token().payload else {
            Issue.record("payload is not a map")
            return
        }
        #expect(entries.map(\.key) == (1...11).map { CBOR.unsigned(UInt64($0)) })
    }

    @Test("each kind of bad token gets its own verdict")
    func badTokens() throws {
        let verifier = TokenVerifier(trusted: [clinic.trusted])
        let text = try ClinicFixture.token().signed(keyID: clinic.keyID, key: clinic.key)
        let body = String(text.dropFirst(4))

        #expect(verifier.verify("HC1:" + body) == .unreadable(.wrongPrefix))
        #expect(verifier.verify(String(repeating: "A", count: 5_000)) == .unreadable(.tooLong))
        guard case .unreadable(.badEncoding) = verifier.verify("SL1:" + body.lowercased()) else {
            Issue.record("lower case is not Base45")
            return
        }
        // Truncated: cut to a whole number of Base45 groups so only the CBOR is short.
        let cut = String(body.prefix(body.count / 3 * 3 - 30))
        guard case .unreadable(.badEnvelope) = verifier.verify("SL1:" + cut) else {
            Issue.record("a truncated token is not reported as a damaged envelope")
            return
        }

        // An altered field, re-encoded into a well-formed message with the old signature.
        var message = try SickLeaveToken.parse(text).message
        var altered = ClinicFixture.token()
        altered.periodEnd = CalendarDate("2026-12-25")!
        message.payload = altered.payload.encoded()
        #expect(verifier.verify("SL1:" + Base45.encode(message.encoded())) == .forged)

        // Re-signed by another key under the clinic's key id: a forgery.
        let forger = COSEPrivateKey.p256(P256.Signing.PrivateKey())
        #expect(verifier.verify(try ClinicFixture.token().signed(keyID: clinic.keyID, key: forger)) == .forged)

        // An unknown key id, and the clinic's key removed from the trust list.
        #expect(verifier.verify(try ClinicFixture.token().signed(keyID: [1, 2, 3], key: forger)) == .unknownKey)
        #expect(TokenVerifier(trusted: []).verify(text) == .unknownKey)

        // Signed outside the key's validity, and a key used for another clinic's certificate.
        let late = try ClinicFixture.token(issuedAt: clinic.validUntil + 1).signed(keyID: clinic.keyID, key: clinic.key)
        #expect(verifier.verify(late) == .keyNotValid("the token was signed outside the key's validity"))
        var otherClinic = ClinicFixture.token()
        otherClinic.clinicBIN = "070941024691"
        let misused = try otherClinic.signed(keyID: clinic.keyID, key: clinic.key)
        #expect(verifier.verify(misused) == .keyNotValid("the key belongs to another clinic"))
    }

    @Test("a payload with a missing, extra or mistyped field is damaged content, named")
    func badPayloads() {
        let good = ClinicFixture.token().payload
        guard case .map(let entries) = good else { return }
        #expect(throws: TokenError.badPayload("patient name is missing")) {
            try SickLeaveToken(payload: .map(entries.filter { $0.key != .unsigned(3) }))
        }
        #expect(throws: TokenError.badPayload("unknown field unsigned(99)")) {
            try SickLeaveToken(payload: .map(entries + [.init(.unsigned(99), .text("J06.9"))]))
        }
        var wrongDate = entries
        wrongDate[3].value = .text("12.04.1987")
        #expect(throws: TokenError.badPayload("date of birth must be a date YYYY-MM-DD")) {
            try SickLeaveToken(payload: .map(wrongDate))
        }
    }

    @Test("the parser survives random mutations of a valid token without crashing (bounded fuzz)")
    func fuzz() throws {
        let seconds = Double(ProcessInfo.processInfo.environment["ADAL_FUZZ_SECONDS"] ?? "") ?? 1.5
        let seed = UInt64(ProcessInfo.processInfo.environment["ADAL_FUZZ_SEED"] ?? "") ?? 0x534c_31
        var generator = SplitMix64(seed: seed)
        let verifier = TokenVerifier(trusted: [clinic.trusted])
        let valid = Array(try ClinicFixture.token().signed(keyID: clinic.keyID, key: clinic.key).utf8)
        let rawMessage = try Base45.decode(String(decoding: valid.dropFirst(4), as: UTF8.self))
        let deadline = ContinuousClock.now + .seconds(seconds)
        let original = ClinicFixture.token()
        var runs = 0
        while ContinuousClock.now < deadline {
            runs += 1
            // Mutate either the text or the CBOR under it, so both parsers see hostile input.
            let mutateText = Bool.random(using: &generator)
            var bytes = mutateText ? valid : rawMessage
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.remove(at: position)
                case 2: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
                default: bytes.removeSubrange(position..<min(bytes.count, position + 8))
                }
                if bytes.isEmpty { bytes = [0] }
            }
            let text = mutateText ? String(decoding: bytes, as: UTF8.self) : "SL1:" + Base45.encode(bytes)
            // Whatever still verifies must say exactly what the clinic signed.
            if case .genuine(let token) = verifier.verify(text) {
                #expect(token == original, "seed \(seed), run \(runs)")
            }
        }
        #expect(runs > 100)
    }
}
