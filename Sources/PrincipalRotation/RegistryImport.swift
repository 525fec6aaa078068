import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// The registry as a CSV file: one row per appointment (a school with no principal on record
/// is a row with the principal's columns empty). Import is all or nothing: every bad row is
/// listed with its line number, and nothing is written unless the whole file is valid.
public enum RegistryCSV {
    public static let header = [
        "school_bin", "school_name", "district", "locality", "area", "address", "principal_iin", "principal_name",
        "appointed_on", "left_on", "reason", "attested_on",
    ]
    public static let maximumBytes = 5 << 20
    public static let maximumRows = 20_000
    /// At most this many problems are listed; the count says how many there were.
    public static let maximumListed = 200

    public typealias Problem = CSV.Problem

    public struct Report: Sendable, Codable, Equatable {
        public var rows: Int
        /// True when the file was written to the registry.
        public var imported: Bool
        public var problems: [Problem]
        public var problemCount: Int
        public var newSchools = 0
        public var newPrincipals = 0
        public var newAppointments = 0
        public var updatedAppointments = 0
    }

    /// One valid row.
    struct Row {
        var line: Int
        /// The school's own columns are empty: it is named by BIN only, and must be described
        /// elsewhere in the file or be in the registry already.
        var schoolByBIN: Bool
        var school: School
        var principal: PrincipalRecord?
        var startsOn: Day?
        var endsOn: Day?
        var reason: String
    }

    /// Checks `bytes` and, when every row is valid and fits the registry already stored, writes
    /// it in one transaction. `latestStart` is the planning horizon: no appointment may begin after it.
    public static func importFile(
        _ bytes: [UInt8],
        tenantID: UUID,
        latestStart: Day,
        database: Database
    ) async throws -> Report {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            // One import at a time per city, against the registry as it stands.
            try await connection.run("LOCK TABLE appointments IN SHARE ROW EXCLUSIVE MODE", logger: logger)
            let stored = try await RegistryStore.load(tenantID: tenantID, on: connection, logger: logger)
            var (plan, report) = validate(bytes, stored: stored, latestStart: latestStart)
            guard let plan else { return report }
            try await plan.write(tenantID: tenantID, on: connection, logger: logger)
            report.imported = true
            return report
        }
    }

    /// The changes `bytes` would make to `stored`, or nil with the report of every problem.
    static func validate(_ bytes: [UInt8], stored: Registry, latestStart: Day) -> (plan: Plan?, report: Report) {
        var report = Report(rows: 0, imported: false, problems: [], problemCount: 0)
        func refuse(_ problems: [Problem]) -> (Plan?, Report) {
            report.problemCount = problems.count
            report.problems = Array(problems.prefix(maximumListed))
            return (nil, report)
        }
        let records: [CSV.Record]
        do {
            records = try CSV.table(bytes, header: header, maximumBytes: maximumBytes, maximumRows: maximumRows)
        } catch {
            return refuse([error])
        }
        report.rows = records.count
        var problems: [Problem] = []
        var rows: [Row] = []
        for record in records {
            switch check(record, latestStart: latestStart) {
            case .success(let row): rows.append(row)
            case .failure(let found): problems += found.problems
            }
        }
        guard problems.isEmpty else { return refuse(problems) }
        var plan = Plan(stored: stored)
        let found = plan.merge(rows)
        guard found.isEmpty else { return refuse(found) }
        report.newSchools = plan.newSchools.count
        report.newPrincipals = plan.newPrincipals.count
        report.newAppointments = plan.newAppointments.count
        report.updatedAppointments = plan.updatedAppointments.count
        return (plan, report)
    }

    /// One record checked on its own.
    static func check(_ record: CSV.Record, latestStart: Day) -> Result<Row, ProblemList> {
        var problems: [Problem] = []
        let line = record.line
        func problem(_ field: String?, _ message: String) {
            problems.append(Problem(line: line, field: field, message: message))
        }
        guard record.fields.count == header.count else {
            return .failure(
                ProblemList([
                    Problem(line: line, field: nil, message: "\(record.fields.count) fields, expected \(header.count)")
                ])
            )
        }
        var values: [String: String] = [:]
        for (name, value) in zip(header, record.fields) { values[name] = value.trimmingCharacters(in: .whitespaces) }
        func text(_ name: String, _ range: ClosedRange<Int>) -> String {
            let value = values[name] ?? ""
            if !range.contains(value.count) { problem(name, "\(range.lowerBound) to \(range.upperBound) characters") }
            return value
        }
        func day(_ name: String) -> Day? {
            guard let value = values[name], !value.isEmpty else { return nil }
            guard let day = Day(value) else {
                problem(name, "a date as YYYY-MM-DD")
                return nil
            }
            return day
        }
        var bin = values["school_bin"] ?? ""
        do {
            bin = try NationalIdentifier.bin(bin).digits
        } catch {
            problem("school_bin", "not a valid BIN")
        }
        let schoolColumns = ["school_name", "district", "locality", "area", "address"]
        let byBIN = schoolColumns.allSatisfy { (values[$0] ?? "").isEmpty }
        let area = values["area"] ?? ""
        if !byBIN && area != "urban" && area != "rural" { problem("area", "urban or rural") }
        let school =
            byBIN
            ? School(id: UUID(), bin: bin, name: "", district: "", locality: "", rural: false, address: "")
            : School(
                id: UUID(),
                bin: bin,
                name: text("school_name", 1...300),
                district: text("district", 1...100),
                locality: text("locality", 1...100),
                rural: area == "rural",
                address: text("address", 0...300)
            )
        if byBIN && (values["principal_iin"] ?? "").isEmpty {
            problem("school_name", "a school named only by BIN needs an appointment on its row")
        }
        let personColumns = ["principal_iin", "principal_name", "appointed_on", "left_on", "reason", "attested_on"]
        var principal: PrincipalRecord?
        var startsOn: Day?
        var endsOn: Day?
        var reason = ""
        if personColumns.contains(where: { !(values[$0] ?? "").isEmpty }) {
            var iin = values["principal_iin"] ?? ""
            do {
                iin = try NationalIdentifier.iin(iin).digits
            } catch {
                problem("principal_iin", "not a valid IIN")
            }
            principal = PrincipalRecord(
                id: UUID(),
                iin: iin,
                name: text("principal_name", 1...200),
                attestedOn: day("attested_on")
            )
            startsOn = day("appointed_on")
            if startsOn == nil && (values["appointed_on"] ?? "").isEmpty {
                problem("appointed_on", "required with a principal")
            }
            endsOn = day("left_on")
            if let startsOn, let endsOn, endsOn <= startsOn { problem("left_on", "must be after appointed_on") }
            if let startsOn, startsOn > latestStart {
                problem("appointed_on", "after the planning horizon (\(latestStart))")
            }
            reason = values["reason"].flatMap { $0.isEmpty ? nil : $0 } ?? "appointment"
            if reason.count > 100 { problem("reason", "at most 100 characters") }
        }
        guard problems.isEmpty else { return .failure(ProblemList(problems)) }
        return .success(
            Row(
                line: line,
                schoolByBIN: byBIN,
                school: school,
                principal: principal,
                startsOn: startsOn,
                endsOn: endsOn,
                reason: reason
            )
        )
    }

    struct ProblemList: Error {
        var problems: [Problem]
        init(_ problems: [Problem]) { self.problems = problems }
    }

    /// The whole registry as CSV, in the import format.
    public static func export(_ registry: Registry) -> String {
        var lines = [header.joined(separator: ",")]
        let byBIN = registry.schools.values.sorted { $0.bin < $1.bin }
        for school in byBIN {
            let appointments = registry.appointments.filter { $0.schoolID == school.id }.sorted {
                $0.startsOn < $1.startsOn
            }
            let schoolFields = [
                school.bin, school.name, school.district, school.locality, school.rural ? "rural" : "urban",
                school.address,
            ]
            if appointments.isEmpty {
                lines.append((schoolFields + Array(repeating: "", count: 6)).map(csvField).joined(separator: ","))
            }
            for appointment in appointments {
                let principal = registry.principals[appointment.principalID]
                let fields =
                    schoolFields + [
                        principal?.iin ?? "", principal?.name ?? "", appointment.startsOn.description,
                        appointment.endsOn?.description ?? "", appointment.reason,
                        principal?.attestedOn?.description ?? "",
                    ]
                lines.append(fields.map(csvField).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
