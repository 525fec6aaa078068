import Core
import Foundation
import Testing
import Workflow

@Suite("Idempotent and concurrent steps")
struct EngineIdempotencyTests {
    @Test("a retried start with the same key and input returns the first result and starts nothing new")
    func retriedStart() async throws {
        try await EngineFixture.with { fixture in
            let first = try await fixture.startRequest(key: "req-1")
            let retry = try await fixture.startRequest(key: "req-1")
            #expect(retry.replayed)
            #expect(retry.instanceID == first.instanceID)
            #expect(retry.sequence == first.sequence)
            #expect(abs(retry.at.timeIntervalSince(first.at)) < 0.001)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_instances") == 1)
        }
    }

    @Test("the same key with another input is refused")
    func keyWithOtherInput() async throws {
        try await EngineFixture.with { fixture in
            _ = try await fixture.startRequest(key: "req-1")
            var other = EngineFixture.validStart
            other["quantity"] = .integer(3)
            await #expect(throws: AdalError.conflict(reason: "idempotency key already used with a different request")) {
                _ = try await fixture.startRequest(other, key: "req-1")
            }
            let id = try await fixture.startRequest(key: "req-2").instanceID
            await #expect(throws: AdalError.self) {
                try await fixture.fire("approve", on: id, as: fixture.officer, key: "req-1")
            }
        }
    }

    @Test("a retried event with the same key is applied once")
    func retriedEvent() async throws {
        try await EngineFixture.with { fixture in
            let id = try await fixture.startRequest().instanceID
            let fire = { @Sendable in
                try await fixture.fire("approve", on: id, as: fixture.officer, key: "approve-1")
            }
            let first = try await fire()
            let second = try await fire()
            #expect(!first.replayed)
            #expect(second.replayed)
            #expect(second.sequence == 2)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE instance_id = \(id)") == 2)
        }
    }

    @Test("concurrent requests with one key start one instance")
    func concurrentSameKey() async throws {
        try await EngineFixture.with { fixture in
            let results = try await withThrowingTaskGroup(of: StepResult.self) { group in
                for _ in 0..<8 { group.addTask { try await fixture.startRequest(key: "same") } }
                return try await group.reduce(into: [StepResult]()) { $0.append($1) }
            }
            #expect(Set(results.map(\.instanceID)).count == 1)
            #expect(results.filter { !$0.replayed }.count == 1)
            #expect(try await fixture.count("SELECT count(*) FROM workflow_instances") == 1)
        }
    }

    @Test("concurrent events on one instance serialise: one approve or reject wins, the other is refused")
    func concurrentEvents() async throws {
        try await EngineFixture.with { fixture in
            for _ in 0..<5 {
                let id = try await fixture.startRequest().instanceID
                let outcomes = await withTaskGroup(of: Bool.self) { group in
                    for event in ["approve", "withdraw", "approve", "withdraw"] {
                        group.addTask {
                            let actor = event == "approve" ? fixture.officer : fixture.schoolAdmin
                            return
                                (try? await fixture.engine.fire(
                                    tenantID: fixture.astana.id,
                                    instanceID: id,
                                    event: event,
                                    actor: actor,
                                    input: [:]
                                )) != nil
                        }
                    }
                    return await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                #expect(outcomes.filter { $0 }.count == 1)
                #expect(try await fixture.count("SELECT count(*) FROM workflow_steps WHERE instance_id = \(id)") == 2)
            }
        }
    }

    @Test("steps on different instances run side by side")
    func independentInstances() async throws {
        try await EngineFixture.with { fixture in
            var ids: [UUID] = []
            for _ in 0..<20 { ids.append(try await fixture.startRequest().instanceID) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in ids {
                    group.addTask {
                        try await fixture.fire("approve", on: id, as: fixture.officer)
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await fixture.count("SELECT count(*) FROM workflow_instances WHERE state = 'approved'") == 20)
        }
    }
}
