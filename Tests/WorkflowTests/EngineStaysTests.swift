import Core
import Foundation
import Testing
import Workflow

@Suite("Events that stay in their state")
struct EngineStaysTests {
    /// The example with a `comment` event that records a step without leaving the state.
    static func engine(_ fixture: EngineFixture) throws -> WorkflowEngine {
        let text = String(decoding: try Fixtures.bytes("valid/equipment-request.yaml"), as: UTF8.self)
            .replacingOccurrences(
                of: "events:\n",
                with: """
                    events:
                      - name: comment
                        title: {kk: Пікір, ru: Комментарий, en: Comment}
                        from: [submitted, escalated]
                        stays: true
                        roles: [procurement_officer]
                        input:
                          note: {type: string, max_length: 500}

                    """
            )
        var registry = WorkflowRegistry(implementations: [EquipmentRequestService.implementation])
        try registry.add(
            try DefinitionLoader.load(
                bytes: Array(text.utf8),
                file: "equipment-request.yaml",
                hooks: Fixtures.equipmentHooks
            )
        )
        return WorkflowEngine(database: fixture.databases.application, registry: registry)
    }

    @Test("a step that stays keeps the state's entry, its task's due date and its pending escalation")
    func keepsTimers() async throws {
        try await EngineFixture.with { fixture in
            let engine = try Self.engine(fixture)
            let started = try await engine.start(
                tenantID: fixture.astana.id,
                service: "equipment-request",
                actor: fixture.schoolAdmin,
                input: EngineFixture.validStart
            )
            let id = started.instanceID
            let before = try await fixture.count(
                "SELECT extract(epoch FROM task_due_at)::bigint FROM workflow_instances WHERE id = \(id)"
            )
            let step = try await engine.fire(
                tenantID: fixture.astana.id,
                instanceID: id,
                event: "comment",
                actor: fixture.officer,
                input: ["note": .string("Checking the price with two shops")]
            )
            #expect(step.fromState == "submitted" && step.toState == "submitted" && step.sequence == 2)
            #expect(try await fixture.count("SELECT state_sequence FROM workflow_instances WHERE id = \(id)") == 1)
            #expect(try await fixture.count("SELECT last_sequence FROM workflow_instances WHERE id = \(id)") == 2)
            #expect(
                try await fixture.count(
                    "SELECT extract(epoch FROM task_due_at)::bigint FROM workflow_instances WHERE id = \(id)"
                ) == before
            )
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM jobs WHERE instance_id = \(id) AND kind = 'escalation' AND status = 'pending' AND state_sequence = 1"
                ) == 1
            )
            #expect(
                try await fixture.count("SELECT count(*) FROM jobs WHERE instance_id = \(id) AND kind <> 'outbox'") == 1
            )
            // The state's other events still apply, and moving on cancels the kept escalation.
            try await engine.fire(
                tenantID: fixture.astana.id,
                instanceID: id,
                event: "approve",
                actor: fixture.officer,
                input: [:]
            )
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM jobs WHERE instance_id = \(id) AND kind = 'escalation' AND status = 'cancelled'"
                ) == 1
            )
        }
    }

    @Test("an event that stays and names a target state is refused when the file is read")
    func staysWithTarget() throws {
        let text = String(decoding: try Fixtures.bytes("valid/equipment-request.yaml"), as: UTF8.self)
            .replacingOccurrences(of: "    to: withdrawn\n", with: "    to: withdrawn\n    stays: true\n")
        #expect(throws: DefinitionError.self) {
            try DefinitionLoader.load(
                bytes: Array(text.utf8),
                file: "equipment-request.yaml",
                hooks: Fixtures.equipmentHooks
            )
        }
    }
}
