import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// The city's objects and budget lines as one CSV file, a row per budget line (an object's own
/// columns repeat on each of its lines). Import is all or nothing: every bad row is listed with
/// its line, and nothing is written unless the whole file is valid. Objects and lines in the
/// file are added or updated; what the file does not mention is kept.
public enum BudgetCSV {
    public static let header = [
        "object_code", "organisation_bin", "organisation_name", "kind", "name", "district", "address", "latitude",
        "longitude", "year", "category", "planned_tenge",
    ]
    public static let maximumBytes = 8 << 20
    public static let maximumRows = 50_000
    /// At most this many problems are listed; the count says how many there were.
    public static let maximumListed = 200
    /// Ten trillion tenge: above any city's budget, well inside Int64 tiyn.
    static let maximumPlanned: Int64 = 10_000_000_000_000 * 100

    public struct Report: Sendable, Codable, Equatable {
        public var rows: Int
        /// True when the file was written.
        public var imported: Bool
        public var problems: [CSV.Problem]
        public var problemCount: Int
        public var objects = 0
        public var lines = 0
    }

    /// What a valid file holds.
    struct Contents {
        var objects: [String: BudgetObject] = [:]
        var lines: [BudgetLine] = []
    }

    /// Checks `bytes` against the city's districts and, when every row is valid, writes it in one
    /// transaction.
    public static func importFile(_ bytes: [UInt8], tenantID: UUID, database: Database) async throws -> Report {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            let districts = try await BudgetStore.districtNames(on: connection, logger: logger)
            var (contents, report) = validate(bytes, districts: Set(districts))
            guard let contents else { return report }
            try await write(contents, tenantID: tenantID, on: connection, logger: logger)
            report.imported = true
            report.objects = contents.objects.count
            report.lines = contents.lines.count
            return report
        }
    }

    static func validate(_ bytes: [UInt8], districts: Set<String>) -> (Contents?, Report) {
        var report = Report(rows: 0, imported: false, problems: [], problemCount: 0)
        func refuse(_ problems: [CSV.Problem]) -> (Contents?, Report) {
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
        guard !records.isEmpty else {
            return refuse([CSV.Problem(line: 2, field: nil, message: "the file has no rows")])
        }
        var problems: [CSV.Problem] = []
        var contents = Contents()
        var organisations: [String: (name: String, line: Int)] = [:]
        var objectLines: [String: Int] = [:]
        var seenLines: [String: Int] = [:]
        for record in records {
            let row = check(record, districts: districts)
            problems += row.problems
            guard let (object, line) = row.value else { continue }
            if let earlier = organisations[object.organisationBIN], earlier.name != object.organisationName {
                problems.append(
                    CSV.Problem(
                        line: record.line,
                        field: "organisation_name",
                        message: "organisation \(object.organisationBIN) is named differently on line \(earlier.line)"
                    )
                )
            } else if organisations[object.organisationBIN] == nil {
                organisations[object.organisationBIN] = (object.organisationName, record.line)
            }
            if let earlier = contents.objects[object.code], earlier != object {
                problems.append(
                    CSV.Problem(
                        line: record.line,
                        field: "object_code",
                        message:
                            "object \(object.code) is described differently on line \(objectLines[object.code] ?? 0)"
                    )
                )
            } else if contents.objects[object.code] == nil {
                contents.objects[object.code] = object
                objectLines[object.code] = record.line
            }
            let key = "\(line.objectCode)|\(line.year)|\(line.category.rawValue)"
            if let earlier = seenLines[key] {
                problems.append(
                    CSV.Problem(
                        line: record.line,
                        field: "category",
                        message:
                            "\(line.objectCode) already has a \(line.category.rawValue) line for \(line.year) on line \(earlier)"
                    )
                )
            } else {
                seenLines[key] = record.line
                contents.lines.append(line)
            }
        }
        guard problems.isEmpty else { return refuse(problems) }
        return (contents, report)
    }

    /// One row's object and line, or every problem the row has.
    static func check(
        _ record: CSV.Record,
        districts: Set<String>
    ) -> (value: (BudgetObject, BudgetLine)?, problems: [CSV.Problem]) {
        var problems: [CSV.Problem] = []
        func problem(_ field: String, _ message: String) {
            problems.append(CSV.Problem(line: record.line, field: field, message: message))
        }
        guard record.fields.count == header.count else {
            problem("", "\(record.fields.count) fields where the header has \(header.count)")
            return (nil, problems)
        }
        let field = Dictionary(
            uniqueKeysWithValues: zip(header, record.fields.map { $0.trimmingCharacters(in: .whitespaces) })
        )
        let code = field["object_code"]!
        if !BudgetObject.isCode(code) { problem("object_code", "1 to 40 letters, digits, '.', '_' or '-'") }
        let bin = field["organisation_bin"]!
        if (try? NationalIdentifier.bin(bin)) == nil { problem("organisation_bin", "'\(bin)' is not a valid BIN") }
        let organisation = field["organisation_name"]!
        if !(1...300).contains(organisation.count) { problem("organisation_name", "1 to 300 characters") }
        let kind = ObjectKind(rawValue: field["kind"]!)
        if kind == nil {
            problem("kind", "must be one of: " + ObjectKind.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let name = field["name"]!
        if !(1...300).contains(name.count) { problem("name", "1 to 300 characters") }
        let district = field["district"]!
        if !districts.contains(district) {
            problem(
                "district",
                "'\(district)' is not a district of the city; known: " + districts.sorted().joined(separator: ", ")
            )
        }
        let address = field["address"]!
        if address.count > 300 { problem("address", "at most 300 characters") }
        let latitude = Double(field["latitude"]!).flatMap { (-90...90).contains($0) ? $0 : nil }
        if latitude == nil { problem("latitude", "a number from -90 to 90") }
        let longitude = Double(field["longitude"]!).flatMap { (-180...180).contains($0) ? $0 : nil }
        if longitude == nil { problem("longitude", "a number from -180 to 180") }
        let year = Int(field["year"]!).flatMap { (2000...2100).contains($0) ? $0 : nil }
        if year == nil { problem("year", "a year from 2000 to 2100") }
        let category = BudgetCategory(rawValue: field["category"]!)
        if category == nil {
            problem("category", "must be one of: " + BudgetCategory.allCases.map(\.rawValue).joined(separator: ", "))
        }
        let planned = Tenge.tiyn(from: field["planned_tenge"]!).flatMap { $0 <= maximumPlanned ? $0 : nil }
        if planned == nil { problem("planned_tenge", "an amount in tenge with at most two decimals, like 1250000.50") }
        guard problems.isEmpty, let kind, let latitude, let longitude, let year, let category, let planned else {
            return (nil, problems)
        }
        let object = BudgetObject(
            code: code,
            organisationBIN: bin,
            organisationName: organisation,
            kind: kind,
            name: name,
            district: district,
            address: address,
            latitude: latitude,
            longitude: longitude
        )
        return ((object, BudgetLine(objectCode: code, year: year, category: category, planned: planned, spent: 0)), [])
    }

    static func write(
        _ contents: Contents,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        let objects = contents.objects.values.sorted { $0.code < $1.code }
        var organisations: [String: String] = [:]
        for object in objects { organisations[object.organisationBIN] = object.organisationName }
        let bins = organisations.keys.sorted()
        try await connection.run(
            """
            INSERT INTO budget_organisations (tenant_id, bin, name)
            SELECT \(tenantID), bin, name FROM unnest(\(bins)::text[], \(bins.map { organisations[$0]! })::text[])
                AS given (bin, name)
            ON CONFLICT (tenant_id, bin) DO UPDATE SET name = EXCLUDED.name
            """,
            logger: logger
        )
        try await connection.run(
            """
            INSERT INTO budget_objects
                (tenant_id, code, organisation_bin, kind, name, district, address, latitude, longitude)
            SELECT \(tenantID), * FROM unnest(\(objects.map(\.code))::text[], \(objects.map(\.organisationBIN))::text[],
                \(objects.map(\.kind.rawValue))::text[], \(objects.map(\.name))::text[], \(objects.map(\.district))::text[],
                \(objects.map(\.address))::text[], \(objects.map(\.latitude))::float8[], \(objects.map(\.longitude))::float8[])
            ON CONFLICT (tenant_id, code) DO UPDATE SET organisation_bin = EXCLUDED.organisation_bin,
                kind = EXCLUDED.kind, name = EXCLUDED.name, district = EXCLUDED.district, address = EXCLUDED.address,
                latitude = EXCLUDED.latitude, longitude = EXCLUDED.longitude
            """,
            logger: logger
        )
        let lines = contents.lines
        try await connection.run(
            """
            INSERT INTO budget_lines (tenant_id, object_code, year, category, planned)
            SELECT \(tenantID), * FROM unnest(\(lines.map(\.objectCode))::text[], \(lines.map { Int32($0.year) })::int4[],
                \(lines.map(\.category.rawValue))::text[], \(lines.map(\.planned))::int8[])
            ON CONFLICT (tenant_id, object_code, year, category) DO UPDATE SET planned = EXCLUDED.planned
            """,
            logger: logger
        )
    }
}
