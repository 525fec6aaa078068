import Core
import Foundation

/// The city's budget lines as open data: a CSV file, the same rows as JSON, and a Frictionless
/// Data Package descriptor (datapackage.json) that describes both, field by field, so that
/// `frictionless validate` can check them and anyone can load them with their types.
public enum BudgetExport {
    public static let header = BudgetCSV.header + ["spent_tenge"]
    public static let csvName = "budget-lines.csv"
    public static let jsonName = "budget-lines.json"

    public typealias Row = (object: BudgetObject, line: BudgetLine)

    static func fields(_ row: Row) -> [String] {
        let (object, line) = row
        return [
            object.code, object.organisationBIN, object.organisationName, object.kind.rawValue, object.name,
            object.district, object.address, String(object.latitude), String(object.longitude), String(line.year),
            line.category.rawValue, Tenge.decimal(line.planned), Tenge.decimal(line.spent),
        ]
    }

    public static func csv(_ rows: [Row]) -> String {
        var text = header.joined(separator: ",") + "\r\n"
        for row in rows { text += fields(row).map(csvField).joined(separator: ",") + "\r\n" }
        return text
    }

    /// An array of objects, one per line, keyed by the CSV's column names; numbers as numbers.
    public static func json(_ rows: [Row]) -> String {
        let items = rows.map { row -> String in
            let values = fields(row)
            let members = zip(header, values).map { name, value -> String in
                let numeric = ["latitude", "longitude", "year", "planned_tenge", "spent_tenge"].contains(name)
                return "\"\(name)\":" + (numeric ? value : jsonString(value))
            }
            return "{" + members.joined(separator: ",") + "}"
        }
        return "[" + items.joined(separator: ",\n") + "]\n"
    }

    static func jsonString(_ text: String) -> String {
        let data = try? JSONSerialization.data(withJSONObject: [text], options: [.withoutEscapingSlashes])
        let array = data.flatMap { String(data: $0, encoding: .utf8) } ?? "[\"\"]"
        return String(array.dropFirst().dropLast())
    }

    /// The descriptor of the city's package.
    public static func descriptor(city: String, cityName: String) -> [String: Any] {
        let kinds = ObjectKind.allCases.map(\.rawValue)
        let categories = BudgetCategory.allCases.map(\.rawValue)
        let fields: [[String: Any]] = [
            field(
                "object_code",
                "string",
                "The city's code of the object",
                ["required": true, "pattern": "[A-Za-z0-9._-]{1,40}"]
            ),
            field(
                "organisation_bin",
                "string",
                "BIN of the organisation that runs the object",
                ["required": true, "pattern": "[0-9]{12}"]
            ),
            field("organisation_name", "string", "Name of that organisation", ["required": true]),
            field("kind", "string", "Kind of social object", ["required": true, "enum": kinds]),
            field("name", "string", "Name of the object", ["required": true]),
            field("district", "string", "District of the city", ["required": true]),
            field("address", "string", "Street address", [:]),
            field(
                "latitude",
                "number",
                "WGS 84 latitude in degrees",
                ["required": true, "minimum": -90, "maximum": 90]
            ),
            field(
                "longitude",
                "number",
                "WGS 84 longitude in degrees",
                ["required": true, "minimum": -180, "maximum": 180]
            ),
            field("year", "integer", "Budget year", ["required": true, "minimum": 2000, "maximum": 2100]),
            field("category", "string", "What the line pays for", ["required": true, "enum": categories]),
            field("planned_tenge", "number", "Amount planned, in tenge", ["required": true, "minimum": 0]),
            field(
                "spent_tenge",
                "number",
                "Amount spent according to the recorded workflow steps, in tenge",
                ["required": true, "minimum": 0]
            ),
        ]
        let schema: [String: Any] = ["fields": fields, "primaryKey": ["object_code", "year", "category"]]
        return [
            "name": "\(city)-open-budget",
            "title": "Open budget of \(cityName): budget lines of social objects",
            "description":
                "Planned and spent amounts per object, year and category. Spent amounts are the sums of recorded workflow steps; each step is in the city's audit log.",
            "licenses": [
                [
                    "name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0",
                    "path": "https://creativecommons.org/licenses/by/4.0/",
                ]
            ],
            "resources": [
                [
                    "name": "budget-lines", "path": csvName, "format": "csv", "mediatype": "text/csv",
                    "encoding": "utf-8",
                    "profile": "tabular-data-resource", "schema": schema,
                ],
                [
                    "name": "budget-lines-json", "path": jsonName, "format": "json", "mediatype": "application/json",
                    "encoding": "utf-8", "profile": "tabular-data-resource", "schema": schema,
                ],
            ],
        ]
    }

    static func field(
        _ name: String,
        _ type: String,
        _ description: String,
        _ constraints: [String: Any]
    ) -> [String: Any] {
        var field: [String: Any] = ["name": name, "type": type, "description": description]
        if !constraints.isEmpty { field["constraints"] = constraints }
        return field
    }
}
