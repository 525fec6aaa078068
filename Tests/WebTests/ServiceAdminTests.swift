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

    @Test("jobs that failed for good are listed with their last error, and sent again one by one or all")
    func deadJobs() async throws {
        try await WebFixture.with { fixture, client in
            /// Inserts a dead job of `city`; its number.
            func dead(_ city: Tenant, _ topic: String) async throws -> Int64 {
                try await fixture.databases.owner.withTenant(city.id) { connection in
                    try await connection.query(
                        """
                        INSERT INTO jobs (tenant_id, kind, topic, run_at, status, attempts, last_error, finished_at)
                        VALUES (\(city.id), 'outbox', \(topic), now() - interval '1 hour', 'dead', 8, 'gateway refused',
                            now())
                        RETURNING id
                        """,
                        logger: fixture.databases.owner.logger
                    ).collect().first?.decode(Int64.self) ?? 0
                }
            }
            /// The status and attempts of job `id` of `city`.
            func state(_ city: Tenant, _ id: Int64) async throws -> String {
                try await fixture.databases.owner.withTenant(city.id) { connection in
                    try await connection.query(
                        """
                        SELECT status || ' ' || attempts || CASE WHEN run_at <= now() THEN ' due' ELSE '' END
                        FROM jobs WHERE id = \(id)
                        """,
                        logger: fixture.databases.owner.logger
                    ).collect().first?.decode(String.self) ?? "none"
                }
            }
            let sms = try await dead(fixture.astana, "sms.send")
            let email = try await dead(fixture.astana, "email.send")
            let elsewhere = try await dead(fixture.shymkent, "sms.send")
            var admin = Browser(client: client)
            try await admin.signIn("astana", login: "admin")
            let page = try await admin.get("/astana/admin/services?lang=en")
            #expect(page.text.contains("sms.send"))
            #expect(page.text.contains("gateway refused"))
            #expect(page.text.contains(#"name="job" value="\#(sms)""#) && page.text.contains("Send all again"))

            let one = try await admin.post("/astana/admin/services/jobs/retry", form: ["job": String(sms)])
            #expect(one.headers[.location] == "/astana/admin/services?retried=1")
            #expect(try await state(fixture.astana, sms) == "pending 0 due")
            #expect(try await state(fixture.astana, email) == "dead 8 due")
            let told = try await admin.get("/astana/admin/services?retried=1&lang=en")
            #expect(told.text.contains("Jobs sent again: 1."))
            #expect(!told.text.contains(#"name="job" value="\#(sms)""#))
            // Another city's job is not this city's to send, nor a job no longer dead (a second
            // click): none sent, and the page says so; a number is asked for.
            for job in [elsewhere, sms] {
                let none = try await admin.post("/astana/admin/services/jobs/retry", form: ["job": String(job)])
                #expect(none.headers[.location] == "/astana/admin/services?retried=0")
            }
            #expect(try await state(fixture.shymkent, elsewhere) == "dead 8 due")
            #expect(try await state(fixture.astana, sms) == "pending 0 due")
            let said = try await admin.get("/astana/admin/services?retried=0&lang=ru")
            #expect(said.text.contains("Ничего не отправлено снова"))
            let bad = try await admin.post("/astana/admin/services/jobs/retry", form: ["job": "sms"])
            #expect(bad.status == .unprocessableContent && bad.text.contains("job"))
            // Parents may not; then the administrator sends the rest.
            var parent = Browser(client: client)
            try await parent.signIn("astana", login: "parent")
            #expect(try await parent.post("/astana/admin/services/jobs/retry", form: [:]).status == .forbidden)
            #expect(try await state(fixture.astana, email) == "dead 8 due")
            let all = try await admin.post("/astana/admin/services/jobs/retry", form: [:])
            #expect(all.headers[.location] == "/astana/admin/services?retried=1")
            #expect(try await state(fixture.astana, email) == "pending 0 due")
            #expect(try await state(fixture.shymkent, elsewhere) == "dead 8 due")
        }
    }
}
