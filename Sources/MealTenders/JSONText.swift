import Foundation
import Workflow

/// JSON with keys in the order written and numbers written as given, so that amounts in tenge
/// (`1234.50`) are exact decimals, never binary floating point.
public indirect enum JSONText: Sendable, Equatable {
    case object([(String, JSONText)])
    case array([JSONText])
    case string(String)
    case number(String)
    case bool(Bool)
    case null

    public static func == (a: JSONText, b: JSONText) -> Bool { a.text == b.text }

    /// An amount of tiyn as tenge with two decimals.
    public static func tenge(_ tiyn: Int64) -> JSONText {
        let sign = tiyn < 0 ? "-" : ""
        let magnitude = tiyn.magnitude
        let cents = magnitude % 100
        return .number("\(sign)\(magnitude / 100).\(cents < 10 ? "0" : "")\(cents)")
    }

    public static func integer<T: BinaryInteger>(_ value: T) -> JSONText { .number(String(value)) }

    /// An object without the members whose value is nil.
    public static func members(_ members: [(String, JSONText?)]) -> JSONText {
        .object(members.compactMap { key, value in value.map { (key, $0) } })
    }

    public var text: String {
        var out = ""
        write(to: &out)
        return out
    }

    private func write(to out: inout String) {
        switch self {
        case .object(let members):
            out += "{"
            for (index, (key, value)) in members.enumerated() {
                if index > 0 { out += "," }
                InputValue.writeString(key, to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        case .array(let items):
            out += "["
            for (index, item) in items.enumerated() {
                if index > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .string(let text): InputValue.writeString(text, to: &out)
        case .number(let text): out += text
        case .bool(let value): out += value ? "true" : "false"
        case .null: out += "null"
        }
    }
}
