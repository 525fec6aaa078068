import Core
import Foundation

/// Every loaded definition, by key and version, with the Swift implementation of each service.
/// Loaded once at start and never changed: a definition is identified by key, version and the
/// SHA-256 of its file, and a second file claiming the same key and version is refused.
public struct WorkflowRegistry: Sendable {
    private var definitions: [String: [Int: WorkflowDefinition]] = [:]
    private var implementations: [String: ServiceImplementation] = [:]

    public init(implementations: [ServiceImplementation] = []) {
        for implementation in implementations { self.implementations[implementation.key] = implementation }
    }

    /// Loads `<directory>/*.yaml` (the current versions) and `<directory>/archive/*.yaml`
    /// (earlier versions that running instances may still be on).
    public static func load(
        directory: URL,
        implementations: [ServiceImplementation]
    ) throws -> WorkflowRegistry {
        var registry = WorkflowRegistry(implementations: implementations)
        for folder in [directory, directory.appendingPathComponent("archive")] {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            for name in names.sorted() where name.hasSuffix(".yaml") {
                let url = folder.appendingPathComponent(name)
                let bytes = Array(try Data(contentsOf: url))
                let current = folder == directory
                let label = folder.appendingPathComponent(name).relativePath
                let parsed = try DefinitionLoader.parse(bytes: bytes, file: label)
                try DefinitionValidator.validate(
                    parsed,
                    hooks: registry.implementation(parsed.key).hooks,
                    file: label,
                    expectedKey: current ? String(name.dropLast(5)) : nil
                )
                try registry.add(parsed)
            }
        }
        return registry
    }

    /// Adds a definition; the same key and version with other bytes is refused.
    public mutating func add(_ definition: WorkflowDefinition) throws(AdalError) {
        if let existing = definitions[definition.key]?[definition.version] {
            guard existing.sha256 == definition.sha256 else {
                throw .conflict(reason: "two different files define \(definition.reference)")
            }
            return
        }
        definitions[definition.key, default: [:]][definition.version] = definition
    }

    public func definition(_ key: String, version: Int) -> WorkflowDefinition? {
        definitions[key]?[version]
    }

    /// The highest loaded version of `key`.
    public func latest(_ key: String) -> WorkflowDefinition? {
        definitions[key]?.max { $0.key < $1.key }?.value
    }

    /// The definition a city runs: its pinned version, or the latest loaded one when it pinned
    /// none. A pinned version that is not loaded names the versions that are.
    public func resolve(_ key: String, pinned: Int?) throws(AdalError) -> WorkflowDefinition {
        guard let pinned else {
            guard let latest = latest(key) else { throw .notFound(what: "service \(key)") }
            return latest
        }
        guard let definition = definition(key, version: pinned) else {
            let loaded = versions(key).map(String.init).joined(separator: ", ")
            throw .invalidField(field: "version", reason: "\(key)@\(pinned) is not loaded (loaded: \(loaded))")
        }
        return definition
    }

    public func versions(_ key: String) -> [Int] {
        (definitions[key]?.keys).map { $0.sorted() } ?? []
    }

    /// The keys of every loaded service, sorted.
    public var keys: [String] { definitions.keys.sorted() }

    public func implementation(_ key: String) -> ServiceImplementation {
        implementations[key] ?? ServiceImplementation(key: key)
    }
}
