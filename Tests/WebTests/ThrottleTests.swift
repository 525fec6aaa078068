import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Web

@Suite("Failed sign-ins are throttled")
struct ThrottleTests {
    @Test("after five failures on one account the next attempt gets 429 with Retry-After, even with the right password")
    func perAccount() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            for _ in 0..<5 {
                let response = try await browser.signIn("astana", login: "parent", password: "wrong password")
                #expect(response.status == .unauthorized)
            }
            let blocked = try await browser.signIn("astana", login: "parent")
            #expect(blocked.status == .tooManyRequests)
            let retryAfter = blocked.headers[.retryAfter].flatMap(Int.init) ?? 0
            #expect((1...30).contains(retryAfter))
            #expect(browser.jar["adal_session"] == nil)
            // Another account from the same address is not blocked by this account's failures.
            let other = try await browser.signIn("astana", login: "admin")
            #expect(other.status == .seeOther)
        }
    }

    @Test("after twenty failures from one address on many accounts, that address waits")
    func perAddress() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            for attempt in 0..<20 {
                let response = try await browser.signIn("astana", login: "guess\(attempt)", password: "wrong password")
                #expect(response.status == .unauthorized)
            }
            let blocked = try await browser.signIn("astana", login: "admin")
            #expect(blocked.status == .tooManyRequests)
            #expect(blocked.headers[.retryAfter] != nil)
        }
    }

    @Test("the API answers a throttled sign-in with a problem document")
    func throttleProblem() async throws {
        let problem = Problem(AdalError.tooManyAttempts(retryAfterSeconds: 42))
        let response = problem.json(instance: "/api/astana/x", requestID: "r1")
        #expect(response.status == .tooManyRequests)
        #expect(response.headers[.contentType] == "application/problem+json")
    }
}
