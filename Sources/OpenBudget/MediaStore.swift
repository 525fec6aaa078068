import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// Files stored by the SHA-256 of their (cleaned) bytes: one copy however often handed in.
public enum MediaStore {
    /// Stores `file` inside the caller's transaction (a step's, so it commits with the step).
    public static func store(
        _ file: MediaFile,
        tenantID: UUID,
        at time: Date,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.run(
            """
            INSERT INTO media_files (tenant_id, sha256, media_type, size, content, stored_at)
            VALUES (\(tenantID), \(Data(file.sha256)), \(file.mediaType.rawValue), \(Int32(file.content.count)),
                \(Data(file.content)), \(time))
            ON CONFLICT (tenant_id, sha256) DO NOTHING
            """,
            logger: logger
        )
    }

    /// A stored file by its hash (hex), or nil.
    public static func load(_ hex: String, tenantID: UUID, database: Database) async throws -> MediaFile? {
        guard let hash = MediaFile.bytes(hex: hex) else { return nil }
        return try await database.withTenant(tenantID) { connection in
            var found: MediaFile?
            for try await (type, content) in try await connection.query(
                """
                SELECT media_type, content FROM media_files WHERE tenant_id = \(tenantID) AND sha256 = \(Data(hash))
                """,
                logger: database.logger
            ).decode((String, Data).self) {
                guard let mediaType = MediaType(rawValue: type) else { continue }
                found = MediaFile(mediaType: mediaType, content: Array(content))
            }
            return found
        }
    }

    /// Checks the files a step was handed against the file fields of its input, in order: each
    /// must be allowed, clean, and have the hash and type the input (and so the audit log) gives.
    static func matching(
        _ files: [[UInt8]],
        fields: [String],
        allowed: [MediaType],
        context: StepContext
    ) throws -> [MediaFile] {
        let described = fields.compactMap { field -> (String, [String: InputValue])? in
            guard case .object(let members)? = context.input[field] else { return nil }
            return (field, members)
        }
        guard described.count == files.count else {
            throw WorkflowError.refused(reason: "\(files.count) files handed in for \(described.count) described")
        }
        return try zip(described, files).map { item, content in
            let (field, members) = item
            let file = try MediaFile.checked(content, claimedType: nil, allowed: allowed, field: field)
            guard case .string(file.sha256Hex)? = members["sha256"],
                case .string(file.mediaType.rawValue)? = members["media_type"],
                case .integer(Int64(file.content.count))? = members["size"]
            else { throw WorkflowError.refused(reason: "\(field): the file is not the one described") }
            return file
        }
    }
}

/// Several byte strings in one attachment: each as a 4-byte big-endian length and its bytes.
public enum AttachmentBundle {
    public static func encode(_ parts: [[UInt8]]) -> [UInt8] {
        var bytes: [UInt8] = []
        for part in parts {
            let count = UInt32(part.count)
            bytes += [UInt8(count >> 24), UInt8(count >> 16 & 0xFF), UInt8(count >> 8 & 0xFF), UInt8(count & 0xFF)]
            bytes += part
        }
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var parts: [[UInt8]] = []
        var index = 0
        while index < bytes.count {
            guard index + 4 <= bytes.count else { throw WorkflowError.refused(reason: "a damaged attachment") }
            let count =
                Int(bytes[index]) << 24 | Int(bytes[index + 1]) << 16 | Int(bytes[index + 2]) << 8
                | Int(bytes[index + 3])
            index += 4
            guard count <= bytes.count - index else { throw WorkflowError.refused(reason: "a damaged attachment") }
            parts.append(Array(bytes[index..<(index + count)]))
            index += count
        }
        return parts
    }
}
