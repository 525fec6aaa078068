import Core
import Crypto
import Foundation
import Workflow

/// What a supplier declares for each Order 598 criterion; the commission marks the bid against it.
public struct BidClaims: Sendable, Equatable, Codable {
    public var experienceYears: Int
    public var qualifiedCooks: Int
    public var nutritionists: Int
    public var references: Int
    public var ownProduction: Bool
    public var energySavingEquipment: Bool
    /// Share of domestic produce in the menu, percent.
    public var domesticSharePercent: Int

    public init(
        experienceYears: Int,
        qualifiedCooks: Int,
        nutritionists: Int,
        references: Int,
        ownProduction: Bool,
        energySavingEquipment: Bool,
        domesticSharePercent: Int
    ) {
        self.experienceYears = experienceYears
        self.qualifiedCooks = qualifiedCooks
        self.nutritionists = nutritionists
        self.references = references
        self.ownProduction = ownProduction
        self.energySavingEquipment = energySavingEquipment
        self.domesticSharePercent = domesticSharePercent
    }

    /// Checks each number's bounds, naming the field.
    public func checked() throws(AdalError) -> BidClaims {
        for (field, value, limit) in [
            ("experienceYears", experienceYears, 100), ("qualifiedCooks", qualifiedCooks, 1000),
            ("nutritionists", nutritionists, 1000), ("references", references, 1000),
            ("domesticSharePercent", domesticSharePercent, 100),
        ] where !(0...limit).contains(value) {
            throw .invalidField(field: "claims.\(field)", reason: "a whole number from 0 to \(limit)")
        }
        return self
    }

    public var json: InputValue {
        .object([
            "experienceYears": .integer(Int64(experienceYears)), "qualifiedCooks": .integer(Int64(qualifiedCooks)),
            "nutritionists": .integer(Int64(nutritionists)), "references": .integer(Int64(references)),
            "ownProduction": .bool(ownProduction), "energySavingEquipment": .bool(energySavingEquipment),
            "domesticSharePercent": .integer(Int64(domesticSharePercent)),
        ])
    }

    init?(json: InputValue) {
        guard case .object(let o) = json, case .integer(let years)? = o["experienceYears"],
            case .integer(let cooks)? = o["qualifiedCooks"], case .integer(let nutritionists)? = o["nutritionists"],
            case .integer(let references)? = o["references"], case .bool(let own)? = o["ownProduction"],
            case .bool(let energy)? = o["energySavingEquipment"], case .integer(let share)? = o["domesticSharePercent"]
        else { return nil }
        self.init(
            experienceYears: Int(years),
            qualifiedCooks: Int(cooks),
            nutritionists: Int(nutritionists),
            references: Int(references),
            ownProduction: own,
            energySavingEquipment: energy,
            domesticSharePercent: Int(share)
        )
    }
}

/// A bid as the supplier hands it in. Its canonical bytes (canonical JSON, documents in base64,
/// with a random nonce so the price cannot be found by trying prices against the hash) are
/// what the commitment — their SHA-256, recorded in the step's input and so in the audit log —
/// binds. The bytes are sealed until the bids are opened.
public struct BidContent: Sendable, Equatable {
    public static let maximumBytes = 16 * 1024 * 1024

    public let supplierBIN: String
    public let pricePerMeal: Int64
    public let claims: BidClaims
    public let documents: [Document]
    public let nonce: [UInt8]

    public init(
        supplierBIN: String,
        pricePerMeal: Int64,
        claims: BidClaims,
        documents: [Document],
        nonce: [UInt8] = Array(SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) })
    ) throws(AdalError) {
        guard pricePerMeal > 0 else { throw .invalidField(field: "pricePerMeal", reason: "a positive number of tiyn") }
        guard documents.count <= Document.maximumCount else {
            throw .invalidField(field: "documents", reason: "at most \(Document.maximumCount) documents")
        }
        self.supplierBIN = try NationalIdentifier.bin(supplierBIN, field: "supplierBIN").digits
        self.pricePerMeal = pricePerMeal
        self.claims = try claims.checked()
        self.documents = documents
        self.nonce = nonce
    }

    public var canonicalBytes: [UInt8] {
        let documents = documents.map { document in
            InputValue.object([
                "name": .string(document.name), "mediaType": .string(document.mediaType.rawValue),
                "content": .string(Data(document.content).base64EncodedString()),
            ])
        }
        return Array(
            InputValue.object([
                "version": .integer(1), "supplierBIN": .string(supplierBIN), "pricePerMeal": .integer(pricePerMeal),
                "claims": claims.json, "documents": .array(documents), "nonce": .string(Self.hex(nonce)),
            ])
            .canonicalJSON.utf8
        )
    }

    /// The SHA-256 of the canonical bytes, in lower-case hex.
    public var commitment: String { Self.hex(Array(SHA256.hash(data: canonicalBytes))) }

    /// Reads canonical bytes back (at opening, or when the action receives the bid).
    public static func parse(_ bytes: [UInt8]) throws(AdalError) -> BidContent {
        guard bytes.count <= maximumBytes,
            let value = try? JSONDecoder().decode(InputValue.self, from: Data(bytes)),
            case .object(let o) = value, case .string(let bin)? = o["supplierBIN"],
            case .integer(let price)? = o["pricePerMeal"], let claims = o["claims"].flatMap(BidClaims.init(json:)),
            case .array(let documents)? = o["documents"], case .string(let nonceText)? = o["nonce"],
            let nonce = unhex(nonceText), nonce.count == 16
        else { throw .invalidField(field: "bid", reason: "the bid's bytes are not a bid") }
        var read: [Document] = []
        for (index, item) in documents.enumerated() {
            guard case .object(let d) = item, case .string(let name)? = d["name"],
                case .string(let type)? = d["mediaType"], case .string(let content)? = d["content"],
                let bytes = Data(base64Encoded: content)
            else { throw .invalidField(field: "documents[\(index)]", reason: "not a document") }
            read.append(
                try Document.checked(
                    name: name,
                    claimedType: type,
                    content: Array(bytes),
                    field: "documents[\(index)]"
                )
            )
        }
        return try BidContent(supplierBIN: bin, pricePerMeal: price, claims: claims, documents: read, nonce: nonce)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Bytes from hex; nil for anything else.
    public static func unhex(_ text: String) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// Hands a bid to a competition: the commitment goes into the step's input (and so into the
/// audit log), the bid's bytes beside it to the action that seals them.
public enum Bidding {
    /// A bid's nonce: random, or — when the request carries an idempotency key — a keyed hash of
    /// the key and who sends it, so that a retried request commits to the same bytes and is
    /// recognised as the same step, while nobody without the server's secret can compute it.
    public static func nonce(
        sealer: KeySealer,
        tenantID: UUID,
        competition: UUID,
        user: UUID,
        idempotencyKey: String?
    ) -> [UInt8] {
        guard let idempotencyKey else { return Array(SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }) }
        let text = "bid-nonce/\(tenantID)/\(competition)/\(user)/\(idempotencyKey)"
        return Array(sealer.keyedHash(Array(text.utf8)).prefix(16))
    }

    public static func submit(
        _ bid: BidContent,
        competition instanceID: UUID,
        tenantID: UUID,
        actor: StepActor,
        idempotencyKey: String?,
        engine: WorkflowEngine
    ) async throws -> StepResult {
        try await engine.fire(
            tenantID: tenantID,
            instanceID: instanceID,
            event: "submit_bid",
            actor: actor,
            input: ["commitment": .string(bid.commitment)],
            idempotencyKey: idempotencyKey,
            attachment: bid.canonicalBytes
        )
    }
}
