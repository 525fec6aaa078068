import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import Workflow

@testable import Web

@Suite("Workflow pages")
struct WorkflowPageTests {
    @Test("the inbox lists the tasks waiting for my roles, with their due dates")
    func inbox() async throws {
        try await WebFixture.with { fixture, client in
            let id = try await fixture.reportRepair()
            var admin = Browser(client: client)
            try await admin.signIn("astana", login: "admin")
            let page = try await admin.get("/astana/inbox?lang=en")
            #expect(page.status == .ok)
            #expect(page.text.contains("/astana/instances/\(id.uuidString.lowercased())"))
            #expect(page.text.contains("Reported"))
            var parent = Browser(client: client)
            try await parent.signIn("astana", login: "parent")
            #expect(try await parent.get("/astana/inbox?lang=en").text.contains("No tasks are waiting for you."))
        }
    }

    @Test("an instance page shows the diagram with the current state marked and every step")
    func instancePage() async throws {
        try await WebFixture.with { fixture, client in
            let id = try await fixture.reportRepair()
            try await fixture.acceptRepair(id)
            while try await fixture.dependencies.auditLog.integrate(tenantID: fixture.astana.id) > 0 {}
            var admin = Browser(client: client)
            try await admin.signIn("astana", login: "admin")
            let page = try await admin.get("/astana/instances/\(id.uuidString.lowercased())?lang=ru")
            #expect(page.status == .ok)
            let html = page.text
            #expect(html.contains("<svg"))
            #expect(html.contains("#ffe08a"))
            #expect(html.contains("В работе"))
            #expect(html.contains("Сообщить"))
            #expect(html.contains("Принять"))
            #expect(html.contains("/audit/astana/leaves/0"))
            #expect(html.contains("/audit/astana/leaves/1"))
            #expect(html.contains("/audit/astana/proof/inclusion?index=1&amp;size=2"))
            #expect(!html.contains(">nil<") && !html.contains("leaves/nil"))
        }
    }

    @Test("pages need a session, and another city's instance is not found")
    func access() async throws {
        try await WebFixture.with { fixture, client in
            let id = try await fixture.reportRepair()
            var anonymous = Browser(client: client)
            let redirected = try await anonymous.get("/astana/instances/\(id)")
            #expect(redirected.status == .seeOther || redirected.status == .found)
            var other = Browser(client: client)
            try await other.signIn("shymkent", login: "admin")
            #expect(try await other.get("/shymkent/instances/\(id)").status == .notFound)
        }
    }

    @Test("the search page filters a city's instances")
    func search() async throws {
        try await WebFixture.with { fixture, client in
            _ = try await fixture.reportRepair()
            var admin = Browser(client: client)
            try await admin.signIn("astana", login: "admin")
            let found = try await admin.get("/astana/instances?state=reported&lang=en")
            #expect(found.status == .ok)
            #expect(found.text.contains("Repair report"))
            #expect(try await admin.get("/astana/instances?state=closed&lang=en").text.contains("No cases match."))
            #expect(try await admin.get("/astana/instances?from=2026-02-30").status.code == 422)
        }
    }
}
