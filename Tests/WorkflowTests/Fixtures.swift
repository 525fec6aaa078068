import Foundation
import Workflow

/// The definition files the workflow tests read, copied into the test bundle.
enum Fixtures {
    static var directory: URL {
        Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
    }

    static func bytes(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(path)))
    }

    static func names(in folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent(folder).path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
    }

    /// The guards and actions the equipment-request example implements.
    static let equipmentHooks = ServiceHooks(guards: ["within_amount_limit"], actions: ["describe_request"])

    static func equipmentRequest() throws -> WorkflowDefinition {
        try DefinitionLoader.load(
            bytes: try bytes("valid/equipment-request.yaml"),
            file: "equipment-request.yaml",
            hooks: equipmentHooks
        )
    }
}
