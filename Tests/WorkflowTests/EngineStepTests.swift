import Core
import Foundation
import PostgresNIO
import Storage
import Testing
import Workflow

@Suite("Workflow steps")
struct EngineStepTests {
    @Test("starting an instance writes the instance, its first step, the task's escalation and one audit leaf")
    func start() async throws {
        try await EngineFixture.with { fixture in
            let result = try await fixture.startRequest()
            #expect(result.sequence == 1)
            #expect(result.fromState == nil)
            #expect(result.toState == "submitted")
            #expect(!result.replayed)
            let id = result.instanceID
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE instance_id = \(id)") == 1)
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM workflow_instances WHERE id = \(id) AND task_role = 'procurement_officer' AND subject = 'Oven × 2'"
                ) == 1
            )
            #expect(
                try await fixture.count("SELECT count(*) FROM jobs WHERE kind = 'escalation' AND event = 'escalate'")
                    == 1
            )
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM jobs WHERE kind = 'outbox' AND topic = 'request.submitted'"
                ) == 1
            )
            #expect(try await fixture.count("SELECT count(*) FROM audit_queue") == 1)
        }
    }

    @Test("the task is due after the city's number of working days")
    func dueDate() async throws {
        // Friday 20 November 2026, 10:00 in Astana; five working days later is Friday 27 November.
        let friday = Date(timeIntervalSince1970: 1_795_150_800)
        let clock: @Sendable () -> Date = { friday }
        try await EngineFixture.with(clock: clock) { fixture in
            let id = try await fixture.startRequest().instanceID
            let due = try await fixture.count(
                "SELECT extract(epoch FROM task_due_at)::bigint FROM workflow_instances WHERE id = \(id)"
            )
            #expect(due == 1_795_150_800 + 7 * 86_400)
        }
    }

    @Test("an event moves the instance, cancels the old state's escalation and starts the new state's timer")
    func transition() async throws {
        try await EngineFixture.with { fixture in
            let id = try await fixture.startRequest().instanceID
            let result = try await fixture.engine.fire(
                tenantID: fixture.astana.id,
                instanceID: id,
                event: "approve",
                actor: fixture.officer,
                input: ["note": .string("Budget line 4")]
            )
            #expect(result.sequence == 2)
            #expect(result.fromState == "submitted")
            #expect(result.toState == "approved")
            #expect(
                try await fixture.count("SELECT count(*) FROM jobs WHERE kind = 'escalation' AND status = 'cancelled'")
                    == 1
            )
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM jobs WHERE kind = 'timer' AND event = 'expire' AND status = 'pending' AND state_sequence = 2"
                ) == 1
            )
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM workflow_instances WHERE id = \(id) AND state = 'approved' AND task_role IS NULL"
                ) == 1
            )
        }
    }

    @Test("refusals write nothing", arguments: RefusalCase.allCases)
    func refusal(kind: RefusalCase) async throws {
        try await EngineFixture.with { fixture in
            let id = try await fixture.startRequest().instanceID
            let before = try await fixture.count("SELECT count(*) FROM workflow_steps")
            let error = await #expect(throws: (any Error).self) {
                switch kind {
                case .wrongRole:
                    try await fixture.fire("approve", on: id, as: fixture.schoolAdmin)
                case .notFromThisState:
                    try await fixture.fire("deliver", on: id, as: fixture.schoolAdmin)
                case .unknownEvent:
                    try await fixture.fire("teleport", on: id, as: fixture.officer)
                case .badInput:
                    _ = try await fixture.engine.fire(
                        tenantID: fixture.astana.id,
                        instanceID: id,
                        event: "reject",
                        actor: fixture.officer,
                        input: ["reason": .string("bored")]
                    )
                case .guardRefuses:
                    var input = EngineFixture.validStart
                    input["amount"] = .integer(900_000_00)
                    _ = try await fixture.startRequest(input)
                case .systemOnlyEvent:
                    try await fixture.fire("escalate", on: id, as: fixture.akimatAdmin)
                case .otherCity:
                    _ = try await fixture.engine.fire(
                        tenantID: fixture.shymkent.id,
                        instanceID: id,
                        event: "approve",
                        actor: fixture.officer,
                        input: [:]
                    )
                }
            }
            #expect(kind.matches(error), "\(String(describing: error))")
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps") == before)
            #expect(try await fixture.count("SELECT count(*) FROM audit_queue") == 1)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_instances") == 1)
        }
    }

    enum RefusalCase: String, CaseIterable, Sendable {
        case wrongRole, notFromThisState, unknownEvent, badInput, guardRefuses, systemOnlyEvent, otherCity

        func matches(_ error: (any Error)?) -> Bool {
            switch (self, error) {
            case (.wrongRole, AdalError.forbidden(let reason)?): reason.contains("procurement_officer")
            case (.systemOnlyEvent, AdalError.forbidden(let reason)?): reason.contains("system")
            case (.notFromThisState, AdalError.conflict(let reason)?):
                reason.contains("not allowed in state 'submitted'")
            case (.unknownEvent, AdalError.invalidField(let field, _)?): field == "event"
            case (.badInput, AdalError.invalidField(let field, _)?): field == "input.reason"
            case (.guardRefuses, WorkflowError.refused(let reason)?): reason.contains("limit")
            case (.otherCity, AdalError.notFound?): true
            default: false
            }
        }
    }

    @Test("a service the city has not enabled cannot be started")
    func notEnabled() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.databases.application.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "DELETE FROM tenant_services WHERE tenant_id = \(fixture.astana.id)",
                    logger: fixture.databases.application.logger
                )
            }
            await #expect(throws: AdalError.notFound(what: "service equipment-request in this city")) {
                _ = try await fixture.startRequest()
            }
        }
    }

    @Test("the city's parameters apply and are frozen into the instance")
    func parameters() async throws {
        try await EngineFixture.with { fixture in
            try await fixture.databases.application.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    """
                    UPDATE tenant_services SET parameters = '{"amount_limit": 10000000}'
                    WHERE tenant_id = \(fixture.astana.id)
                    """,
                    logger: fixture.databases.application.logger
                )
            }
            await #expect(throws: WorkflowError.self) { _ = try await fixture.startRequest() }
            var small = EngineFixture.validStart
            small["amount"] = .integer(90_000_00)
            let id = try await fixture.startRequest(small).instanceID
            #expect(
                try await fixture.count(
                    "SELECT (parameters->>'amount_limit')::bigint FROM workflow_instances WHERE id = \(id)"
                ) == 10_000_000
            )
        }
    }

    @Test(
        "an instance's definition hash is 64 characters, each a digit or a to f (migration 0030's check)",
        arguments: [
            String(repeating: "A", count: 64), String(repeating: "a", count: 63), String(repeating: "a", count: 65),
            String(repeating: "a", count: 32) + "g" + String(repeating: "a", count: 31),
            String(repeating: "a", count: 63) + "\u{0430}", String(repeating: "a", count: 63) + "\n",
            String(repeating: "a", count: 63) + " ", "",
        ]
    )
    func definitionHashRule(refused: String) async throws {
        try await EngineFixture.with { fixture in
            let id = try await fixture.startRequest().instanceID
            let kept = String(repeating: "0123456789abcdef", count: 4)
            try await fixture.execute("UPDATE workflow_instances SET definition_sha256 = \(kept) WHERE id = \(id)")
            do {
                try await fixture.execute(
                    "UPDATE workflow_instances SET definition_sha256 = \(refused) WHERE id = \(id)"
                )
                Issue.record("\(refused.debugDescription) was stored")
            } catch let error as PSQLError {
                #expect(error.sqlState == SQLState.checkViolation)
            }
            #expect(
                try await fixture.count(
                    "SELECT count(*) FROM workflow_instances WHERE id = \(id) AND definition_sha256 = \(kept)"
                ) == 1
            )
        }
    }
}
