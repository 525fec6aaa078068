import Core
import Foundation
import Testing
import Workflow

@Suite("Moving instances to another version")
struct EngineMigrationTests {
    /// Version 2 of the example: the escalated state is renamed.
    static func versionTwo() throws -> WorkflowDefinition {
        let text = String(decoding: try Fixtures.bytes("valid/equipment-request.yaml"), as: UTF8.self)
            .replacingOccurrences(of: "version: 1", with: "version: 2")
            .replacingOccurrences(of: "escalated", with: "with_admin")
        return try DefinitionLoader.load(
            bytes: Array(text.utf8),
            file: "equipment-request.yaml",
            hooks: Fixtures.equipmentHooks
        )
    }

    static func engine(_ fixture: EngineFixture) throws -> WorkflowEngine {
        var registry = try EngineFixture.registry()
        try registry.add(try versionTwo())
        return WorkflowEngine(database: fixture.databases.application, registry: registry)
    }

    @Test("a map that would strand an instance is refused and nothing moves")
    func strandedRefused() async throws {
        try await EngineFixture.with { fixture in
            let engine = try Self.engine(fixture)
            let id = try await fixture.startRequest().instanceID
            try await fixture.fire("escalate", on: id, as: .system)
            await #expect {
                try await engine.migrate(
                    tenantID: fixture.astana.id,
                    service: "equipment-request",
                    from: 1,
                    to: 2,
                    stateMap: [:],
                    actor: fixture.akimatAdmin
                )
            } throws: { error in
                guard case AdalError.invalidField(let field, let reason) = error else { return false }
                return field == "map" && reason.contains("'escalated'")
            }
            #expect(
                try await fixture.count("SELECT count(*) FROM workflow_instances WHERE definition_version = 1") == 1
            )
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE event = 'migrate'") == 0)
        }
    }

    @Test("running instances move with a recorded step; finished ones stay; timers restart on the new version")
    func moves() async throws {
        try await EngineFixture.with { fixture in
            let engine = try Self.engine(fixture)
            let waiting = try await fixture.startRequest().instanceID
            let escalated = try await fixture.startRequest().instanceID
            try await fixture.fire("escalate", on: escalated, as: .system)
            let approved = try await fixture.startRequest().instanceID
            try await fixture.fire("approve", on: approved, as: fixture.officer)
            let withdrawn = try await fixture.startRequest().instanceID
            try await fixture.fire("withdraw", on: withdrawn, as: fixture.schoolAdmin)

            let moved = try await engine.migrate(
                tenantID: fixture.astana.id,
                service: "equipment-request",
                from: 1,
                to: 2,
                stateMap: ["escalated": "with_admin"],
                actor: fixture.akimatAdmin
            )
            #expect(moved == 3)
            #expect(
                try await fixture.count("SELECT count(*) FROM workflow_instances WHERE definition_version = 2") == 3
            )
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM workflow_instances WHERE id = \(withdrawn) AND definition_version = 1"
                ) == 1
            )
            #expect(
                try await fixture.count(
                    """
                    SELECT count(*) FROM workflow_steps WHERE instance_id = \(escalated) AND event = 'migrate'
                      AND from_state = 'escalated' AND to_state = 'with_admin' AND (input->>'to_version')::int = 2
                    """
                ) == 1
            )
            // The approved instance's timer was replaced by one tied to the migrate step.
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM jobs WHERE instance_id = \(approved) AND kind = 'timer' AND status = 'pending' AND state_sequence = 3"
                ) == 1
            )
            // Version 2's events apply from now on.
            let result = try await engine.fire(
                tenantID: fixture.astana.id,
                instanceID: escalated,
                event: "approve",
                actor: fixture.akimatAdmin,
                input: [:]
            )
            #expect(result.fromState == "with_admin")
            #expect(try await fixture.count("SELECT count(*) FROM audit_queue") == 4 + 3 + 3 + 1)
            _ = waiting
        }
    }
}

@Suite("Which version a city runs")
struct RegistryResolveTests {
    @Test("the pinned version, the latest when none is pinned, and a named refusal for a version not loaded")
    func resolve() throws {
        var registry = try EngineFixture.registry()
        try registry.add(try EngineMigrationTests.versionTwo())
        #expect(try registry.resolve("equipment-request", pinned: nil).version == 2)
        #expect(try registry.resolve("equipment-request", pinned: 1).version == 1)
        #expect(
            throws: AdalError.invalidField(field: "version", reason: "equipment-request@7 is not loaded (loaded: 1, 2)")
        ) {
            try registry.resolve("equipment-request", pinned: 7)
        }
        #expect(throws: AdalError.notFound(what: "service nothing")) { try registry.resolve("nothing", pinned: nil) }
    }
}
