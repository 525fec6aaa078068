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

    /// Tenge as typed → tiyn (``Tenge/tiyn(from:)``).
    static func tiyn(fromTenge text: String) -> Int64? { Tenge.tiyn(from: text) }
}
