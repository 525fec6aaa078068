import Crypto
import Foundation
import Testing

@testable import SickLeave

@Suite("Signed trust and status lists")
struct PublishedListTests {
    let root = Curve25519.Signing.PrivateKey()
    var rootPublic: [UInt8] { Array(root.publicKey.rawRepresentation) }

    @Test("a trust list reads back with its keys, only under the city's root key and while fresh")
    func trustList() throws {
        let clinic = ClinicFixture()
        let list = TrustList(city: "astana", issuedAt: 1_795_000_000, keys: [clinic.trusted])
        let bytes = try list.signed(rootKey: root)
        #expect(try TrustList(verifying: bytes, rootKey: rootPublic, now: 1_795_000_100, maximumAge: 3_600) == list)

        let other = Array(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)
        #expect(throws: ListError.badSignature) {
            try TrustList(verifying: bytes, rootKey: other, now: 1_795_000_100, maximumAge: 3_600)
        }
        #expect(throws: ListError.stale(ageSeconds: 7_200)) {
            try TrustList(verifying: bytes, rootKey: rootPublic, now: 1_795_007_200, maximumAge: 3_600)
        }
        // One flipped byte anywhere: never a list.
        for position in stride(from: 0, to: bytes.count, by: 7) {
            var damaged = bytes
            damaged[position] ^= 0x20
            #expect(throws: ListError.self) {
                try TrustList(verifying: damaged, rootKey: rootPublic, now: 1_795_000_100, maximumAge: 3_600)
            }
        }
        // A status list is not a trust list, even though the same key signed it.
        let status = try StatusList(city: "astana", issuedAt: 1_795_000_000, size: 8).signed(rootKey: root)
        #expect(throws: ListError.malformed("not a list of this kind")) {
            try TrustList(verifying: status, rootKey: rootPublic, now: 1_795_000_100, maximumAge: 3_600)
        }
    }

    @Test("status positions hold two bits each, independently")
    func statusBits() throws {
        var list = StatusList(city: "astana", issuedAt: 1_795_000_000, size: 1_000)
        list[0] = .revoked
        list[1] = .superseded
        list[5] = .superseded
        list[999] = .revoked
        list[5] = .inForce
        #expect(list[0] == .revoked && list[1] == .superseded && list[2] == .inForce && list[5] == .inForce)
        #expect(list[999] == .revoked && list[1_000_000] == .inForce)
        let read = try StatusList(
            verifying: try list.signed(rootKey: root),
            rootKey: rootPublic,
            now: 1_795_000_000,
            maximumAge: 60
        )
        #expect(read == list)
    }

    @Test("offline verification combines the token's verdict with its standing")
    func offline() throws {
        let clinic = ClinicFixture()
        let token = ClinicFixture.token()
        let text = try token.signed(keyID: clinic.keyID, key: clinic.key)
        var status = StatusList(city: "astana", issuedAt: 1_795_000_000, size: 1 << 20)
        let trust = TrustList(city: "astana", issuedAt: 1_795_000_000, keys: [clinic.trusted])
        #expect(OfflineVerifier(trust: trust, status: status).verify(text).standing == .inForce)
        status[token.statusIndex] = .revoked
        let revoked = OfflineVerifier(trust: trust, status: status).verify(text)
        #expect(revoked.verdict == .genuine(token) && revoked.standing == .revoked)
        let removed = OfflineVerifier(
            trust: TrustList(city: "astana", issuedAt: 1_795_000_100, keys: []),
            status: status
        )
        #expect(removed.verify(text).verdict == .unknownKey)
    }
}
