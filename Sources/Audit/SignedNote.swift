import Crypto

import struct Foundation.Data

/// Signed notes as the C2SP `signed-note` specification defines them, with Ed25519 keys: a text
/// ending in a newline, a blank line, then one line per signature,
/// `— <key name> <base64(4-byte key id ‖ 64-byte signature)>`.
///
/// The key id is the first four bytes of SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key), so a
/// verifier can tell which of its keys made a signature. Keys are written as
/// `<name>+<key id hex>+<base64(0x01 ‖ public key)>` (verifier key) and
/// `PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 ‖ seed)>` (signer key), the same text forms the
/// Go checksum database's tooling reads.
public enum SignedNote {
    static let ed25519: UInt8 = 0x01
    static let dash = "\u{2014} "

    /// The four-byte id of a key.
    static func keyID(name: String, publicKey: [UInt8]) -> [UInt8] {
        var hasher = SHA256()
        hasher.update(data: Array(name.utf8) + [0x0a, ed25519] + publicKey)
        return Array(hasher.finalize().prefix(4))
    }

    /// A key name: non-empty, no spaces, no '+'.
    static func validName(_ name: String) -> Bool {
        !name.isEmpty && !name.contains(where: { $0.isWhitespace || $0 == "+" })
    }
}

/// Signs notes with one Ed25519 key. The private key never leaves this value; it is read from
/// a file or the environment by the caller, never from the database.
public struct NoteSigner: Sendable {
    public let name: String
    let privateKey: Curve25519.Signing.PrivateKey

    public init(name: String, privateKey: Curve25519.Signing.PrivateKey) throws(SignedNoteError) {
        guard SignedNote.validName(name) else { throw .malformedKey("a key name has no spaces and no '+'") }
        self.name = name
        self.privateKey = privateKey
    }

    /// A new random key.
    public static func generate(name: String) throws(SignedNoteError) -> NoteSigner {
        try NoteSigner(name: name, privateKey: Curve25519.Signing.PrivateKey())
    }

    /// Reads a `PRIVATE+KEY+name+id+key` line.
    public init(signerKey text: String) throws(SignedNoteError) {
        // Base64 may itself hold '+', so only the leading separators split.
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(
            separator: "+",
            maxSplits: 4,
            omittingEmptySubsequences: false
        )
        guard parts.count == 5, parts[0] == "PRIVATE", parts[1] == "KEY",
            let raw = Data(base64Encoded: String(parts[4])), raw.count == 33, raw.first == SignedNote.ed25519,
            let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw.dropFirst())
        else { throw .malformedKey("expected PRIVATE+KEY+<name>+<id>+<base64 key>") }
        try self.init(name: String(parts[2]), privateKey: key)
        guard keyIDHex == parts[3] else { throw .malformedKey("the key id does not match the key") }
    }

    var publicKeyBytes: [UInt8] { Array(privateKey.publicKey.rawRepresentation) }
    var keyID: [UInt8] { SignedNote.keyID(name: name, publicKey: publicKeyBytes) }
    var keyIDHex: String { keyID.map { String($0, radix: 16).leftPadded(to: 2) }.joined() }

    /// The private key's text form; keep it out of the database and out of logs.
    public var signerKey: String {
        "PRIVATE+KEY+\(name)+\(keyIDHex)+"
            + Data([SignedNote.ed25519] + Array(privateKey.rawRepresentation)).base64EncodedString()
    }

    /// The public key's text form, to publish.
    public var verifierKey: String {
        "\(name)+\(keyIDHex)+" + Data([SignedNote.ed25519] + publicKeyBytes).base64EncodedString()
    }

    /// The note: `text` (which must end in a newline and hold no blank line), a blank line, the signature.
    public func sign(_ text: String) throws -> String {
        guard text.hasSuffix("\n"), !text.contains("\n\n") else {
            throw SignedNoteError.malformedNote("the text must end in a newline and have no blank line")
        }
        let signature = try privateKey.signature(for: Array(text.utf8))
        let blob = Data(keyID + Array(signature)).base64EncodedString()
        return text + "\n" + SignedNote.dash + name + " " + blob + "\n"
    }
}

/// Verifies notes against one published Ed25519 key.
public struct NoteVerifier: Sendable {
    public let name: String
    let keyID: [UInt8]
    let publicKey: Curve25519.Signing.PublicKey

    /// Reads a `name+id+key` verifier key.
    public init(verifierKey text: String) throws(SignedNoteError) {
        // Base64 may itself hold '+', so only the leading separators split.
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(
            separator: "+",
            maxSplits: 2,
            omittingEmptySubsequences: false
        )
        guard parts.count == 3, SignedNote.validName(String(parts[0])),
            let raw = Data(base64Encoded: String(parts[2])), raw.count == 33, raw.first == SignedNote.ed25519,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw.dropFirst())
        else { throw .malformedKey("expected <name>+<id>+<base64 key>") }
        let id = SignedNote.keyID(name: String(parts[0]), publicKey: Array(raw.dropFirst()))
        guard id.map({ String($0, radix: 16).leftPadded(to: 2) }).joined() == parts[1] else {
            throw .malformedKey("the key id does not match the key")
        }
        self.name = String(parts[0])
        self.keyID = id
        self.publicKey = key
    }

    /// Returns the note's text when one of its signatures is this key's and is valid.
    public func verify(_ note: String) throws(SignedNoteError) -> String {
        guard let split = note.range(of: "\n\n", options: .backwards) else {
            throw .malformedNote("no blank line before the signatures")
        }
        let text = String(note[..<split.lowerBound]) + "\n"
        let signatureBlock = note[split.upperBound...]
        guard signatureBlock.hasSuffix("\n") else { throw .malformedNote("the signatures must end in a newline") }
        for line in signatureBlock.split(separator: "\n") {
            guard line.hasPrefix(SignedNote.dash) else { throw .malformedNote("a signature line starts with '— '") }
            let fields = line.dropFirst(SignedNote.dash.count).split(separator: " ")
            guard fields.count == 2, let blob = Data(base64Encoded: String(fields[1])), blob.count == 68 else {
                throw .malformedNote("a signature line is '— <name> <base64>'")
            }
            guard String(fields[0]) == name, Array(blob.prefix(4)) == keyID else { continue }
            if publicKey.isValidSignature(blob.dropFirst(4), for: Array(text.utf8)) { return text }
            throw .badSignature
        }
        throw .unknownKey
    }
}

/// Why a key or note was refused.
public enum SignedNoteError: Error, Equatable, CustomStringConvertible {
    case malformedKey(String)
    case malformedNote(String)
    case unknownKey
    case badSignature

    public var description: String {
        switch self {
        case .malformedKey(let reason): "malformed key: \(reason)"
        case .malformedNote(let reason): "malformed note: \(reason)"
        case .unknownKey: "the note has no signature by this key"
        case .badSignature: "the note's signature does not verify"
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
