import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import PrincipalRotation
import Storage
import Testing
import Workflow

@testable import Web

@Suite("Principal rotation over HTTP")
struct PrincipalRotationHTTPTests {
    static let header = RegistryCSV.header.joined(separator: ",")
    /// Two urban schools of one district whose principals have served past the limit, and a
    /// third school in another district.
    static let registry = """
        \(header)
        940140000385,Мектеп-гимназия №1,Есіл,Астана,urban,,791028302728,Әлия Нұрланова,2016-09-01,,appointment,2025-05-10
        070941024691,№2 мектеп,Есіл,Астана,urban,,061211600012,Серік Ахметов,2017-09-01,,appointment,2025-05-10
        """

    /// Astana with the service on, an education officer and a commission member; their API tokens.
    static func prepare(_ fixture: WebFixture) async throws -> (admin: String, commission: String) {
        try await PostgresTenantStore(database: fixture.databases.owner).enable(
            .principalRotation,
            tenantID: fixture.astana.id
        )
        let admin = try await fixture.account("rotation-admin", name: "Education department", role: .akimatAdmin)
        let commission = try await fixture.account("commission", name: "Commission", role: .commissionMember)
        return (admin.token, commission.token)
    }

    func post(_ client: any TestClientProtocol, _ uri: String, token: String, csv: String) async throws -> TestResponse
    {
        try await client.execute(
            uri: uri,
            method: .post,
            headers: [.authorization: "Bearer \(token)", .contentType: "text/csv"],
            body: ByteBuffer(string: csv)
        )
    }

    @Test(
        "from import to a completed rotation: plan, acceptance, every step, the registry updated and every step in the audit log"
    )
    func fullRotation() async throws {
        try await WebFixture.with { fixture, client in
            let (admin, commission) = try await Self.prepare(fixture)
            let school = try await fixture.account("school", name: "School office", role: .schoolAdmin).token
            let base = "/api/astana/principal-rotation"

            // A file with one bad row is refused whole; the good one is imported.
            let bad = Self.registry + "\n940140000385,,,,,,000813159890,X,2020-01-01,,appointment,"
            let refused = try await post(client, base + "/registry", token: admin, csv: bad)
            #expect(refused.status == .unprocessableContent)
            #expect(try refused.json()["imported"] as? Bool == false)
            #expect(
                (try await client.api(.get, base + "/registry", token: admin).json()["schools"] as? [Any])?.isEmpty
                    == true
            )
            let imported = try await post(client, base + "/registry", token: admin, csv: Self.registry)
            #expect(imported.status == .ok, "\(imported.text)")
            #expect(try imported.json()["newAppointments"] as? Int == 2)
            #expect(
                try await post(client, base + "/registry", token: commission, csv: Self.registry).status == .forbidden
            )

            let due = try await client.api(.get, base + "/due", token: commission).json()
            let entries = due["entries"] as? [[String: Any]] ?? []
            #expect(entries.filter { $0["kind"] as? String == "tenure" && $0["overdue"] as? Bool == true }.count == 2)
            #expect((due["districts"] as? [[String: Any]])?.first?["tenureOverdue"] as? Int == 2)

            let today = Day.today().description
            let proposal = try await client.api(
                .post,
                base + "/plan",
                token: commission,
                json: #"{"dueBy": "\#(today)", "movesOn": "\#(today)"}"#
            ).json()
            let moves = proposal["moves"] as? [[String: Any]] ?? []
            #expect(moves.count == 2 && (proposal["unplaced"] as? [Any])?.isEmpty == true)
            #expect(
                Set(moves.map { "\($0["principalIIN"] ?? "")>\($0["schoolBIN"] ?? "")" }) == [
                    "791028302728>070941024691", "061211600012>940140000385",
                ]
            )

            // An edited plan that sends a principal back to her own school is refused; nothing starts.
            let own = #"{"moves": [{"principalIIN": "791028302728", "schoolBIN": "940140000385"}]}"#
            let broken = try await client.api(.post, base + "/plan/accept", token: commission, json: own)
            #expect(broken.status == .unprocessableContent && broken.text.contains("own school"), "\(broken.text)")
            let accept = """
                {"moves": [{"principalIIN": "791028302728", "schoolBIN": "070941024691"},
                           {"principalIIN": "061211600012", "schoolBIN": "940140000385"}]}
                """
            let accepted = try await client.api(.post, base + "/plan/accept", token: commission, json: accept)
            #expect(accepted.status == .created, "\(accepted.text)")
            let instances = try accepted.json()["instances"] as? [String] ?? []
            #expect(instances.count == 2)
            let again = try await client.api(.post, base + "/plan/accept", token: commission, json: accept)
            #expect(try again.json()["instances"] as? [String] == instances)

            // Each rotation through every step up to the order.
            func fire(
                _ instance: String,
                _ event: String,
                _ token: String,
                _ input: String = "{}"
            ) async throws -> TestResponse {
                try await client.api(
                    .post,
                    "/api/astana/instances/\(instance)/events/\(event)",
                    token: token,
                    json: #"{"input": \#(input)}"#
                )
            }
            for (instance, chosen) in zip(instances, ["791028302728", "061211600012"]) {
                #expect(try await fire(instance, "announce_vacancy", admin).status == .ok)
                #expect(
                    try await fire(instance, "register_candidate", admin, #"{"candidate_iin": "\#(chosen)"}"#).status
                        == .ok
                )
                // Not a candidate: refused with the reason.
                let stranger = try await fire(
                    instance,
                    "decide",
                    commission,
                    #"{"chosen_iin": "000000000000", "minutes_number": "1"}"#
                )
                #expect(stranger.status == .unprocessableContent)
                let decided = try await fire(
                    instance,
                    "decide",
                    commission,
                    #"{"chosen_iin": "\#(chosen)", "minutes_number": "К-17"}"#
                )
                #expect(decided.status == .ok, "\(decided.text)")
                let late = try await fire(
                    instance,
                    "sign_order",
                    admin,
                    #"{"order_number": "П-5", "effective_on": "2035-01-01"}"#
                )
                #expect(late.status == .unprocessableContent && late.text.contains("planning horizon"))
                let order = #"{"order_number": "П-5", "effective_on": "\#(today)"}"#
                #expect(try await fire(instance, "sign_order", admin, order).status == .ok)
            }

            // The handover is the school's: its office works at the first school only (the
            // akimat says so), so the second school's rotation, whose steps name principals by
            // IIN, is neither readable nor offered to it, and its handover is refused.
            let staff = base + "/staff/school"
            let first = #"{"schoolBIN": "070941024691"}"#
            #expect(try await client.api(.put, staff, token: commission, json: first).status == .forbidden)
            #expect(
                try await client.api(.put, base + "/staff/commission", token: admin, json: first).status == .notFound
            )
            let typo = try await client.api(.put, staff, token: admin, json: #"{"schoolBIN": "070941024692"}"#)
            #expect(typo.status == .unprocessableContent && typo.text.contains("schoolBIN"), "\(typo.text)")
            let elsewhere = #"{"schoolBIN": "\#(DemoData.schoolBIN(3))"}"#
            let unknown = try await client.api(.put, staff, token: admin, json: elsewhere)
            #expect(
                unknown.status == .unprocessableContent && unknown.text.contains("in the registry"),
                "\(unknown.text)"
            )
            #expect(try await client.api(.put, staff, token: admin, json: first).status == .noContent)
            #expect(try await client.api(.put, staff, token: admin, json: first).status == .noContent)
            #expect(try await client.api(.get, staff, token: admin).json()["schools"] as? [String] == ["070941024691"])
            let (ours, other) = (instances[0], instances[1])
            let inbox = try await client.api(.get, "/api/astana/inbox", token: school).text
            #expect(inbox.contains(ours) && !inbox.contains(other), "\(inbox)")
            #expect(try await client.api(.get, "/api/astana/instances/\(ours)", token: school).status == .ok)
            let hidden = try await client.api(.get, "/api/astana/instances/\(other)", token: school)
            #expect(hidden.status == .notFound && !hidden.text.contains("061211600012"))
            #expect(try await client.api(.get, "/api/astana/instances/\(other)", token: commission).status == .ok)
            let notOurs = try await fire(other, "complete_handover", school, #"{"inventory_act": "А-3"}"#)
            #expect(notOurs.status == .forbidden && notOurs.text.contains("does not work at the school"))
            let waiting = try await client.api(.get, "/api/astana/instances/\(other)", token: admin).json()
            #expect((waiting["instance"] as? [String: Any])?["state"] as? String == "order_signed")
            let done = try await fire(ours, "complete_handover", school, #"{"inventory_act": "А-3"}"#)
            #expect(done.status == .ok, "\(done.text)")
            // Moved to the second school, the office confirms its handover.
            #expect(try await client.api(.delete, staff + "/070941024691", token: admin).status == .noContent)
            #expect(try await client.api(.delete, staff + "/070941024691", token: admin).status == .notFound)
            #expect(
                try await client.api(.put, staff, token: admin, json: #"{"schoolBIN": "940140000385"}"#).status
                    == .noContent
            )
            #expect(try await client.api(.get, "/api/astana/instances/\(ours)", token: school).status == .notFound)
            let second = try await fire(other, "complete_handover", school, #"{"inventory_act": "А-4"}"#)
            #expect(second.status == .ok, "\(second.text)")

            // The registry now shows the new heads, from today; the old appointments ended today.
            let schools =
                try await client.api(.get, base + "/registry", token: admin).json()["schools"] as? [[String: Any]] ?? []
            let heads = Dictionary(
                uniqueKeysWithValues: schools.map { ($0["bin"] as? String ?? "", $0["principalIIN"] as? String ?? "") }
            )
            #expect(heads == ["940140000385": "061211600012", "070941024691": "791028302728"])
            #expect(schools.allSatisfy { $0["since"] as? String == today })
            let csv = try await client.api(.get, base + "/registry.csv", token: admin).text
            #expect(csv.contains("791028302728,Әлия Нұрланова,2016-09-01,\(today),"))
            #expect(try await client.api(.get, base + "/due", token: admin).json()["entries"] as? [Any] != nil)

            // Every step of both rotations is in the audit log.
            while try await fixture.dependencies.auditLog.integrate(tenantID: fixture.astana.id) > 0 {}
            for instance in instances {
                let steps =
                    try await client.api(.get, "/api/astana/instances/\(instance)", token: admin).json()["steps"]
                    as? [[String: Any]] ?? []
                #expect(steps.count == 6)
                #expect(steps.allSatisfy { $0["leafIndex"] is Int })
            }

            // The public figures: counts only.
            let figures = try await client.api(.get, base + "/public")
            #expect(figures.status == .ok)
            #expect(!figures.text.contains("791028302728") && !figures.text.contains("Әлия"))
            #expect(try figures.json()["headed"] as? Int == 2)
        }
    }

    @Test("the officials' page, a principal's history and the public figures")
    func pages() async throws {
        try await WebFixture.with { fixture, client in
            let (admin, _) = try await Self.prepare(fixture)
            let imported = try await post(
                client,
                "/api/astana/principal-rotation/registry",
                token: admin,
                csv: Self.registry
            )
            #expect(imported.status == .ok)
            var browser = Browser(client: client)
            try await browser.signIn("astana", login: "rotation-admin")
            let page = try await browser.get("/astana/principal-rotation?lang=en")
            #expect(page.status == .ok)
            #expect(page.main.contains("<svg") && page.main.contains("Есіл") && page.main.contains("Әлия Нұрланова"))
            #expect(
                page.main.contains("class=\"overdue\"") && page.main.contains("/astana/services/principal-rotation/new")
            )
            let search = try await browser.get("/astana/principal-rotation?lang=en&q=%E2%84%962")
            let registrySection = try #require(search.main.components(separatedBy: "Registry of schools").last)
            #expect(registrySection.contains("Серік Ахметов") && !registrySection.contains("Мектеп-гимназия"))
            let history = try #require(
                page.main.firstMatch(of: /href="(\/astana\/principal-rotation\/principals\/[0-9a-f-]{36})"/).map {
                    String($0.1)
                }
            )
            let person = try await browser.get(history + "?lang=en")
            #expect(person.status == .ok && person.main.contains("2016-09-01"))
            let csv = try await browser.get("/astana/principal-rotation/registry.csv")
            #expect(csv.status == .ok && csv.text.hasPrefix(Self.header))

            var anonymous = Browser(client: client)
            let figures = try await anonymous.get("/astana/principal-rotation/public?lang=en")
            #expect(figures.status == .ok && figures.main.contains("<svg") && figures.main.contains("Есіл"))
            #expect(!figures.text.contains("791028302728") && !figures.text.contains("Әлия"))
            let redirected = try await anonymous.get("/astana/principal-rotation")
            #expect(redirected.status == .seeOther || redirected.status == .found)
            var parent = Browser(client: client)
            try await parent.signIn("astana", login: "parent")
            #expect(try await parent.get("/astana/principal-rotation").status == .forbidden)
        }
    }

    @Test(
        "the commission edits the proposed plan on its page: a move that breaks the policy comes back with the reason, the accepted plan starts the rotations"
    )
    func planPage() async throws {
        try await WebFixture.with { fixture, client in
            let (admin, _) = try await Self.prepare(fixture)
            _ = try await post(
                client,
                "/api/astana/principal-rotation/registry",
                token: admin,
                csv: Self.registry
            )
            var commission = Browser(client: client)
            try await commission.signIn("astana", login: "commission")
            let page = try await commission.get("/astana/principal-rotation/plan?lang=en")
            #expect(page.status == .ok)
            #expect(
                page.main.contains(#"name="move_791028302728""#)
                    && page.main.contains(#"<option value="070941024691" selected>"#)
            )
            let today = Day.today().description
            let own = try await commission.post(
                "/astana/principal-rotation/plan?lang=en",
                form: ["dueBy": today, "movesOn": today, "move_791028302728": "940140000385"]
            )
            #expect(own.status == .unprocessableContent && own.main.contains("own school"))
            let accepted = try await commission.post(
                "/astana/principal-rotation/plan",
                form: [
                    "dueBy": today, "movesOn": today, "move_791028302728": "070941024691",
                    "move_061211600012": "940140000385",
                ]
            )
            #expect(accepted.status == .seeOther || accepted.status == .found, "\(accepted.main)")
            #expect(accepted.headers[.location] == "/astana/principal-rotation#board")
            let board = try await commission.get("/astana/principal-rotation?lang=en")
            #expect(board.main.contains("Planned") && board.main.contains("Мектеп-гимназия №1 — Әлия Нұрланова"))
            let rotations = try await WorkflowQueries(database: fixture.databases.application).search(
                InstanceFilter(service: "principal-rotation"),
                tenantID: fixture.astana.id
            )
            #expect(rotations.count == 2 && rotations.allSatisfy { $0.state == "planned" })
        }
    }
}
