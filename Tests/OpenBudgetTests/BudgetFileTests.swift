import Core
import Testing

@testable import OpenBudget

@Suite("The city's budget file and district outlines are checked before anything is kept")
struct BudgetFileTests {
    static let header = BudgetCSV.header.joined(separator: ",")
    static let good =
        "AST-SCH-001,090000400002,№1 мектеп-лицей,school,№1 мектеп-лицей,Есіл,\"Есіл ауданы, 3\",51.12,71.43,2026,repair,1250000.50"

    @Test("every bad row is listed with its line and field; nothing is returned to write")
    func problems() {
        let rows = [
            Self.header, Self.good,
            "AST-SCH-002,123456789012,X,school,X,Есіл,,51.1,71.4,2026,repair,10",
            "AST SCH,090000400002,№1 мектеп-лицей,zoo,,Марс,,95,200,1999,bribes,-5",
            "AST-SCH-001,090000400002,№1 мектеп-лицей,school,Another name,Есіл,,51.12,71.43,2026,meals,1",
            "AST-SCH-001,090000400002,№1 мектеп-лицей,school,№1 мектеп-лицей,Есіл,\"Есіл ауданы, 3\",51.12,71.43,2026,repair,5",
            "too,few",
        ]
        let (contents, report) = BudgetCSV.validate(
            Array((rows.joined(separator: "\n") + "\n").utf8),
            districts: ["Есіл"]
        )
        #expect(contents == nil)
        #expect(!report.imported)
        let fields = Set(report.problems.map { "\($0.line):\($0.field ?? "")" })
        for expected in [
            "3:organisation_bin", "4:object_code", "4:kind", "4:name", "4:district", "4:latitude", "4:longitude",
            "4:year",
            "4:category", "4:planned_tenge", "5:object_code", "6:category", "7:",
        ] {
            #expect(fields.contains(expected), "\(expected) not reported: \(fields.sorted())")
        }
        #expect(report.problemCount == report.problems.count)
    }

    @Test("a valid file gives its objects and lines, amounts exact in tiyn")
    func valid() {
        let (contents, report) = BudgetCSV.validate(
            Array((Self.header + "\n" + Self.good + "\n").utf8),
            districts: ["Есіл"]
        )
        #expect(report.problems.isEmpty)
        #expect(contents?.objects["AST-SCH-001"]?.address == "Есіл ауданы, 3")
        #expect(contents?.lines.first?.planned == 125_000_050)
    }

    @Test("the file's header, encoding and size are checked first")
    func header() {
        let wrong = BudgetCSV.validate(Array("code,name\n".utf8), districts: [])
        #expect(wrong.1.problems.first?.line == 1)
        let latin1 = BudgetCSV.validate([0x61, 0xE9, 0x0A], districts: [])
        #expect(latin1.1.problems.first?.message.contains("UTF-8") == true)
        let empty = BudgetCSV.validate(Array((Self.header + "\n").utf8), districts: [])
        #expect(empty.1.problems.first?.message == "the file has no rows")
    }

    @Test("district outlines: names, polygon rings and limits are checked")
    func districts() throws {
        let ring = "[[71.4,51.1],[71.5,51.1],[71.5,51.2],[71.4,51.1]]"
        let good =
            #"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"Есіл"},"geometry":{"type":"Polygon","coordinates":["#
            + ring + "]}}]}"
        let districts = try District.collection(Array(good.utf8))
        #expect(districts.map(\.name) == ["Есіл"])
        #expect(try District.polygons(json: districts[0].geometryJSON) == districts[0].polygons)
        let open = good.replacingOccurrences(of: "[71.4,51.1]]", with: "[71.4,51.15]]")
        #expect(
            throws: AdalError.invalidField(
                field: "features[0].geometry.coordinates[0]",
                reason: "a ring ends where it starts"
            )
        ) {
            try District.collection(Array(open.utf8))
        }
        let point = good.replacingOccurrences(of: #""type":"Polygon""#, with: #""type":"Point""#)
        #expect(throws: AdalError.self) { try District.collection(Array(point.utf8)) }
        let unnamed = good.replacingOccurrences(of: #""name":"Есіл""#, with: #""title":"Есіл""#)
        #expect(throws: AdalError.self) { try District.collection(Array(unnamed.utf8)) }
        #expect(throws: AdalError.self) { try District.collection(Array("[]".utf8)) }
    }

    @Test("an amount split by weights adds up exactly, the remainder to the largest shares")
    func split() {
        #expect(BudgetSpending.split(100, weights: [1, 1, 1]) == [34, 33, 33])
        #expect(BudgetSpending.split(1_000_001, weights: [420, 457, 494]).reduce(0, +) == 1_000_001)
        #expect(BudgetSpending.split(50, weights: [0, 0]) == [0, 0])
        #expect(BudgetSpending.split(7, weights: [0, 3]) == [0, 7])
    }
}
