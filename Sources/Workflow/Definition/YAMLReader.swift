import Yams

/// Reads a composed YAML tree with the checks a definition needs: every value has the expected
/// shape, every mapping has only known keys, and every error carries the file, line and column.
struct YAMLValue {
    let node: Node
    let file: String
    /// Where the value sits in the document (`events[2].input.amount`), for messages.
    let path: String

    var location: SourceLocation {
        let mark = node.mark
        return SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    func fail(_ kind: DefinitionError.Kind, _ message: String) -> DefinitionError {
        DefinitionError(kind, message, at: location)
    }

    /// A plain scalar as text.
    func string() throws(DefinitionError) -> String {
        guard case .scalar(let scalar) = node else {
            throw fail(.wrongType, "\(path) must be a text value")
        }
        return scalar.string
    }

    func integer() throws(DefinitionError) -> Int64 {
        guard case .scalar(let scalar) = node, let value = Int64(scalar.string) else {
            throw fail(.wrongType, "\(path) must be a whole number")
        }
        return value
    }

    func bool() throws(DefinitionError) -> Bool {
        guard case .scalar(let scalar) = node, ["true", "false"].contains(scalar.string) else {
            throw fail(.wrongType, "\(path) must be true or false")
        }
        return scalar.string == "true"
    }

    /// A sequence, or a single scalar read as a one-element sequence (`from: draft`).
    func list(maximum: Int) throws(DefinitionError) -> [YAMLValue] {
        switch node {
        case .sequence(let sequence):
            guard sequence.count <= maximum else {
                throw fail(.tooLarge, "\(path) has \(sequence.count) items; at most \(maximum)")
            }
            return sequence.enumerated().map { YAMLValue(node: $1, file: file, path: "\(path)[\($0)]") }
        case .scalar:
            return [self]
        default:
            throw fail(.wrongType, "\(path) must be a list")
        }
    }

    /// A mapping whose keys must all be in `allowed`.
    func mapping(allowed: Set<String>) throws(DefinitionError) -> YAMLMapping {
        let mapping = try anyMapping(maximum: allowed.count)
        for (key, value) in mapping.entries where !allowed.contains(key) {
            let known = allowed.sorted().joined(separator: ", ")
            throw YAMLValue(node: value.keyNode, file: file, path: path)
                .fail(.unknownKey, "unknown key '\(key)' in \(path); expected one of: \(known)")
        }
        return mapping
    }

    /// A mapping with any keys (states, parameters, input fields), at most `maximum` of them.
    func anyMapping(maximum: Int) throws(DefinitionError) -> YAMLMapping {
        guard case .mapping(let mapping) = node else {
            throw fail(.wrongType, "\(path) must be a mapping of keys to values")
        }
        guard mapping.count <= maximum else {
            throw fail(.tooLarge, "\(path) has \(mapping.count) entries; at most \(maximum)")
        }
        var entries: [(String, YAMLMappingEntry)] = []
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else {
                throw YAMLValue(node: key, file: file, path: path).fail(.wrongType, "keys in \(path) must be text")
            }
            entries.append(
                (
                    scalar.string,
                    YAMLMappingEntry(
                        keyNode: key,
                        value: YAMLValue(node: value, file: file, path: "\(path).\(scalar.string)")
                    )
                )
            )
        }
        return YAMLMapping(owner: self, entries: entries)
    }
}

struct YAMLMappingEntry {
    let keyNode: Node
    let value: YAMLValue
}

/// The entries of one mapping, in file order.
struct YAMLMapping {
    let owner: YAMLValue
    let entries: [(String, YAMLMappingEntry)]

    func optional(_ key: String) -> YAMLValue? {
        entries.first { $0.0 == key }?.1.value
    }

    func required(_ key: String) throws(DefinitionError) -> YAMLValue {
        guard let value = optional(key) else {
            throw owner.fail(.missingKey, "\(owner.path) needs '\(key)'")
        }
        return value
    }

    /// Each entry with its key's location, for names checked later.
    var named: [(name: String, location: SourceLocation, value: YAMLValue)] {
        entries.map { entry in
            (entry.0, YAMLValue(node: entry.1.keyNode, file: owner.file, path: owner.path).location, entry.1.value)
        }
    }
}
