import Audit
import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing
import Workflow

@testable import Web

@Suite("Auditor pages")
struct AuditPageTests {
    /// Two repair reports in Astana, one accepted, all integrated into the log.
    func steps(_ fixture: WebFixture) async throws -> UUID {
        let first = try await fixture.reportRepair("Report 0")
        _ = try await fixture.reportRepair("Report 1")
        try await fixture.acceptRepair(first)
        while try await fixture.dependencies.auditLog.integrate(tenantID: fixture.astana.id) > 0 {}
        return first
    }

    @Test("anyone sees the log's size, signed checkpoint and latest steps, without signing in")
    func logPage() async throws {
        try await WebFixture.with { fixture, client in
            let first = try await steps(fixture)
            var visitor = Browser(client: client)
            let page = try await visitor.get("/astana/audit?lang=en")
            #expect(page.status == .ok)
            #expect(page.text.contains("adal.test/audit/astana\n3\n"))
            #expect(page.text.contains("/astana/audit/leaves/2"))
            #expect(!page.text.contains("940140000385"))
            let instance = try await visitor.get("/astana/audit?instance=\(first.uuidString.lowercased())&lang=en")
            #expect(instance.text.contains("/astana/audit/leaves/0"))
            #expect(instance.text.contains("/astana/audit/leaves/2"))
            #expect(!instance.text.contains("/astana/audit/leaves/1\""))
            #expect(try await visitor.get("/astana/audit?instance=nonsense").status.code == 422)
        }
    }

    @Test("a step's page shows its proof, checked by the server, with what the browser needs to check it again")
    func leafPage() async throws {
        try await WebFixture.with { fixture, client in
            _ = try await steps(fixture)
            var visitor = Browser(client: client)
            let page = try await visitor.get("/astana/audit/leaves/2?lang=en")
            #expect(page.status == .ok)
            let html = page.text
            #expect(html.contains("The proof leads to the signed root (checked by the server)."))
            #expect(html.contains("data-size=\"3\""))
            #expect(html.contains("/static/verify-leaf.js"))
            #expect(html.contains("/astana/audit/leaves/0"))  // the instance's previous step
            let leaf = try #require(try await fixture.dependencies.auditLog.leaf(index: 2, tenantID: fixture.astana.id))
            #expect(html.contains(Data(leaf.entry).base64EncodedString()))
            #expect(try await visitor.get("/astana/audit/leaves/3").status == .notFound)
            // A first step names no previous one (and never the text "nil").
            let first = try await visitor.get("/astana/audit/leaves/1?lang=en").text
            #expect(!first.contains("Previous step of the instance"))
            #expect(!first.contains("nil"))
            let script = try await visitor.get("/static/verify-leaf.js")
            #expect(script.status == .ok)
            #expect(script.headers[.contentType] == "text/javascript; charset=utf-8")
        }
    }
}
