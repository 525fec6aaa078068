import Foundation
import Testing
import Workflow

@Suite("Durations and working days")
struct WorkflowDurationTests {
    @Test(
        "ISO-8601 durations in weeks, days, hours, minutes and seconds",
        arguments: [
            ("P15D", Int64(15 * 86_400)), ("PT12H", Int64(12 * 3_600)), ("P2W", Int64(14 * 86_400)),
            ("P1DT2H30M", Int64(86_400 + 9_000)),
            ("PT90S", Int64(90)),
        ]
    )
    func iso(text: String, seconds: Int64) throws {
        #expect(try WorkflowDuration(parsing: text) == .calendar(seconds: seconds))
    }

    @Test("working days are written in words", arguments: [("10 working days", 10), ("1 working day", 1)])
    func workingDays(text: String, days: Int) throws {
        let duration = try WorkflowDuration(parsing: text)
        #expect(duration == .workingDays(days))
        #expect(duration.description == text)
    }

    @Test(
        "months, years, zero and nonsense are refused with a reason",
        arguments: [
            ("P2M", "years and months"), ("P1Y", "years and months"), ("P0D", "longer than zero"), ("15D", "ISO-8601"),
            ("PD", "must follow a number"), ("P1H", "unknown unit"), ("P5", "without a unit"),
            ("0 working days", "1 to"),
            ("P99999D", "ten years"),
        ]
    )
    func refused(text: String, reason: String) {
        #expect {
            try WorkflowDuration(parsing: text)
        } throws: { error in
            (error as? DurationError)?.reason.contains(reason) == true
        }
    }

    @Test("durations print in the form they are read")
    func roundTrip() throws {
        for text in ["P15D", "PT12H", "P1DT2H30M", "PT1M5S"] {
            #expect(try WorkflowDuration(parsing: text).description == text)
        }
    }

    static func almaty(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        return formatter.date(from: text)!
    }

    @Test("a Friday plus one working day is the Monday, at the same time of day")
    func weekend() {
        let friday = Self.almaty("2026-11-20T10:00:00+05:00")
        #expect(WorkflowDuration.workingDays(1).added(to: friday) == Self.almaty("2026-11-23T10:00:00+05:00"))
        #expect(WorkflowDuration.workingDays(5).added(to: friday) == Self.almaty("2026-11-27T10:00:00+05:00"))
    }

    @Test("Nauryz on a weekend moves its days off to the following weekdays")
    func holidayTransfer() {
        // 21–23 March 2026 are Saturday to Monday; the two weekend holidays move to 24 and 25 March.
        let friday = Self.almaty("2026-03-20T09:00:00+05:00")
        #expect(WorkflowDuration.workingDays(1).added(to: friday) == Self.almaty("2026-03-26T09:00:00+05:00"))
        #expect(!WorkingCalendar.kazakhstan.isWorkingDay(Self.almaty("2026-03-24T12:00:00+05:00")))
        #expect(WorkingCalendar.kazakhstan.isWorkingDay(Self.almaty("2026-03-26T12:00:00+05:00")))
    }

    @Test("calendar durations are exact seconds")
    func calendarTime() throws {
        let start = Self.almaty("2026-02-27T23:30:00+05:00")
        #expect(try WorkflowDuration(parsing: "P2D").added(to: start) == Self.almaty("2026-03-01T23:30:00+05:00"))
    }
}
