import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import MealPayments
import PrincipalRotation
import Prometheus
import Storage
import TestSupport
import Testing

@testable import Web

@Suite("Demo data")
struct DemoDataTests {
    @Test("every demo login of every city signs in with the printed password, and seeding twice changes nothing")
    func everyRoleSignsIn() async throws {
        try await TestDatabases.with { databases in
            let configuration = try AppConfiguration.forTests()
            defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
            let lines = try await DemoData.seed(database: databases.owner, configuration: configuration)
            let again = try await DemoData.seed(database: databases.owner, configuration: configuration)
            #expect(lines == again)
            #expect(lines.contains { $0.contains(DemoData.password) })
            let dependencies = try await buildDependencies(
                configuration: configuration,
                client: databases.application.client,
                metrics: PrometheusCollectorRegistry(),
                logger: databases.application.logger
            )
            let app = Application(router: try buildRouter(dependencies))
            try await app.test(.router) { client in
                for city in DemoData.cities {
                    for role in Role.allCases {
                        let login = role.rawValue.replacingOccurrences(of: "_", with: "-")
                        #expect(lines.contains { $0.hasSuffix("/\(city.slug)/login  \(login)") })
                        var browser = Browser(client: client)
                        let response = try await browser.signIn(city.slug, login: login, password: DemoData.password)
                        #expect(response.status == .seeOther, "\(city.slug) \(login)")
                        let account = try await browser.get("/\(city.slug)/account?lang=en")
                        #expect(account.main.contains(dependencies.pages.locales.name(of: role, .en)))
                    }
                }
            }
            // Demo people carry valid generated IINs.
            let users = try await PostgresAccountStore(database: databases.owner).users(
                tenantID: try #require(await PostgresTenantStore(database: databases.owner).tenant(slug: "astana")).id
            )
            // One per role, four more commission members, two more suppliers and six voters.
            #expect(users.count == Role.allCases.count + 12)
            #expect(users.allSatisfy { $0.iin != nil })
            // Astana's school registry has principals past the rotation limit and some due soon.
            let astana = try #require(await PostgresTenantStore(database: databases.owner).tenant(slug: "astana")).id
            let registry = try await RegistryStore(database: databases.owner).load(tenantID: astana)
            let due = registry.dueList(policy: RotationPolicy(), today: Day("2026-11-22")!).filter {
                $0.kind == .tenure
            }
            #expect(registry.schools.count == 24)
            #expect(due.contains { $0.overdue } && due.contains { !$0.overdue })
            // Both cities have a finished and a running competition, published as valid OCDS.
            for city in DemoData.cities {
                let tenant = try #require(await PostgresTenantStore(database: databases.owner).tenant(slug: city.slug))
                let states = try await databases.owner.withTenant(tenant.id) { connection in
                    var states: [String] = []
                    for try await state in try await connection.query(
                        """
                        SELECT i.state FROM meal_competitions c JOIN workflow_instances i ON i.id = c.instance_id
                        WHERE c.tenant_id = \(tenant.id) ORDER BY c.created_at
                        """,
                        logger: databases.owner.logger
                    ).decode(String.self) {
                        states.append(state)
                    }
                    return states
                }
                #expect(Array(states.prefix(2)) == ["closed", "announced"], "\(city.slug): \(states)")
            }
            try await app.test(.router) { client in
                let releases = try await client.execute(uri: "/shymkent/ocds/releases", method: .get)
                let problems = try CompetitionCity.validate(releases.text)
                #expect(problems.isEmpty, "\(problems)")
                #expect(releases.text.contains("\"unsuccessful\"") || releases.text.contains("\"complete\""))
                // The open budget: a few hundred objects with lines, spending and reports, the
                // services catalogue's share on the home page, and rounds of the participatory budget.
                for city in DemoData.cities {
                    let objects = try await client.execute(uri: "/api/\(city.slug)/budget/objects", method: .get)
                    let list = try objects.json()["objects"] as? [[String: Any]] ?? []
                    #expect(list.count == 160, "\(city.slug)")
                    #expect(list.filter { ($0["spent"] as? Int ?? 0) > 0 }.count >= 20, "\(city.slug)")
                    let reports = try await client.execute(uri: "/api/\(city.slug)/reports", method: .get)
                    #expect((try reports.json()["reports"] as? [Any])?.count == 6)
                    let rounds = try await client.execute(uri: "/api/\(city.slug)/participatory-budget", method: .get)
                    let states = (try rounds.json()["rounds"] as? [[String: Any]] ?? []).compactMap {
                        $0["state"] as? String
                    }
                    #expect(states.sorted() == ["counted", "voting"], "\(city.slug): \(states)")
                }
                let home = try await client.execute(uri: "/astana?lang=en", method: .get)
                #expect(home.text.contains("97.5 %"))
                // The canteen: the demo parent's two children, one paying (5,000 ₸ topped up less
                // a lunch of 750 ₸ and a bun of 250 ₸: 4,000 ₸ left) and one whose meals the city pays; the
                // ledger balances.
                for city in DemoData.cities {
                    var parent = Browser(client: client)
                    _ = try await parent.signIn(city.slug, login: "parent", password: DemoData.password)
                    let children = try await parent.get("/\(city.slug)/meals?lang=en")
                    #expect(
                        children.main.contains(Money.shown(400_000) + " ₸") && children.main.contains("0,00 ₸"),
                        "\(children.main)"
                    )
                    let tenant = try #require(
                        await PostgresTenantStore(database: databases.owner).tenant(slug: city.slug)
                    )
                    #expect(try await LedgerCheck.run(tenantID: tenant.id, database: databases.owner).passed)
                }
            }
        }
    }
}
