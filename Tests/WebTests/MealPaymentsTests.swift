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

/// A city with one canteen (500 tenge a meal), its till, a school office, a guardian and a pupil.
struct MealCity {
    let fixture: WebFixture
    let client: any TestClientProtocol
    let admin: String
    let school: String
    let till: String
    let parent: String
    let pupil: String
    let secret: [UInt8]

    static let schoolBIN = "940140000385"
    static let supplierBIN = "070941024691"
    static let price: Int64 = 50_000

    static func make(
        _ fixture: WebFixture,
        _ client: any TestClientProtocol,
        dailyLimit: Int64 = 10_000_000
    ) async throws
        -> MealCity
    {
        try await PostgresTenantStore(database: fixture.databases.owner).enable(
            .mealPayments,
            tenantID: fixture.astana.id
        )
        try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
            try await connection.run(
                """
                INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(fixture.astana.id), 'meal-account')
                ON CONFLICT DO NOTHING
                """,
                logger: fixture.databases.owner.logger
            )
        }
        let admin = try await fixture.account("meals-admin", name: "Education department", role: .akimatAdmin).token
        let school = try await fixture.account("school-office", name: "School office", role: .schoolAdmin).token
        let till = try await fixture.account("till-1", name: "Canteen till 1", role: .canteenTill).token
        let parent = try await fixture.account("mother", name: "Mother", role: .parent).token
        var response = try await client.api(
            .put,
            "/api/astana/meals/schools/\(schoolBIN)",
            token: admin,
            json: #"{"name": "Мектеп-гимназия №1", "supplierBIN": "\#(supplierBIN)", "pricePerMeal": \#(price)}"#
        )
        #expect(response.status == .noContent, "\(response.text)")
        response = try await client.api(
            .put,
            "/api/astana/meals/tills/till-1",
            token: admin,
            json: #"{"schoolBIN": "\#(schoolBIN)"}"#
        )
        #expect(response.status == .noContent, "\(response.text)")
        response = try await client.api(
            .put,
            "/api/astana/meals/staff/school-office",
            token: admin,
            json: #"{"schoolBIN": "\#(schoolBIN)"}"#
        )
        #expect(response.status == .noContent, "\(response.text)")
        response = try await client.api(
            .post,
            "/api/astana/meals/pupils",
            token: school,
            json: """
                {"schoolBIN": "\(schoolBIN)", "name": "Айдана", "grade": 3, "card": "CARD-0001",
                 "allergens": ["peanut"], "dailyLimit": \(dailyLimit)}
                """
        )
        #expect(response.status == .created, "\(response.text)")
        let pupil = try #require((try response.json()["pupil"] as? [String: Any])?["id"] as? String)
        response = try await client.api(.put, "/api/astana/meals/pupils/\(pupil)/guardians/mother", token: school)
        #expect(response.status == .noContent, "\(response.text)")
        return MealCity(
            fixture: fixture,
            client: client,
            admin: admin,
            school: school,
            till: till,
            parent: parent,
            pupil: pupil,
            secret: fixture.dependencies.paymentProvider.secret
        )
    }

    /// Holds a top-up of the pupil as `token`'s account (the guardian by default).
    func hold(_ id: UUID, _ amount: Int64, token: String? = nil) async throws -> TestResponse {
        try await client.api(
            .post,
            "/api/astana/meals/pupils/\(pupil)/top-ups",
            token: token ?? parent,
            json: #"{"id": "\#(id)", "amount": \#(amount)}"#
        )
    }

    /// Holds a top-up as the guardian and has the provider capture it.
    func topUp(_ amount: Int64) async throws {
        let id = UUID()
        let held = try await hold(id, amount)
        #expect(held.status == .accepted, "\(held.text)")
        let answer = try await webhook(
            TopUps.Event(eventID: "ev-\(id)", type: "payment.captured", transferID: id, amount: amount)
        )
        #expect(answer.status == .ok && answer.text.contains("posted"), "\(answer.status) \(answer.text)")
    }

    func webhook(_ event: TopUps.Event, at time: Date = Date(), secret: [UInt8]? = nil) async throws -> TestResponse {
        let body = Array(try JSONEncoder().encode(event))
        return try await client.execute(
            uri: "/api/astana/meals/webhooks/simulated",
            method: .post,
            headers: [
                .contentType: "application/json",
                HTTPField.Name(TopUps.signatureHeader)!: TopUps.signature(
                    body: body,
                    at: time,
                    secret: secret ?? self.secret
                ),
            ],
            body: ByteBuffer(bytes: body)
        )
    }

    func charge(
        _ id: UUID = UUID(),
        price: String = "30000",
        card: String = "CARD-0001",
        allergens: String = "[]",
        override: Bool = false,
        servedAt: String? = nil,
        item: String = "Палау",
        token: String? = nil,
        language: String? = nil
    ) async throws -> TestResponse {
        try await client.api(
            .post,
            "/api/astana/meals/charges",
            token: token ?? till,
            json: """
                {"id": "\(id)", "card": "\(card)", "allergenOverride": \(override),
                 \(servedAt.map { #""servedAt": "\#($0)", "# } ?? "")\
                "items": [{"name": "\(item)", "price": \(price), "allergens": \(allergens)}]}
                """,
            language: language
        )
    }

    /// Sets the guardian's alerts through the API.
    func alerts(_ json: String) async throws -> TestResponse {
        try await client.api(.put, "/api/astana/meals/pupils/\(pupil)/alerts", token: parent, json: json)
    }

    /// Tops the pupil's account up with 600 ₸, and sets the guardian's low-balance alert at
    /// 300 ₸ and an automatic top-up of 1,000 ₸ under 200 ₸.
    func watchBalance() async throws {
        try await topUp(60_000)
        let set = try await alerts(#"{"lowBalanceAlert": 30000, "autoThreshold": 20000, "autoAmount": 100000}"#)
        #expect(set.status == .noContent, "\(set.text)")
    }

    func balance() async throws -> Int64 {
        let children = try await client.api(.get, "/api/astana/meals/children", token: parent).json()
        return ((children["children"] as? [[String: Any]])?.first?["balance"] as? Int).map(Int64.init) ?? -1
    }

    /// The kinds of the pupil's statement's lines, as the guardian's API gives them.
    func statementKinds() async throws -> [String] {
        let statement = try await client.api(.get, "/api/astana/meals/pupils/\(pupil)/statement", token: parent).json()
        return (statement["lines"] as? [[String: Any]] ?? []).compactMap { $0["kind"] as? String }
    }

    /// Gives the mother an email address and a mobile number, each confirmed with the code the
    /// contact book made for it, so her messages go through both gateways.
    func confirmContacts() async throws {
        let tenantID = fixture.astana.id
        let contacts = fixture.dependencies.contacts
        let mother = try #require(
            try await fixture.dependencies.accounts.store.user(login: "mother", tenantID: tenantID)
        )
        for address in [
            try ContactAddress("mother@mail.kz", kind: .email, field: "email"),
            try ContactAddress("+7 701 123 45 67", kind: .sms, field: "sms"),
        ] {
            guard case .code(let code) = try await contacts.propose(address, userID: mother.id, tenantID: tenantID)
            else { throw AdalError.conflict(reason: "\(address) was confirmed already") }
            try await contacts.confirm(address.kind, code: code, userID: mother.id, tenantID: tenantID)
        }
    }

    /// The mother, with both addresses confirmed, sets an alert at 300 ₸ that a meal of 450 ₸
    /// on 600 ₸ crosses: one alert queued.
    func queueAlert() async throws {
        try await topUp(60_000)
        try await confirmContacts()
        #expect(try await alerts(#"{"lowBalanceAlert": 30000}"#).status == .noContent)
        #expect(try await charge(price: "45000").status == .created)
    }

    /// Queues the mother's alert and sends it through `channel` and a stand-in of the other kind
    /// that fails once: the job runs again, and `channel` is asked twice for the same message.
    func alertAcrossRetry(through channel: any NotificationChannel) async throws {
        try await queueAlert()
        let other: ContactAddress.Kind = channel.kind == .email ? .sms : .email
        let runner = mealJobRunner(channels: [
            channel, FlakyChannel(wrapped: RecordedChannel(kind: other, database: fixture.dependencies.database)),
        ])
        _ = try await runner.runDueJobs()
        try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
            try await connection.run(
                "UPDATE jobs SET run_at = now() WHERE status = 'pending' AND kind = 'outbox'",
                logger: fixture.databases.owner.logger
            )
        }
        _ = try await runner.runDueJobs()
    }

    /// A job runner with the meal outbox's handlers, as the server's, sending through `channels`.
    func mealJobRunner(channels: [any NotificationChannel]) -> JobRunner {
        let dependencies = fixture.dependencies
        return JobRunner(
            engine: dependencies.workflows,
            handlers: MealOutbox.handlers(
                channels: channels,
                contacts: dependencies.contacts,
                topUps: dependencies.topUps,
                provider: dependencies.paymentProvider,
                schools: dependencies.mealSchools,
                say: MealsPagesController.say(dependencies.pages.locales)
            ),
            logger: dependencies.database.logger
        )
    }

    /// Runs the meal outbox's jobs as the server's job runner does, with guardians' messages
    /// recorded, until none is due: each round's jobs may queue the next (the provider's webhook,
    /// then the guardians' news).
    func runMealJobs() async throws {
        let dependencies = fixture.dependencies
        let runner = mealJobRunner(channels: [RecordedChannel(kind: .email, database: dependencies.database)])
        var rounds = 0
        while rounds < 5, try await runner.runDueJobs() > 0 { rounds += 1 }
    }

    func ledgerCheck() async throws -> LedgerCheck {
        try await LedgerCheck.run(tenantID: fixture.astana.id, database: fixture.databases.owner)
    }
}

@Suite("School meals: ledger, till, top-ups")
struct MealPaymentsTests {
    @Test("balance B, N ≫ B/p concurrent charges of p: exactly ⌊B/p⌋ succeed and B mod p is left")
    func concurrentCharges() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            let results = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<40 {
                    group.addTask {
                        // As a till does: a 503 (no database connection within the lease time,
                        // under a loaded test machine) is sent again with the same id.
                        let id = UUID()
                        var response = try await city.charge(id, price: "30000")
                        for _ in 0..<5 where response.status == .serviceUnavailable {
                            response = try await city.charge(id, price: "30000")
                        }
                        return (try response.json()["transfer"] as? [String: Any])?["status"] as? String
                            ?? "\(response.status)"
                    }
                }
                var all: [String] = []
                for try await result in group { all.append(result) }
                return all
            }
            #expect(results.filter { $0 == "posted" }.count == 3)
            #expect(results.filter { $0 == "declined" }.count == 37)
            #expect(try await city.balance() == 10_000)
            let check = try await city.ledgerCheck()
            #expect(check.passed, "\(check)")
        }
    }

    @Test(
        "every request sent three times is charged once; a decline is replayed as a decline; the same id with another body is refused"
    )
    func retries() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            let id = UUID()
            var answers: [String] = []
            for _ in 0..<3 {
                let response = try await city.charge(id, price: "45000")
                let transfer = try response.json()["transfer"] as? [String: Any]
                answers.append("\(transfer?["status"] ?? "") \(transfer?["amount"] ?? "")")
            }
            #expect(answers == Array(repeating: "posted 45000", count: 3))
            #expect(try await city.balance() == 55_000)
            let declined = UUID()
            for _ in 0..<3 {
                let response = try await city.charge(declined, price: "45000", allergens: #"["peanut"]"#)
                #expect((try response.json()["transfer"] as? [String: Any])?["status"] as? String == "declined")
            }
            #expect(try await city.charge(declined, price: "40000").status == .conflict)
            #expect(try await city.balance() == 55_000)
            // Twins sent at the same moment (a till that retried before the first answer came back).
            let twin = UUID()
            let twins = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        let response = try await city.charge(twin, price: "5000")
                        return
                            "\(response.status.code) \((try response.json()["transfer"] as? [String: Any])?["status"] ?? "")"
                    }
                }
                return try await group.reduce(into: [String]()) { $0.append($1) }
            }
            #expect(twins.allSatisfy { $0 == "201 posted" || $0 == "200 posted" }, "\(twins)")
            #expect(try await city.balance() == 50_000)
            #expect(try await city.ledgerCheck().passed)
        }
    }

    @Test(
        "a pupil's account is read on the instance pages only by their guardians, their school's office and the city"
    )
    func instanceReaders() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            #expect(try await city.charge().status == .created)
            let pupilID = try #require(UUID(uuidString: city.pupil))
            let found = try await MealQueries(database: fixture.dependencies.database).pupil(
                id: pupilID,
                tenantID: fixture.astana.id
            )
            let instance = try #require(found).instance.uuidString.lowercased()
            let stranger = try await fixture.account("stranger", name: "Another parent", role: .parent).token
            let elsewhere = try await fixture.account("other-office", name: "No school's office", role: .schoolAdmin)
                .token
            let auditor = try await fixture.account("auditor", name: "Auditor", role: .auditor).token
            for (who, token, status) in [
                ("the guardian", city.parent, HTTPResponse.Status.ok), ("the school's office", city.school, .ok),
                ("the akimat", city.admin, .ok), ("an auditor", auditor, .ok), ("another parent", stranger, .notFound),
                ("another school's office", elsewhere, .notFound), ("the canteen till", city.till, .notFound),
            ] {
                let read = try await client.api(.get, "/api/astana/instances/\(instance)", token: token)
                #expect(read.status == status, "\(who): \(read.status) \(read.text)")
                if status == .notFound {
                    #expect(!read.text.contains("Палау") && !read.text.contains("transfer_id"), "\(who)")
                }
            }
            // The instance page follows the same rule.
            var browser = Browser(client: client)
            _ = try await browser.signIn("astana", login: "stranger")
            #expect(try await browser.get("/astana/instances/\(instance)").status == .notFound)
            var guardian = Browser(client: client)
            _ = try await guardian.signIn("astana", login: "mother")
            let page = try await guardian.get("/astana/instances/\(instance)")
            #expect(page.status == .ok && page.text.contains("Айдана"), "\(page.status)")
            // The account's steps are taken on the child's page, which the instance page links
            // to; it offers no form that would ask for a transfer id or a sealed bank account.
            #expect(page.main.contains("href=\"/astana/meals/pupils/\(city.pupil.lowercased())\""), "\(page.main)")
            #expect(!page.main.contains("/events/return_balance") && !page.main.contains("/events/pay_out"))
            let form = try await guardian.get("/astana/instances/\(instance)/events/pay_out")
            #expect(form.status == .seeOther || form.status == .found, "\(form.status)")
            #expect(form.headers[.location] == "/astana/meals/pupils/\(city.pupil.lowercased())")
            let posted = try await guardian.post(
                "/astana/instances/\(instance)/events/return_balance",
                form: ["transfer_id": UUID().uuidString, "amount": "100"]
            )
            #expect(posted.status == .conflict)
            let after = try await client.api(
                .get,
                "/api/astana/meals/pupils/\(city.pupil)/balance-returns",
                token: city.parent
            )
            #expect((try after.json()["returns"] as? [Any])?.isEmpty == true, "\(after.text)")
            var office = Browser(client: client)
            _ = try await office.signIn("astana", login: "school-office")
            let officePage = try await office.get("/astana/instances/\(instance)")
            #expect(officePage.main.contains("/events/close") && !officePage.main.contains("/events/refund"))
        }
    }

    @Test("a till's declines and refusals carry their reason's code, and say it in the language the till asks for")
    func reasonsForTills() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client, dailyLimit: 60_000)
            let locales = fixture.dependencies.pages.locales
            try await city.topUp(20_000)
            // A decline: the code always, the sentence when asked (a region counts as its language).
            let declined = try await city.charge(price: "30000").json()
            #expect(declined["reasonCode"] as? String == "balance")
            #expect(declined["reasonText"] == nil)
            let russian = try await city.charge(price: "30000", language: "ru-KZ, en;q=0.5").json()
            #expect(russian["reasonCode"] as? String == "balance")
            #expect(russian["reasonText"] as? String == locales.text("meals_reason_balance", .ru))
            #expect(russian["reasonText"] as? String != MealReason.insufficientBalance)
            // The figures of the sentence are the decline's own, in tenge.
            try await city.topUp(100_000)
            #expect(try await city.charge(price: "50000").status == .created)
            let limit = try await city.charge(price: "20000", language: "kk").json()
            #expect(limit["reasonCode"] as? String == "limit_today")
            #expect(
                limit["reasonText"] as? String
                    == locales.text(
                        "meals_reason_limit_today",
                        .kk,
                        figures: [Money.shown(60_000), Money.shown(50_000)]
                    )
            )
            // A charge that is made has neither.
            let made = try await city.charge(price: "5000", language: "ru").json()
            #expect(made["reasonCode"] == nil && made["reasonText"] == nil)
            // A refusal (RFC 9457): the code as `reason`; `detail` in the language asked for,
            // English otherwise; a language Adal does not speak leaves it English.
            let unknown = try await city.charge(card: "NO-SUCH-CARD")
            #expect(unknown.status == .notFound)
            #expect(try unknown.json()["reason"] as? String == "no_pupil")
            let kazakh = try await city.charge(card: "NO-SUCH-CARD", language: "kk")
            #expect(try kazakh.json()["detail"] as? String == locales.text("meals_reason_no_pupil", .kk))
            #expect(kazakh.headers[.contentLanguage] == "kk")
            let german = try await city.charge(card: "NO-SUCH-CARD", language: "de-DE, kk;q=0")
            #expect(try german.json()["detail"] == nil && german.headers[.contentLanguage] == nil)
            let above = try await city.charge(price: "50001", language: "ru")
            #expect(above.status == .unprocessableContent)
            #expect(try above.json()["reason"] as? String == "above_contract")
            #expect(
                try above.json()["detail"] as? String
                    == locales.text(
                        "meals_reason_above_contract",
                        .ru,
                        figures: [Money.shown(50_001), Money.shown(50_000)]
                    )
            )
            // Other refusals keep their English detail and have no code.
            let decimal = try await city.charge(price: "450.5", language: "ru")
            #expect(try decimal.json()["reason"] == nil)
            #expect((try decimal.json()["detail"] as? String)?.contains("numbers must be whole") == true)
        }
    }

    @Test("bad input is refused with its reason and writes nothing")
    func badInput() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client, dailyLimit: 60_000)
            try await city.topUp(200_000)
            #expect(try await city.charge(card: "NO-SUCH-CARD").status == .notFound)
            let above = try await city.charge(price: "50001")
            #expect(above.status == .unprocessableContent && above.text.contains("contract price"))
            let decimal = try await city.charge(price: "450.5")
            #expect(decimal.status == .badRequest && decimal.text.contains("numbers must be whole"), "\(decimal.text)")
            let text = try await city.charge(price: #""450""#)
            #expect(text.status == .badRequest && text.text.contains("items:"), "\(text.text)")
            let noID = try await client.api(
                .post,
                "/api/astana/meals/charges",
                token: city.till,
                json: #"{"id": "charge-1", "card": "CARD-0001", "items": [{"name": "Ас", "price": 100}]}"#
            )
            #expect(noID.status == .badRequest && noID.text.contains("id:"), "\(noID.text)")
            #expect(try await city.charge(price: "0").status == .unprocessableContent)
            #expect(try await city.charge(price: "-100").status == .unprocessableContent)
            // Another school's till.
            _ = try await client.api(
                .put,
                "/api/astana/meals/schools/070941024691",
                token: city.admin,
                json: #"{"name": "№2 мектеп", "supplierBIN": "940140000385", "pricePerMeal": 40000}"#
            )
            let other = try await fixture.account("till-2", name: "Till 2", role: .canteenTill).token
            _ = try await client.api(
                .put,
                "/api/astana/meals/tills/till-2",
                token: city.admin,
                json: #"{"schoolBIN": "070941024691"}"#
            )
            let wrongSchool = try await city.charge(token: other)
            #expect(wrongSchool.status == .unprocessableContent && wrongSchool.text.contains("school"))
            #expect(try await city.charge(token: city.parent).status == .forbidden)
            // The till's token is looked up while its charge waits for a batch: a token that is
            // unknown is refused all the same, before a body it sent that cannot be read.
            let unknown = SecretToken.generate().text
            #expect(try await city.charge(token: unknown).status == .unauthorized)
            let unreadable = "/api/astana/meals/charges"
            #expect(try await client.api(.post, unreadable, token: unknown, json: "{").status == .unauthorized)
            #expect(try await client.api(.post, unreadable, token: city.parent, json: "{").status == .forbidden)
            #expect(try await client.api(.post, unreadable, token: city.till, json: "{").status == .badRequest)
            // Allergen declined unless staff override; daily limit declined.
            let allergen = try await city.charge(price: "20000", allergens: #"["Peanut"]"#)
            #expect(
                (try allergen.json()["transfer"] as? [String: Any])?["reason"] as? String
                    == "contains peanut, flagged for this pupil"
            )
            #expect(try await city.charge(price: "20000", allergens: #"["peanut"]"#, override: true).status == .created)
            #expect(try await city.charge(price: "30000").status == .created)
            let limit = try await city.charge(price: "20000")
            #expect(
                (try limit.json()["transfer"] as? [String: Any])?["reason"] as? String
                    == "over the daily limit of 60000 tiyn (50000 spent today)"
            )
            #expect(try await city.balance() == 150_000)
            let check = try await city.ledgerCheck()
            #expect(check.passed && check.transfers == 3)
        }
    }

    @Test("webhooks: signed, fresh, applied once in any order")
    func webhooks() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let id = UUID()
            _ = try await city.hold(id, 70000)
            let capture = TopUps.Event(eventID: "ev-1", type: "payment.captured", transferID: id, amount: 70_000)
            #expect(try await city.webhook(capture, secret: Array(repeating: 7, count: 32)).status == .forbidden)
            #expect(try await city.webhook(capture, at: Date().addingTimeInterval(-3_600)).status == .forbidden)
            var wrong = capture
            wrong.amount = 700_000
            #expect(try await city.webhook(wrong).status == .unprocessableContent)
            #expect(try await city.webhook(capture).text.contains("posted"))
            #expect(try await city.webhook(capture).text.contains("duplicate"))
            // A second delivery under a new event id still posts nothing more.
            var again = capture
            again.eventID = "ev-2"
            #expect(try await city.webhook(again).text.contains("ignored"))
            #expect(try await city.balance() == 70_000)

            // Out of order: the failure arrives before the capture; the capture then changes nothing.
            let late = UUID()
            _ = try await city.hold(late, 30000)
            #expect(
                try await city.webhook(.init(eventID: "ev-3", type: "payment.failed", transferID: late, amount: 30_000))
                    .text.contains("voided")
            )
            #expect(
                try await city.webhook(
                    .init(eventID: "ev-4", type: "payment.captured", transferID: late, amount: 30_000)
                ).text.contains("ignored")
            )
            #expect(try await city.balance() == 70_000)
            // Another parent cannot top up (or see) someone else's child.
            let stranger = try await fixture.account("stranger", name: "Stranger", role: .parent).token
            let foreign = try await city.hold(UUID(), 1000, token: stranger)
            #expect(foreign.status == .notFound)
            #expect(
                try await client.api(.get, "/api/astana/meals/pupils/\(city.pupil)/statement", token: stranger).status
                    == .notFound
            )
            #expect(try await city.ledgerCheck().passed)
        }
    }

    @Test(
        "refunds name the charge, never exceed it, and return to the pupil; the statement shows everything, also as CSV"
    )
    func refunds() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            let meal = UUID()
            #expect(try await city.charge(meal, price: "40000").status == .created)
            func refund(_ amount: Int64) async throws -> TestResponse {
                try await client.api(
                    .post,
                    "/api/astana/meals/refunds",
                    token: city.school,
                    json: #"{"id": "\#(UUID())", "chargeID": "\#(meal)", "amount": \#(amount), "reason": "cold soup"}"#
                )
            }
            #expect(try await refund(25_000).status == .created)
            let over = try await refund(20_000)
            #expect(over.status == .unprocessableContent && over.text.contains("15000"))
            #expect(try await refund(15_000).status == .created)
            #expect(try await city.balance() == 100_000)
            #expect(try await city.statementKinds().sorted() == ["charge", "refund", "refund", "top_up"])
            let csv = try await client.api(
                .get,
                "/api/astana/meals/pupils/\(city.pupil)/statement.csv",
                token: city.parent
            )
            #expect(
                csv.text.hasPrefix("date,time,kind,status,school,items,amount_tenge,paid_by,reason")
                    && csv.text.contains("400.00")
            )
            let check = try await city.ledgerCheck()
            #expect(check.passed && check.transfers == 4)
        }
    }

    @Test(
        "a long randomised run of charges, top-ups, failed top-ups, refunds, balance returns and bank payouts from many clients conserves money"
    )
    func conservation() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            // A second pupil, whose meals the city pays.
            let second = try await client.api(
                .post,
                "/api/astana/meals/pupils",
                token: city.school,
                json: """
                    {"schoolBIN": "\(MealCity.schoolBIN)", "name": "Ерлан", "grade": 5, "card": "CARD-0002",
                     "freeMealCategory": "large family", "dailyLimit": 10000000}
                    """
            )
            #expect(second.status == .created)
            // A top-up whose card is closed before the run, so that payouts by bank transfer
            // have something to take from the start.
            _ = try await MealBalanceReturnTests.topUp(city, 50_000, token: city.parent)
            let closed = try await MealBalanceReturnTests.ask(city, UUID(), amount: 50_000, token: city.parent)
            for part in try MealBalanceReturnTests.partIDs(closed) {
                _ = try await city.webhook(
                    .init(
                        eventID: "closed-\(part)",
                        type: "payment.refund_failed",
                        transferID: part,
                        amount: 50_000,
                        reason: "card_closed"
                    )
                )
            }
            let operations = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        var random = SplitMix64(seed: UInt64(worker))
                        var posted: [UUID] = []
                        var done = 0
                        for _ in 0..<25 {
                            switch Int.random(in: 0..<12, using: &random) {
                            case 0..<4:
                                let id = UUID()
                                let card = Bool.random(using: &random) ? "CARD-0001" : "CARD-0002"
                                let response = try await city.charge(
                                    id,
                                    price: String(Int.random(in: 1...50_000, using: &random)),
                                    card: card
                                )
                                if response.status == .created { posted.append(id) }
                            case 4..<6:
                                try await city.topUp(Int64.random(in: 1...90_000, using: &random))
                            case 6:
                                let id = UUID()
                                _ = try await city.hold(id, 5000)
                                _ = try await city.webhook(
                                    .init(eventID: "fail-\(id)", type: "payment.failed", transferID: id, amount: 5_000)
                                )
                            case 9:
                                // Part of the balance back to the cards; the provider pays or
                                // fails each part.
                                let asked = try await client.api(
                                    .post,
                                    "/api/astana/meals/pupils/\(city.pupil)/balance-returns",
                                    token: city.parent,
                                    json:
                                        #"{"id": "\#(UUID())", "amount": \#(Int.random(in: 1...20_000, using: &random))}"#
                                )
                                guard asked.status == .created else { break }
                                let made = try asked.json()["return"] as? [String: Any]
                                for part in made?["parts"] as? [[String: Any]] ?? [] {
                                    guard let id = (part["transfer"] as? String).flatMap(UUID.init(uuidString:)),
                                        let amount = part["amount"] as? Int
                                    else { continue }
                                    let type =
                                        Bool.random(using: &random) ? "payment.refunded" : "payment.refund_failed"
                                    // Some failures last: those top-ups then go by bank transfer.
                                    let reason = ["declined", "card_closed", nil].randomElement(using: &random) ?? nil
                                    _ = try await city.webhook(
                                        .init(
                                            eventID: "part-\(id)",
                                            type: type,
                                            transferID: id,
                                            amount: Int64(amount),
                                            reason: reason
                                        )
                                    )
                                }
                            case 10:
                                // What a card cannot take back, by bank transfer; the office
                                // pays it or the bank sends it back.
                                let id = UUID()
                                let asked = try await MealBankPayoutTests.payOut(
                                    city,
                                    id,
                                    holder: "Mother",
                                    amount: Bool.random(using: &random)
                                        ? nil : Int64.random(in: 1...20_000, using: &random),
                                    token: city.parent
                                )
                                guard asked.status == .created else { break }
                                let outcome = Bool.random(using: &random) ? "paid" : "returned"
                                _ = try await client.api(
                                    .post,
                                    "/api/astana/meals/payouts/\(id)/\(outcome)",
                                    token: city.school,
                                    json: #"{"reference": "PP-\#(worker)", "reason": "closed"}"#
                                )
                            default:
                                guard let charge = posted.randomElement(using: &random) else { continue }
                                _ = try await client.api(
                                    .post,
                                    "/api/astana/meals/refunds",
                                    token: city.school,
                                    json:
                                        #"{"id": "\#(UUID())", "chargeID": "\#(charge)", "amount": \#(Int.random(in: 1...500, using: &random)), "reason": "r"}"#
                                )
                            }
                            done += 1
                        }
                        return done
                    }
                }
                var total = 0
                for try await count in group { total += count }
                return total
            }
            #expect(operations > 150)
            let check = try await city.ledgerCheck()
            #expect(check.passed, "\(check)")
            #expect(check.transfers > 50)
            // No top-up gave back more than it brought: the parts of returns and payouts that
            // did not come back, per top-up, are at most its amount.
            let overdrawn = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    """
                    SELECT count(*)::int, (SELECT count(*)::int FROM transfers WHERE kind = 'balance_return')
                    FROM transfers u
                    WHERE u.kind = 'top_up' AND u.amount < (
                        SELECT coalesce(sum(r.amount), 0) FROM transfers r
                        WHERE r.refers_to = u.id AND r.kind IN ('balance_return', 'bank_payout')
                          AND NOT EXISTS (SELECT FROM transfers f WHERE f.refers_to = r.id))
                    """,
                    logger: fixture.databases.owner.logger
                ).collect().first?.decode((Int, Int).self)
            }
            #expect(overdrawn?.0 == 0 && (overdrawn?.1 ?? 0) > 0, "\(String(describing: overdrawn))")
            let payouts = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT count(*)::int FROM transfers WHERE kind = 'bank_payout'",
                    logger: fixture.databases.owner.logger
                ).collect().first?.decode(Int.self)
            }
            #expect((payouts ?? 0) > 0, "no payout was made: the run does not cover them")
            #expect(try await city.balance() >= 0)
        }
    }

    @Test(
        "after a charge that crosses them, the guardian's low-balance alert is sent and the automatic top-up posted, once each"
    )
    func alertsAndAutoTopUp() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.watchBalance()
            try await city.confirmContacts()
            let half = try await city.alerts(#"{"autoThreshold": 20000}"#)
            #expect(half.status == .unprocessableContent)
            #expect(try await city.charge(price: "45000").status == .created)
            let dependencies = fixture.dependencies
            let runner = city.mealJobRunner(channels: [
                RecordedChannel(kind: .email, database: dependencies.database),
                RecordedChannel(kind: .sms, database: dependencies.database),
            ])
            #expect(try await runner.runDueJobs() >= 2)
            _ = try await runner.runDueJobs()
            #expect(try await city.balance() == 115_000)
            let messages = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                var channels: [String] = []
                for try await (channel, text) in try await connection.query(
                    "SELECT channel, message FROM meal_notifications ORDER BY channel",
                    logger: fixture.databases.owner.logger
                ).decode((String, String).self) {
                    channels.append(channel)
                    // No language chosen (set by the API without one): Kazakh and Russian.
                    #expect(
                        text == "Айдана: мектеп тамағы шотында 150,00 ₸ қалды.\n"
                            + "Айдана: на счёте школьного питания осталось 150,00 ₸.",
                        "\(text)"
                    )
                }
                return channels
            }
            // Her page's copy, and one to each confirmed address.
            #expect(messages == ["email", "page", "sms"])
            let addresses = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT address FROM meal_notifications WHERE channel <> 'page' ORDER BY channel",
                    logger: fixture.databases.owner.logger
                ).collect().map { try $0.decode(String.self) }
            }
            #expect(addresses == ["mother@mail.kz", "+77011234567"], "\(addresses)")
            // The guardian's language for the alert: refused when it is none of Adal's.
            let badLanguage = try await city.alerts(#"{"lowBalanceAlert": 30000, "language": "de"}"#)
            #expect(badLanguage.status == .unprocessableContent && badLanguage.text.contains("language"))
            let english = try await city.alerts(#"{"lowBalanceAlert": 30000, "language": "en"}"#)
            #expect(english.status == .noContent, "\(english.text)")
            // She stops SMS and asks for a new email address, not yet confirmed: the next alert
            // goes to her page and her confirmed email address only.
            let mother = try #require(
                try await dependencies.accounts.store.user(login: "mother", tenantID: fixture.astana.id)
            )
            try await dependencies.contacts.remove(.sms, userID: mother.id, tenantID: fixture.astana.id)
            _ = try await dependencies.contacts.propose(
                try ContactAddress("new@mail.kz", kind: .email, field: "email"),
                userID: mother.id,
                tenantID: fixture.astana.id,
                now: Date() + ContactBook.codeInterval
            )
            // 1,150 ₸ − 450 − 450 = 250 ₸, under the alert's 300 ₸.
            #expect(try await city.charge(price: "45000").status == .created)
            #expect(try await city.charge(price: "45000").status == .created)
            _ = try await runner.runDueJobs()
            let latest = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    """
                    SELECT channel, coalesce(address, ''), message FROM meal_notifications
                    WHERE message LIKE '%250,00%' ORDER BY channel
                    """,
                    logger: fixture.databases.owner.logger
                ).collect().map { try $0.decode((String, String, String).self) }
            }
            let text = "Айдана: 250,00 ₸ left on the school-meal account."
            #expect(latest.map(\.0) == ["email", "page"] && latest.map(\.1) == ["mother@mail.kz", ""], "\(latest)")
            #expect(latest.allSatisfy { $0.2 == text }, "\(latest)")
            #expect(try await city.ledgerCheck().passed)
        }
    }

    @Test("a low-balance alert and an automatic top-up once per crossing, not for every meal under the threshold")
    func alertsOncePerCrossing() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.watchBalance()
            /// The outbox messages queued so far, by topic.
            func queued() async throws -> [String: Int] {
                try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                    var topics: [String: Int] = [:]
                    for try await (topic, count) in try await connection.query(
                        "SELECT topic, count(*)::integer FROM jobs WHERE kind = 'outbox' GROUP BY topic",
                        logger: fixture.databases.owner.logger
                    ).decode((String, Int).self) { topics[topic] = count }
                    return topics
                }
            }
            let crossings = { (count: Int) in
                [BalanceWatch.lowBalanceTopic: count, BalanceWatch.autoTopUpTopic: count]
            }
            // 600 ₸ → 150 ₸ crosses both thresholds; 150 → 50 ₸, before the outbox has run, neither.
            #expect(try await city.charge(price: "45000").status == .created)
            #expect(try await city.charge(price: "10000").status == .created)
            #expect(try await queued() == crossings(1))
            try await city.runMealJobs()
            #expect(try await city.balance() == 105_000, "one automatic top-up of 1,000 ₸")
            // 1,050 ₸ → 600 ₸ stays above both; 600 → 150 ₸ crosses both again.
            #expect(try await city.charge(price: "45000").status == .created)
            #expect(try await queued() == crossings(1))
            #expect(try await city.charge(price: "45000").status == .created)
            #expect(try await queued() == crossings(2))
            try await city.runMealJobs()
            #expect(try await city.balance() == 115_000)
            #expect(try await city.ledgerCheck().passed)
        }
    }

    @Test("an alert sent again after one gateway failed is kept once per channel: page, email and SMS")
    func alertSentAgainOnce() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.queueAlert()
            let dependencies = fixture.dependencies
            let runner = city.mealJobRunner(channels: [
                RecordedChannel(kind: .email, database: dependencies.database),
                FlakyChannel(wrapped: RecordedChannel(kind: .sms, database: dependencies.database)),
            ])
            /// The messages kept, by channel.
            func kept() async throws -> [String: Int] {
                try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                    var channels: [String: Int] = [:]
                    for row in try await connection.query(
                        "SELECT channel, count(*)::integer FROM meal_notifications GROUP BY channel",
                        logger: fixture.databases.owner.logger
                    ).collect() {
                        let (channel, count) = try row.decode((String, Int).self)
                        channels[channel] = count
                    }
                    return channels
                }
            }
            _ = try await runner.runDueJobs()
            // The SMS gateway failed: the page and the email have theirs, the job waits to try again.
            #expect(try await kept() == ["page": 1, "email": 1])
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    "UPDATE jobs SET run_at = now() WHERE status = 'pending' AND kind = 'outbox'",
                    logger: fixture.databases.owner.logger
                )
            }
            _ = try await runner.runDueJobs()
            #expect(try await kept() == ["page": 1, "email": 1, "sms": 1])
        }
    }

    @Test("an alert goes through its channels at once, not one gateway's call after another")
    func channelsAtOnce() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.queueAlert()
            // Patience for a loaded machine; met, it lets both through at once.
            let gate = Gate(expected: 2, patience: .seconds(30))
            let runner = city.mealJobRunner(channels: [
                GatedChannel(kind: .email, gate: gate), GatedChannel(kind: .sms, gate: gate),
            ])
            #expect(try await runner.runDueJobs() == 1)
            #expect(await gate.met, "the channels were called one after the other")
        }
    }

    @Test("a declined top-up is told to the guardian who paid it, once, in their language")
    func declinedTopUpTold() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(60_000)
            #expect(try await city.alerts(#"{"lowBalanceAlert": 30000, "language": "en"}"#).status == .noContent)
            let declined = UUID()
            #expect(try await city.hold(declined, 100_000).status == .accepted)
            let failure = TopUps.Event(eventID: "fail-1", type: "payment.failed", transferID: declined, amount: 100_000)
            #expect(try await city.webhook(failure).text.contains("voided"))
            // Delivered again, under its id or a new one: nothing more to tell.
            #expect(try await city.webhook(failure).text.contains("duplicate"))
            var again = failure
            again.eventID = "fail-2"
            #expect(try await city.webhook(again).text.contains("ignored"))
            // A failure after the capture changes nothing, so tells nothing.
            let captured = UUID()
            #expect(try await city.hold(captured, 20_000).status == .accepted)
            let capture = TopUps.Event(eventID: "ok-1", type: "payment.captured", transferID: captured, amount: 20_000)
            #expect(try await city.webhook(capture).text.contains("posted"))
            var late = capture
            (late.eventID, late.type) = ("fail-3", "payment.failed")
            #expect(try await city.webhook(late).text.contains("ignored"))
            try await city.runMealJobs()
            let told = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT user_id, message FROM meal_notifications",
                    logger: fixture.databases.owner.logger
                ).collect().map { try $0.decode((UUID, String).self) }
            }
            let mother = try await fixture.dependencies.account("mother", tenant: fixture.astana, role: .parent)
            #expect(told.map(\.0) == [mother])
            #expect(
                told.map(\.1) == [
                    "Айдана: the top-up of \(Money.shown(100_000)) ₸ did not go through — the payment was declined or cancelled. "
                        + "The school-meal account has 600,00 ₸; top it up on the child's page."
                ],
                "\(told)"
            )
            #expect(try await city.balance() == 80_000)
            #expect(try await city.ledgerCheck().passed)
        }
    }

    @Test(
        "pages: the guardian's children and account with its chart and history; the city's canteens with flags; nobody else's child"
    )
    func pages() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            #expect(try await city.charge(price: "30000").status == .created)
            #expect(try await city.charge(price: "25000").status == .created)
            var mother = Browser(client: client)
            try await mother.signIn("astana", login: "mother")
            let children = try await mother.get("/astana/meals?lang=en")
            #expect(children.status == .ok && children.main.contains("Айдана") && children.main.contains("450,00 ₸"))
            let account = try await mother.get("/astana/meals/pupils/\(city.pupil)?lang=en")
            #expect(account.status == .ok && account.main.contains("<svg") && account.main.contains("Палау"))
            // The chart names this month as the page writes dates: 11.2026, not 26-11.
            let thisDay = Day.today().description
            let month = "\(thisDay.dropFirst(5).prefix(2)).\(thisDay.prefix(4))"
            #expect(account.main.contains(">\(month)</text>"), "\(account.main)")
            #expect(account.main.contains("Parent") && account.main.contains("300,00 ₸"))
            // Where her alerts go: nowhere but these pages until she confirms an address.
            #expect(account.main.contains("Alerts reach you only on these pages"), "\(account.main)")
            try await city.confirmContacts()
            let reached = try await mother.get("/astana/meals/pupils/\(city.pupil)")
            #expect(
                reached.main.contains("Alerts reach you on these pages and at mother@mail.kz, +7 701 123 45 67."),
                "\(reached.main)"
            )
            let csv = try await mother.get("/astana/meals/pupils/\(city.pupil)/statement.csv")
            #expect(csv.status == .ok && csv.text.contains("250.00"))
            // The file for people: in the page's language (English, remembered from above), with a
            // byte-order mark for spreadsheets; the API's keeps codes and the ledger's reasons.
            let peanut = try await city.charge(price: "10000", allergens: #"["Peanut"]"#)
            #expect((try peanut.json()["transfer"] as? [String: Any])?["status"] as? String == "declined")
            let english = try await mother.get("/astana/meals/pupils/\(city.pupil)/statement.csv")
            #expect(
                english.text.hasPrefix(
                    "\u{FEFF}Date,Time,What,Status,School,Items,Amount (tenge),Paid by,Reason\r\n"
                )
            )
            #expect(english.text.contains(",Meal,Posted,") && english.text.contains(",250.00,Parent,"))
            #expect(
                english.text.contains(
                    ",Meal,Declined,Мектеп-гимназия №1,Палау,100.00,,\"Contains peanut, flagged for this pupil;"
                ),
                "\(english.text)"
            )
            // Nobody paid for the declined meal, on the page as in the file.
            let declinedRow = try await mother.get("/astana/meals/pupils/\(city.pupil)")
            #expect(declinedRow.main.contains("<td>100,00 ₸</td><td></td></tr>"), "\(declinedRow.main)")
            // In Russian (and Kazakh) split by semicolons with a decimal comma, as a spreadsheet set
            // up for the language reads it; a field holding a semicolon is quoted.
            let russian = try await mother.get("/astana/meals/pupils/\(city.pupil)/statement.csv?lang=ru")
            #expect(
                russian.text.hasPrefix(
                    "\u{FEFF}Дата;Время;Операция;Статус;Школа;Блюда;Сумма (тенге);Кто оплатил;Причина\r\n"
                ),
                "\(russian.text)"
            )
            #expect(
                russian.text.contains(
                    ";Питание;Отклонено;Мектеп-гимназия №1;Палау;100,00;;\"Содержит peanut — аллерген, отмеченный у ученика;"
                ),
                "\(russian.text)"
            )
            #expect(russian.text.contains(";250,00;Родитель;") && !russian.text.contains("250.00"), "\(russian.text)")
            let kazakh = try await mother.get("/astana/meals/pupils/\(city.pupil)/statement.csv?lang=kk")
            #expect(kazakh.text.contains(";250,00;") && !kazakh.text.contains(",250"), "\(kazakh.text)")
            #expect(!russian.text.contains("flagged for this pupil"), "\(russian.text)")
            let api = try await client.api(
                .get,
                "/api/astana/meals/pupils/\(city.pupil)/statement.csv",
                token: city.parent
            )
            #expect(api.text.hasPrefix("date,time,kind,status,school,items,amount_tenge,paid_by,reason\r\n"))
            #expect(
                api.text.contains(",charge,declined,") && api.text.contains("contains peanut, flagged for this pupil")
            )
            // The alerts form: amounts in tenge; a bad one comes back with the reason.
            let wrongAlert = try await mother.post(
                "/astana/meals/pupils/\(city.pupil)/alerts?lang=en",
                form: ["lowBalanceAlert": "a lot"]
            )
            #expect(
                wrongAlert.status == .unprocessableContent
                    && wrongAlert.main.contains(
                        "Tell me when the balance falls below (₸): An amount in tenge, such as 1500 or 1500,50."
                    )
            )
            let saved = try await mother.post(
                "/astana/meals/pupils/\(city.pupil)/alerts",
                form: ["lowBalanceAlert": "300", "autoThreshold": "200,50", "autoAmount": "1000"]
            )
            #expect(saved.status == .seeOther || saved.status == .found, "\(saved.main)")
            let shown = try await mother.get("/astana/meals/pupils/\(city.pupil)?lang=en")
            #expect(shown.main.contains(#"value="300.00""#) && shown.main.contains(#"value="200.50""#))
            // Saved on a page in Russian, the alerts come in Russian.
            _ = try await mother.post(
                "/astana/meals/pupils/\(city.pupil)/alerts?lang=ru",
                form: ["lowBalanceAlert": "300"]
            )
            let language = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT g.alert_language FROM guardians g JOIN users u ON u.id = g.user_id WHERE u.login = 'mother'",
                    logger: fixture.databases.owner.logger
                ).collect().first?.decode(String?.self)
            }
            #expect(language == "ru")

            _ = try await fixture.account("stranger", name: "Stranger", role: .parent)
            var stranger = Browser(client: client)
            try await stranger.signIn("astana", login: "stranger")
            #expect(try await stranger.get("/astana/meals/pupils/\(city.pupil)").status == .notFound)
            #expect(try await stranger.get("/astana/meals?lang=en").main.contains("No pupils are linked"))
            #expect(try await stranger.get("/astana/meals/city").status == .forbidden)

            var admin = Browser(client: client)
            try await admin.signIn("astana", login: "meals-admin")
            let canteens = try await admin.get("/astana/meals/city?lang=en")
            #expect(canteens.status == .ok && canteens.main.contains("Мектеп-гимназия №1"))
            #expect(canteens.main.contains("more meals than pupils (") && canteens.main.contains("550,00 ₸"))
            // Flags in the page's language; the table also as a CSV file for a spreadsheet.
            let russianCanteens = try await admin.get("/astana/meals/city?lang=ru")
            #expect(russianCanteens.main.contains("питаний больше, чем учеников (питаний: "), "\(russianCanteens.main)")
            #expect(!russianCanteens.main.contains("more meals than pupils"))
            #expect(russianCanteens.main.contains("/astana/meals/city.csv?from="))
            let today = Day.today().description
            let russianFile = try await admin.get("/astana/meals/city.csv?from=\(today)&to=\(today)&lang=ru")
            #expect(russianFile.status == .ok)
            #expect(
                russianFile.text.hasPrefix(
                    "\u{FEFF}День;Школа (БИН);Школа;Поставщик (БИН);Питаний;Учеников;Сумма (тенге);"
                        + "Цена питания по договору (тенге);По договору (тенге);Обратить внимание\r\n"
                ),
                "\(russianFile.text)"
            )
            let records = try CSV.parse(
                String(russianFile.text.dropFirst()),
                separator: ";",
                maximumFields: 20,
                maximumRecords: 10
            )
            #expect(records.count == 2 && records.allSatisfy { $0.fields.count == 10 }, "\(russianFile.text)")
            let fields = records.last?.fields ?? []
            #expect(fields.count == 10 && fields[0] == today && fields[1] == "940140000385", "\(fields)")
            #expect(fields[6].contains(",") && !fields[6].contains("."), "\(fields)")
            #expect(fields[9].hasPrefix("питаний больше, чем учеников"), "\(fields)")
            let englishFile = try await admin.get("/astana/meals/city.csv?lang=en")
            #expect(englishFile.text.hasPrefix("\u{FEFF}Day,School (BIN),School,Supplier (BIN),Meals,Pupils,"))
            #expect(englishFile.text.contains(",more meals than pupils ("), "\(englishFile.text)")
            let badDay = try await admin.get("/astana/meals/city.csv?from=yesterday")
            #expect(badDay.status == .unprocessableContent && badDay.text.contains("from"))
            #expect(try await stranger.get("/astana/meals/city.csv").status == .forbidden)
        }
    }

    @Test(
        "a school administrator works only at their own school: another school's administrator cannot register pupils there, read, link guardians or refund"
    )
    func schoolStaffBound() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            let charged = try await city.charge(price: "30000")
            #expect(charged.status == .created)
            let chargeID = try #require((try charged.json()["transfer"] as? [String: Any])?["id"] as? String)
            let other = "070941024691"
            #expect(
                try await client.api(
                    .put,
                    "/api/astana/meals/schools/\(other)",
                    token: city.admin,
                    json: #"{"name": "№ 2 мектеп", "supplierBIN": "\#(MealCity.supplierBIN)", "pricePerMeal": 50000}"#
                ).status == .noContent
            )
            let stranger = try await fixture.account("other-office", name: "Other school", role: .schoolAdmin).token
            // Not yet at any school: nothing.
            let unbound = try await client.api(
                .post,
                "/api/astana/meals/pupils",
                token: stranger,
                json:
                    #"{"schoolBIN": "\#(other)", "name": "Ерлан", "grade": 2, "card": "CARD-9001", "dailyLimit": 100000}"#
            )
            #expect(unbound.status == .forbidden && unbound.text.contains("does not work at school"), "\(unbound.text)")
            #expect(
                try await client.api(
                    .put,
                    "/api/astana/meals/staff/other-office",
                    token: city.admin,
                    json: #"{"schoolBIN": "\#(other)"}"#
                ).status == .noContent
            )
            let own = try await client.api(
                .post,
                "/api/astana/meals/pupils",
                token: stranger,
                json:
                    #"{"schoolBIN": "\#(other)", "name": "Ерлан", "grade": 2, "card": "CARD-9001", "dailyLimit": 100000}"#
            )
            #expect(own.status == .created, "\(own.text)")
            let foreign = try await client.api(
                .post,
                "/api/astana/meals/pupils",
                token: stranger,
                json:
                    #"{"schoolBIN": "\#(MealCity.schoolBIN)", "name": "Асель", "grade": 2, "card": "CARD-9002", "dailyLimit": 100000}"#
            )
            #expect(foreign.status == .forbidden)
            let statement = "/api/astana/meals/pupils/\(city.pupil)/statement"
            #expect(try await client.api(.get, statement, token: stranger).status == .notFound)
            #expect(try await client.api(.get, statement, token: city.school).status == .ok)
            #expect(
                try await client.api(.put, "/api/astana/meals/pupils/\(city.pupil)/guardians/mother", token: stranger)
                    .status == .notFound
            )
            let refund = try await client.api(
                .post,
                "/api/astana/meals/refunds",
                token: stranger,
                json:
                    #"{"id": "\#(UUID().uuidString)", "chargeID": "\#(chargeID)", "amount": 1000, "reason": "wrong dish"}"#
            )
            #expect(refund.status == .forbidden || refund.status == .notFound, "\(refund.text)")
            #expect(try await city.balance() == 70_000)
        }
    }

    @Test(
        "the till's page charges by card at the contract price, shows the answer and today's meals; a reload is one charge"
    )
    func tillPage() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            var till = Browser(client: client)
            #expect(try await till.signIn("astana", login: "till-1").status == .seeOther)
            let page = try await till.get("/astana/meals/till?lang=en")
            #expect(page.status == .ok && page.main.contains("No meals yet today."))
            let key = UUID().uuidString.lowercased()
            let form = ["_key": key, "card": "CARD-0001", "item1": "Палау", "price1": "450"]
            let charged = try await till.post("/astana/meals/till?lang=en", form: form)
            #expect(charged.status == .ok && charged.main.contains("Charged") && charged.main.contains("550,00 ₸"))
            #expect(charged.main.contains("Айдана") && charged.main.contains("Палау"))
            let again = try await till.post("/astana/meals/till?lang=en", form: form)
            #expect(again.main.contains("this charge was already made"))
            #expect(try await city.balance() == 55_000)
            let dear = try await till.post(
                "/astana/meals/till?lang=en",
                form: ["_key": UUID().uuidString, "card": "CARD-0001", "price1": "500,01"]
            )
            #expect(dear.status == .unprocessableContent && dear.main.contains("above the contract price"))
            let unknown = try await till.post(
                "/astana/meals/till?lang=en",
                form: ["_key": UUID().uuidString, "card": "CARD-7777", "price1": "450"]
            )
            #expect(
                unknown.status == .unprocessableContent && unknown.main.contains("No pupil has this card or QR code.")
            )
            let peanuts = try await till.post(
                "/astana/meals/till?lang=en",
                form: [
                    "_key": UUID().uuidString, "card": "CARD-0001", "price1": "60", "item2": "Печенье", "price2": "40",
                    "allergens2": "Peanut",
                ]
            )
            #expect(peanuts.main.contains("Declined") && peanuts.main.contains("peanut"))
            #expect(try await city.balance() == 55_000)
            // Several lines are one meal: the items listed, their total charged once.
            let lines = try await till.post(
                "/astana/meals/till?lang=en",
                form: [
                    "_key": UUID().uuidString, "card": "CARD-0001", "item1": "Суп", "price1": "200", "item3": "Компот",
                    "price3": "100,50",
                ]
            )
            #expect(lines.status == .ok && lines.main.contains("Charged</strong>: Суп, Компот — 300,50 ₸"))
            #expect(lines.main.contains("<td>Суп, Компот</td>"))
            #expect(try await city.balance() == 24_950)
            // A line with an item but no price, or a price but no item, is named and charges nothing.
            for (form, reason) in [
                (["item1": "Суп", "price1": "200", "item2": "Компот"], "Line 2 has no price."),
                (["price1": "200", "price2": "100"], "Line 2 has a price but no item."),
                (["price1": "0"], "Line 1: the price is an amount in tenge above zero"),
                (["item1": "Суп", "price1": "1.5.0"], "Line 1: the price is an amount in tenge"),
                (["item1": "Суп"], "Line 1 has no price."),
                (["item4": "", "price4": " "], "Line 1 has no price."),
            ] {
                let refused = try await till.post(
                    "/astana/meals/till?lang=en",
                    form: form.merging(["_key": UUID().uuidString, "card": "CARD-0001"]) { $1 }
                )
                #expect(refused.status == .unprocessableContent && refused.main.contains(reason), "\(refused.main)")
            }
            // A refused form comes back as typed, escaped, under a new charge id.
            let typed = try await till.post(
                "/astana/meals/till?lang=en",
                form: [
                    "_key": key, "card": "CARD-0001", "item1": "Суп", "price1": "200", "item2": #"Компот "<домашний>""#,
                    "override": "on",
                ]
            )
            #expect(typed.status == .unprocessableContent && typed.main.contains("Line 2 has no price."))
            #expect(
                typed.main.contains(
                    #"name="card" maxlength="64" autocomplete="off" autofocus required value="CARD-0001""#
                )
            )
            #expect(typed.main.contains(#"value="Суп""#) && typed.main.contains(#"value="200""#))
            #expect(typed.main.contains("Компот &quot;&lt;домашний&gt;&quot;") && !typed.main.contains("<домашний>"))
            #expect(typed.main.contains(#"type="checkbox" checked"#) && !typed.main.contains(key))
            // The refusal is said in the page's language.
            for (language, text) in [("kk", "2-жолда баға жоқ."), ("ru", "В строке 2 нет цены.")] {
                let said = try await till.post(
                    "/astana/meals/till?lang=\(language)",
                    form: ["_key": UUID().uuidString, "card": "CARD-0001", "price1": "200", "item2": "Компот"]
                )
                #expect(said.status == .unprocessableContent && said.main.contains(text), "\(said.main)")
            }
            #expect(try await city.balance() == 24_950)
            // A charge the page's script kept while the server could not be reached is sent with
            // the time the meal was served: booked then, and shown on that day, not today's list.
            let served = Date().addingTimeInterval(-25 * 3600)
            let kept = try await till.post(
                "/astana/meals/till?lang=en",
                form: [
                    "_key": UUID().uuidString, "card": "CARD-0001", "item1": "Ботқа", "price1": "100",
                    "served_at": served.ISO8601Format(),
                ]
            )
            #expect(kept.status == .ok && kept.main.contains("Charged</strong>: Ботқа — 100,00 ₸"), "\(kept.main)")
            #expect(!kept.main.contains("<td>Ботқа</td>"))
            #expect(try await city.balance() == 14_950)
            let badTime = try await till.post(
                "/astana/meals/till?lang=en",
                form: ["_key": UUID().uuidString, "card": "CARD-0001", "price1": "100", "served_at": "yesterday"]
            )
            #expect(
                badTime.status == .unprocessableContent
                    && badTime.main.contains("served_at: a time with its UTC offset")
            )
            // The page carries its script and the panel for kept charges, in the page's language.
            #expect(kept.main.contains(#"<script src="/static/till-offline.js" defer></script>"#))
            #expect(kept.main.contains(#"data-kept="Kept on this till while the server cannot be reached: {1}."#))
            let script = try await client.execute(uri: "/static/till-offline.js", method: .get)
            #expect(script.status == .ok && String(buffer: script.body).contains("served_at"))
            // The shell the service worker keeps for outages: the form, without today's meals or
            // anyone's name; the worker is allowed to serve the till's page outside /static/.
            let full = try await till.get("/astana/meals/till?lang=en")
            #expect(full.main.contains("Айдана") && full.main.contains("s meals ("))
            let shell = try await till.get("/astana/meals/till?shell&lang=en")
            // Both carry the signed-in till account, whose charges the script keeps and sends.
            let account = #/id="till-form" data-slug="astana" data-till="([0-9a-f-]{36})" data-till-name="till-1"/#
            #expect(full.main.firstMatch(of: account) != nil, "\(full.main)")
            #expect(
                shell.status == .ok && shell.main.firstMatch(of: account) != nil && shell.main.contains("data-shell>")
            )
            #expect(shell.main.contains(#"data-other="Kept on this device by the till account {1}: {2}."#))
            #expect(shell.main.contains("s page as this device keeps it"))
            #expect(!shell.main.contains("Айдана") && !shell.main.contains("s meals ("), "\(shell.main)")
            let worker = try await client.execute(uri: "/static/till-worker.js", method: .get)
            #expect(worker.status == .ok && String(buffer: worker.body).contains("?shell"))
            #expect(worker.headers[HTTPField.Name("Service-Worker-Allowed")!] == "/")
            #expect(worker.headers[.cacheControl] == "no-cache")
            #expect(try await city.balance() == 14_950)
            var mother = Browser(client: client)
            try await mother.signIn("astana", login: "mother")
            #expect(try await mother.get("/astana/meals/till").status == .forbidden)
        }
    }
}

/// A channel whose sends wait at `gate` for the others (``Gate``).
struct GatedChannel: NotificationChannel {
    let kind: ContactAddress.Kind
    let gate: Gate

    func send(_ message: OutgoingMessage, tenantID: UUID) async throws {
        await gate.arrive()
    }
}

/// A channel whose first message fails, as a gateway away for a moment; the rest go through
/// `wrapped`.
struct FlakyChannel: NotificationChannel {
    let wrapped: any NotificationChannel
    let calls = Locked(0)

    var kind: ContactAddress.Kind { wrapped.kind }

    func send(_ message: OutgoingMessage, tenantID: UUID) async throws {
        let call = calls.withLock { count in
            count += 1
            return count
        }
        if call == 1 { throw AdalError.unavailable(reason: "the gateway is away") }
        try await wrapped.send(message, tenantID: tenantID)
    }
}
