import Core
import Foundation
import TestSupport
import Testing
import Workflow

/// Random sequences of valid and invalid events against the engine and against a reference
/// model of the same definition, written separately and as plainly as possible: both must agree
/// on every state and every refusal.
@Suite("The engine agrees with a reference model")
struct EnginePropertyTests {
    /// What the model expects of one attempt.
    enum Outcome: Equatable, CustomStringConvertible {
        case moved(to: String)
        case unknownEvent
        case notAllowedHere
        case wrongRole
        case badInput

        var description: String {
            switch self {
            case .moved(let state): "moved to \(state)"
            case .unknownEvent: "unknown event"
            case .notAllowedHere: "not allowed in this state"
            case .wrongRole: "wrong role"
            case .badInput: "bad input"
            }
        }

        init(_ error: any Error) {
            switch error {
            case AdalError.invalidField(let field, _) where field == "event": self = .unknownEvent
            case AdalError.invalidField: self = .badInput
            case AdalError.conflict: self = .notAllowedHere
            case AdalError.forbidden: self = .wrongRole
            default: self = .badInput
            }
        }
    }

    /// The equipment-request rules, restated: event → (from states, to state, roles).
    static let rules: [String: (from: Set<String>, to: String, roles: Set<String>)] = [
        "approve": (["submitted", "escalated"], "approved", ["procurement_officer", "akimat_admin"]),
        "reject": (["submitted", "escalated"], "rejected", ["procurement_officer", "akimat_admin"]),
        "escalate": (["submitted"], "escalated", ["system"]),
        "withdraw": (["submitted", "escalated"], "withdrawn", ["school_admin"]),
        "deliver": (["approved"], "delivered", ["school_admin"]),
        "expire": (["approved"], "expired", ["system"]),
    ]

    static func model(state: String, event: String, actor: String, inputValid: Bool) -> Outcome {
        guard let rule = rules[event] else { return .unknownEvent }
        guard rule.from.contains(state) else { return .notAllowedHere }
        guard rule.roles.contains(actor) else { return .wrongRole }
        guard inputValid else { return .badInput }
        return .moved(to: rule.to)
    }

    static let receipt: InputValue = .object([
        "name": .string("receipt.pdf"), "media_type": .string("application/pdf"), "size": .integer(900),
        "sha256": .string(String(repeating: "0f", count: 32)),
    ])

    /// Valid input for `event`, or input that breaks one of its field rules.
    static func input(for event: String, valid: Bool) -> [String: InputValue] {
        switch (event, valid) {
        case ("reject", true): ["reason": .string("duplicate")]
        case ("reject", false): ["reason": .string("boring")]
        case ("deliver", true): ["receipt": receipt]
        case ("deliver", false): [:]
        case ("approve", true): ["note": .string("ok")]
        case (_, true): [:]
        default: ["unexpected": .integer(1)]
        }
    }

    @Test("random event sequences: same states, same refusals", arguments: [1, 2, 3])
    func randomSequences(seed: UInt64) async throws {
        try await EngineFixture.with { fixture in
            var random = SplitMix64(seed: seed)
            let events = Array(Self.rules.keys).sorted() + ["teleport"]
            let actors: [(String, StepActor)] = [
                ("school_admin", fixture.schoolAdmin), ("procurement_officer", fixture.officer),
                ("akimat_admin", fixture.akimatAdmin), ("system", .system),
            ]
            var checked = 0
            for _ in 0..<12 {
                let id = try await fixture.startRequest().instanceID
                var state = "submitted"
                var sequence: Int64 = 1
                for _ in 0..<10 {
                    let event = events[Int(random.next() % UInt64(events.count))]
                    let (role, actor) = actors[Int(random.next() % UInt64(actors.count))]
                    let valid = random.next() % 4 != 0
                    let expected = Self.model(state: state, event: event, actor: role, inputValid: valid)
                    let actual: Outcome
                    do {
                        let result = try await fixture.fire(
                            event,
                            on: id,
                            as: actor,
                            input: Self.input(for: event, valid: valid)
                        )
                        actual = .moved(to: result.toState)
                        #expect(result.sequence == sequence + 1)
                    } catch {
                        actual = Outcome(error)
                    }
                    #expect(actual == expected, "seed \(seed): \(event) by \(role) in \(state) (valid input: \(valid))")
                    if case .moved(let next) = expected {
                        state = next
                        sequence += 1
                    }
                    checked += 1
                }
                let stored = try await fixture.count(
                    "SELECT count(*) FROM workflow_instances WHERE id = \(id) AND state = \(state) AND last_sequence = \(sequence)"
                )
                #expect(stored == 1, "seed \(seed): instance should be in \(state) after \(sequence) steps")
                #expect(
                    try await fixture.count("SELECT count(*) FROM workflow_steps WHERE instance_id = \(id)")
                        == Int(sequence)
                )
            }
            #expect(checked == 120)
        }
    }
}
