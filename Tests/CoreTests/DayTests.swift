import Core
import Foundation
import Testing

@Suite("Calendar days")
struct DayTests {
    @Test("only real days of the calendar are read, and a refusal names its field")
    func reading() throws {
        #expect(Day("2026-02-29") == nil && Day("2024-02-29") != nil && Day("2026-1-01") == nil && Day("x") == nil)
        for text in [
            "2026-13-01", "2026-00-10", "2026-11-31", "2026-11-1", "２０２６-11-24", "2026-11-24 ", "+026-11-24", "",
        ] {
            #expect(Day(text) == nil, "\(text)")
            #expect(throws: AdalError.invalidField(field: "from", reason: Day.shape)) {
                try Day(checking: text, field: "from")
            }
        }
        #expect(try Day(checking: "2026-11-24", field: "from").description == "2026-11-24")
        #expect(Day("2026-02-03")?.written == "03.02.2026")
        // 23 November 2026 is a Monday, 29 November a Sunday.
        #expect((23...29).map { Day("2026-11-\($0)")!.weekday } == Array(1...7))
    }

    @Test("days, months and years added keep to the calendar")
    func adding() {
        #expect(Day("2024-02-29")!.adding(years: 1) == Day("2025-02-28"))
        #expect(Day("2026-11-22")!.adding(months: 12) == Day("2027-11-22"))
        #expect(Day("2026-11-24")!.adding(days: 7) == Day("2026-12-01"))
        #expect(Day("2026-12-28")!.adding(days: 14) == Day("2027-01-11"))
        #expect(Day("2028-02-28")!.adding(days: 1) == Day("2028-02-29"))
        #expect(Day("2027-03-01")!.adding(days: -1) == Day("2027-02-28"))
        #expect(Day("2026-11-24")!.days(until: Day("2026-12-07")!) == 13)
    }

    @Test("today is the day in Kazakhstan (UTC+5)")
    func today() {
        // 2026-11-24 18:59:59 UTC is 23:59:59 in Kazakhstan; a second later it is the 25th there.
        let evening = Date(timeIntervalSince1970: 1_795_546_799)
        #expect(Day.today(evening).description == "2026-11-24")
        #expect(Day.today(evening.addingTimeInterval(1)).description == "2026-11-25")
    }
}
