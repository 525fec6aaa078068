import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import PostgresNIO
import SickLeave
import Storage
import TestSupport
import Testing
import Workflow

@testable import MealPayments
@testable import Web

@Suite("School meals: crashes")
struct MealCrashTests {
    @Test(
        "kill -9 during a load of till charges retried by id: every acknowledged charge is stored once and the ledger balances"
    )
    func killDuringCharges() async throws {
        try await ServerCrashTests.Setup.with { setup in
            let (owner, astana) = (setup.databases.owner, setup.astana)
            try FileManager.default.copyItem(
                atPath: TestCluster.repositoryRoot + "/workflows/meal-account.yaml",
                toPath: setup.directory + "/workflows/meal-account.yaml"
            )
            // The canteen and its till, then one pupil with 1,000,000 tiyn, all set up directly.
            let tillToken = try await Canteen.open(tenantID: astana.id, pricePerMeal: 50_000, database: owner)
            let engine = WorkflowEngine(
                database: owner,
                registry: try WorkflowRegistry.load(
                    directory: URL(fileURLWithPath: setup.directory + "/workflows"),
                    implementations: ServiceImplementations.all(sealer: .ephemeral())
                )
            )
            let opened = try await engine.start(
                tenantID: astana.id,
                service: MealAccountService.key,
                actor: StepActor(id: UUID(), roles: [.akimatAdmin]),
                input: [
                    "school_bin": .string("940140000385"), "pupil_name": .string("Айдана"), "grade": .integer(3),
                    "card": .string("CARD-0001"), "daily_limit": .integer(10_000_000),
                ]
            )
            let pupil = try #require(
                try await MealQueries(database: owner).pupil(instance: opened.instanceID, tenantID: astana.id)
            )
            let topUps = TopUps(database: owner, engine: engine, webhookSecret: Array(repeating: 9, count: 32))
            let topUp = UUID()
            _ = try await topUps.hold(
                id: topUp,
                pupilID: pupil.id,
                amount: 1_000_000,
                guardian: nil,
                tenantID: astana.id
            )
            #expect(
                try await SimulatedProvider(topUps: topUps, webhookSecret: Array(repeating: 9, count: 32))
                    .capture(transfer: topUp, amount: 1_000_000, tenantID: astana.id) == .posted
            )

            let server = try setup.server(name: "meals")
            try await server.start()
            defer { server.stop() }
            let retries = RetryCount()
            let killer = Task {
                for _ in 0..<3 {
                    try await Task.sleep(for: .milliseconds(400))
                    server.kill9()
                    try await server.start()
                }
            }
            // 8 tills × 12 charges of 10,000–20,000: more than the balance allows, so some decline.
            let answers = try await withThrowingTaskGroup(of: [(UUID, String)].self) { group in
                for client in 0..<8 {
                    group.addTask {
                        var seen: [(UUID, String)] = []
                        for number in 0..<12 {
                            let id = UUID()
                            var headers = HTTPFields()
                            headers[.authorization] = "Bearer \(tillToken)"
                            headers[.contentType] = "application/json"
                            let price = 10_000 + (client * 12 + number) % 11 * 1_000
                            let body =
                                #"{"id": "\#(id)", "card": "CARD-0001", "items": [{"name": "Ас", "price": \#(price)}]}"#
                            let response = try await ServerCrashTests.acknowledged(
                                server,
                                TestClient.Request(
                                    "/api/astana/meals/charges",
                                    method: .post,
                                    headers: headers,
                                    body: ByteBuffer(string: body)
                                ),
                                retries: retries
                            )
                            let answer =
                                try JSONSerialization.jsonObject(with: Data(buffer: response.body ?? ByteBuffer()))
                                as? [String: Any]
                            seen.append(
                                (
                                    id,
                                    (answer?["transfer"] as? [String: Any])?["status"] as? String
                                        ?? "\(response.status)"
                                )
                            )
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: [(UUID, String)]()) { $0 += $1 }
            }
            try await killer.value

            #expect(answers.count == 96)
            #expect(await retries.count > 0, "the kills must have interrupted some requests")
            #expect(
                answers.allSatisfy { $0.1 == "posted" || $0.1 == "declined" },
                "\(answers.filter { $0.1 != "posted" && $0.1 != "declined" })"
            )
            let acknowledged = Set(answers.filter { $0.1 == "posted" }.map(\.0))
            let stored = try await owner.withTenant(astana.id) { connection in
                var ids: [UUID] = []
                for try await id in try await connection.query(
                    "SELECT id FROM transfers WHERE kind = 'charge' AND status = 'posted'",
                    logger: owner.logger
                ).decode(UUID.self) {
                    ids.append(id)
                }
                return ids
            }
            #expect(stored.count == acknowledged.count && Set(stored) == acknowledged)
            let check = try await LedgerCheck.run(tenantID: astana.id, database: owner)
            #expect(check.passed, "\(check)")
            let after = try #require(try await MealQueries(database: owner).pupil(id: pupil.id, tenantID: astana.id))
            #expect(after.balance >= 0 && after.balance < 20_000)
        }
    }
}
