import Foundation
import Testing

@testable import Core

@Suite("Times written as ISO 8601 without a format style")
struct ISO8601TextTests {
    @Test(
        "edges of seconds, days, leap years and centuries are written as ISO8601Format() writes them",
        arguments: [
            0, 1.9999999, 1.99999999999, -0.5, -1.000_000_1, 1_795_000_000.75, 951_782_400, 951_868_799.999_999,
            4_102_444_800.999_9, -2_208_988_800.25, 253_402_300_799.5, 946_684_799, 1_709_164_800, -11_676_096_000,
        ]
    )
    func edges(seconds: Double) {
        let date = Date(timeIntervalSince1970: seconds)
        #expect(date.iso8601Text == date.ISO8601Format())
    }

    @Test(
        "a fraction of a second just short of the next is still the second before, as Foundation counts it",
        arguments: [-1e-11, -1e-7, 0.999_999_999_9, -0.999_999_999_9, 5.999_999_999_999_9, -500_000_000.000_000_1]
    )
    func fractions(sinceReferenceDate seconds: Double) {
        let date = Date(timeIntervalSinceReferenceDate: seconds)
        #expect(date.iso8601Text == date.ISO8601Format())
    }

    @Test("ten thousand random times to the microsecond, 1900 to 2200, as ISO8601Format()")
    func random() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<10_000 {
            let microseconds = Int64.random(in: -2_208_988_800_000_000...7_258_118_400_000_000, using: &generator)
            let date = Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
            #expect(date.iso8601Text == date.ISO8601Format(), "\(microseconds) µs")
        }
    }
}
