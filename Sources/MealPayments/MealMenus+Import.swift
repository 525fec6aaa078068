import Core
import Foundation
import Storage

/// A supplier's menu plan as a CSV file (docs/meal-payments.md "Today's menu"): one row per item
/// — `day,item,price,allergens` with the price in tenge and the allergens comma-separated in
/// their field — for up to ``MealMenus/maximumImportDays`` days. All or nothing: every bad row
/// is listed with its line, and nothing is written unless the whole file is valid.
extension MealMenus {
    public static let importHeader = ["day", "item", "price", "allergens"]
    public static let maximumImportBytes = 256 << 10
    /// Days one file may set: a month, as a copy.
    public static let maximumImportDays = maximumCopyDays
    /// At most this many problems are listed; the count says how many there were.
    public static let maximumListed = 200

    /// A file of more days than one may set.
    public static let tooManyDays = "at most \(maximumImportDays) days"
    /// A row's price that is not an amount in tenge.
    public static let priceShape = "a price in tenge, such as 450 or 450,50"
    /// A form's upload without a file, and a file over the bound (as ``AdalError/tooLarge(limit:maximumBytes:)`` says it).
    public static let fileMissing = "a CSV file of the days' menus"
    public static let fileName = "a menu file"

    /// A row of another number of fields than the header's.
    public static func fieldCount(_ count: String) -> String { "\(count) fields, expected \(importHeader.count)" }
    public static func fieldCount(_ count: Int) -> String { fieldCount(String(count)) }

    public struct ImportReport: Sendable, Codable, Equatable {
        public struct SetDay: Sendable, Codable, Equatable {
            public var day: String
            public var items: Int
        }

        public var rows: Int
        /// True when the file's menus were written.
        public var imported: Bool
        public var problems: [CSV.Problem]
        public var problemCount: Int
        public var days: [SetDay]
        /// The days whose menu the file replaced.
        public var replaced: [String]

        /// Nothing written: the first ``MealMenus/maximumListed`` problems and their count.
        static func refused(rows: Int, _ problems: [CSV.Problem]) -> ImportReport {
            ImportReport(
                rows: rows,
                imported: false,
                problems: Array(problems.prefix(MealMenus.maximumListed)),
                problemCount: problems.count,
                days: [],
                replaced: []
            )
        }
    }

    /// Sets the school's menus of the days in `bytes` (each day whole), in one transaction, when
    /// every row is valid: a day a menu may be set on, an item of 1 to 100 characters, a price in
    /// tenge within the contract's price per meal, allergens of 1 to 40 characters. A day that
    /// already has a menu is refused, named, unless `replace`.
    public func importFile(
        _ bytes: [UInt8],
        schoolBIN: String,
        replace: Bool,
        by reader: Reader,
        user: UUID,
        now: Date = Date(),
        tenantID: UUID
    ) async throws -> ImportReport {
        let records: [CSV.Record]
        do {
            records = try CSV.table(
                bytes,
                header: Self.importHeader,
                maximumBytes: Self.maximumImportBytes,
                maximumRows: Self.maximumImportDays * Self.maximumItems
            )
        } catch {
            return .refused(rows: 0, [error])
        }
        let rows = records.count
        return try await withSchool(schoolBIN, by: reader, writing: true, tenantID: tenantID) {
            school,
            connection,
            logger in
            let contractPrice = try Self.contractPrice(school)
            var (days, problems) = Self.days(in: records, contractPrice: contractPrice, now: now)
            if problems.isEmpty && days.count > Self.maximumImportDays {
                problems.append(CSV.Problem(line: 0, field: "day", message: Self.tooManyDays))
            }
            guard problems.isEmpty else { return .refused(rows: rows, problems) }
            let targets = days.map(\.day)
            let taken = try await Self.withMenus(
                targets,
                school: school.id,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            guard taken.isEmpty || replace else {
                return .refused(
                    rows: rows,
                    [CSV.Problem(line: 0, field: "replace", message: Self.copyTaken(taken.joined(separator: ", ")))]
                )
            }
            try await Self.write(
                days: targets,
                menus: days.map { ($0.day, $0.items) },
                school: school.id,
                user: user,
                now: now,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            return ImportReport(
                rows: rows,
                imported: true,
                problems: [],
                problemCount: 0,
                days: days.map { ImportReport.SetDay(day: $0.day, items: $0.items.count) },
                replaced: taken
            )
        }
    }

    /// The file's days in the order they first appear, each with its items checked as a set
    /// menu is, or the problems of every row: a row's own on its line, a day's own (more than 20
    /// items, a name listed twice) on the line that starts the day.
    static func days(
        in records: [CSV.Record],
        contractPrice: Int64,
        now: Date
    ) -> (days: [(day: String, items: [Item])], problems: [CSV.Problem]) {
        var problems: [CSV.Problem] = []
        var days: [(day: String, line: Int, items: [Item])] = []
        for record in records {
            let line = record.line
            guard record.fields.count == importHeader.count else {
                problems.append(
                    CSV.Problem(line: line, field: nil, message: Self.fieldCount(record.fields.count))
                )
                continue
            }
            let field = { (index: Int) in record.fields[index].trimmingCharacters(in: .whitespaces) }
            var day: Day?
            do {
                day = try settable(field(0), setting: true, now: now)
            } catch AdalError.invalidField(_, let reason) {
                problems.append(CSV.Problem(line: line, field: "day", message: reason))
            } catch {
                problems.append(CSV.Problem(line: line, field: "day", message: Day.shape))
            }
            guard let price = Tenge.tiyn(from: field(2)) else {
                problems.append(
                    CSV.Problem(line: line, field: "price", message: Self.priceShape)
                )
                continue
            }
            // A spreadsheet's stray comma (milk, , nuts or milk,) names nothing.
            let allergens = field(3).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }
            let item = Item(name: field(1), price: price, allergens: allergens)
            // The item on its own (name, price, allergens), on its own line.
            do {
                _ = try checked([item], contractPrice: contractPrice)
            } catch AdalError.invalidField(_, let reason) {
                problems.append(CSV.Problem(line: line, field: "item", message: reason))
                continue
            } catch {
                problems.append(CSV.Problem(line: line, field: "item", message: "\(error)"))
                continue
            }
            guard let day else { continue }
            if let index = days.firstIndex(where: { $0.day == day.description }) {
                days[index].items.append(item)
            } else {
                days.append((day.description, line, [item]))
            }
        }
        var checked: [(day: String, items: [Item])] = []
        for (day, line, items) in days {
            do {
                checked.append((day, try Self.checked(items, contractPrice: contractPrice)))
            } catch AdalError.invalidField(_, let reason) {
                problems.append(CSV.Problem(line: line, field: "item", message: "\(day): \(reason)"))
            } catch {
                problems.append(CSV.Problem(line: line, field: "item", message: "\(day): \(error)"))
            }
        }
        return (checked, problems.sorted { $0.line < $1.line })
    }
}
