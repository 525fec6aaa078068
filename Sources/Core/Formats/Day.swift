import Foundation

/// A calendar day (`YYYY-MM-DD`): a principal's appointment or attestation, a school menu's day,
/// the day a meal was served in Kazakhstan.
public struct Day: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        return calendar
    }()

    /// Parses `YYYY-MM-DD`; nil for anything else, or a day that does not exist.
    public init?(_ text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard text.count == 10, parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.allSatisfy(\.isASCII) && $0.allSatisfy(\.isNumber) }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            (1900...2200).contains(year),
            let date = Self.calendar.date(from: DateComponents(year: year, month: month, day: day)),
            Self.calendar.component(.day, from: date) == day, Self.calendar.component(.month, from: date) == month
        else { return nil }
        (self.year, self.month, self.day) = (year, month, day)
    }

    /// What a refusal says a day must be.
    public static let shape = "a date as YYYY-MM-DD"

    /// Parses `YYYY-MM-DD` from a request's `field`; refused naming the field otherwise.
    public init(checking text: some StringProtocol, field: String) throws {
        guard let day = Day(text) else { throw AdalError.invalidField(field: field, reason: Self.shape) }
        self = day
    }

    init(_ date: Date) {
        let parts = Self.calendar.dateComponents([.year, .month, .day], from: date)
        (year, month, day) = (parts.year ?? 1970, parts.month ?? 1, parts.day ?? 1)
    }

    /// Today in Kazakhstan (UTC+5).
    public static func today(_ now: Date = Date()) -> Day {
        Day(now.addingTimeInterval(5 * 3_600))
    }

    var date: Date {
        Self.calendar.date(from: DateComponents(year: year, month: month, day: day)) ?? Date(timeIntervalSince1970: 0)
    }

    /// The day `years`, `months` and `days` later, earlier when negative (29 February becomes 28
    /// February in a common year).
    public func adding(years: Int = 0, months: Int = 0, days: Int = 0) -> Day {
        Day(Self.calendar.date(byAdding: DateComponents(year: years, month: months, day: days), to: date) ?? date)
    }

    /// Whole days from `self` to `other`.
    public func days(until other: Day) -> Int {
        Self.calendar.dateComponents([.day], from: date, to: other.date).day ?? 0
    }

    public static func < (left: Day, right: Day) -> Bool {
        (left.year, left.month, left.day) < (right.year, right.month, right.day)
    }

    public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

    /// The day of the week, from 1 (Monday) to 7 (Sunday), as ISO 8601 counts them.
    public var weekday: Int {
        (Self.calendar.component(.weekday, from: date) + 5) % 7 + 1
    }

    /// The day as the pages write dates in every language: 24.11.2026.
    public var written: String { String(format: "%02d.%02d.%04d", day, month, year) }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let day = Day(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a date"))
        }
        self = day
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
