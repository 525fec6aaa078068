import Core
import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import OpenBudget
import Storage
import TestSupport
import Testing

@testable import Web

@Suite("Participatory budget")
struct ParticipatoryBudgetTests {
    @Test(
        "a round from proposals to results over HTTP: one ballot per resident of the district, the cap kept, every ballot proved by its receipt"
    )
    func endToEnd() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await BudgetCity.prepare(fixture, client)
            try await PostgresTenantStore(database: fixture.databases.owner).enable(
                .participatoryBudget,
                tenantID: fixture.astana.id
            )
            let commission = try await fixture.account("pb-commission", name: "Commission", role: .commissionMember)
            var residents: [(token: String, iin: String)] = []
            for number in 0..<4 {
                let iin = try #require(DemoData.demoIIN(seed: 900 + number)).digits
                let account = try await fixture.account(
                    "voter-\(number)",
                    name: "Voter \(number)",
                    role: .resident,
                    iin: iin
                )
                residents.append((account.token, iin))
            }
            // The register: three residents in Есіл, one in Алматы; a bad row stops the whole file.
            let badRegister = "iin,district\n\(residents[0].iin),Есіл\n123456789012,Есіл\n\(residents[1].iin),Марс\n"
            let refused = try await client.api(.post, "/api/astana/residents", token: city.admin, json: badRegister)
            #expect(refused.status == .unprocessableContent)
            #expect((try refused.json()["problems"] as? [[String: Any]])?.count == 2)
            let register =
                "iin,district\n"
                + residents.enumerated().map { "\($0.element.iin),\($0.offset == 3 ? "Алматы" : "Есіл")" }
                .joined(separator: "\n") + "\n"
            #expect(
                try await client.api(.post, "/api/astana/residents", token: city.admin, json: register).status == .ok
            )

            let opened = try await client.api(
                .post,
                "/api/astana/services/participatory-budget/instances",
                token: city.admin,
                json: #"{"input": {"district": "Есіл", "year": 2026, "budget_cap": 1000000000}}"#
            )
            #expect(opened.status == .created, "\(opened.text)")
            let id = (try opened.json()["instance"] as? String ?? "").lowercased()
            func step(_ event: String, _ token: String, _ input: String = "{}") async throws -> TestResponse {
                try await client.api(
                    .post,
                    "/api/astana/instances/\(id)/events/\(event)",
                    token: token,
                    json: #"{"input": \#(input)}"#
                )
            }
            // A second round for the same district and year is refused.
            let twice = try await client.api(
                .post,
                "/api/astana/services/participatory-budget/instances",
                token: city.admin,
                json: #"{"input": {"district": "Есіл", "year": 2026, "budget_cap": 1}}"#
            )
            #expect(twice.status == .unprocessableContent && twice.text.contains("already has a round"))

            // Proposals: A (6 M tenge, at the school), B (5 M), C (3 M); not from another district.
            let proposals = [
                (
                    0,
                    #"{"title": "Playground", "description": "A playground by the school", "cost": 600000000, "object_code": "AST-SCH-001"}"#
                ),
                (1, #"{"title": "Street lights", "description": "Lights along the school road", "cost": 500000000}"#),
                (2, #"{"title": "Benches", "description": "Ten benches", "cost": 300000000}"#),
            ]
            for (voter, input) in proposals {
                let proposed = try await step("propose", residents[voter].token, input)
                #expect(proposed.status == .ok, "\(proposed.text)")
            }
            // One resident makes at most five proposals in a round.
            for extra in 1...4 {
                let more = try await step(
                    "propose",
                    residents[2].token,
                    #"{"title": "Idea \#(extra)", "description": "x", "cost": 100}"#
                )
                #expect(more.status == .ok, "\(more.text)")
            }
            let sixth = try await step(
                "propose",
                residents[2].token,
                #"{"title": "One more", "description": "x", "cost": 100}"#
            )
            #expect(sixth.status == .unprocessableContent && sixth.text.contains("5 proposals"))
            let outsider = try await step(
                "propose",
                residents[3].token,
                #"{"title": "X", "description": "x", "cost": 100}"#
            )
            #expect(outsider.status == .unprocessableContent && outsider.text.contains("registered in Алматы"))
            let elsewhere = try await step(
                "propose",
                residents[0].token,
                #"{"title": "Clinic roof", "description": "x", "cost": 100, "object_code": "AST-CLI-001"}"#
            )
            #expect(elsewhere.status == .unprocessableContent && elsewhere.text.contains("in Алматы, not Есіл"))
            // Voting before the window: the event does not exist in this state.
            let early = try await client.api(
                .post,
                "/api/astana/participatory-budget/\(id)/ballot",
                token: residents[0].token,
                json: #"{"choices": [1]}"#
            )
            #expect(early.status != .created)

            #expect(try await step("close_proposals", city.admin).status == .ok)
            #expect(
                try await step("open_voting", commission.token).text.contains("not yet reviewed: 1, 2, 3, 4, 5, 6, 7")
            )
            for (project, eligible) in [(1, "yes"), (2, "yes"), (3, "no"), (4, "no"), (5, "no"), (6, "no"), (7, "no")] {
                let reviewed = try await step(
                    "review_project",
                    commission.token,
                    #"{"project": \#(project), "eligible": "\#(eligible)", "note": "checked"}"#
                )
                #expect(reviewed.status == .ok, "\(reviewed.text)")
            }
            #expect(try await step("open_voting", commission.token).status == .ok)

            func vote(_ voter: Int, _ choices: [Int], key: String? = nil) async throws -> TestResponse {
                try await client.api(
                    .post,
                    "/api/astana/participatory-budget/\(id)/ballot",
                    token: residents[voter].token,
                    json: #"{"choices": \#(choices)}"#,
                    key: key
                )
            }
            let first = try await vote(0, [1], key: "ballot-0")
            #expect(first.status == .created, "\(first.text)")
            let receipt = try first.json()["receipt"] as? String ?? ""
            let nonce = try first.json()["nonce"] as? String ?? ""
            // A retry with the same key is the same ballot; another ballot from the same resident is refused.
            let retried = try await vote(0, [1], key: "ballot-0")
            let again = try retried.json()["receipt"] as? String
            #expect(retried.status == .ok && again == receipt)
            let second = try await vote(0, [2])
            #expect(second.status == .unprocessableContent && second.text.contains("first ballot stands"))
            let overCap = try await vote(1, [1, 2])
            #expect(overCap.status == .unprocessableContent && overCap.text.contains("more than the district"))
            #expect(try await vote(1, [3]).text.contains("not on the ballot"))
            #expect(try await vote(3, [1]).text.contains("registered in Алматы"))
            #expect(try await vote(1, [2]).status == .created)
            #expect(try await vote(2, [1]).status == .created)
            // Ballots stay sealed until the count.
            #expect(try await client.api(.get, "/api/astana/participatory-budget/\(id)/ballots").status == .conflict)
            let running = try await client.api(.get, "/api/astana/participatory-budget/\(id)").json()
            #expect((running["projects"] as? [[String: Any]])?.allSatisfy { $0["votes"] == nil } == true)

            #expect(try await step("close_voting", city.admin).status == .ok)
            #expect(try await vote(1, [1]).status != .created)
            let results = try await client.api(.get, "/api/astana/participatory-budget/\(id)").json()
            #expect(results["ballots"] as? Int == 3)
            let projects = results["projects"] as? [[String: Any]] ?? []
            #expect(projects.prefix(3).map { $0["votes"] as? Int } == [2, 1, nil])
            #expect(projects.prefix(3).map { $0["selected"] as? Bool } == [true, false, false])
            // The winner's budget line: the school's improvement line for 2026.
            let lines = try await city.object("AST-SCH-001")["lines"] as? [[String: Any]] ?? []
            #expect(lines.first { $0["category"] as? String == "improvement" }?["planned"] as? Int == 600_000_000)

            // Every ballot is published by receipt; the voter's nonce re-derives their receipt;
            // each receipt is the input of one recorded step, and no step input holds a choice.
            let ballots =
                try await client.api(.get, "/api/astana/participatory-budget/\(id)/ballots").json()["ballots"]
                as? [[String: Any]] ?? []
            #expect(ballots.count == 3)
            #expect(ballots.contains { $0["receipt"] as? String == receipt && $0["choices"] as? [Int] == [1] })
            let canonical = "adal-ballot-v1|\(id)|1|\(nonce)"
            #expect(MediaFile.hex(Array(SHA256.hash(data: Array(canonical.utf8)))) == receipt)
            let log = try await client.api(.get, "/api/astana/instances/\(id)", token: city.admin).json()
            let voteInputs = (log["steps"] as? [[String: Any]] ?? []).filter { $0["event"] as? String == "vote" }.map {
                $0["input"] as? [String: Any] ?? [:]
            }
            #expect(voteInputs.count == 3)
            #expect(
                Set(voteInputs.compactMap { $0["receipt"] as? String })
                    == Set(ballots.compactMap { $0["receipt"] as? String })
            )
            #expect(voteInputs.allSatisfy { $0.keys.sorted() == ["receipt"] })

            var browser = Browser(client: client)
            let page = try await browser.get("/astana/participatory-budget/\(id)?lang=en")
            #expect(page.status == .ok && page.text.contains("Playground") && page.text.contains("Selected"))
            #expect(try await browser.get("/astana/participatory-budget?lang=en").text.contains("Есіл"))
        }
    }
}
