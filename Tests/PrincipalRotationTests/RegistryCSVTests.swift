import Core
import Foundation
import Testing

@testable import PrincipalRotation

@Suite("Registry CSV import and export")
struct RegistryCSVTests {
    static let header = RegistryCSV.header.joined(separator: ",")
    let horizon = Day("2027-11-22")!

    func validate(
        _ text: String,
        stored: Registry = Registry(schools: [], principals: [], appointments: [])
    )
        -> RegistryCSV.Report
    {
        RegistryCSV.validate(Array(text.utf8), stored: stored, latestStart: horizon).report
    }

    static let good = """
        \(header)
        940140000385,"Мектеп-гимназия №1, Есіл",Есіл,Астана,urban,"Қабанбай батыр, 5",791028302728,Әлия Нұрланова,2016-09-01,,appointment,2024-05-10
        070941024691,Ауыл мектебі,Нұра,Талапкер,rural,,061211600012,Серік Ахметов,2012-09-01,2019-09-01,appointment,
        070941024691,,,,,,791028302728,Әлия Нұрланова,2005-09-01,2012-09-01,appointment,
        """

    @Test("a valid file: schools, principals and appointments, with quoted commas and a school named by BIN only")
    func valid() throws {
        let (plan, report) = RegistryCSV.validate(
            Array(Self.good.utf8),
            stored: Registry(schools: [], principals: [], appointments: []),
            latestStart: horizon
        )
        #expect(report.problems == [])
        let plan_ = try #require(plan)
        #expect(plan_.newSchools.map(\.name) == ["Мектеп-гимназия №1, Есіл", "Ауыл мектебі"])
        #expect(plan_.newPrincipals.count == 2 && plan_.newAppointments.count == 3)
        // Exported and read again: the same registry.
        let registry = Registry(
            schools: plan_.newSchools,
            principals: plan_.newPrincipals,
            appointments: plan_.newAppointments
        )
        let exported = RegistryCSV.export(registry)
        let again = RegistryCSV.validate(Array(exported.utf8), stored: registry, latestStart: horizon)
        #expect(again.report.problems == [] && again.plan?.newAppointments.isEmpty == true)
        #expect(again.plan?.updatedAppointments.isEmpty == true && again.plan?.changedSchools.isEmpty == true)
    }

    @Test("each bad row is listed with its line, and nothing is accepted")
    func badRows() {
        let text = """
            \(Self.header)
            123456789012,Школа,Есіл,Астана,urban,,791028302728,Әлия,2016-09-01,,appointment,
            940140000385,Школа,Есіл,Астана,city,,000813159890,Әлия,2016-13-01,,appointment,
            940140000385,Школа,Есіл,Астана,urban,,791028302728,Әлия,2016-09-01,2015-01-01,appointment,
            940140000385,Школа,Есіл,Астана,urban,,791028302728,Әлия,2030-09-01,,appointment,
            940140000385,Школа,Есіл
            """
        let report = validate(text)
        #expect(!report.imported)
        let found = report.problems.map { "\($0.line) \($0.field ?? "-")" }
        #expect(found.contains("2 school_bin"))
        #expect(found.contains("3 area") && found.contains("3 principal_iin") && found.contains("3 appointed_on"))
        #expect(found.contains("4 left_on"))
        #expect(report.problems.contains { $0.line == 5 && $0.message.contains("planning horizon") })
        #expect(report.problems.contains { $0.line == 6 && $0.message.contains("fields") })
    }

    @Test("overlapping appointments, for one school or one principal, in the file or against the registry")
    func overlaps() throws {
        let school = """
            \(Self.header)
            940140000385,Школа,Есіл,Астана,urban,,791028302728,Әлия,2016-09-01,,appointment,
            940140000385,,,,,,061211600012,Серік,2020-09-01,,appointment,
            """
        let first = validate(school)
        #expect(first.problems.map(\.line) == [3] && first.problems[0].message.contains("same school"))
        let person = """
            \(Self.header)
            940140000385,Школа,Есіл,Астана,urban,,791028302728,Әлия,2016-09-01,,appointment,
            070941024691,Школа 2,Есіл,Астана,urban,,791028302728,Әлия,2018-09-01,2020-09-01,appointment,
            """
        #expect(validate(person).problems.first?.message.contains("same principal") == true)
        // Against what is stored: the registry already has Әлия heading school 1 since 2016.
        let stored = try #require(
            RegistryCSV.validate(
                Array(Self.good.utf8),
                stored: Registry(schools: [], principals: [], appointments: []),
                latestStart: horizon
            ).plan
        )
        let registry = Registry(
            schools: stored.newSchools,
            principals: stored.newPrincipals,
            appointments: stored.newAppointments
        )
        let clash = """
            \(Self.header)
            070941024691,,,,,,791028302728,Әлия Нұрланова,2020-09-01,,appointment,
            """
        let report = validate(clash, stored: registry)
        #expect(report.problems.first?.message.contains("already in the registry") == true, "\(report.problems)")
    }

    @Test("an unknown school, a wrong header, a file not in UTF-8, and 100,000 rows of junk are refused")
    func refusedFiles() {
        let unknown = """
            \(Self.header)
            940140000385,,,,,,791028302728,Әлия,2016-09-01,,appointment,
            """
        #expect(validate(unknown).problems.first?.message == "unknown school 940140000385")
        #expect(validate("bin,name\n1,2\n").problems.first?.message.hasPrefix("the first line must be exactly") == true)
        var latin1 = Array((Self.header + "\n940140000385,").utf8)
        latin1 += [0xC0, 0xE1]  // "Аб" in Windows-1251
        latin1 += Array(",Есіл,Астана,urban,,,,,,,\n".utf8)
        let encoding = RegistryCSV.validate(
            latin1,
            stored: Registry(schools: [], principals: [], appointments: []),
            latestStart: horizon
        ).report
        #expect(encoding.problems.first?.message.contains("UTF-8") == true && encoding.problems.first?.line == 2)
        let junk = Self.header + "\n" + String(repeating: "x,y,z\n", count: 100_000)
        let report = validate(junk)
        #expect(!report.imported && report.problems.first?.message == "more than 20000 rows")
    }

    @Test(
        "quotes: doubled quotes read back; a stray quote is an error with its line; formulas are neutralised on export"
    )
    func quoting() throws {
        let records = try CSV.parse("a,\"b \"\"c\"\"\",d\r\n\"x\ny\",2,3\n", maximumFields: 5, maximumRecords: 10)
        #expect(records.map(\.fields) == [["a", "b \"c\"", "d"], ["x\ny", "2", "3"]])
        #expect(throws: CSV.Malformed.self) { try CSV.parse("a,b\"c\n", maximumFields: 5, maximumRecords: 10) }
        #expect(csvField("=HYPERLINK(1)") == "'=HYPERLINK(1)" && csvField("a,b") == "\"a,b\"")
        #expect(csvField("a;b") == "a;b" && csvField("a;b", separator: ";") == "\"a;b\"")
        #expect(csvField("a,b", separator: ";") == "a,b")
        let semicolons = try CSV.parse("a;\"b;c\";d,e\r\n", separator: ";", maximumFields: 5, maximumRecords: 2)
        #expect(semicolons.map(\.fields) == [["a", "b;c", "d,e"]])
    }
}
