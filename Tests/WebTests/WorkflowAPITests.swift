import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Web

@Suite("Workflow JSON API")
struct WorkflowAPITests {
    func token(_ fixture: WebFixture, login: String, roles: Set<Role>, city: Tenant? = nil) async throws -> String {
        try await fixture.dependencies.accounts.issueToken(
            login: login,
            name: "tests",
            roles: roles,
            tenantID: (city ?? fixture.astana).id
        ).0.text
    }

    func call(
        _ client: any TestClientProtocol,
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String,
        json: String? = nil,
        key: String? = nil
    ) async throws -> TestResponse {
        try await client.api(method, uri, token: token, json: json, key: key)
    }

    /// Tokens for Astana's parent and administrator, and a report the parent has just made.
    func reported(_ fixture: WebFixture, _ client: any TestClientProtocol) async throws -> (String, String, String) {
        let parent = try await token(fixture, login: "parent", roles: [.parent])
        let admin = try await token(fixture, login: "admin", roles: [.akimatAdmin])
        let started = try await call(
            client,
            .post,
            "/api/astana/services/repair-report/instances",
            token: parent,
            json: Self.report
        )
        #expect(started.status == .created)
        return (parent, admin, try #require(try started.json()["instance"] as? String))
    }

    static let report = #"{"input": {"school_bin": "940140000385", "what": "Broken window in room 12"}}"#

    @Test("a parent reports, the akimat accepts and closes; the instance shows every step")
    func lifecycle() async throws {
        try await WebFixture.with { fixture, client in
            let (parent, admin, id) = try await reported(fixture, client)

            let inbox = try await call(client, .get, "/api/astana/inbox", token: admin)
            #expect((try inbox.json()["instances"] as? [[String: Any]])?.first?["id"] as? String == id)

            let accepted = try await call(
                client,
                .post,
                "/api/astana/instances/\(id)/events/accept",
                token: admin,
                json: "{}"
            )
            #expect(accepted.status == .ok)
            #expect(try accepted.json()["to"] as? String == "in_work")
            let closed = try await call(
                client,
                .post,
                "/api/astana/instances/\(id)/events/close",
                token: admin,
                json: #"{"input": {"outcome": "repaired"}}"#
            )
            #expect(try closed.json()["sequence"] as? Int == 3)

            let shown = try await call(client, .get, "/api/astana/instances/\(id)", token: parent)
            #expect(shown.status == .ok)
            let steps = try #require(try shown.json()["steps"] as? [[String: Any]])
            #expect(steps.map { $0["event"] as? String } == ["start", "accept", "close"])
            #expect(try shown.json()["events"] as? [String] == [])
        }
    }

    @Test(
        "refusals come back as problem documents naming the reason",
        arguments: [
            ("/events/close", #"{"input": {"outcome": "burnt"}}"#, 422, "input.outcome"),
            ("/events/accept", #"{"input": {"extra": 1}}"#, 422, "input.extra"),
            ("/events/teleport", "{}", 422, "event"),
        ]
    )
    func refusals(path: String, json: String, status: Int, mention: String) async throws {
        try await WebFixture.with { fixture, client in
            let (_, admin, id) = try await reported(fixture, client)
            let response = try await call(client, .post, "/api/astana/instances/\(id)\(path)", token: admin, json: json)
            #expect(response.status.code == status)
            #expect(response.headers[.contentType] == "application/problem+json")
            #expect(response.text.contains(mention))
        }
    }

    @Test("the wrong role gets 403, a state that does not allow the event 409")
    func roleAndState() async throws {
        try await WebFixture.with { fixture, client in
            let (parent, admin, id) = try await reported(fixture, client)
            #expect(
                try await call(client, .post, "/api/astana/instances/\(id)/events/accept", token: parent, json: "{}")
                    .status == .forbidden
            )
            _ = try await call(client, .post, "/api/astana/instances/\(id)/events/accept", token: admin, json: "{}")
            #expect(
                try await call(client, .post, "/api/astana/instances/\(id)/events/accept", token: admin, json: "{}")
                    .status == .conflict
            )
        }
    }

    @Test("an Idempotency-Key makes a retried start return the first instance")
    func idempotentStart() async throws {
        try await WebFixture.with { fixture, client in
            let parent = try await token(fixture, login: "parent", roles: [.parent])
            let uri = "/api/astana/services/repair-report/instances"
            let first = try await call(client, .post, uri, token: parent, json: Self.report, key: "k-1")
            let retry = try await call(client, .post, uri, token: parent, json: Self.report, key: "k-1")
            #expect(first.status == .created)
            #expect(retry.status == .ok)
            #expect(try retry.json()["replayed"] as? Bool == true)
            #expect(try retry.json()["instance"] as? String == (try first.json()["instance"] as? String))
            let other = try await call(
                client,
                .post,
                uri,
                token: parent,
                json: #"{"input": {"school_bin": "070941024691", "what": "x"}}"#,
                key: "k-1"
            )
            #expect(other.status == .conflict)
        }
    }

    @Test("another city's instance is not found; the city's auditor sees it")
    func isolation() async throws {
        try await WebFixture.with { fixture, client in
            let (_, _, id) = try await reported(fixture, client)
            let shymkentAdmin = try await token(fixture, login: "admin", roles: [.akimatAdmin], city: fixture.shymkent)
            #expect(
                try await call(client, .get, "/api/shymkent/instances/\(id)", token: shymkentAdmin).status == .notFound
            )
            #expect(
                try await call(
                    client,
                    .post,
                    "/api/shymkent/instances/\(id)/events/accept",
                    token: shymkentAdmin,
                    json: "{}"
                ).status
                    == .notFound
            )
            let auditor = try await token(fixture, login: "admin", roles: [.auditor])
            #expect(try await call(client, .get, "/api/astana/instances/\(id)", token: auditor).status == .ok)
        }
    }

    @Test("search filters by service, state and subject and pages with a cursor")
    func search() async throws {
        try await WebFixture.with { fixture, client in
            let parent = try await token(fixture, login: "parent", roles: [.parent])
            let admin = try await token(fixture, login: "admin", roles: [.akimatAdmin])
            for _ in 0..<5 {
                _ = try await call(
                    client,
                    .post,
                    "/api/astana/services/repair-report/instances",
                    token: parent,
                    json: Self.report
                )
            }
            let page = try await call(
                client,
                .get,
                "/api/astana/instances?service=repair-report&state=reported&limit=3",
                token: admin
            )
            #expect((try page.json()["instances"] as? [Any])?.count == 3)
            let next = try #require(try page.json()["next"] as? String)
            let rest = try await call(client, .get, "/api/astana/instances?limit=3&before=\(next)", token: admin)
            #expect((try rest.json()["instances"] as? [Any])?.count == 2)
            #expect(try await call(client, .get, "/api/astana/instances?limit=500", token: admin).status.code == 422)
            #expect(try await call(client, .get, "/api/astana/instances", token: parent).status == .forbidden)
        }
    }
}
