import Core
import Testing
import Workflow

@Suite("Step input")
struct InputCheckerTests {
    let start = try! Fixtures.equipmentRequest().start

    var validInput: [String: InputValue] {
        [
            "school_bin": .string("940140000385"), "item": .string("Oven"), "quantity": .integer(2),
            "amount": .integer(120_000_00),
        ]
    }

    @Test("typed input is accepted, with money as amounts and identifiers kept apart")
    func accepted() throws {
        let checked = try InputChecker.check(validInput, against: start.input)
        #expect(checked.amounts.map(\.label) == ["amount"])
        #expect(checked.amounts.map(\.tiyn) == [120_000_00])
        #expect(checked.identifiers == ["940140000385"])
        #expect(checked.values["needed_by"] == nil)
    }

    @Test(
        "each broken rule names its field",
        arguments: [
            ("quantity", InputValue.integer(0), "from 1 to 1000"),
            ("quantity", .string("2"), "whole number"),
            ("amount", .string("12.50"), "whole number of tiyn"),
            ("school_bin", .string("123456789012"), "check digit"),
            ("needed_by", .string("2026-02-30"), "YYYY-MM-DD"),
            ("item", .string("   "), "must not be empty"),
            ("item", .string(String(repeating: "x", count: 201)), "at most 200"),
            ("colour", .string("red"), "unknown field"),
        ]
    )
    func refused(field: String, value: InputValue, reason: String) {
        var input = validInput
        input[field] = value
        #expect {
            try InputChecker.check(input, against: start.input)
        } throws: { error in
            guard case .invalidField(let named, let why) = error as? AdalError else { return false }
            return named == "input.\(field)" && why.contains(reason)
        }
    }

    @Test("a missing required field is named")
    func missing() {
        var input = validInput
        input["amount"] = nil
        #expect(throws: AdalError.invalidField(field: "input.amount", reason: "required")) {
            try InputChecker.check(input, against: start.input)
        }
    }

    @Test("canonical JSON sorts keys and escapes only what JSON requires")
    func canonical() {
        let value = InputValue.object([
            "b": .integer(-1), "a": .array([.string("Қ\"\n"), .null, .bool(true)]), "я": .string("Алма 🍎"),
            "z": .string("tab\t\u{01}\\"),
        ])
        #expect(value.canonicalJSON == #"{"a":["Қ\"\n",null,true],"b":-1,"z":"tab\t\u0001\\","я":"Алма 🍎"}"#)
    }
}
