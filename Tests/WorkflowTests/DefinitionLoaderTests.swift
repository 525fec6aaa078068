import Foundation
import Testing
import Workflow

@Suite("Workflow definitions")
struct DefinitionLoaderTests {
    @Test("the example definition loads with its states, events, parameters and timers")
    func exampleLoads() throws {
        let definition = try Fixtures.equipmentRequest()
        #expect(definition.reference == "equipment-request@1")
        #expect(definition.initialState.name == "submitted")
        #expect(
            definition.states.map(\.name) == [
                "submitted", "escalated", "approved", "delivered", "rejected", "expired", "withdrawn",
            ]
        )
        #expect(definition.events(from: "submitted").map(\.name) == ["approve", "reject", "escalate", "withdraw"])
        #expect(definition.start.to == "submitted")
        #expect(definition.start.input.map(\.name) == ["school_bin", "item", "quantity", "amount", "needed_by"])
        #expect(definition.parameter("review_time")?.defaultValue == .duration(.workingDays(5)))
        #expect(definition.state("approved")?.timers.first?.after == .parameter("delivery_time"))
        #expect(definition.state("submitted")?.task?.escalateEvent == "escalate")
        #expect(definition.sha256.count == 64)
    }

    @Test("the identity of a definition is the SHA-256 of its bytes")
    func identity() throws {
        var bytes = try Fixtures.bytes("valid/equipment-request.yaml")
        let first = try DefinitionLoader.parse(bytes: bytes, file: "equipment-request.yaml")
        bytes += Array("\n# a comment changes the file\n".utf8)
        let second = try DefinitionLoader.parse(bytes: bytes, file: "equipment-request.yaml")
        #expect(first.sha256 != second.sha256)
        #expect(
            first.sha256
                == (try DefinitionLoader.parse(bytes: Fixtures.bytes("valid/equipment-request.yaml"), file: "x")).sha256
        )
    }

    /// Each invalid fixture breaks exactly one rule; the first problem reported must be that
    /// rule, at the line and column where the file breaks it.
    static let expected: [String: (DefinitionError.Kind, Int, Int)] = [
        "anchor.yaml": (.syntax, 19, 9),
        "bad-bounds.yaml": (.badBounds, 10, 10),
        "bad-duration.yaml": (.badDuration, 9, 14),
        "bad-name.yaml": (.badName, 19, 3),
        "duplicate-event.yaml": (.duplicateEvent, 36, 5),
        "initial-state.yaml": (.initialState, 19, 3),
        "key-mismatch.yaml": (.keyMismatch, 1, 1),
        "missing-key.yaml": (.missingKey, 20, 5),
        "no-way-out.yaml": (.noWayOut, 22, 3),
        "parameter-out-of-bounds.yaml": (.parameterOutOfBounds, 9, 14),
        "syntax.yaml": (.syntax, 22, 6),
        "terminal-with-events.yaml": (.terminalWithEvents, 19, 3),
        "timer-event.yaml": (.timerEvent, 17, 9),
        "too-large.yaml": (.tooLarge, 4, 16),
        "unknown-action.yaml": (.unknownAction, 26, 5),
        "unknown-event.yaml": (.unknownEvent, 17, 9),
        "unknown-field-type.yaml": (.wrongType, 25, 20),
        "unknown-guard.yaml": (.unknownGuard, 26, 5),
        "unknown-key.yaml": (.unknownKey, 15, 5),
        "unknown-parameter.yaml": (.unknownParameter, 17, 9),
        "unknown-role.yaml": (.unknownRole, 30, 13),
        "unknown-state.yaml": (.unknownState, 26, 5),
        "unreachable-state.yaml": (.unreachableState, 22, 3),
        "wrong-type.yaml": (.wrongType, 2, 10),
    ]

    @Test("each kind of mistake is named with its file, line and column", arguments: try Fixtures.names(in: "invalid"))
    func invalidFixture(name: String) throws {
        let expectation = try #require(Self.expected[name], "no expectation for fixture \(name)")
        let error = try #require(throws: DefinitionError.self) {
            try DefinitionLoader.load(bytes: try Fixtures.bytes("invalid/\(name)"), file: name, hooks: .none)
        }
        let problem = try #require(error.problems.first)
        #expect(problem.kind == expectation.0, "\(error)")
        #expect(problem.location == SourceLocation(file: name, line: expectation.1, column: expectation.2), "\(error)")
        #expect(error.description.hasPrefix("\(name):\(expectation.1):\(expectation.2): "))
    }

    @Test("every kind of problem has a fixture")
    func everyKindCovered() {
        let covered = Set(Self.expected.values.map(\.0))
        let uncovered = DefinitionError.Kind.allCases.filter { !covered.contains($0) }
        #expect(uncovered.isEmpty, "no fixture for \(uncovered)")
    }

    @Test("the validator reports every problem, not only the first")
    func allProblems() throws {
        let error = try #require(throws: DefinitionError.self) {
            try DefinitionLoader.load(
                bytes: try Fixtures.bytes("valid/equipment-request.yaml"),
                file: "equipment-request.yaml",
                hooks: .none
            )
        }
        #expect(error.problems.map(\.kind) == [.unknownGuard, .unknownAction])
    }

    @Test("a file over the size limit is refused before parsing")
    func sizeLimit() throws {
        let bytes = [UInt8](repeating: UInt8(ascii: "#"), count: DefinitionLoader.maximumBytes + 1)
        let error = try #require(throws: DefinitionError.self) {
            try DefinitionLoader.parse(bytes: bytes, file: "big.yaml")
        }
        #expect(error.problems.first?.kind == .tooLarge)
    }

    @Test("deep block nesting and flow nesting are refused without recursion")
    func nestingLimits() throws {
        let deepFlow = "key: " + String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let deepBlock = (0..<200).map { String(repeating: " ", count: $0) + "k\($0):" }.joined(separator: "\n")
        let compact = "roles: " + String(repeating: "- ", count: 50_000) + "x"
        for text in [deepFlow, deepBlock, compact] {
            let error = try #require(throws: DefinitionError.self) {
                try DefinitionLoader.parse(bytes: Array(text.utf8), file: "deep.yaml")
            }
            #expect([.tooLarge, .syntax].contains(error.problems.first?.kind))
        }
    }

    @Test("text that is not UTF-8 is refused with a reason")
    func notUTF8() throws {
        let error = try #require(throws: DefinitionError.self) {
            try DefinitionLoader.parse(bytes: [0x6b, 0x65, 0x79, 0x3a, 0x20, 0xff, 0xfe], file: "bin.yaml")
        }
        #expect(error.description.contains("UTF-8"))
    }
}
