import Core
import Foundation
import TestSupport
import Testing

@testable import MealPayments
@testable import Web

@Suite("School meals: reasons said in the page's language")
struct MealReasonTests {
    @Test("the ledger's and the till's English reasons are matched exactly, their amounts in tenge")
    func matching() {
        let cases: [(String, String?, [String])] = [
            ("insufficient balance", "meals_reason_balance", []),
            (
                "over the daily limit of 30000 tiyn (25050 spent today)", "meals_reason_limit_today",
                ["300,00", "250,50"]
            ),
            (
                "over the daily limit of 30000 tiyn (25000 spent on 2026-11-22)", "meals_reason_limit_day",
                ["300,00", "250,00", "2026-11-22"]
            ),
            ("contains milk, peanut, flagged for this pupil", "meals_reason_allergen", ["milk, peanut"]),
            (
                "the meal costs 50001 tiyn, above the contract price of 50000", "meals_reason_above_contract",
                ["500,01", "500,00"]
            ),
            ("pupil with this card not found", "meals_reason_no_pupil", []),
            ("a whole number of tiyn from 1 to 10000000", "meals_reason_amount_range", ["100\u{202F}000,00"]),
            // Anything else is shown as it is: other wording, more or less text, no number.
            ("Insufficient balance", nil, []),
            ("insufficient balance today", nil, []),
            ("over the daily limit of many tiyn (0 spent today)", nil, []),
            ("over the daily limit of 30000 tiyn (0 spent today) again", nil, []),
            ("contains , flagged for this pupil", nil, []),
            ("the dish was cold", nil, []),
            ("", nil, []),
        ]
        for (text, key, figures) in cases {
            let reason = MealReason.of(text)
            #expect(reason?.key == key && (reason?.figures ?? []) == figures, "\(text): \(String(describing: reason))")
        }
    }

    @Test("every reason has its sentence in Kazakh, Russian and English, with the figures it names")
    func everyReasonSaid() throws {
        let locales = try LocaleTables(directory: TemplateTests.directory + "/locales")
        for wording in MealReason.known {
            for language in Language.allCases {
                let text = locales.text(wording.key, language)
                #expect(text != wording.key, "\(wording.key) in \(language)")
                for figure in 1..<wording.pieces.count {
                    #expect(text.contains("{\(figure)}"), "\(wording.key) in \(language) lacks {\(figure)}")
                }
            }
        }
    }

    @Test("every flag of the city's canteens page has its sentence in each language, with its count")
    func everyFlagSaid() throws {
        let locales = try LocaleTables(directory: TemplateTests.directory + "/locales")
        for kind in MealQueries.Flag.Kind.allCases {
            for language in Language.allCases {
                let text = locales.text("meals_flag_" + kind.rawValue, language)
                #expect(text.contains("{1}"), "meals_flag_\(kind.rawValue) in \(language)")
            }
        }
    }

    @Test("the till and the guardian's page say declines and refusals in Kazakh and Russian, amounts in tenge")
    func pagesSayReasons() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client, dailyLimit: 30_000)
            try await city.topUp(40_000)
            var till = Browser(client: client)
            #expect(try await till.signIn("astana", login: "till-1").status == .seeOther)
            func post(_ language: String, _ form: [String: String]) async throws -> String {
                try await till.post(
                    "/astana/meals/till?lang=\(language)",
                    form: form.merging(["_key": UUID().uuidString, "card": "CARD-0001"]) { typed, _ in typed }
                ).main
            }
            // 250 ₸ today, then 100 ₸ more is over the limit of 300 ₸.
            _ = try await post("ru", ["price1": "250"])
            #expect(try await city.balance() == 15_000)
            let limit = try await post("ru", ["price1": "100"])
            #expect(limit.contains("Превышен дневной лимит 300,00 ₸ (сегодня потрачено 250,00 ₸)."), "\(limit)")
            #expect(!limit.contains("over the daily limit"))
            // A meal kept offline yesterday: over yesterday's limit names that day.
            let yesterday = Date().addingTimeInterval(-24 * 3600)
            _ = try await post("kk", ["price1": "150", "served_at": yesterday.ISO8601Format()])
            #expect(try await city.balance() == 0)
            let day = try await post("kk", ["price1": "200", "served_at": yesterday.ISO8601Format()])
            let named = "Күндік лимит 300,00 ₸ асып кетті (\(Day.today(yesterday)) күні 150,00 ₸ жұмсалды)."
            #expect(day.contains(named), "\(day)")
            // The balance (400 − 250 − 150 = 0 ₸ left), an allergen, the contract price.
            let broke = try await post("ru", ["price1": "10", "served_at": yesterday.ISO8601Format()])
            #expect(broke.contains("Недостаточно средств на счёте ученика."), "\(broke)")
            try await city.topUp(10_000)
            let peanut = try await post("kk", ["price1": "10", "allergens1": "Peanut"])
            #expect(peanut.contains("Құрамында peanut бар"), "\(peanut)")
            let dear = try await post("ru", ["price1": "500,01"])
            #expect(dear.contains("Питание стоит 500,01 ₸ — выше цены по договору (500,00 ₸)."), "\(dear)")
            // Refusals: an unknown card, a time kept too long.
            let unknown = try await post("kk", ["card": "CARD-7777", "price1": "10"])
            #expect(unknown.contains("Мұндай картасы не QR-коды бар оқушы табылмады."), "\(unknown)")
            let old = try await post(
                "ru",
                ["price1": "10", "served_at": Date().addingTimeInterval(-73 * 3600).ISO8601Format()]
            )
            #expect(old.contains("Оплата хранилась на кассе дольше 72 часов"), "\(old)")
            // Today's list on the till's page says the declines too.
            let list = try await till.get("/astana/meals/till?lang=ru").main
            #expect(list.contains("Превышен дневной лимит") && !list.contains("insufficient balance"), "\(list)")

            // The guardian's statement and alerts form, in Kazakh.
            var mother = Browser(client: client)
            try await mother.signIn("astana", login: "mother")
            let account = try await mother.get("/astana/meals/pupils/\(city.pupil)?lang=kk").main
            #expect(account.contains("Оқушының шотында қаражат жеткіліксіз.") && account.contains(named), "\(account)")
            #expect(!account.contains("insufficient balance") && !account.contains("over the daily limit"))
            let alert = try await mother.post(
                "/astana/meals/pupils/\(city.pupil)/alerts?lang=kk",
                form: ["autoThreshold": "200"]
            ).main
            #expect(alert.contains("Автотолтырудың шегін де, сомасын да көрсетіңіз"), "\(alert)")
            #expect(!alert.contains("set both the threshold"))
            // The API keeps the English reason, as the ledger stores it.
            let statement = try await client.api(
                .get,
                "/api/astana/meals/pupils/\(city.pupil)/statement",
                token: city.parent
            )
            #expect(statement.text.contains("insufficient balance"), "\(statement.text)")
        }
    }
}
