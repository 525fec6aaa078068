import Core
import Foundation
import Hummingbird

/// A `multipart/form-data` body (RFC 7578) as browsers send forms with files: named parts, each
/// a field's text or a file with its name. Bounded: at most ``maximumParts`` parts and
/// ``maximumHeaderBytes`` of headers per part; the body itself is bounded where it is read.
struct MultipartForm {
    struct Part {
        let name: String
        let filename: String?
        let contentType: String?
        let content: [UInt8]
    }

    static let maximumParts = 40
    static let maximumHeaderBytes = 2048

    let parts: [Part]

    /// The boundary of a `multipart/form-data` content type; nil for any other type.
    static func boundary(contentType: String?) -> String? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/form-data") else { return nil }
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                let value = pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
                return (1...70).contains(value.count) ? value : nil
            }
        }
        return nil
    }

    init(body: [UInt8], boundary: String) throws(AdalError) {
        let delimiter = Array("--\(boundary)".utf8)
        let separator = Array("\r\n--\(boundary)".utf8)
        guard body.starts(with: delimiter) else { throw .invalidField(field: "body", reason: "not a multipart form") }
        var parts: [Part] = []
        var position = delimiter.count
        while true {
            // After a delimiter: "--" ends the body, CRLF starts a part.
            if body[position...].starts(with: [0x2D, 0x2D]) { break }
            guard body[position...].starts(with: [0x0D, 0x0A]) else {
                throw .invalidField(field: "body", reason: "a malformed multipart form")
            }
            position += 2
            guard let headerEnd = Self.find([0x0D, 0x0A, 0x0D, 0x0A], in: body, from: position),
                headerEnd - position <= Self.maximumHeaderBytes
            else { throw .invalidField(field: "body", reason: "a multipart part without readable headers") }
            let headers = String(decoding: body[position..<headerEnd], as: UTF8.self)
            let contentStart = headerEnd + 4
            guard let contentEnd = Self.find(separator, in: body, from: contentStart) else {
                throw .invalidField(field: "body", reason: "a multipart form cut short")
            }
            guard parts.count < Self.maximumParts else {
                throw .invalidField(field: "body", reason: "more than \(Self.maximumParts) form fields")
            }
            parts.append(try Self.part(headers: headers, content: Array(body[contentStart..<contentEnd])))
            position = contentEnd + separator.count
        }
        self.parts = parts
    }

    private static func part(headers: String, content: [UInt8]) throws(AdalError) -> Part {
        var name: String?
        var filename: String?
        var type: String?
        for line in headers.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2 else { continue }
            let value = pair[1].trimmingCharacters(in: .whitespaces)
            switch pair[0].lowercased() {
            case "content-disposition":
                for parameter in value.split(separator: ";").dropFirst() {
                    let kv = parameter.split(separator: "=", maxSplits: 1).map {
                        $0.trimmingCharacters(in: .whitespaces)
                    }
                    guard kv.count == 2 else { continue }
                    let text =
                        kv[1].hasPrefix("\"") && kv[1].hasSuffix("\"") && kv[1].count >= 2
                        ? String(kv[1].dropFirst().dropLast()) : kv[1]
                    if kv[0] == "name" { name = text }
                    if kv[0] == "filename" { filename = text }
                }
            case "content-type": type = value
            default: continue
            }
        }
        guard let name, !name.isEmpty else { throw .invalidField(field: "body", reason: "a form part without a name") }
        return Part(name: name, filename: filename, contentType: type, content: content)
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard needle.count <= haystack.count - start, let first = needle.first else { return nil }
        var index = start
        let last = haystack.count - needle.count
        while index <= last {
            if haystack[index] == first && haystack[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    /// The text of the field `name` (the first one).
    subscript(name: String) -> String? {
        parts.first { $0.name == name && $0.filename == nil }.map { String(decoding: $0.content, as: UTF8.self) }
    }

    /// The files sent under `name` that are not empty (a file input left empty sends none).
    func files(_ name: String) -> [Part] {
        parts.filter { $0.name == name && $0.filename != nil && !$0.content.isEmpty }
    }
}

extension MultipartForm {
    /// Reads a multipart request body of at most `limit` bytes.
    static func read(_ request: Request, limit: Int) async throws -> MultipartForm {
        guard let boundary = boundary(contentType: request.headers[.contentType]) else {
            throw AdalError.invalidField(field: "body", reason: "a form with files (multipart/form-data)")
        }
        let body = try await request.readBody(limit: limit)
        return try MultipartForm(body: Array(buffer: body), boundary: boundary)
    }
}
