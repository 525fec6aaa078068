import Foundation
import Testing
import Workflow

@Suite("Reading JSON into a step's input")
struct InputValueParseTests {
    /// Texts `JSONDecoder` reads as ``InputValue``: the reader must give the same value.
    static let valid: [String] = [
        #"{"id":"7c0e1c2a-0000-4000-8000-000000000001","card":"B0000001","items":[{"name":"Ас","price":60000}]}"#,
        " \t\r\n[ 1 , -2 , 0 , -0 , 9223372036854775807 , -9223372036854775808 ] ",
        #"{"a":{"b":{"c":[[],{},[null,true,false]]}},"":""}"#,
        #""esc \" \\ \/ \b \f \n \r \t \u0041\u00e9\u049A \ud83c\udf4e end""#,
        #"["Алма 🍎", "tab\tinside", "\u0000"]"#,
        #"{"allergens":["peanut","sesame"],"name":"Палау / күріш","price":1}"#,
        "true", "null", "\"\"", "[]", "{}",
    ]

    @Test("gives what JSONDecoder gives for valid JSON", arguments: valid)
    func sameAsDecoder(_ text: String) throws {
        let decoded = try JSONDecoder().decode(InputValue.self, from: Data(text.utf8))
        let read = try InputValue(json: text.utf8)
        #expect(read == decoded)
        #expect(read.canonicalJSON == decoded.canonicalJSON)
    }

    /// Malformed JSON, and JSON a step's input cannot hold, with the reason given.
    static let refused: [(text: String, reason: String)] = [
        ("450.5", "numbers must be whole"), ("1e3", "numbers must be whole"), ("01", "starts with 0"),
        ("-", "a digit is missing"), ("9223372036854775808", "too large"), ("-9223372036854775809", "too large"),
        ("[1,]", "not a JSON value"), (#"{"a":1,}"#, "a key is missing"), (#"{"a":1,"a":2}"#, "given twice"),
        (#"{"a" 1}"#, "':' is missing"), ("[1 2]", "',' or ']' is missing"), (#"{"a":1"#, "not closed"),
        (#""\x""#, "unknown escape"), ("\"a\u{01}b\"", "control character"), (#""\ud800""#, "surrogate"),
        (#""\udc00\ud800""#, "surrogate"), (#""\u12""#, "four hex digits"), (#""open"#, "not closed"),
        ("nul", "not a JSON value"), ("true false", "more after"), ("", "missing"), ("'a'", "not a JSON value"),
        ("[" + String(repeating: "[", count: 40) + String(repeating: "]", count: 41), "nested deeper"),
    ]

    @Test("refuses what is not JSON, or not whole numbers, naming the reason")
    func refusals() {
        for (text, reason) in Self.refused {
            #expect(throws: InputValue.SyntaxError.self, "\(text)") { try InputValue(json: text.utf8) }
            do {
                _ = try InputValue(json: text.utf8)
            } catch {
                #expect(error.reason.contains(reason), "\(text): \(error.reason)")
            }
        }
    }

    @Test("refuses text that is not UTF-8, and reads bytes that are")
    func utf8() throws {
        #expect(throws: InputValue.SyntaxError.self) { try InputValue(json: [0x22, 0xFF, 0x22]) }
        #expect(throws: InputValue.SyntaxError.self) { try InputValue(json: [0x22, 0x5C, 0x6E, 0xC3, 0x22]) }
        #expect(try InputValue(json: Array("\"Қ\"".utf8)) == .string("Қ"))
        // A collection without contiguous storage is read as well.
        #expect(try InputValue(json: "[7]".utf8.lazy.map { $0 }) == .array([.integer(7)]))
    }

    @Test("nesting up to the limit is read")
    func depth() throws {
        let depth = InputValue.maximumDepth
        let text = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        var value = try InputValue(json: text.utf8)
        for _ in 1..<depth {
            guard case .array(let inner) = value, let first = inner.first else {
                Issue.record("not nested")
                return
            }
            value = first
        }
        #expect(value == .array([]))
    }
}
