import Foundation

extension Date {
    /// `ISO8601Format()`'s text — `2026-11-24T05:00:00Z`, UTC, whole seconds — written without
    /// making a format style and a calendar's date components each time: a till's answer carries
    /// its charge's time, and those were about 2 % of the server's CPU per charge
    /// (docs/meal-payments.md, "Less of the server's CPU per charge"). For the years 1583 to 9999
    /// (before the Gregorian reform Foundation counts Julian days; these are Gregorian).
    public var iso8601Text: String {
        // Whole seconds as Foundation counts them: down from its own reference date (2001), whose
        // interval keeps fractions that one counted from 1970 would round away.
        let whole = Int64(timeIntervalSinceReferenceDate.rounded(.down)) + 978_307_200
        let (days, secondOfDay) = Self.floorDivision(whole, 86_400)
        let (year, month, day) = Self.civilDate(daysSince1970: days)
        var text = ""
        text.reserveCapacity(20)
        Self.append(year, digits: 4, to: &text)
        text += "-"
        Self.append(month, digits: 2, to: &text)
        text += "-"
        Self.append(day, digits: 2, to: &text)
        text += "T"
        Self.append(secondOfDay / 3_600, digits: 2, to: &text)
        text += ":"
        Self.append(secondOfDay % 3_600 / 60, digits: 2, to: &text)
        text += ":"
        Self.append(secondOfDay % 60, digits: 2, to: &text)
        text += "Z"
        return text
    }

    /// Quotient and remainder rounded toward minus infinity, so times before 1970 fall on the
    /// day they belong to.
    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
        let quotient = value / divisor - (value % divisor < 0 ? 1 : 0)
        return (quotient, value - quotient * divisor)
    }

    /// The proleptic Gregorian year, month and day of a day counted from 1 January 1970, by
    /// whole 400-year cycles (each 146,097 days) counted from 1 March 0000, so that a leap day
    /// is always the last day of its year.
    private static func civilDate(daysSince1970: Int64) -> (Int64, Int64, Int64) {
        // 719,468 days from 0000-03-01 to 1970-01-01.
        let (era, dayOfEra) = floorDivision(daysSince1970 + 719_468, 146_097)
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        // Months from March: 153 days in every five.
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthFromMarch + 2) / 5 + 1
        let month = monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day)
    }

    private static func append(_ value: Int64, digits: Int, to text: inout String) {
        let written = String(value)
        if written.utf8.count < digits { text += String(repeating: "0", count: digits - written.utf8.count) }
        text += written
    }
}
