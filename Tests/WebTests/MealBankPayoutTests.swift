import Core
import Crypto
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

@Suite("School meals: what cannot go back to a card goes by bank transfer")
struct MealBankPayoutTests {
    static let iban = "KZ86125KZT5004100100"

    static func payOut(
        _ city: MealCity,
        _ id: UUID,
        iban: String = iban,
        holder: String = "Father",
        amount: Int64? = nil,
        token: String
    ) async throws -> TestResponse {
        try await city.client.api(
            .post,
            "/api/astana/meals/pupils/\(city.pupil)/payouts",
            token: token,
            json: """
                {"id": "\(id)", "iban": "\(iban)", "holder": "\(holder)"\(amount.map { #", "amount": \#($0)"# } ?? "")}
                """
        )
    }

    static func payout(_ response: TestResponse) throws -> [String: Any] {
        try #require(try response.json()["payout"] as? [String: Any])
    }

    @Test(
        "a top-up the provider can no longer refund goes to the account its guardian names; the office pays it or records it sent back, once"
    )
    func refundWindowPassed() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let father = try await fixture.account("father", name: "Father", role: .parent).token
            let added = try await client.api(
                .put,
                "/api/astana/meals/pupils/\(city.pupil)/guardians/father",
                token: city.school
            )
            #expect(added.status == .noContent, "\(added.text)")
            let mothers = try await MealBalanceReturnTests.topUp(city, 100_000, token: city.parent)
            let fathers = try await MealBalanceReturnTests.topUp(city, 60_000, token: father)

            // The whole balance back to the cards: the father's card can no longer take his part.
            let asked = try await MealBalanceReturnTests.ask(city, UUID(), amount: nil, token: city.parent)
            #expect(asked.status == .created, "\(asked.text)")
            let parts = try MealBalanceReturnTests.partIDs(asked)
            #expect(try MealBalanceReturnTests.parts(asked).map(\.0) == [fathers, mothers])
            func webhook(_ type: String, _ part: UUID, _ amount: Int64, reason: String? = nil) async throws -> String {
                let answer = try await city.webhook(
                    TopUps.Event(eventID: "ev-\(UUID())", type: type, transferID: part, amount: amount, reason: reason)
                )
                return answer.status == .ok ? (try answer.json()["outcome"] as? String ?? "") : "\(answer.status)"
            }
            #expect(
                try await webhook("payment.refund_failed", parts[0], 60_000, reason: "refund_window_expired")
                    == "returned"
            )
            #expect(try await webhook("payment.refunded", parts[1], 100_000) == "settled")
            #expect(try await city.balance() == 60_000)

            // Not to a card again: the refusal says what to do instead.
            let again = try await MealBalanceReturnTests.ask(city, UUID(), amount: nil, token: city.parent)
            #expect(
                again.status == .unprocessableContent
                    && again.text.contains("only 0 tiyn of this account can go back to cards; 60000 tiyn")
                    && again.text.contains("ask for a bank transfer"),
                "\(again.text)"
            )
            // The mother paid none of it: she cannot have it paid to her account.
            let hers = try await Self.payOut(city, UUID(), holder: "Mother", token: city.parent)
            #expect(
                hers.status == .unprocessableContent && hers.text.contains("payments you paid go back to their cards"),
                "\(hers.text)"
            )
            // Bad accounts and amounts, each named, nothing written.
            for (iban, words) in [
                ("KZ86125KZT5004100101", "check digits"), ("KZ86125KZT50041001", "20 characters, this one 18"),
                ("DE89370400440532013000", "starts with KZ"), ("KZ86-125K", "only Latin letters and digits"),
            ] {
                let bad = try await Self.payOut(city, UUID(), iban: iban, token: father)
                #expect(bad.status == .unprocessableContent && bad.text.contains(words), "\(iban): \(bad.text)")
                #expect(bad.text.contains("iban"), "\(bad.text)")
            }
            let noName = try await Self.payOut(city, UUID(), holder: " ", token: father)
            #expect(noName.status == .unprocessableContent && noName.text.contains("holder"), "\(noName.text)")
            // 150 letters, 300 code points (each with a combining breve): over the limit as stored.
            let combining = try await Self.payOut(
                city,
                UUID(),
                holder: String(repeating: "и\u{0306}", count: 150),
                token: father
            )
            #expect(combining.status == .unprocessableContent && combining.text.contains("holder"), "\(combining.text)")
            let over = try await Self.payOut(city, UUID(), amount: 60_001, token: father)
            #expect(over.status == .unprocessableContent && over.text.contains("exceeds the balance"), "\(over.text)")
            let stranger = try await fixture.account("stranger", name: "Stranger", role: .parent).token
            #expect(try await Self.payOut(city, UUID(), token: stranger).status == .notFound)
            #expect(try await Self.payOut(city, UUID(), token: city.till).status == .forbidden)
            // The step straight through the engine's API, without the account beside it: refused.
            let pupilID = try #require(UUID(uuidString: city.pupil))
            let ref = try #require(
                try await MealQueries(database: fixture.dependencies.database).pupil(
                    id: pupilID,
                    tenantID: fixture.astana.id
                )
            )
            let bare = try await client.api(
                .post,
                "/api/astana/instances/\(ref.instance)/events/pay_out",
                token: father,
                json: #"{"input": {"transfer_id": "\#(UUID())", "payee": "\#(String(repeating: "0", count: 64))"}}"#
            )
            #expect(bare.status == .unprocessableContent && bare.text.contains("payee"), "\(bare.text)")
            #expect(try await city.balance() == 60_000)

            // The father's payout, written the way people write an IBAN: all of his 600 ₸.
            let first = UUID()
            let made = try await Self.payOut(city, first, iban: "kz86 125k zt50 0410 0100", token: father)
            #expect(made.status == .created, "\(made.text)")
            var payout = try Self.payout(made)
            #expect(payout["amount"] as? Int == 60_000 && payout["status"] as? String == "waiting")
            #expect(payout["iban"] as? String == "KZ•• •••• •••• •••• 0100", "\(made.text)")
            #expect(
                (payout["parts"] as? [[String: Any]])?.compactMap { $0["topUp"] as? String } == [fathers.uuidString]
            )
            #expect(try made.json()["balance"] as? Int == 0)
            let retried = try await Self.payOut(city, first, token: father)
            #expect(try retried.status == .ok && (retried.json()["replayed"] as? Bool) == true, "\(retried.text)")
            let other = try await Self.payOut(city, first, iban: "KZ32125KZT5004100199", token: father)
            #expect(other.status == .conflict, "\(other.text)")
            #expect(try await city.balance() == 0)

            // The step commits to the account without holding it; the office's record proves it.
            let steps = try await client.api(.get, "/api/astana/instances/\(ref.instance)", token: city.admin)
            #expect(steps.status == .ok && steps.text.contains("pay_out"))
            #expect(!steps.text.contains("5004100100"), "\(steps.text)")
            let (salt, payee) = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                let row = try await connection.query(
                    """
                    SELECT o.salt, s.input->>'payee' FROM meal_payouts o
                    JOIN workflow_steps s ON s.tenant_id = o.tenant_id AND s.event = 'pay_out'
                    WHERE o.id = \(first)
                    """,
                    logger: fixture.databases.owner.logger
                ).collect().first
                return try #require(row).decode((Data, String).self)
            }
            let committed = SHA256.hash(data: Data(salt) + Data("\(Self.iban)\nFather".utf8))
            #expect(committed.map { String(format: "%02x", $0) }.joined() == payee)

            // The office's list: whole IBANs, its own schools; guardians may not see it.
            let waiting = try await client.api(.get, "/api/astana/meals/payouts", token: city.school)
            let listed = try waiting.json()["payouts"] as? [[String: Any]] ?? []
            #expect(listed.compactMap { $0["iban"] as? String } == ["KZ86 125K ZT50 0410 0100"], "\(waiting.text)")
            #expect(try await client.api(.get, "/api/astana/meals/payouts", token: father).status == .forbidden)
            let elsewhere = try await fixture.account("other-office", name: "Other office", role: .schoolAdmin).token
            let theirs = try await client.api(.get, "/api/astana/meals/payouts", token: elsewhere)
            #expect((try theirs.json()["payouts"] as? [[String: Any]])?.isEmpty == true, "\(theirs.text)")

            // The account is not closed while the transfer waits.
            func close() async throws -> TestResponse {
                try await client.api(
                    .post,
                    "/api/astana/instances/\(ref.instance)/events/close",
                    token: city.school,
                    json: #"{"input": {}}"#
                )
            }
            let early = try await close()
            #expect(early.status == .unprocessableContent && early.text.contains("60000 tiyn still waits"))

            // The bank sends it back (a mistyped account): the money is back, for another payout.
            func settle(_ id: UUID, _ outcome: String, _ json: String, token: String) async throws -> TestResponse {
                try await client.api(.post, "/api/astana/meals/payouts/\(id)/\(outcome)", token: token, json: json)
            }
            #expect(try await settle(first, "returned", #"{"reason": "x"}"#, token: elsewhere).status == .forbidden)
            #expect(try await settle(first, "returned", #"{"reason": "x"}"#, token: father).status == .forbidden)
            #expect(try await settle(UUID(), "paid", #"{"reference": "x"}"#, token: city.school).status == .notFound)
            let sentBack = try await settle(first, "returned", #"{"reason": "account closed"}"#, token: city.school)
            payout = try Self.payout(sentBack)
            #expect(sentBack.status == .ok && payout["status"] as? String == "returned", "\(sentBack.text)")
            #expect(try await city.balance() == 60_000)
            let late = try await settle(first, "paid", #"{"reference": "PP-1"}"#, token: city.school)
            #expect(late.status == .conflict && late.text.contains("sent the payout back"), "\(late.text)")

            let second = UUID()
            let remade = try await Self.payOut(
                city,
                second,
                iban: "KZ32125KZT5004100199",
                amount: 60_000,
                token: father
            )
            #expect(remade.status == .created, "\(remade.text)")
            let blank = try await settle(second, "paid", #"{"reference": "  "}"#, token: city.school)
            #expect(blank.status == .unprocessableContent && blank.text.contains("bank_reference"), "\(blank.text)")
            let marked = String(repeating: "и\u{0306}", count: 30)
            let long = try await settle(second, "paid", #"{"reference": "\#(marked)"}"#, token: city.school)
            #expect(long.status == .unprocessableContent && long.text.contains("1 to 50"), "\(long.text)")
            let paid = try await settle(second, "paid", #"{"reference": "PP-2026-0412"}"#, token: city.admin)
            payout = try Self.payout(paid)
            #expect(paid.status == .ok && payout["bankReference"] as? String == "PP-2026-0412", "\(paid.text)")
            let twice = try await settle(second, "paid", #"{"reference": "PP-2026-0412"}"#, token: city.admin)
            #expect(try twice.status == .ok && (twice.json()["replayed"] as? Bool) == true, "\(twice.text)")
            let undo = try await settle(second, "returned", #"{"reason": "x"}"#, token: city.school)
            #expect(undo.status == .conflict && undo.text.contains("already paid (reference PP-2026-0412)"))

            // The transfers made, a page at a time, newest first; `next` says where to read on.
            func page(_ query: String, token: String = city.admin) async throws -> (ids: [String], next: String?) {
                let answer = try await client.api(.get, "/api/astana/meals/payouts?status=done" + query, token: token)
                #expect(answer.status == .ok, "\(answer.text)")
                let json = try answer.json()
                let ids = (json["payouts"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
                return (ids.map { $0.lowercased() }, (json["next"] as? String)?.lowercased())
            }
            let (firstID, secondID) = (first.uuidString.lowercased(), second.uuidString.lowercased())
            #expect(try await page("") == ([secondID, firstID], nil))
            #expect(try await page("&limit=1") == ([secondID], secondID))
            #expect(try await page("&limit=1&after=\(secondID)", token: city.school) == ([firstID], firstID))
            #expect(try await page("&limit=1&after=\(firstID)") == ([], nil))
            for (query, field) in [
                ("&limit=0", "limit"), ("&limit=201", "limit"), ("&limit=ten", "limit"), ("&after=nope", "after"),
                ("&after=\(UUID())", "after"),
            ] {
                let refused = try await client.api(
                    .get,
                    "/api/astana/meals/payouts?status=done" + query,
                    token: city.admin
                )
                #expect(
                    refused.status == .unprocessableContent && refused.text.contains("\"\(field)\""),
                    "\(query): \(refused.text)"
                )
            }
            var office = Browser(client: client)
            _ = try await office.signIn("astana", login: "school-office")
            let later = try await office.get("/astana/meals/payouts?lang=en&after=\(secondID)")
            #expect(later.status == .ok && later.main.contains("Back to the latest transfers"), "\(later.main)")
            #expect(later.main.contains("account closed") && !later.main.contains("PP-2026-0412"), "\(later.main)")
            #expect(!(try await office.get("/astana/meals/payouts?lang=en")).main.contains("Back to the latest"))

            // The month's settled transfers as a file, in the order recorded, to hold against the
            // bank's statement; the akimat's with each one's check, the office's without.
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(secondsFromGMT: 5 * 3_600)!
            let now = calendar.dateComponents([.year, .month], from: Date())
            let month = String(format: "%04d-%02d", now.year ?? 0, now.month ?? 0)
            let file = try await client.api(.get, "/api/astana/meals/payouts.csv?month=\(month)", token: city.admin)
            #expect(file.status == .ok && file.headers[.contentType] == "text/csv; charset=utf-8", "\(file.text)")
            let records = file.text.split(separator: "\r\n").map(String.init)
            #expect(records.count == 3, "\(file.text)")
            #expect(records.first?.hasSuffix("bank_reference,returned_reason,payee,leaf_index,matches") == true)
            #expect(
                records.dropFirst().first?.contains(",600.00,KZ86 125K ZT50 0410 0100,Father,returned,,account closed,")
                    == true,
                "\(file.text)"
            )
            #expect(
                records.last?.contains(",600.00,KZ32 125K ZT50 0410 0199,Father,paid,PP-2026-0412,,") == true
                    && records.last?.hasSuffix(",yes") == true,
                "\(file.text)"
            )
            let officeFile = try await client.api(
                .get,
                "/api/astana/meals/payouts.csv?month=\(month)",
                token: city.school
            )
            #expect(officeFile.text.hasPrefix("settled_date,") && !officeFile.text.contains("payee"))
            #expect(officeFile.text.split(separator: "\r\n").count == 3, "\(officeFile.text)")
            let before = try await client.api(.get, "/api/astana/meals/payouts.csv?month=2025-01", token: city.admin)
            #expect(before.status == .ok && before.text.split(separator: "\r\n").count == 1, "\(before.text)")
            for query in ["?month=2026-13", "?month=november", ""] {
                let refused = try await client.api(.get, "/api/astana/meals/payouts.csv" + query, token: city.admin)
                #expect(
                    refused.status == .unprocessableContent && refused.text.contains("\"month\""),
                    "\(query): \(refused.text)"
                )
            }
            #expect(
                try await client.api(.get, "/api/astana/meals/payouts.csv?month=\(month)", token: father).status
                    == .forbidden
            )
            // The page's file opens in a Russian spreadsheet: a byte-order mark, semicolons, a decimal comma.
            let download = try await office.get("/astana/meals/payouts.csv?month=\(month)&lang=ru")
            #expect(download.status == .ok && download.text.hasPrefix("\u{FEFF}settled_date;"), "\(download.text)")
            #expect(download.text.contains(";600,00;KZ32 125K ZT50 0410 0199;Father;paid;PP-2026-0412;"))
            #expect(try await office.get("/astana/meals/payouts?lang=en").main.contains("name=\"month\""))

            // The guardians' view: masked, each payout with its outcome.
            let mine = try await client.api(.get, "/api/astana/meals/pupils/\(city.pupil)/payouts", token: city.parent)
            let statuses = (try mine.json()["payouts"] as? [[String: Any]] ?? []).compactMap { $0["status"] as? String }
            #expect(statuses == ["paid", "returned"] && !mine.text.contains("5004100199"), "\(mine.text)")
            let kinds = try await city.statementKinds()
            #expect(kinds.filter { $0 == "bank_payout" }.count == 2 && kinds.contains("bank_payout_returned"))
            #expect(try await close().status == .ok)
            let check = try await city.ledgerCheck()
            #expect(check.passed, "\(check)")
        }
    }

    @Test("only lasting failures stop a top-up going back to a card; guardians hear which, and of each payout")
    func passingFailure() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            _ = try await MealBalanceReturnTests.topUp(city, 50_000, token: city.parent)
            for (n, reason) in ["declined", "something_new", "card_closed"].enumerated() {
                let asked = try await MealBalanceReturnTests.ask(city, UUID(), amount: nil, token: city.parent)
                #expect(asked.status == .created, "\(n): \(asked.text)")
                let part = try #require(try MealBalanceReturnTests.partIDs(asked).first)
                let failed = try await city.webhook(
                    TopUps.Event(
                        eventID: "f-\(n)",
                        type: "payment.refund_failed",
                        transferID: part,
                        amount: 50_000,
                        reason: reason
                    )
                )
                #expect(failed.text.contains("returned"), "\(failed.text)")
            }
            // After card_closed the top-up waits for a bank transfer, from the guardian who paid it.
            let refused = try await MealBalanceReturnTests.ask(city, UUID(), amount: nil, token: city.parent)
            #expect(refused.status == .unprocessableContent && refused.text.contains("ask for a bank transfer"))
            let reasons = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT reason FROM transfers WHERE kind = 'balance_return_failed' ORDER BY created_at",
                    logger: fixture.databases.owner.logger
                ).collect().map { try $0.decode(String?.self) }
            }
            #expect(reasons == ["declined", "other", "card_closed"])
            let id = UUID()
            let made = try await MealBankPayoutTests.payOut(city, id, holder: "Mother", token: city.parent)
            #expect(made.status == .created, "\(made.text)")
            let paid = try await client.api(
                .post,
                "/api/astana/meals/payouts/\(id)/paid",
                token: city.school,
                json: #"{"reference": "PP-7"}"#
            )
            #expect(paid.status == .ok, "\(paid.text)")

            try await city.runMealJobs()
            let told = try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT message FROM meal_notifications ORDER BY sent_at",
                    logger: fixture.databases.owner.logger
                ).collect().map { try $0.decode(String.self) }
            }
            #expect(told.filter { $0.contains("платёжный провайдер не смог вернуть") }.count == 2, "\(told)")
            #expect(told.contains { $0.contains("Попросите вернуть их банковским переводом") }, "\(told)")
            #expect(
                told.contains {
                    $0.contains("школа перевела 500,00 ₸ банковским переводом на счёт KZ•• •••• •••• •••• 0100")
                },
                "\(told)"
            )
            #expect(try await city.ledgerCheck().passed)
        }
    }

    @Test(
        "the child's page asks for a bank transfer in the reader's language once a card cannot take its money back; the office's page records it paid"
    )
    func page() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            _ = try await MealBalanceReturnTests.topUp(city, 40_000, token: city.parent)
            let asked = try await MealBalanceReturnTests.ask(city, UUID(), amount: nil, token: city.parent)
            let part = try #require(try MealBalanceReturnTests.partIDs(asked).first)
            let failed = try await city.webhook(
                TopUps.Event(
                    eventID: "f-1",
                    type: "payment.refund_failed",
                    transferID: part,
                    amount: 40_000,
                    reason: "card_closed"
                )
            )
            #expect(failed.text.contains("returned"), "\(failed.text)")

            var mother = Browser(client: client)
            _ = try await mother.signIn("astana", login: "mother")
            let path = "/astana/meals/pupils/\(city.pupil)"
            let shown = try await mother.get(path + "?lang=ru")
            #expect(shown.main.contains("карта больше не может принять возврат"), "\(shown.main)")
            #expect(shown.main.contains("Попросить банковский перевод"), "\(shown.main)")
            #expect(shown.main.contains("Сейчас банковским переводом можно получить до 400,00 ₸"), "\(shown.main)")
            // Nothing can go back to a card: no form offers it.
            let ids = shown.main.matches(of: /name="id" value="([0-9a-f-]{36})"/).map { String($0.1) }
            #expect(ids.count == 1 && !shown.main.contains("action=\"\(path)/return\""), "\(shown.main)")
            let payoutID = try #require(ids.first)
            // Back to the card again (a page opened before): refused, in Russian, pointing to the transfer.
            let toCard = try await mother.post(path + "/return", form: ["id": UUID().uuidString, "amount": ""])
            #expect(
                toCard.status == .unprocessableContent
                    && toCard.main.contains("На карты можно вернуть только 0,00 ₸ со счёта; 400,00 ₸ внесены платежами"),
                "\(toCard.main)"
            )
            // A mistyped account, named as the form labels it.
            let typo = try await mother.post(
                path + "/payout",
                form: ["id": payoutID, "iban": "KZ86125KZT5004100101", "holder": "Мама", "amount": ""]
            )
            #expect(
                typo.status == .unprocessableContent
                    && typo.main.contains("IBAN вашего счёта (KZ…, 20 знаков): Контрольные цифры IBAN не сходятся"),
                "\(typo.main)"
            )
            let short = try await mother.post(
                path + "/payout",
                form: ["id": payoutID, "iban": "KZ86125KZT500410010", "holder": "Мама", "amount": ""]
            )
            #expect(short.main.contains("В казахстанском IBAN 20 знаков, в этом 19."), "\(short.main)")
            // A new top-up can go back to its card: the page offers that much, and an empty
            // amount returns it, leaving what only a transfer can pay out.
            _ = try await MealBalanceReturnTests.topUp(city, 10_000, token: city.parent)
            let mixed = try await mother.get(path + "?lang=ru")
            #expect(mixed.main.contains("Сейчас на карты может вернуться до 100,00 ₸"), "\(mixed.main)")
            let returnID = try #require(
                mixed.main.firstMatch(
                    of:
                        /action="[^"]+\/return"[^>]*>\s*<input[^>]*>\s*<input type="hidden" name="id" value="([0-9a-f-]{36})"/
                )
                .map { String($0.1) },
                "\(mixed.main)"
            )
            let returned = try await mother.post(path + "/return", form: ["id": returnID, "amount": ""])
            #expect(returned.status == .seeOther || returned.status == .found, "\(returned.main)")
            #expect(try await city.balance() == 40_000)
            let settledPage = try await mother.get(path + "?lang=ru")
            #expect(!settledPage.main.contains("action=\"\(path)/return\""), "\(settledPage.main)")
            let form = ["id": payoutID, "iban": "kz86 125k zt50 0410 0100", "holder": "Мама", "amount": ""]
            let made = try await mother.post(path + "/payout", form: form)
            #expect(made.status == .seeOther || made.status == .found, "\(made.main)")
            // A second click of the same form is the same payout.
            _ = try await mother.post(path + "/payout", form: form)
            #expect(try await city.balance() == 0)
            let after = try await mother.get(path)
            #expect(
                after.main.contains("400,00 ₸ на KZ•• •••• •••• •••• 0100, Мама: ждёт перевода от школы"),
                "\(after.main)"
            )
            #expect(!after.main.contains("Попросить банковский перевод") && !after.main.contains("5004100100"))
            let listed = try await client.api(
                .get,
                "/api/astana/meals/pupils/\(city.pupil)/payouts",
                token: city.parent
            )
            #expect((try listed.json()["payouts"] as? [[String: Any]])?.count == 1, "\(listed.text)")
            // The school's office sees the whole number it pays into, and its list of transfers.
            var office = Browser(client: client)
            _ = try await office.signIn("astana", login: "school-office")
            #expect(try await office.get(path + "?lang=ru").main.contains("на KZ86 125K ZT50 0410 0100, Мама"))
            #expect(try await office.get("/astana/meals").main.contains("Банковские переводы к оплате"))
            let list = try await office.get("/astana/meals/payouts")
            #expect(
                list.status == .ok && list.main.contains("KZ86 125K ZT50 0410 0100") && list.main.contains("400,00 ₸"),
                "\(list.main)"
            )
            let paidPath = try #require(list.main.firstMatch(of: /action="([^"]+\/paid)"/).map { String($0.1) })
            let returnedPath = paidPath.replacingOccurrences(of: "/paid", with: "/returned")
            let blank = try await office.post(paidPath, form: ["reference": "  "])
            #expect(
                blank.status == .unprocessableContent && blank.main.contains("Платёжное поручение: заполните"),
                "\(blank.main)"
            )
            let recorded = try await office.post(paidPath, form: ["reference": "ПП-17"])
            #expect(recorded.status == .seeOther || recorded.status == .found, "\(recorded.main)")
            #expect(try await office.get("/astana/meals/payouts").main.contains("Переводов к оплате нет."))
            let late = try await office.post(returnedPath, form: ["reason": "счёт закрыт"])
            #expect(
                late.status == .unprocessableContent && late.main.contains("Этот перевод уже отмечен"),
                "\(late.main)"
            )
            #expect(try await mother.get("/astana/meals/payouts").status == .forbidden)
            #expect(try await mother.get(path).main.contains("переведено школой, платёжное поручение ПП-17"))
            #expect(try await city.ledgerCheck().passed)

            // The office's list of transfers made; an auditor checks each account against the
            // commitment the guardian's step recorded, recomputing it from the salt.
            let history = try await office.get("/astana/meals/payouts?lang=ru")
            #expect(history.main.contains("Сделанные и возвращённые") && history.main.contains("ПП-17"))
            #expect(!history.main.contains("совпадает с шагом"), "the office is not the one checking")
            let auditor = try await fixture.account("auditor", name: "Auditor", role: .auditor).token
            while try await fixture.dependencies.auditLog.integrate(tenantID: fixture.astana.id) > 0 {}
            let done = try await client.api(.get, "/api/astana/meals/payouts?status=done", token: auditor)
            let payout = try #require((try done.json()["payouts"] as? [[String: Any]])?.first, "\(done.text)")
            let check = try #require(payout["check"] as? [String: Any], "\(done.text)")
            let salt = try #require(check["salt"] as? String)
            let saltBytes = stride(from: 0, to: salt.count, by: 2).compactMap { offset -> UInt8? in
                let start = salt.index(salt.startIndex, offsetBy: offset)
                return UInt8(salt[start..<salt.index(start, offsetBy: 2)], radix: 16)
            }
            let recomputed = SHA256.hash(data: saltBytes + Array("KZ86125KZT5004100100\nМама".utf8))
                .map { String(format: "%02x", $0) }.joined()
            #expect(saltBytes.count == 16 && check["payee"] as? String == recomputed, "\(done.text)")
            #expect(check["matches"] as? Bool == true && check["leafIndex"] is Int, "\(done.text)")
            #expect(try await client.api(.get, "/api/astana/meals/payouts", token: auditor).json()["payouts"] != nil)
            let wrong = try await client.api(.get, "/api/astana/meals/payouts?status=all", token: auditor)
            #expect(wrong.status == .unprocessableContent && wrong.text.contains("status"), "\(wrong.text)")
            #expect(
                try await client.api(.get, "/api/astana/meals/payouts?status=done", token: city.parent).status
                    == .forbidden
            )
            let officeList = try await client.api(.get, "/api/astana/meals/payouts?status=done", token: city.school)
            #expect(officeList.text.contains("ПП-17") && !officeList.text.contains("\"check\""), "\(officeList.text)")
            // Had someone with the database's keys put another account on the payout, the check says so.
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    "UPDATE meal_payouts SET iban = 'KZ05125KZT5004100200'",
                    logger: fixture.databases.owner.logger
                )
            }
            var reader = Browser(client: client)
            _ = try await reader.signIn("astana", login: "auditor")
            let audited = try await reader.get("/astana/meals/payouts?lang=ru")
            #expect(audited.status == .ok && audited.main.contains("не совпадает с шагом родителя"), "\(audited.main)")
            #expect(!audited.main.contains("name=\"reference\""), "auditors read, they do not record")
            #expect(
                audited.main.contains("канцелярии школ переводят их")
                    && !audited.main.contains("Отметьте каждый перевод"),
                "an auditor is not told to record"
            )
            #expect(try await reader.get("/astana/meals/city").main.contains("/astana/meals/payouts"))
            // Even an account whose check digits no longer hold is listed, as stored, not matching.
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    "UPDATE meal_payouts SET iban = 'KZ99125KZT5004100200'",
                    logger: fixture.databases.owner.logger
                )
            }
            let broken = try await client.api(.get, "/api/astana/meals/payouts?status=done", token: auditor)
            #expect(broken.status == .ok && broken.text.contains("KZ99125KZT5004100200"), "\(broken.text)")
            #expect(broken.text.contains("\"matches\":false"), "\(broken.text)")
        }
    }

    @Test("the built-in provider refunds to a card only within its refund window, as acquirers do")
    func refundWindow() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let old = try await MealBalanceReturnTests.topUp(city, 30_000, token: city.parent)
            // Paid 200 days ago: past the window.
            try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    "UPDATE transfers SET created_at = now() - interval '200 days' WHERE id = \(old)",
                    logger: fixture.databases.owner.logger
                )
            }
            let fresh = try await MealBalanceReturnTests.topUp(city, 20_000, token: city.parent)
            let asked = try await MealBalanceReturnTests.ask(city, UUID(), amount: nil, token: city.parent)
            #expect(try MealBalanceReturnTests.parts(asked).map(\.0) == [fresh, old], "\(asked.text)")
            try await city.runMealJobs()
            let returns = try await client.api(
                .get,
                "/api/astana/meals/pupils/\(city.pupil)/balance-returns",
                token: city.parent
            )
            let parts = (try returns.json()["returns"] as? [[String: Any]])?.first?["parts"] as? [[String: Any]] ?? []
            #expect(parts.compactMap { $0["status"] as? String } == ["settled", "failed"], "\(returns.text)")
            #expect(parts.last?["failure"] as? String == "refund_window_expired", "\(returns.text)")
            #expect(try await city.balance() == 30_000)
            let made = try await Self.payOut(city, UUID(), holder: "Mother", token: city.parent)
            #expect(try made.status == .created && (Self.payout(made)["amount"] as? Int) == 30_000, "\(made.text)")
            #expect(try await city.ledgerCheck().passed)
        }
    }
}
