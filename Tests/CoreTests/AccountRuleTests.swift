import Foundation
import Testing

@testable import Core

@Suite("Account rules")
struct AccountRuleTests {
    @Test("logins are normalised to lower case and checked")
    func logins() throws {
        #expect(try User.normalizedLogin("  Canteen-Till.12 ") == "canteen-till.12")
        #expect(throws: AdalError.self) { try User.normalizedLogin("a") }
        #expect(throws: AdalError.self) { try User.normalizedLogin("-dash") }
        #expect(throws: AdalError.self) { try User.normalizedLogin("имя") }
        #expect(throws: AdalError.self) { try User.normalizedLogin(String(repeating: "a", count: 64)) }
    }

    @Test("city short names are checked and Adal's own paths are reserved")
    func slugs() throws {
        #expect(try TenantSlug("astana").value == "astana")
        #expect(try TenantSlug("ust-kamenogorsk").value == "ust-kamenogorsk")
        for bad in ["A", "astana-", "-astana", "Астана", "api", "health", String(repeating: "a", count: 41)] {
            #expect(throws: AdalError.self) { try TenantSlug(bad) }
        }
    }

    @Test("roles parse from their names and unknown ones are listed")
    func roles() throws {
        #expect(try Role.parse("canteen_till") == .canteenTill)
        #expect(try Role.parse("resident") == .resident)
        #expect(Role.allCases.count == 11)
        #expect(throws: AdalError.self) { try Role.parse("mayor") }
    }

    @Test("the throttle lets the allowance pass, then doubles the wait up to its ceiling")
    func throttle() {
        let policy = ThrottlePolicy(accountAllowance: 5, window: 900, baseDelay: 30, maximumDelay: 600)
        let start = Date(timeIntervalSince1970: 1_000_000)
        let now = start.addingTimeInterval(10)
        #expect(policy.retryAfter(failures: 4, allowance: 5, lastFailure: now, windowStart: start, now: now) == nil)
        #expect(policy.retryAfter(failures: 5, allowance: 5, lastFailure: now, windowStart: start, now: now) == 30)
        #expect(policy.retryAfter(failures: 6, allowance: 5, lastFailure: now, windowStart: start, now: now) == 60)
        #expect(policy.retryAfter(failures: 30, allowance: 5, lastFailure: now, windowStart: start, now: now) == 600)
        // The wait runs from the last failure, and a window that has passed forgives.
        let later = now.addingTimeInterval(31)
        #expect(policy.retryAfter(failures: 5, allowance: 5, lastFailure: now, windowStart: start, now: later) == nil)
        let afterWindow = start.addingTimeInterval(901)
        #expect(
            policy.retryAfter(
                failures: 30,
                allowance: 5,
                lastFailure: afterWindow,
                windowStart: start,
                now: afterWindow
            ) == nil
        )
    }

    @Test("secret tokens are 256-bit, URL-safe, distinct, and stored only as SHA-256")
    func secretTokens() {
        let a = SecretToken.generate()
        let b = SecretToken.generate()
        #expect(a != b)
        #expect(SecretToken.isWellFormed(a.text))
        #expect(a.hash.count == 32)
        #expect(!SecretToken.isWellFormed(a.text + "x"))
        #expect(!SecretToken.isWellFormed(String(a.text.dropLast()) + "="))
    }
}
