import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing
import Workflow

@testable import Web

@Suite("Service settings page")
struct ServiceAdminTests {
    @Test("an administrator pins a version and sets a parameter; a value out of bounds is refused with its reason")
    func settings() async throws {
        try await WebFixture.with { fixture, client in
            var admin = Browser(client: client)
            try await admin.signIn("astana", login: "admin")
            let page = try await admin.get("/astana/admin/services?lang=en")
            #expect(page.status == .ok)
            #expect(page.text.contains("Repair report"))
            #expect(page.text.contains("value=\"P3D\""))

            let saved = try await admin.post(
                "/astana/admin/services/repair-report",
                form: ["version": "1", "p_response_time": "P5D"]
            )
            #expect(saved.status == .seeOther || saved.status == .found)
            let settings = try await ServiceSettingsStore(
                database: fixture.databases.application,
                registry: fixture.dependencies.workflows.registry
            ).settings(tenantID: fixture.astana.id).first { $0.service == "repair-report" }
            #expect(settings?.version == 1)
            #expect(settings?.parameters["response_time"] == .string("P5D"))

            let refused = try await admin.post(
                "/astana/admin/services/repair-report",
                form: ["p_response_time": "P30D"]
            )
            #expect(refused.status.code == 422)
            #expect(refused.text.contains("parameters.response_time"))

            // The change is a recorded step of the city's settings record, with its audit leaf;
            // the refused one left nothing.
            let queries = WorkflowQueries(database: fixture.databases.application)
            let records = try await queries.search(
                InstanceFilter(service: SettingsRecord.key),
                tenantID: fixture.astana.id
            )
            #expect(records.count == 1)
            let record = try #require(records.first)
            let steps = try await queries.steps(of: record.id, tenantID: fixture.astana.id)
            #expect(steps.map(\.event) == ["start", "change"])
            while try await fixture.dependencies.auditLog.integrate(tenantID: fixture.astana.id) > 0 {}
            let integrated = try await queries.steps(of: record.id, tenantID: fixture.astana.id)
            #expect(integrated.allSatisfy { $0.leafIndex != nil })
            // The record is not a service to configure.
            #expect(!(try await admin.get("/astana/admin/services?lang=en").text.contains("Service settings record")))
        }
    }

    @Test("only akimat administrators may open it")
    func forbidden() async throws {
        try await WebFixture.with { fixture, client in
            var parent = Browser(client: client)
            try await parent.signIn("astana", login: "parent")
            #expect(try await parent.get("/astana/admin/services").status == .forbidden)
            #expect(
                try await parent.post("/astana/admin/services/repair-report", form: ["p_response_time": "P5D"]).status
                    == .forbidden
            )
        }
    }

    @Test("jobs that failed for good are listed with their last error")
    func deadJobs() async throws {
        try await WebFixture.with { fixture, client in
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    """
                    INSERT INTO jobs (tenant_id, kind, topic, run_at, status, attempts, last_error, finished_at)
                    VALUES (\(fixture.astana.id), 'outbox', 'sms.send', now(), 'dead', 8, 'gateway refused', now())
                    """,
                    logger: fixture.databases.owner.logger
                )
            }
            var admin = Browser(client: client)
            try await admin.signIn("astana", login: "admin")
            let page = try await admin.get("/astana/admin/services?lang=en")
            #expect(page.text.contains("sms.send"))
            #expect(page.text.contains("gateway refused"))
        }
    }
}
