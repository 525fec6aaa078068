import Core
import Foundation
import Testing
import Workflow

@testable import Web

@Suite("Forms made from definitions")
struct StepFormTests {
    @Test("amounts typed in tenge become tiyn; anything else is passed on as text for the engine to name")
    func tenge() {
        #expect(StepForm.tiyn(fromTenge: "1250") == 125_000)
        #expect(StepForm.tiyn(fromTenge: "1 250,5") == 125_050)
        #expect(StepForm.tiyn(fromTenge: "1250.05") == 125_005)
        #expect(StepForm.tiyn(fromTenge: "0,99") == 99)
        for bad in ["", "-5", "1.005", "1,2,3", "12a", ",5", "92233720368547758.08", "99999999999999999999"] {
            #expect(StepForm.tiyn(fromTenge: bad) == nil, "\(bad)")
        }
    }

    @Test("typed fields: numbers as numbers, empty fields left out, other values as text")
    func input() throws {
        let at = SourceLocation(file: "t", line: 1, column: 1)
        let fields = [
            FieldDefinition(name: "count", type: .int(minimum: 0, maximum: 10), required: true, location: at),
            FieldDefinition(name: "price", type: .money(minimum: 0, maximum: 1_000_000), required: true, location: at),
            FieldDefinition(name: "note", type: .string(maximumLength: 20), required: false, location: at),
            FieldDefinition(name: "day", type: .date, required: false, location: at),
        ]
        let form = StepForm(
            fields: fields,
            locales: try LocaleTables(directory: TemplateTests.directory + "/locales"),
            language: .en
        )
        let input = form.input(from: FormFields("count=7&price=12%2C50&note=+hello+&day=&_csrf=x"))
        #expect(input == ["count": .integer(7), "price": .integer(1_250), "note": .string("hello")])
        #expect(form.input(from: FormFields("count=seven"))["count"] == .string("seven"))
        let rows = form.rows(values: FormFields("note=%3Cb%3E"))
        #expect(rows.map { $0["name"] as? String } == ["count", "price", "note", "day"])
        #expect(rows[2]["value"] as? String == "<b>" && rows[3]["inputType"] as? String == "date")
    }
}
