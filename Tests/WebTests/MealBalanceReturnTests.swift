import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Storage
import TestSupport
import Testing
import Workflow

@testable import MealPayments
@testable import Web

@Suite("School meals: returning the balance to the payments it came from")
struct MealBalanceReturnTests {
    /// Holds a top-up as `token`'s guardian and has the provider capture it; its id.
    static func topUp(_ city: MealCity, _ amount: Int64, token: String) async throws -> UUID {
        let id = UUID()
        #expect(try await city.hold(id, amount, token: token).status == .accepted)
        let captured = try await city.webhook(
            TopUps.Event(eventID: "ev-\(id)", type: "payment.captured", transferID: id, amount: amount)
        )
        #expect(captured.text.contains("posted"), "\(captured.text)")
        return id
    }

    static func ask(
        _ city: MealCity,
        _ id: UUID,
        amount: Int64?,
        token: String
    ) async throws -> TestResponse {
        try await city.client.api(
            .post,
            "/api/astana/meals/pupils/\(city.pupil)/balance-returns",
            token: token,
            json: #"{"id": "\#(id)"\#(amount.map { #", "amount": \#($0)"# } ?? "")}"#
        )
    }

    /// The parts of a return's answer: (top-up, amount, status).
    static func parts(_ response: TestResponse) throws -> [(UUID, Int64, String)] {
        let made = try #require(try response.json()["return"] as? [String: Any])
        return (made["parts"] as? [[String: Any]] ?? []).compactMap { part in
            guard let topUp = (part["topUp"] as? String).flatMap(UUID.init(uuidString:)),
                let amount = part["amount"] as? Int, let status = part["status"] as? String
            else { return nil }
            return (topUp, Int64(amount), status)
        }
    }

    static func partIDs(_ response: TestResponse) throws -> [UUID] {
        let made = try #require(try response.json()["return"] as? [String: Any])
        return (made["parts"] as? [[String: Any]] ?? []).compactMap {
            ($0["transfer"] as? String).flatMap(UUID.init(uuidString:))
        }
    }

    @Test(
        "a return goes back to the top-ups newest first, each to the guardian who paid it; retried once; the provider settles or fails each part once, in any order"
    )
    func splitFamily() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let (fatherUser, father) = try await fixture.account("father", name: "Father", role: .parent)
            let added = try await client.api(
                .put,
                "/api/astana/meals/pupils/\(city.pupil)/guardians/father",
                token: city.school
            )
            #expect(added.status == .noContent, "\(added.text)")
            let first = try await Self.topUp(city, 100_000, token: city.parent)
            let fathers = try await Self.topUp(city, 60_000, token: father)
            let latest = try await Self.topUp(city, 30_000, token: city.parent)
            #expect(try await city.charge(price: "50000").status == .created)
            #expect(try await city.balance() == 140_000)

            // The father asks for 800 ₸: the mother's latest 300 ₸ go back to her card first,
            // then 500 ₸ of his own.
            let id = UUID()
            let asked = try await Self.ask(city, id, amount: 80_000, token: father)
            #expect(asked.status == .created, "\(asked.text)")
            let parts = try Self.parts(asked)
            #expect(parts.map(\.0) == [latest, fathers] && parts.map(\.1) == [30_000, 50_000])
            #expect(parts.allSatisfy { $0.2 == "sent" })
            // Each part names the guardian whose card it goes back to.
            let mother = try await fixture.dependencies.accounts.store.user(
                login: "mother",
                tenantID: fixture.astana.id
            )
            let made = try asked.json()["return"] as? [String: Any]
            let payers = (made?["parts"] as? [[String: Any]] ?? []).compactMap {
                ($0["payer"] as? String).flatMap(UUID.init(uuidString:))
            }
            #expect(payers == [mother?.id, fatherUser.id].compactMap { $0 })
            #expect(try asked.json()["balance"] as? Int == 60_000)
            #expect(try await city.balance() == 60_000)
            // The same request again: the first answer, nothing moved twice.
            let again = try await Self.ask(city, id, amount: 80_000, token: father)
            let replayed = try again.json()["replayed"] as? Bool
            #expect(again.status == .ok && replayed == true, "\(again.text)")
            let (firstIDs, againIDs) = (try Self.partIDs(asked), try Self.partIDs(again))
            #expect(againIDs == firstIDs)
            #expect(try await city.balance() == 60_000)
            // The same id with another amount is refused.
            #expect(try await Self.ask(city, id, amount: 1_000, token: father).status == .conflict)

            // Bad requests, each refused with its reason and nothing written.
            let over = try await Self.ask(city, UUID(), amount: 60_001, token: city.parent)
            #expect(
                over.status == .unprocessableContent
                    && over.text.contains("a return of 60001 tiyn exceeds the balance of 60000 tiyn"),
                "\(over.text)"
            )
            let zero = try await Self.ask(city, UUID(), amount: 0, token: city.parent)
            #expect(zero.status == .unprocessableContent && zero.text.contains("amount"), "\(zero.text)")
            let decimal = try await client.api(
                .post,
                "/api/astana/meals/pupils/\(city.pupil)/balance-returns",
                token: city.parent,
                json: #"{"id": "\#(UUID())", "amount": 10.5}"#
            )
            #expect(decimal.status == .badRequest || decimal.status == .unprocessableContent, "\(decimal.text)")
            let stranger = try await fixture.account("stranger", name: "Stranger", role: .parent).token
            #expect(try await Self.ask(city, UUID(), amount: 1_000, token: stranger).status == .notFound)
            #expect(try await Self.ask(city, UUID(), amount: 1_000, token: city.till).status == .forbidden)
            #expect(try await city.balance() == 60_000)

            // The provider: the father's part fails and comes back; the mother's is paid.
            let (mothersPart, fathersPart) = (try Self.partIDs(asked)[0], try Self.partIDs(asked)[1])
            /// The webhook's outcome, or its status and text when it was refused.
            func event(_ name: String, _ type: String, _ part: UUID, _ amount: Int64) async throws -> String {
                let answer = try await city.webhook(
                    TopUps.Event(eventID: name, type: type, transferID: part, amount: amount)
                )
                guard answer.status == .ok else { return "\(answer.status) \(answer.text)" }
                return try answer.json()["outcome"] as? String ?? answer.text
            }
            let wrongAmount = try await city.webhook(
                TopUps.Event(eventID: "r-0", type: "payment.refund_failed", transferID: fathersPart, amount: 1)
            )
            #expect(wrongAmount.status == .unprocessableContent, "\(wrongAmount.text)")
            let unknown = try await city.webhook(
                TopUps.Event(eventID: "r-00", type: "payment.refunded", transferID: UUID(), amount: 50_000)
            )
            #expect(unknown.status == .notFound, "\(unknown.text)")
            #expect(try await event("r-1", "payment.refund_failed", fathersPart, 50_000) == "returned")
            #expect(try await event("r-1", "payment.refund_failed", fathersPart, 50_000) == "duplicate")
            #expect(try await event("r-2", "payment.refund_failed", fathersPart, 50_000) == "ignored")
            #expect(try await event("r-3", "payment.refunded", fathersPart, 50_000) == "ignored")
            #expect(try await city.balance() == 110_000)
            #expect(try await event("r-4", "payment.refunded", mothersPart, 30_000) == "settled")
            #expect(try await event("r-5", "payment.refund_failed", mothersPart, 30_000) == "ignored")
            #expect(try await city.balance() == 110_000)
            let listed = try await client.api(
                .get,
                "/api/astana/meals/pupils/\(city.pupil)/balance-returns",
                token: city.parent
            )
            let statuses = ((try listed.json()["returns"] as? [[String: Any]])?.first?["parts"] as? [[String: Any]])?
                .compactMap { $0["status"] as? String }
            #expect(statuses == ["settled", "failed"], "\(listed.text)")

            // The pupil leaves: the school office returns the whole balance. What is left of
            // each top-up: the latest none (paid back), the father's all 600 ₸ (his part came
            // back), then 500 ₸ of the mother's first.
            let closing = try await Self.ask(city, UUID(), amount: nil, token: city.school)
            #expect(closing.status == .created, "\(closing.text)")
            let closingParts = try Self.parts(closing)
            #expect(closingParts.map(\.0) == [fathers, first] && closingParts.map(\.1) == [60_000, 50_000])
            #expect(try await city.balance() == 0)
            let empty = try await Self.ask(city, UUID(), amount: nil, token: city.parent)
            #expect(
                empty.status == .unprocessableContent && empty.text.contains(BalanceReturns.nothingToReturn),
                "\(empty.text)"
            )

            // The account is not closed while a part still waits for the provider.
            let pupilID = try #require(UUID(uuidString: city.pupil))
            let found = try await MealQueries(database: fixture.dependencies.database).pupil(
                id: pupilID,
                tenantID: fixture.astana.id
            )
            let ref = try #require(found)
            func close() async throws -> TestResponse {
                try await client.api(
                    .post,
                    "/api/astana/instances/\(ref.instance)/events/close",
                    token: city.school,
                    json: #"{"input": {}}"#
                )
            }
            let early = try await close()
            #expect(
                early.status == .unprocessableContent && early.text.contains("110000 tiyn still waits"),
                "\(early.text)"
            )
            // The built-in provider pays both parts through the outbox.
            let dependencies = fixture.dependencies
            try await city.runMealJobs()
            let returns = try await MealQueries(database: dependencies.database).balanceReturns(
                pupil: ref.id,
                tenantID: fixture.astana.id
            )
            #expect(returns.map { $0.parts.map(\.status) } == [["settled", "settled"], ["settled", "failed"]])
            let closed = try await close()
            #expect(closed.status == .ok, "\(closed.text)")
            // Both guardians heard of each of the four parts, in Kazakh and Russian (neither chose
            // a language): the father's part that came back, and three paid.
            let told = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT message FROM meal_notifications ORDER BY message",
                    logger: fixture.databases.owner.logger
                ).collect().map { try $0.decode(String.self) }
            }
            #expect(told.count == 8, "\(told)")
            let failed = told.filter { $0.contains("платёжный провайдер не смог вернуть 500,00 ₸ на карту") }
            #expect(failed.count == 2 && failed.allSatisfy { $0.hasPrefix("Айдана: төлем провайдері 500,00 ₸") })
            #expect(told.filter { $0.contains("Айдана: 300,00 ₸ со счёта школьного питания зачислены") }.count == 2)

            // The statement shows every part and the one that came back; the ledger holds.
            let kinds = try await city.statementKinds()
            #expect(kinds.filter { $0 == "balance_return" }.count == 4)
            #expect(kinds.filter { $0 == "balance_return_failed" }.count == 1)
            let check = try await city.ledgerCheck()
            #expect(check.passed, "\(check)")
        }
    }

    @Test("the child's page returns the balance to the cards in the reader's language, and says why it cannot")
    func page() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            _ = try await Self.topUp(city, 40_000, token: city.parent)
            var mother = Browser(client: client)
            try await mother.signIn("astana", login: "mother")
            let path = "/astana/meals/pupils/\(city.pupil)"
            let shown = try await mother.get(path + "?lang=ru")
            #expect(shown.main.contains("Возврат остатка") && shown.main.contains("Вернуть на карты"), "\(shown.main)")
            let id = try #require(
                shown.main.firstMatch(of: /name="id" value="([0-9a-f-]{36})"/).map { String($0.1) }
            )
            let over = try await mother.post(path + "/return", form: ["id": id, "amount": "500"])
            #expect(
                over.status == .unprocessableContent && over.main.contains("Возврат 500,00 ₸ больше остатка 400,00 ₸."),
                "\(over.main)"
            )
            let typo = try await mother.post(path + "/return", form: ["id": id, "amount": "много"])
            #expect(typo.status == .unprocessableContent && typo.main.contains("Сумма возврата (₸):"), "\(typo.main)")
            let made = try await mother.post(path + "/return", form: ["id": id, "amount": "150,50"])
            #expect(made.status == .seeOther || made.status == .found, "\(made.main)")
            // A second click of the same form is the same return.
            _ = try await mother.post(path + "/return", form: ["id": id, "amount": "150,50"])
            #expect(try await city.balance() == 24_950)
            let after = try await mother.get(path)
            #expect(after.main.contains("150,50 ₸ на карту: Mother (пополнение от"), "\(after.main)")
            #expect(after.main.contains("отправлено на карту") && after.main.contains("Возврат на карту"))
            // A whole balance: the form without an amount; then nothing is left to return.
            let rest = try #require(after.main.firstMatch(of: /name="id" value="([0-9a-f-]{36})"/).map { String($0.1) })
            #expect(rest != id)
            _ = try await mother.post(path + "/return", form: ["id": rest, "amount": ""])
            #expect(try await city.balance() == 0)
            let empty = try await mother.get(path + "?lang=en")
            #expect(
                !empty.main.contains("Return to the cards")
                    && empty.main.contains("249,50 ₸ to the card of Mother (the top-up of")
            )
            // The till's account may not, nor another parent.
            _ = try await fixture.account("stranger", name: "Stranger", role: .parent)
            var stranger = Browser(client: client)
            try await stranger.signIn("astana", login: "stranger")
            let foreign = try await stranger.post(path + "/return", form: ["id": UUID().uuidString, "amount": "1"])
            #expect(foreign.status == .notFound)
            #expect(try await city.ledgerCheck().passed)
        }
    }

    @Test("a pupil registered on version 2 returns a balance once moved to version 3")
    func versionTwo() async throws {
        try await WebFixture.with { fixture, client in
            // The city pinned version 2 before returns came: its pupil starts there.
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    """
                    INSERT INTO tenant_services (tenant_id, service_key, definition_version)
                    VALUES (\(fixture.astana.id), 'meal-account', 2)
                    """,
                    logger: fixture.databases.owner.logger
                )
            }
            let city = try await MealCity.make(fixture, client)
            _ = try await Self.topUp(city, 20_000, token: city.parent)
            let early = try await Self.ask(city, UUID(), amount: nil, token: city.parent)
            #expect(early.status == .unprocessableContent && early.text.contains("return_balance"), "\(early.text)")
            #expect(try await city.balance() == 20_000)
            let moved = try await fixture.dependencies.workflows.migrate(
                tenantID: fixture.astana.id,
                service: MealAccountService.key,
                from: 2,
                to: 3,
                stateMap: [:],
                actor: .system
            )
            #expect(moved == 1)
            let made = try await Self.ask(city, UUID(), amount: nil, token: city.parent)
            #expect(made.status == .created, "\(made.text)")
            #expect(try await city.balance() == 0)
            #expect(try await city.ledgerCheck().passed)
        }
    }
}
