import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import Testing
import Workflow

@testable import MealPayments
@testable import Web

@Suite("School meals: charges in batches")
struct MealChargeBatchTests {
    static let secondSchoolBIN = "061211600012"
    static let secondSupplierBIN = "791028302728"

    /// Registers a pupil of `school` with `card`; the pupil's id.
    static func pupil(
        _ city: MealCity,
        card: String,
        school: String = MealCity.schoolBIN,
        extra: String = "",
        dailyLimit: Int64 = 10_000_000
    ) async throws -> String {
        let response = try await city.client.api(
            .post,
            "/api/astana/meals/pupils",
            token: city.admin,
            json: """
                {"schoolBIN": "\(school)", "name": "Pupil \(card)", "grade": 4, "card": "\(card)",
                 "dailyLimit": \(dailyLimit)\(extra)}
                """
        )
        #expect(response.status == .created, "\(response.text)")
        return try #require((try response.json()["pupil"] as? [String: Any])?["id"] as? String)
    }

    static func body(_ card: String, _ price: Int64, allergens: [String] = []) -> MealsController.ChargeBody {
        MealsController.ChargeBody(
            id: UUID(),
            card: card,
            items: [MealsController.ChargeItem(name: "Палау", price: price, allergens: allergens)]
        )
    }

    @Test("charges served in one batch each get the answer they would get alone, and the ledger balances")
    func mixedBatch() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let tenant = fixture.astana.id
            // A second canteen with its own supplier and till.
            var response = try await client.api(
                .put,
                "/api/astana/meals/schools/\(Self.secondSchoolBIN)",
                token: city.admin,
                json: #"{"name": "School 2", "supplierBIN": "\#(Self.secondSupplierBIN)", "pricePerMeal": 60000}"#
            )
            #expect(response.status == .noContent, "\(response.text)")
            let till2 = try await fixture.account("till-2", name: "Canteen till 2", role: .canteenTill).token
            response = try await client.api(
                .put,
                "/api/astana/meals/tills/till-2",
                token: city.admin,
                json: #"{"schoolBIN": "\#(Self.secondSchoolBIN)"}"#
            )
            #expect(response.status == .noContent, "\(response.text)")
            try await city.topUp(100_000)
            _ = try await Self.pupil(city, card: "CARD-FREE", extra: #", "freeMealCategory": "large family""#)
            _ = try await Self.pupil(city, card: "CARD-EMPTY")
            _ = try await Self.pupil(city, card: "CARD-MILK", extra: #", "allergens": ["milk"]"#)
            _ = try await Self.pupil(city, card: "CARD-LIMIT", extra: #", "freeMealCategory": "x""#, dailyLimit: 10_000)
            _ = try await Self.pupil(
                city,
                card: "CARD-SECOND",
                school: Self.secondSchoolBIN,
                extra: #", "freeMealCategory": "x""#
            )

            let accounts = fixture.dependencies.accounts
            let till = try #require(try await accounts.principal(apiToken: city.till, tenantID: tenant))
            let other = try #require(try await accounts.principal(apiToken: till2, tenantID: tenant))
            let bodies: [(MealsController.ChargeBody, Principal)] = [
                (Self.body("CARD-0001", 30_000), till),
                (Self.body("CARD-FREE", 40_000), till),
                (Self.body("CARD-EMPTY", 20_000), till),
                (Self.body("CARD-MILK", 20_000, allergens: ["Milk"]), till),
                (Self.body("CARD-LIMIT", 20_000), till),
                (Self.body("CARD-SECOND", 55_000), other),
                (Self.body("NO-SUCH-CARD", 20_000), till),
            ]
            let charges = try bodies.map { body, principal in try MealsController.charge(body, principal: { principal })
            }
            // A till's retry that arrives while its first request waits, and a second charge of
            // the same pupil: the twin gets the first's answer, the second the next batch.
            let second = try MealsController.charge(Self.body("CARD-0001", 10_000), principal: { till })
            let results = await MealCharges.serve(
                charges + [charges[0], second],
                tenantID: tenant,
                engine: fixture.dependencies.workflows
            )
            #expect(results.count == 9)
            func line(_ index: Int) throws -> MealQueries.Found {
                try #require(try results[index].get().found)
            }
            #expect(try line(0).line.status == "posted" && line(0).balance == 70_000)
            #expect(try line(0).line.paidBy == "parent")
            #expect(try line(1).line.status == "posted" && line(1).line.paidBy == "subsidy")
            #expect(try line(2).line.status == "declined" && line(2).line.reason == "insufficient balance")
            #expect(try line(3).line.reason == "contains milk, flagged for this pupil")
            #expect(try line(4).line.reason == "over the daily limit of 10000 tiyn (0 spent today)")
            #expect(try line(5).line.status == "posted" && line(5).line.school == "School 2")
            #expect(throws: AdalError.notFound(what: "pupil with this card")) { try results[6].get() }
            #expect(try (0..<6).allSatisfy { !(try results[$0].get().replayed) })
            let twin = try results[7].get()
            #expect(try twin.replayed && twin.found?.line == line(0).line && twin.found?.balance == 70_000)
            #expect(throws: NextBatch.self) { try results[8].get() }

            // Booked together: one time for the batch, and one shard move per shared account.
            let booked = try await fixture.databases.owner.withTenant(tenant) { connection in
                try await connection.query(
                    """
                    SELECT count(DISTINCT t.created_at), count(*),
                           count(DISTINCT t.credit_account) FILTER (WHERE t.status = 'posted'),
                           (SELECT count(*) FROM workflow_steps WHERE event = 'charge')
                    FROM transfers t WHERE t.kind IN ('charge', 'subsidised_charge')
                    """,
                    logger: fixture.databases.owner.logger
                ).collect()[0].decode((Int, Int, Int, Int).self)
            }
            #expect(booked == (1, 6, 2, 6))
            // Each answer came from what the batch booked, without a read of its own: it is what
            // reading the transfer back gives, to the microsecond and the balance after.
            let stored = try await fixture.databases.owner.withTenant(tenant) { connection in
                try await MealQueries.transfers(
                    charges.prefix(6).map(\.transfer),
                    tenantID: tenant,
                    on: connection,
                    logger: fixture.databases.owner.logger
                )
            }
            for index in 0..<6 {
                let (answer, read) = (try line(index), try #require(stored[charges[index].transfer]))
                #expect(answer.line == read.line && answer.balance == read.balance, "charge \(index)")
                #expect(answer.pupil == read.pupil && answer.pupilName == read.pupilName, "charge \(index)")
            }
            let check = try await city.ledgerCheck()
            #expect(check.passed, "\(check)")

            // The same batch again is replayed, each charge with its first answer.
            let again = await MealCharges.serve(charges, tenantID: tenant, engine: fixture.dependencies.workflows)
            for index in 0..<6 {
                let (first, second) = (try results[index].get(), try again[index].get())
                #expect(second.replayed && second.found?.line == first.found?.line)
                #expect(second.found?.balance == first.found?.balance && second.found?.pupil == first.found?.pupil)
            }

            // A refusal in a batch (a till of another school) leaves the others their answers.
            let mixed = try [
                (Self.body("CARD-0001", 10_000), other), (Self.body("CARD-FREE", 10_000), till),
            ].map { body, principal in try MealsController.charge(body, principal: { principal }) }
            let answers = await MealCharges.serve(mixed, tenantID: tenant, engine: fixture.dependencies.workflows)
            #expect(throws: WorkflowError.refused(reason: "the pupil is not at this till's school")) {
                try answers[0].get()
            }
            #expect(try answers[1].get().found?.line.status == "posted")
            #expect(try await city.ledgerCheck().passed)
        }
    }

    @Test(
        "charges a till kept while offline are booked when the meal was served, counted on that day's limit, replayed by id, and refused beyond 72 hours"
    )
    func keptCharges() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client, dailyLimit: 30_000)
            let tenant = fixture.astana.id
            try await city.topUp(100_000)
            _ = try await Self.pupil(city, card: "CARD-FREE", extra: #", "freeMealCategory": "x""#)
            _ = try await Self.pupil(city, card: "CARD-NOW", extra: #", "freeMealCategory": "x""#)
            let till = try #require(
                try await fixture.dependencies.accounts.principal(apiToken: city.till, tenantID: tenant)
            )
            let now = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
            let yesterday = now.addingTimeInterval(-26 * 3600)
            let earlier = now.addingTimeInterval(-50 * 3600)
            func kept(_ card: String, _ price: Int64, at: Date?) -> MealsController.ChargeBody {
                var body = Self.body(card, price)
                body.servedAt = at
                return body
            }
            func serve(_ bodies: [MealsController.ChargeBody]) async throws -> [MealQueries.Found] {
                let charges = try bodies.map { try MealsController.charge($0, principal: { till }) }
                let results = await MealCharges.serve(charges, tenantID: tenant, engine: fixture.dependencies.workflows)
                return try results.map { try #require(try $0.get().found) }
            }

            // One batch: a charge of now and two kept ones of two earlier days.
            let first = try await serve([
                kept("CARD-0001", 25_000, at: yesterday), kept("CARD-FREE", 25_000, at: earlier),
                Self.body("CARD-NOW", 5_000),
            ])
            #expect(first.map(\.line.status) == ["posted", "posted", "posted"])
            #expect(first[0].line.at == yesterday && first[1].line.at == earlier)
            #expect(first[2].line.at > now.addingTimeInterval(-60))
            #expect(first[0].balance == 75_000 && first[1].line.paidBy == "subsidy")
            // The limit of 30,000 a day counts each day apart: today's meal is posted, one more
            // of yesterday is over that day's limit.
            let later = try await serve([Self.body("CARD-0001", 25_000)])
            #expect(later[0].line.status == "posted" && later[0].balance == 50_000)
            let over = try await serve([kept("CARD-0001", 10_000, at: yesterday)])
            let day = { (date: Date) in Day.today(date).description }
            // The refusal names that day, not today.
            #expect(over[0].line.reason == "over the daily limit of 30000 tiyn (25000 spent on \(day(yesterday)))")
            let days = try await fixture.databases.owner.withTenant(tenant) { connection in
                try await connection.query(
                    """
                    SELECT local_day::text, count(*) FROM transfers
                    WHERE kind IN ('charge', 'subsidised_charge') GROUP BY local_day ORDER BY local_day
                    """,
                    logger: fixture.databases.owner.logger
                ).collect().map { try $0.decode((String, Int).self) }.map { "\($0.0) \($0.1)" }
            }
            #expect(days == ["\(day(earlier)) 1", "\(day(yesterday)) 2", "\(day(now)) 2"], "\(days)")

            // Through the API: the time as the till wrote it (any offset), replayed by id; a
            // time that is not one, in the future or older than 72 hours is refused.
            let id = UUID()
            let local = "\(day(yesterday))T13:05:00.250+05:00"
            let sent = try await city.charge(id, price: "1000", servedAt: local)
            #expect(sent.status == .created, "\(sent.text)")
            let again = try await city.charge(id, price: "1000", servedAt: local)
            let replayed = try again.json()["replayed"] as? Bool
            #expect(again.status == .ok && replayed == true)
            let at = (try again.json()["transfer"] as? [String: Any])?["at"] as? String
            #expect(at == "\(day(yesterday))T08:05:00Z", "\(at ?? "")")
            let step = try await fixture.databases.owner.withTenant(tenant) { connection in
                try await connection.query(
                    "SELECT input->>'served_at' FROM workflow_steps WHERE input->>'transfer_id' = \(id.uuidString.lowercased())",
                    logger: fixture.databases.owner.logger
                ).collect().first?.decode(String.self)
            }
            #expect(step == "\(day(yesterday))T08:05:00Z")
            let refusals: [(String, HTTPResponse.Status, String)] = [
                ("yesterday", .badRequest, "servedAt: a time with its UTC offset"),
                ("2026-11-23T12:30:00", .badRequest, "servedAt: a time with its UTC offset"),
                (now.addingTimeInterval(3600).ISO8601Format(), .unprocessableContent, "later than now"),
                (now.addingTimeInterval(-73 * 3600).ISO8601Format(), .unprocessableContent, "within 72 hours"),
            ]
            for (servedAt, status, text) in refusals {
                let refused = try await city.charge(price: "1000", servedAt: servedAt)
                #expect(refused.status == status && refused.text.contains(text), "\(servedAt): \(refused.text)")
            }
            // A till's clock a minute fast counts as now.
            let fast = try await city.charge(price: "1000", servedAt: now.addingTimeInterval(60).ISO8601Format())
            let fastAt = (try fast.json()["transfer"] as? [String: Any])?["at"] as? String
            let fastTime = try #require(fastAt.flatMap(MealAccountService.parseServedAt))
            #expect(fast.status == .created && fastTime <= Date())
            let check = try await city.ledgerCheck()
            #expect(check.passed, "\(check)")
        }
    }

    @Test("the city's canteens flag the meals served outside school hours (07:00–18:59) by Kazakhstan's clock")
    func schoolHours() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            // Two days ago, so that no meal of the test's own time falls on that day.
            let day = Day.today().adding(days: -2).description
            for time in ["06:59", "07:00", "12:30", "18:59", "19:00", "21:45"] {
                let charged = try await city.charge(price: "1000", servedAt: "\(day)T\(time):00+05:00")
                #expect(charged.status == .created, "\(time): \(charged.text)")
            }
            // The same moment written in UTC counts by Kazakhstan's clock as well: 13:30 there.
            #expect(try await city.charge(price: "1000", servedAt: "\(day)T08:30:00Z").status == .created)
            let days = try await MealQueries(database: fixture.dependencies.database).schoolDays(
                from: day,
                to: day,
                tenantID: fixture.astana.id
            )
            #expect(days.map(\.meals) == [7])
            // 06:59, 19:00 and 21:45 (seven meals of one pupil are flagged too).
            #expect(
                days.first?.flags == [
                    MealQueries.Flag(.moreMealsThanPupils, count: 7), MealQueries.Flag(.outsideSchoolHours, count: 3),
                ],
                "\(days)"
            )
        }
    }

    @Test("a price change is an item charged at more than one price in a day, not the day's charges differing by item")
    func priceChanges() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            let queries = MealQueries(database: fixture.dependencies.database)
            // A day of plain variety: each pupil's meal differs, each item keeps its price.
            let plain = Day.today().adding(days: -2).description
            for (item, price) in [("Палау", "1000"), ("палау", "1000"), ("Салат", "500"), ("Компот", "200")] {
                let charged = try await city.charge(price: price, servedAt: "\(plain)T12:00:00+05:00", item: item)
                #expect(charged.status == .created, "\(charged.text)")
            }
            let calm = try await queries.schoolDays(from: plain, to: plain, tenantID: fixture.astana.id)
            #expect(calm.first?.flags.contains { $0.kind == .severalPrices } == false, "\(calm)")
            // The next day the stewed fruit costs more after lunch, and the pilaf in another case.
            let changed = Day.today().adding(days: -1).description
            for (item, price) in [("Компот", "200"), ("Компот", "300"), ("Палау", "1000"), ("ПАЛАУ", "1100")] {
                let charged = try await city.charge(price: price, servedAt: "\(changed)T12:00:00+05:00", item: item)
                #expect(charged.status == .created, "\(charged.text)")
            }
            let flagged = try await queries.schoolDays(from: changed, to: changed, tenantID: fixture.astana.id)
            #expect(flagged.first?.flags.contains(MealQueries.Flag(.severalPrices, count: 2)) == true, "\(flagged)")
        }
    }
}
