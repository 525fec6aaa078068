import Foundation

/// Which days count as working days for deadlines written in working days.
///
/// Kazakhstan's calendar: Monday to Friday, less the public holidays fixed by date, and when
/// such a holiday falls on a weekend the next working day is a day off. Days are counted in
/// the country's single time zone (UTC+5, no daylight saving). Holidays on moving dates
/// (Kurban ait) and government day-swaps are not in the rule and must be added per year.
public struct WorkingCalendar: Sendable {
    /// (month, day) pairs.
    public let fixedHolidays: [(month: Int, day: Int)]
    public let utcOffsetSeconds: Int
    /// Extra days off, such as Kurban ait, as `YYYY-MM-DD`.
    public let extraHolidays: Set<String>

    public static let kazakhstan = WorkingCalendar(
        fixedHolidays: [
            (1, 1), (1, 2), (1, 7), (3, 8), (3, 21), (3, 22), (3, 23), (5, 1), (5, 7), (5, 9), (7, 6),
            (8, 30), (10, 25), (12, 16),
        ],
        utcOffsetSeconds: 5 * 3_600,
        extraHolidays: []
    )

    public init(fixedHolidays: [(month: Int, day: Int)], utcOffsetSeconds: Int, extraHolidays: Set<String>) {
        self.fixedHolidays = fixedHolidays
        self.utcOffsetSeconds = utcOffsetSeconds
        self.extraHolidays = extraHolidays
    }

    private var calendar: Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: utcOffsetSeconds)!
        return calendar
    }

    /// The same local time `days` working days after `start` (a Friday plus one is a Monday).
    public func adding(workingDays days: Int, to start: Date) -> Date {
        let calendar = calendar
        var date = start
        var counted = 0
        while counted < days {
            date = calendar.date(byAdding: .day, value: 1, to: date)!
            if isWorkingDay(date, calendar: calendar) { counted += 1 }
        }
        return date
    }

    /// Whether the local day containing `date` is a working day.
    public func isWorkingDay(_ date: Date) -> Bool {
        isWorkingDay(date, calendar: calendar)
    }

    private func isWorkingDay(_ date: Date, calendar: Calendar) -> Bool {
        // A holiday on a weekend moves to the next working day. Replaying the two weeks before
        // `date` settles every move that can reach it (the longest run of holidays is three days).
        var owed = 0
        var day = calendar.date(byAdding: .day, value: -14, to: date)!
        while true {
            let weekend = isWeekend(day, calendar)
            let holiday = isHoliday(day, calendar)
            let working: Bool
            if weekend {
                if holiday { owed += 1 }
                working = false
            } else if holiday {
                working = false
            } else if owed > 0 {
                owed -= 1
                working = false
            } else {
                working = true
            }
            if calendar.isDate(day, inSameDayAs: date) { return working }
            day = calendar.date(byAdding: .day, value: 1, to: day)!
        }
    }

    private func isWeekend(_ date: Date, _ calendar: Calendar) -> Bool {
        let weekday = calendar.component(.weekday, from: date)
        return weekday == 1 || weekday == 7
    }

    private func isHoliday(_ date: Date, _ calendar: Calendar) -> Bool {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        guard let month = parts.month, let day = parts.day, let year = parts.year else { return false }
        if fixedHolidays.contains(where: { $0.month == month && $0.day == day }) { return true }
        return extraHolidays.contains(String(format: "%04d-%02d-%02d", year, month, day))
    }
}
