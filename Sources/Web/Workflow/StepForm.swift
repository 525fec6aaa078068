import Core
import Foundation
import Workflow

/// An HTML form for the input of a start or an event, made from the definition's typed fields,
/// so every service gets working forms without a page of its own. Field labels come from the
/// locale tables (`field_<name>`, enum values as `option_<field>_<value>`); a test holds every
/// definition in `workflows/` to having them.
struct StepForm {
    let fields: [FieldDefinition]
    let locales: LocaleTables
    let language: Language

    /// What the template draws, one entry per field, refilled with what was sent.
    func rows(values: FormFields?) -> [[String: Any]] {
        fields.map { field in
            let sent = values?[field.name] ?? ""
            var row: [String: Any] = [
                "name": field.name, "label": locales.text("field_" + field.name, language),
                "required": field.required, "value": sent, "inputType": "text",
            ]
            switch field.type {
            case .string(let maximumLength):
                row["maxlength"] = String(maximumLength)
                row["long"] = maximumLength > 200
            case .int(let minimum, let maximum):
                row["inputType"] = "number"
                (row["min"], row["max"]) = (String(minimum), String(maximum))
            case .money:
                row["inputType"] = "text"
                row["inputMode"] = "decimal"
                row["hint"] = locales.text("field_money_hint", language)
                row["maxlength"] = "20"
            case .date:
                row["inputType"] = "date"
            case .iin, .bin:
                (row["pattern"], row["maxlength"], row["inputMode"]) = ("[0-9]{12}", "12", "numeric")
            case .enumeration(let values):
                row["isSelect"] = true
                row["options"] = values.map { value in
                    [
                        "value": value, "selected": value == sent,
                        "label": locales.text("option_\(field.name)_\(value)", language),
                    ]
                }
            case .reference:
                (row["maxlength"], row["pattern"]) = ("36", "[0-9a-fA-F-]{36}")
            case .file:
                // Files are described by hash through the API; a form cannot make that description.
                row["file"] = true
            }
            return row
        }
    }

    /// The step's input from a submitted form: empty fields are left out (the engine names a
    /// missing required one), numbers become numbers, and amounts in tenge (`1250,50`) become
    /// tiyn. Text that is not a number is passed on as text, for the engine to name the field.
    func input(from form: FormFields) -> [String: InputValue] {
        var input: [String: InputValue] = [:]
        for field in fields {
            guard let raw = form[field.name]?.trimmingCharacters(in: .whitespacesAndNewlines), !raw.isEmpty else {
                continue
            }
            switch field.type {
            case .int:
                input[field.name] = Int64(raw).map(InputValue.integer) ?? .string(raw)
            case .money:
                input[field.name] = Self.tiyn(fromTenge: raw).map(InputValue.integer) ?? .string(raw)
            default:
                input[field.name] = .string(raw)
            }
        }
        return input
    }

    /// `1250`, `1 250,5`, `1250.50` tenge → tiyn; nil for anything else (more than two decimals,
    /// signs, letters, or beyond Int64).
    static func tiyn(fromTenge text: String) -> Int64? {
        let compact = text.filter { $0 != " " && $0 != "\u{00A0}" }.replacingOccurrences(of: ",", with: ".")
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigit),
            let whole = Int64(parts[0])
        else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...2).contains(digits.count), digits.allSatisfy(\.isASCIIDigit), let value = Int64(digits) else {
                return nil
            }
            fraction = digits.count == 1 ? value * 10 : value
        }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: 100)
        guard !overflow else { return nil }
        let (total, overflowAgain) = scaled.addingReportingOverflow(fraction)
        return overflowAgain ? nil : total
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
