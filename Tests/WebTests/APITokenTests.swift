import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Web

@Suite("API tokens")
struct APITokenTests {
    func get(_ client: any TestClientProtocol, _ uri: String, token: String?) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(uri: uri, method: .get, headers: headers, body: nil)
    }

    @Test("a token acts with the roles it was scoped to, not all its user's")
    func scope() async throws {
        try await WebFixture.with { fixture, client in
            let (secret, _) = try await fixture.dependencies.accounts.issueToken(
                login: "admin",
                name: "reports",
                roles: [.auditor],
                tenantID: fixture.astana.id
            )
            let me = try await get(client, "/api/astana/me", token: secret.text)
            #expect(me.status == .ok)
            #expect(try me.json()["roles"] as? [String] == ["auditor"])
        }
    }

    @Test("a token's last use is recorded, but written at most once a minute, not on every request")
    func lastUse() async throws {
        try await WebFixture.with { fixture, client in
            let (secret, _) = try await fixture.dependencies.accounts.issueToken(
                login: "admin",
                name: "reports",
                roles: [.auditor],
                tenantID: fixture.astana.id
            )
            func lastUse() async throws -> Date? {
                try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                    for try await value in try await connection.query(
                        "SELECT last_used_at FROM api_tokens WHERE name = 'reports'",
                        logger: fixture.databases.owner.logger
                    ).decode(Date?.self) {
                        return value
                    }
                    return nil
                }
            }
            #expect(try await lastUse() == nil)
            #expect(try await get(client, "/api/astana/me", token: secret.text).status == .ok)
            let first = try #require(try await lastUse())
            #expect(try await get(client, "/api/astana/me", token: secret.text).status == .ok)
            #expect(try await lastUse() == first)
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "UPDATE api_tokens SET last_used_at = now() - interval '2 minutes' WHERE name = 'reports'",
                    logger: fixture.databases.owner.logger
                )
            }
            #expect(try await get(client, "/api/astana/me", token: secret.text).status == .ok)
            #expect(try await lastUse()! > first)
        }
    }

    @Test("tokens looked up at the same time are looked up together, each answered with its own principal")
    func lookedUpTogether() async throws {
        try await WebFixture.with { fixture, _ in
            let (accounts, astana) = (fixture.dependencies.accounts, fixture.astana.id)
            let admin = try await accounts.issueToken(login: "admin", name: "a", roles: [.auditor], tenantID: astana)
            let parent = try await accounts.issueToken(login: "parent", name: "p", roles: [], tenantID: astana)
            let revoked = try await accounts.issueToken(login: "admin", name: "r", roles: [], tenantID: astana)
            #expect(try await accounts.store.revokeToken(id: revoked.token.id, tenantID: astana, at: Date()))
            // The last was given to nobody; each is also presented to Shymkent, which knows none.
            let texts = [admin.secret.text, parent.secret.text, revoked.secret.text, SecretToken.generate().text]
            let answers = try await withThrowingTaskGroup(of: (Int, Principal?, Principal?).self) { group in
                for index in 0..<200 {
                    group.addTask {
                        let text = texts[index % texts.count]
                        return (
                            index % texts.count,
                            try await accounts.principal(apiToken: text, tenantID: astana),
                            try await accounts.principal(apiToken: text, tenantID: fixture.shymkent.id)
                        )
                    }
                }
                return try await group.reduce(into: [(Int, Principal?, Principal?)]()) { $0.append($1) }
            }
            #expect(answers.count == 200)
            for (which, principal, elsewhere) in answers {
                #expect(elsewhere == nil)
                switch which {
                case 0:
                    #expect(principal?.login == "admin" && principal?.roles == [.auditor])
                    #expect(principal?.channel == .token(id: admin.token.id))
                case 1: #expect(principal?.login == "parent" && principal?.channel == .token(id: parent.token.id))
                default: #expect(principal == nil)
                }
            }
        }
    }

    @Test("a token cannot be scoped beyond its user's roles")
    func noEscalation() async throws {
        try await WebFixture.with { fixture, client in
            await #expect(throws: AdalError.self) {
                try await fixture.dependencies.accounts.issueToken(
                    login: "parent",
                    name: "x",
                    roles: [.akimatAdmin],
                    tenantID: fixture.astana.id
                )
            }
        }
    }

    @Test("a token scoped to a role without the right is refused with 403")
    func forbiddenByScope() async throws {
        try await WebFixture.with { fixture, client in
            let (secret, _) = try await fixture.dependencies.accounts.issueToken(
                login: "parent",
                name: "app",
                roles: [],
                tenantID: fixture.astana.id
            )
            let admin = try await fixture.dependencies.accounts.store.user(login: "admin", tenantID: fixture.astana.id)
            let response = try await get(client, "/api/astana/users/\(admin!.id)", token: secret.text)
            #expect(response.status == .forbidden)
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(try response.json()["type"] as? String == "/problems/forbidden")
        }
    }

    @Test("missing, unknown, revoked and other-city tokens get 401 with a Bearer challenge")
    func unauthenticated() async throws {
        try await WebFixture.with { fixture, client in
            let accounts = fixture.dependencies.accounts
            let (secret, token) = try await accounts.issueToken(
                login: "admin",
                name: "till",
                roles: [],
                tenantID: fixture.astana.id
            )
            #expect(try await get(client, "/api/astana/me", token: secret.text).status == .ok)
            // The same token presented to another city.
            #expect(try await get(client, "/api/shymkent/me", token: secret.text).status == .unauthorized)
            let missing = try await get(client, "/api/astana/me", token: nil)
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(try await get(client, "/api/astana/me", token: SecretToken.generate().text).status == .unauthorized)
            #expect(try await accounts.store.revokeToken(id: token.id, tenantID: fixture.astana.id, at: Date()))
            #expect(try await get(client, "/api/astana/me", token: secret.text).status == .unauthorized)
        }
    }

    @Test("disabling a user stops their tokens at once")
    func disableRevokesTokens() async throws {
        try await WebFixture.with { fixture, client in
            let accounts = fixture.dependencies.accounts
            let (secret, _) = try await accounts.issueToken(
                login: "parent",
                name: "app",
                roles: [],
                tenantID: fixture.astana.id
            )
            #expect(try await get(client, "/api/astana/me", token: secret.text).status == .ok)
            _ = try await accounts.disableUser(login: "parent", tenantID: fixture.astana.id)
            #expect(try await get(client, "/api/astana/me", token: secret.text).status == .unauthorized)
        }
    }

    @Test("another city's user asked for by id is 404, never its data")
    func crossTenantIDIsNotFound() async throws {
        try await WebFixture.with { fixture, client in
            let accounts = fixture.dependencies.accounts
            let (secret, _) = try await accounts.issueToken(
                login: "admin",
                name: "admin",
                roles: [],
                tenantID: fixture.astana.id
            )
            let own = try await accounts.store.user(login: "parent", tenantID: fixture.astana.id)!
            let foreign = try await accounts.store.user(login: "parent", tenantID: fixture.shymkent.id)!
            let ownResponse = try await get(client, "/api/astana/users/\(own.id)", token: secret.text)
            #expect(ownResponse.status == .ok)
            #expect(try ownResponse.json()["login"] as? String == "parent")
            let foreignResponse = try await get(client, "/api/astana/users/\(foreign.id)", token: secret.text)
            #expect(foreignResponse.status == .notFound)
            #expect(!foreignResponse.text.contains("shymkent"))
            #expect(try foreignResponse.json()["type"] as? String == "/problems/not-found")
            // The store itself, asked with the wrong tenant, finds nothing.
            #expect(try await accounts.store.user(id: foreign.id, tenantID: fixture.astana.id) == nil)
        }
    }
}
