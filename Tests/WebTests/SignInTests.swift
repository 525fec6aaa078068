import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Storage
import Testing

@testable import Web

@Suite("Signing in and out")
struct SignInTests {
    @Test("a right password opens a session scoped to the city's path, shown on the account page")
    func signInWorks() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            let response = try await browser.signIn("astana", login: "parent")
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/astana/account")
            let cookie = response.headers[values: .setCookie].first { $0.hasPrefix("adal_session=") } ?? ""
            #expect(cookie.contains("HttpOnly"))
            #expect(cookie.contains("SameSite=Lax"))
            #expect(cookie.contains("Path=/astana"))
            let account = try await browser.get("/astana/account?lang=en")
            #expect(account.status == .ok)
            #expect(account.main.contains("Parent astana"))
            #expect(account.main.contains("<li>Parent</li>"))
        }
    }

    @Test("a wrong password and an unknown login get the same answer")
    func sameAnswerForUnknownUser() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            let wrongPassword = try await browser.signIn("astana", login: "parent", password: "not the password")
            let unknownUser = try await browser.signIn("astana", login: "nobody", password: "not the password")
            #expect(wrongPassword.status == .unauthorized)
            #expect(unknownUser.status == wrongPassword.status)
            let message = "Логин немесе құпиясөз қате."
            #expect(wrongPassword.main.contains(message))
            #expect(
                unknownUser.main.replacingOccurrences(of: "nobody", with: "parent")
                    == wrongPassword.main
                    .replacingOccurrences(of: wrongPassword.csrfValue, with: unknownUser.csrfValue)
            )
            #expect(browser.jar["adal_session"] == nil)
        }
    }

    @Test("signing out ends the session on the server: the old cookie no longer works")
    func signOutRevokes() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            try await browser.signIn("astana", login: "parent")
            let stolen = browser.jar["adal_session"]
            #expect(stolen != nil)
            let out = try await browser.post("/astana/logout", form: [:])
            #expect(out.status == .seeOther)
            #expect(browser.jar["adal_session"] == nil)
            // Replaying the cookie as an attacker who kept it.
            browser.jar["adal_session"] = stolen
            let account = try await browser.get("/astana/account")
            #expect(account.status == .seeOther)
            #expect(account.headers[.location] == "/astana/login")
        }
    }

    @Test("disabling a user ends their sessions at once")
    func disableRevokesSessions() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            try await browser.signIn("astana", login: "parent")
            #expect(try await browser.get("/astana/account").status == .ok)
            _ = try await fixture.dependencies.accounts.disableUser(login: "parent", tenantID: fixture.astana.id)
            #expect(try await browser.get("/astana/account").status == .seeOther)
            // And they cannot sign in again.
            let again = try await browser.signIn("astana", login: "parent")
            #expect(again.status == .unauthorized)
        }
    }

    @Test("a session of one city is not a session in another")
    func sessionsAreCityScoped() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            try await browser.signIn("astana", login: "parent")
            // Even if a client sends the cookie to another city's path, it is looked up there and not found.
            let other = try await browser.get("/shymkent/account")
            #expect(other.status == .seeOther)
            #expect(other.headers[.location] == "/shymkent/login")
        }
    }

    @Test("a form posted without the anti-forgery token, or with another, is refused")
    func csrfRequired() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            try await browser.get("/astana/login")
            let missing = try await browser.post(
                "/astana/login",
                form: ["login": "parent", "password": WebFixture.password],
                csrf: false
            )
            #expect(missing.status == .forbidden)
            let forged = try await browser.post(
                "/astana/login",
                form: ["login": "parent", "password": WebFixture.password, "_csrf": SecretToken.generate().text],
                csrf: false
            )
            #expect(forged.status == .forbidden)
            #expect(forged.main.contains("Форманың мерзімі өтті"))
            #expect(browser.jar["adal_session"] == nil)
        }
    }

    @Test("a form from another origin is refused even with the token")
    func foreignOriginRefused() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            try await browser.get("/astana/login")
            var headers = browser.jar.header
            headers[.contentType] = "application/x-www-form-urlencoded"
            headers[.origin] = "http://evil.example"
            let body = "login=parent&password=x&_csrf=\(browser.jar["adal_csrf"] ?? "")"
            let response = try await client.execute(
                uri: "/astana/login",
                method: .post,
                headers: headers,
                body: ByteBuffer(string: body)
            )
            #expect(response.status == .forbidden)
        }
    }
}

extension TestResponse {
    /// The anti-forgery token rendered into the page, so two pages can be compared apart from it.
    var csrfValue: String {
        guard let range = text.range(of: #"name="_csrf" value=""#) else { return "" }
        return String(text[range.upperBound...].prefix { $0 != "\"" })
    }
}

@Suite("Passwords")
struct PasswordTests {
    @Test("a password longer than bcrypt reads is refused, even when its first 72 bytes match")
    func overlongPassword() async throws {
        try await WebFixture.with { fixture, client in
            let accounts = fixture.dependencies.accounts
            let long = String(repeating: "p", count: 72)
            _ = try await accounts.createUser(
                NewUser(login: "long", displayName: "Long", iin: nil, roles: [.parent]),
                password: long,
                tenantID: fixture.astana.id
            )
            _ = try await accounts.signIn(login: "long", password: long, address: "a", tenantID: fixture.astana.id)
            await #expect(throws: AdalError.invalidCredentials) {
                try await accounts.signIn(
                    login: "long",
                    password: long + "tail",
                    address: "a",
                    tenantID: fixture.astana.id
                )
            }
        }
    }

    @Test("passwords are stored as bcrypt hashes of the configured cost, never in clear")
    func storedHashed() async throws {
        try await WebFixture.with { fixture, client in
            let stored = try await fixture.dependencies.accounts.store.passwordHash(
                login: "parent",
                tenantID: fixture.astana.id
            )
            #expect(stored?.hash.hasPrefix("$2b$04$") == true)
            #expect(stored?.hash.contains(WebFixture.password) == false)
        }
    }
}
