import Core
import Foundation

/// A step's input after it was checked against its event's fields.
public struct CheckedInput: Sendable, Equatable {
    /// Only the declared fields, with absent optional ones left out.
    public let values: [String: InputValue]
    /// Money fields, for the audit leaf's amounts, in declaration order.
    public let amounts: [(label: String, tiyn: Int64)]
    /// IIN and BIN values, which enter the audit leaf only as keyed hashes.
    public let identifiers: [String]
    /// `values` as canonical JSON: what the step records (made once, when its size is checked).
    public let json: String

    public static func == (lhs: CheckedInput, rhs: CheckedInput) -> Bool {
        lhs.values == rhs.values
    }

    public subscript(field: String) -> InputValue? { values[field] }

    public func string(_ field: String) -> String? {
        if case .string(let value) = values[field] { return value }
        return nil
    }

    public func integer(_ field: String) -> Int64? {
        if case .integer(let value) = values[field] { return value }
        return nil
    }
}

/// Checks input against an event's typed fields; every refusal names the field and the rule.
public enum InputChecker {
    /// Most bytes of a step's input as canonical JSON.
    public static let maximumInputBytes = 256 * 1024

    public static func check(
        _ input: [String: InputValue],
        against fields: [FieldDefinition]
    ) throws(AdalError) -> CheckedInput {
        for name in input.keys.sorted() where !fields.contains(where: { $0.name == name }) {
            let known = fields.map(\.name).joined(separator: ", ")
            throw .invalidField(
                field: "input.\(name)",
                reason: known.isEmpty ? "this event takes no input" : "unknown field; expected: \(known)"
            )
        }
        var values: [String: InputValue] = [:]
        var amounts: [(label: String, tiyn: Int64)] = []
        var identifiers: [String] = []
        for field in fields {
            let path = "input.\(field.name)"
            guard let value = input[field.name], value != .null else {
                if field.required { throw .invalidField(field: path, reason: "required") }
                continue
            }
            var stored = value
            switch field.type {
            case .string(let maximumLength):
                let text = try string(value, path)
                guard !text.trimmingWhitespace().isEmpty else {
                    throw .invalidField(field: path, reason: "must not be empty")
                }
                guard text.count <= maximumLength else {
                    throw .invalidField(field: path, reason: "at most \(maximumLength) characters")
                }
                guard !text.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" && $0 != "\t" }) else {
                    throw .invalidField(field: path, reason: "contains control characters")
                }
            case .int(let minimum, let maximum), .money(let minimum, let maximum):
                guard case .integer(let number) = value else {
                    let unit = field.type.name == "money" ? " of tiyn" : ""
                    throw .invalidField(field: path, reason: "must be a whole number\(unit)")
                }
                guard (minimum...maximum).contains(number) else {
                    throw .invalidField(field: path, reason: "must be from \(minimum) to \(maximum)")
                }
                if case .money = field.type { amounts.append((field.name, number)) }
            case .date:
                let text = try string(value, path)
                guard Self.isDate(text) else {
                    throw .invalidField(field: path, reason: "must be a date as YYYY-MM-DD")
                }
            case .iin, .bin:
                let kind: NationalIdentifier.Kind = field.type == .iin ? .iin : .bin
                let identifier = try NationalIdentifier(try string(value, path), kind: kind, field: path)
                identifiers.append(identifier.digits)
                stored = .string(identifier.digits)
            case .enumeration(let allowed):
                let text = try string(value, path)
                guard allowed.contains(text) else {
                    throw .invalidField(field: path, reason: "must be one of: \(allowed.joined(separator: ", "))")
                }
            case .reference:
                let text = try string(value, path)
                guard UUID(uuidString: text) != nil else {
                    throw .invalidField(field: path, reason: "must be an id (UUID)")
                }
            case .file(let mediaTypes, let maximumBytes):
                try checkFile(value, path: path, mediaTypes: mediaTypes, maximumBytes: maximumBytes)
            }
            values[field.name] = stored
        }
        let json = InputValue.object(values).canonicalJSON
        guard json.utf8.count <= maximumInputBytes else {
            throw .tooLarge(limit: "step input", maximumBytes: maximumInputBytes)
        }
        return CheckedInput(values: values, amounts: amounts, identifiers: identifiers, json: json)
    }

    private static func string(_ value: InputValue, _ path: String) throws(AdalError) -> String {
        guard case .string(let text) = value else { throw .invalidField(field: path, reason: "must be text") }
        return text
    }

    /// `YYYY-MM-DD` naming a day that exists.
    static func isDate(_ text: String) -> Bool {
        guard text.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}/) != nil else { return false }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        let (year, month, day) = (parts[0], parts[1], parts[2])
        guard (1900...2200).contains(year), (1...12).contains(month), day >= 1 else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let lengths = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        return day <= lengths[month - 1]
    }

    /// A file is described, not carried: name, media type, size in bytes and SHA-256 (hex).
    private static func checkFile(
        _ value: InputValue,
        path: String,
        mediaTypes: [String],
        maximumBytes: Int
    ) throws(AdalError) {
        guard case .object(let members) = value else {
            throw .invalidField(field: path, reason: "must be an object with name, media_type, size and sha256")
        }
        for key in members.keys where !["name", "media_type", "size", "sha256"].contains(key) {
            throw .invalidField(field: "\(path).\(key)", reason: "unknown field")
        }
        guard case .string(let name) = members["name"], (1...255).contains(name.count), !name.contains("/") else {
            throw .invalidField(field: "\(path).name", reason: "1 to 255 characters, no '/'")
        }
        guard case .string(let mediaType) = members["media_type"], mediaTypes.contains(mediaType) else {
            throw .invalidField(
                field: "\(path).media_type",
                reason: "must be one of: \(mediaTypes.joined(separator: ", "))"
            )
        }
        guard case .integer(let size) = members["size"], (1...Int64(maximumBytes)).contains(size) else {
            throw .invalidField(field: "\(path).size", reason: "must be 1 to \(maximumBytes) bytes")
        }
        guard case .string(let sha256) = members["sha256"], sha256.wholeMatch(of: /[0-9a-f]{64}/) != nil else {
            throw .invalidField(field: "\(path).sha256", reason: "must be 64 lower-case hex digits")
        }
    }
}
