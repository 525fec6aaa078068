import Core
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import MealPayments
import Testing

@testable import Web

/// A school's menu for a day (migration 0031): set by the office or the akimat, read by the
/// school's till; on a day with one, a till charges only its items and their allergens count.
@Suite("School meals: today's menu")
struct MealMenuTests {
    /// A day in Kazakhstan, `offset` days from today.
    static func day(_ offset: Int = 0) -> String {
        Day.today().adding(days: offset).description
    }

    static let lunch = """
        {"items": [{"name": " Палау ", "price": 30000},
                   {"name": "Сүт", "price": 5000, "allergens": ["Milk", "milk "]},
                   {"name": "Жаңғақ торты", "price": 10000, "allergens": ["Peanut"]}]}
        """

    static func menuPath(_ day: String, school: String = MealCity.schoolBIN, city: String = "astana") -> String {
        "/api/\(city)/meals/schools/\(school)/menus/\(day)"
    }

    /// A charge of `items` (JSON) at the city's till.
    static func charge(_ city: MealCity, _ items: String, override: Bool = false) async throws -> TestResponse {
        try await city.client.api(
            .post,
            "/api/astana/meals/charges",
            token: city.till,
            json: #"{"id": "\#(UUID())", "card": "CARD-0001", "allergenOverride": \#(override), "items": \#(items)}"#
        )
    }

    struct Answer: Decodable { var menu: MealMenus.Menu }

    /// The menu of `day` as `token`'s account reads it.
    static func read(_ client: any TestClientProtocol, _ day: String, token: String) async throws -> MealMenus.Menu {
        let response = try await client.api(.get, menuPath(day), token: token)
        #expect(response.status == .ok, "\(response.text)")
        return try JSONDecoder().decode(Answer.self, from: Data(response.text.utf8)).menu
    }

    @Test("set whole by the office or the akimat, read by the school's till and auditors; bad lines refused by name")
    func setAndRead() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let today = Self.day()
            var response = try await client.api(.put, Self.menuPath(today), token: city.school, json: Self.lunch)
            #expect(response.status == .ok, "\(response.text)")
            let expected = MealMenus.Menu(
                school: MealCity.schoolBIN,
                schoolName: "Мектеп-гимназия №1",
                day: today,
                items: [
                    .init(name: "Палау", price: 30_000), .init(name: "Сүт", price: 5_000, allergens: ["milk"]),
                    .init(name: "Жаңғақ торты", price: 10_000, allergens: ["peanut"]),
                ]
            )
            #expect(try JSONDecoder().decode(Answer.self, from: Data(response.text.utf8)).menu == expected)
            let auditor = try await fixture.account("auditor", name: "Auditor", role: .auditor).token
            for token in [city.till, city.admin, auditor, city.school] {
                #expect(try await Self.read(client, today, token: token) == expected)
            }
            // A day without a menu reads as no items.
            #expect(try await Self.read(client, Self.day(1), token: city.till).items.isEmpty)
            // Set again, whole: the akimat replaces the day's lines.
            response = try await client.api(
                .put,
                Self.menuPath(today),
                token: city.admin,
                json: #"{"items": [{"name": "Көже", "price": 20000}]}"#
            )
            #expect(response.status == .ok, "\(response.text)")
            #expect(try await Self.read(client, today, token: city.till).items.map(\.name) == ["Көже"])

            // Refusals, each naming what is wrong; nothing changes.
            let refused: [(String, String, String)] = [
                (Self.day(-1), #"{"items": [{"name": "Көже", "price": 100}]}"#, "day: today or later"),
                (Self.day(63), #"{"items": [{"name": "Көже", "price": 100}]}"#, "day: at most 62 days ahead"),
                ("2026-02-30", #"{"items": [{"name": "Көже", "price": 100}]}"#, "day: a date as YYYY-MM-DD"),
                ("tomorrow", #"{"items": [{"name": "Көже", "price": 100}]}"#, "day: a date as YYYY-MM-DD"),
                (today, #"{"items": []}"#, "items: 1 to 20 items"),
                (
                    today,
                    "{\"items\": [" + (1...21).map { #"{"name": "Ас \#($0)", "price": 100}"# }.joined(separator: ",")
                        + "]}",
                    "items: 1 to 20 items"
                ),
                (
                    today, #"{"items": [{"name": "Көже", "price": 100}, {"name": "КӨЖЕ", "price": 200}]}"#,
                    "items: КӨЖЕ is listed twice"
                ),
                (today, #"{"items": [{"name": "Көже", "price": 0}]}"#, "items: Көже: a price of 1 to 50000 tiyn"),
                (today, #"{"items": [{"name": "Көже", "price": 50001}]}"#, "items: Көже: a price of 1 to 50000 tiyn"),
                (today, #"{"items": [{"name": "  ", "price": 100}]}"#, "items: names of 1 to 100 characters"),
                (
                    today,
                    #"{"items": [{"name": "Көже", "price": 100, "allergens": [\#((1...21).map { "\"a\($0)\"" }.joined(separator: ","))]}]}"#,
                    "items: Көже: at most 20 allergens"
                ),
                (today, #"{"items": [{"name": "Көже", "price": 100, "allergens": [""]}]}"#, "allergens of 1 to 40"),
            ]
            for (day, body, reason) in refused {
                response = try await client.api(.put, Self.menuPath(day), token: city.school, json: body)
                #expect(response.status == .unprocessableContent && response.text.contains(reason), "\(response.text)")
            }
            response = try await client.api(
                .put,
                Self.menuPath(today),
                token: city.school,
                json: #"{"items": [{"name": "Көже", "price": 1.5}]}"#
            )
            #expect(response.status == .badRequest, "\(response.text)")
            #expect(try await Self.read(client, today, token: city.till).items.map(\.name) == ["Көже"])

            // Who may: a till and a parent do not set; an office not at the school neither sets
            // nor reads it; a parent does not read; a school the city lacks is not found.
            #expect(
                try await client.api(.put, Self.menuPath(today), token: city.till, json: Self.lunch).status
                    == .forbidden
            )
            #expect(
                try await client.api(.put, Self.menuPath(today), token: city.parent, json: Self.lunch).status
                    == .forbidden
            )
            #expect(try await client.api(.get, Self.menuPath(today), token: city.parent).status == .forbidden)
            let elsewhere = try await fixture.account("other-office", name: "Another office", role: .schoolAdmin).token
            #expect(
                try await client.api(.put, Self.menuPath(today), token: elsewhere, json: Self.lunch).status
                    == .forbidden
            )
            #expect(try await client.api(.get, Self.menuPath(today), token: elsewhere).status == .forbidden)
            #expect(try await client.api(.delete, Self.menuPath(today), token: elsewhere).status == .forbidden)
            #expect(
                try await client.api(.get, Self.menuPath(today, school: "070941024691"), token: city.admin).status
                    == .notFound
            )
            // Another city's akimat does not find Astana's school.
            let shymkent = try await Self.shymkentAdmin(fixture)
            let foreign = Self.menuPath(today, city: "shymkent")
            #expect(try await client.api(.get, foreign, token: shymkent).status == .notFound)
            #expect(try await client.api(.put, foreign, token: shymkent, json: Self.lunch).status == .notFound)

            // Removed by the office: the day has no menu again.
            #expect(try await client.api(.delete, Self.menuPath(today), token: city.school).status == .noContent)
            #expect(try await Self.read(client, today, token: city.till).items.isEmpty)
        }
    }

    /// A token of Shymkent's akimat.
    static func shymkentAdmin(_ fixture: WebFixture) async throws -> String {
        _ = try await fixture.dependencies.accounts.createUser(
            NewUser(login: "shymkent-admin", displayName: "Shymkent", iin: nil, roles: [.akimatAdmin]),
            password: WebFixture.password,
            tenantID: fixture.shymkent.id
        )
        return try await fixture.dependencies.accounts.issueToken(
            login: "shymkent-admin",
            name: "t",
            roles: [.akimatAdmin],
            tenantID: fixture.shymkent.id
        ).0.text
    }

    struct Copied: Decodable { var copy: MealMenus.Copy }

    /// Copies the menus of days `from` … `through` (offsets from today) to the days from `to`.
    static func copy(
        _ city: MealCity,
        _ from: Int,
        _ through: Int,
        to: Int,
        replace: Bool = false,
        token: String? = nil
    ) async throws -> TestResponse {
        try await city.client.api(
            .post,
            "/api/astana/meals/schools/\(MealCity.schoolBIN)/menus/copy",
            token: token ?? city.school,
            json:
                #"{"from": "\#(day(from))", "through": "\#(day(through))", "to": "\#(day(to))", "replace": \#(replace)}"#
        )
    }

    @Test("a cycle of days' menus copied forward whole: days without a menu copy nothing, set days only with replace")
    func copyForward() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let set = { (offset: Int, names: [String]) in
                let items = names.enumerated().map {
                    #"{"name": "\#($1)", "price": \#(10_000 * ($0 + 1)), "allergens": ["milk"]}"#
                }
                let response = try await client.api(
                    .put,
                    Self.menuPath(Self.day(offset)),
                    token: city.school,
                    json: #"{"items": [\#(items.joined(separator: ","))]}"#
                )
                #expect(response.status == .ok, "\(response.text)")
            }
            // A week's cycle from tomorrow: days 1, 2 and 4 have menus, day 3 none.
            try await set(1, ["Палау", "Шай"])
            try await set(2, ["Көже"])
            try await set(4, ["Сорпа", "Нан", "Сүт"])
            // Day 10 (where day 3 would go) has its own menu, which the copy leaves alone.
            try await set(10, ["Бешбармақ"])
            var response = try await Self.copy(city, 1, 7, to: 8)
            #expect(response.status == .ok, "\(response.text)")
            let copy = try JSONDecoder().decode(Copied.self, from: Data(response.text.utf8)).copy
            #expect(
                copy.days.map { [$0.from, $0.to, String($0.items)] } == [
                    [Self.day(1), Self.day(8), "2"], [Self.day(2), Self.day(9), "1"], [Self.day(4), Self.day(11), "3"],
                ]
            )
            #expect(copy.replaced.isEmpty && copy.schoolName == "Мектеп-гимназия №1")
            for (source, target) in [(1, 8), (2, 9), (4, 11)] {
                let original = try await Self.read(client, Self.day(source), token: city.till)
                #expect(try await Self.read(client, Self.day(target), token: city.till).items == original.items)
            }
            #expect(try await Self.read(client, Self.day(10), token: city.till).items.map(\.name) == ["Бешбармақ"])

            // Copied again: days 8, 9 and 11 have menus now, named; nothing changes.
            try await set(9, ["Манты"])
            response = try await Self.copy(city, 1, 7, to: 8)
            #expect(response.status == .unprocessableContent, "\(response.text)")
            #expect(
                response.text.contains(
                    "replace: these days already have a menu: \(Self.day(8)), \(Self.day(9)), \(Self.day(11))"
                ),
                "\(response.text)"
            )
            #expect(try await Self.read(client, Self.day(9), token: city.till).items.map(\.name) == ["Манты"])
            response = try await Self.copy(city, 1, 7, to: 8, replace: true)
            #expect(response.status == .ok, "\(response.text)")
            #expect(
                try JSONDecoder().decode(Copied.self, from: Data(response.text.utf8)).copy.replaced
                    == [Self.day(8), Self.day(9), Self.day(11)]
            )
            #expect(try await Self.read(client, Self.day(9), token: city.till).items.map(\.name) == ["Көже"])

            // Refusals, each naming its field; nothing is written.
            let refused: [((Int, Int, Int), String)] = [
                ((4, 1, 20), "through: a day on or after from, at most 31 days in all"),
                ((1, 32, 40), "through: a day on or after from, at most 31 days in all"),
                ((1, 4, -1), "to: today or later"),
                ((1, 4, 60), "to: at most 62 days ahead"),
                ((1, 4, 3), "to: a day after through"),
                ((1, 4, -2), "to: today or later"),
                ((20, 25, 30), "from: no menu is set at this school from \(Self.day(20)) through \(Self.day(25))"),
            ]
            for ((from, through, to), reason) in refused {
                response = try await Self.copy(city, from, through, to: to, replace: true)
                #expect(response.status == .unprocessableContent && response.text.contains(reason), "\(response.text)")
            }
            response = try await client.api(
                .post,
                "/api/astana/meals/schools/\(MealCity.schoolBIN)/menus/copy",
                token: city.school,
                json: #"{"from": "2026-02-30", "through": "\#(Self.day(4))", "to": "\#(Self.day(20))"}"#
            )
            #expect(response.text.contains("from: a date as YYYY-MM-DD"), "\(response.text)")
            #expect(try await Self.read(client, Self.day(30), token: city.till).items.isEmpty)

            // Who may: the akimat does; a till, a parent and an office of another school do not;
            // another city does not find the school.
            #expect(try await Self.copy(city, 1, 2, to: 20, token: city.admin).status == .ok)
            #expect(try await Self.copy(city, 1, 2, to: 22, token: city.till).status == .forbidden)
            #expect(try await Self.copy(city, 1, 2, to: 22, token: city.parent).status == .forbidden)
            let elsewhere = try await fixture.account("other-office", name: "Another office", role: .schoolAdmin).token
            #expect(try await Self.copy(city, 1, 2, to: 22, token: elsewhere).status == .forbidden)
            let shymkent = try await Self.shymkentAdmin(fixture)
            response = try await client.api(
                .post,
                "/api/shymkent/meals/schools/\(MealCity.schoolBIN)/menus/copy",
                token: shymkent,
                json: #"{"from": "\#(Self.day(1))", "through": "\#(Self.day(2))", "to": "\#(Self.day(22))"}"#
            )
            #expect(response.status == .notFound, "\(response.text)")
            #expect(try await Self.read(client, Self.day(22), token: city.till).items.isEmpty)

            // A contract price lowered since: an item above it is not copied, named with its day.
            response = try await client.api(
                .put,
                "/api/astana/meals/schools/\(MealCity.schoolBIN)",
                token: city.admin,
                json:
                    #"{"name": "Мектеп-гимназия №1", "supplierBIN": "\#(MealCity.supplierBIN)", "pricePerMeal": 25000}"#
            )
            #expect(response.status == .noContent, "\(response.text)")
            response = try await Self.copy(city, 1, 4, to: 22)
            #expect(response.status == .unprocessableContent, "\(response.text)")
            #expect(
                response.text.contains("from: on \(Self.day(4)), Сүт costs more than the contract price of 25000 tiyn"),
                "\(response.text)"
            )
            #expect(try await Self.read(client, Self.day(22), token: city.till).items.isEmpty)
        }
    }

    struct Imported: Decodable {
        var problems: [CSV.Problem]
        var problemCount: Int
        var imported: Bool
        var replaced: [String]
    }

    /// Sends a menu file (CSV) as `token`'s account.
    static func upload(
        _ city: MealCity,
        _ csv: some Sequence<UInt8>,
        replace: Bool = false,
        token: String? = nil
    )
        async throws -> TestResponse
    {
        try await city.client.execute(
            uri: "/api/astana/meals/schools/\(MealCity.schoolBIN)/menus" + (replace ? "?replace=true" : ""),
            method: .put,
            headers: [.authorization: "Bearer \(token ?? city.school)", .contentType: "text/csv"],
            body: ByteBuffer(bytes: Array(csv))
        )
    }

    @Test("a supplier's menu plan as a CSV file: every bad row listed by line and nothing written, then imported whole")
    func importPlan() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let (one, two) = (Self.day(1), Self.day(2))
            let plan = """
                day,item,price,allergens
                \(one),Палау,300,
                \(one),Сүт,"50,5","Milk, lactose, "
                \(two),"Көже, ыстық",200,
                """
            // Every problem, each on its line; nothing written.
            let bad = """
                day,item,price,allergens
                \(one),Палау,300,
                \(one),ПАЛАУ,250,
                2026-02-30,Шай,50,
                \(Self.day(-1)),Шай,50,
                \(Self.day(63)),Шай,50,
                \(two),Сорпа,600,
                \(two),Нан,тегін,
                \(two),,100,
                \(two),Бәліш
                """
            var response = try await Self.upload(city, Array(bad.utf8))
            #expect(response.status == .unprocessableContent, "\(response.text)")
            var report = try JSONDecoder().decode(Imported.self, from: Data(response.text.utf8))
            #expect(!report.imported && report.problemCount == 8, "\(report.problems)")
            // In line order; a day's own (a name twice in any case) on the line that starts it.
            #expect(
                report.problems.map(\.description) == [
                    "line 2, item: \(one): ПАЛАУ is listed twice",
                    "line 4, day: a date as YYYY-MM-DD",
                    "line 5, day: today or later in Kazakhstan: a past day's menu stays as its charges saw it",
                    "line 6, day: at most 62 days ahead",
                    "line 7, item: Сорпа: a price of 1 to 50000 tiyn, the contract price per meal",
                    "line 8, price: a price in tenge, such as 450 or 450,50",
                    "line 9, item: names of 1 to 100 characters on one line",
                    "line 10: 2 fields, expected 4",
                ],
                "\(report.problems)"
            )
            // A month at most: 32 days refused.
            let month = "day,item,price,allergens\n" + (1...32).map { "\(Self.day($0)),Палау,300,\n" }.joined()
            response = try await Self.upload(city, Array(month.utf8))
            #expect(response.text.contains("at most 31 days"), "\(response.text)")
            // Not CSV UTF-8, or another header: one problem, naming what to do.
            response = try await Self.upload(city, [0x64, 0x61, 0x79, 0x0A, 0xD0] + Array("x".utf8))
            #expect(response.text.contains("not UTF-8 text"), "\(response.text)")
            response = try await Self.upload(city, Array("date,item,price\n".utf8))
            #expect(response.text.contains("the first line must be exactly: day,item,price,allergens"))
            #expect(try await Self.read(client, one, token: city.till).items.isEmpty)

            // Imported whole, with a byte-order mark as spreadsheets write it.
            response = try await Self.upload(city, [0xEF, 0xBB, 0xBF] + Array(plan.utf8))
            #expect(response.status == .ok, "\(response.text)")
            #expect(
                try await Self.read(client, one, token: city.till).items == [
                    .init(name: "Палау", price: 30_000),
                    .init(name: "Сүт", price: 5_050, allergens: ["milk", "lactose"]),
                ]
            )
            #expect(try await Self.read(client, two, token: city.till).items.map(\.name) == ["Көже, ыстық"])
            // Again: the days have menus, named; with replace, replaced.
            response = try await Self.upload(city, Array(plan.utf8))
            #expect(
                response.status == .unprocessableContent
                    && response.text.contains("these days already have a menu: \(one), \(two)")
            )
            response = try await Self.upload(city, Array(plan.utf8), replace: true)
            report = try JSONDecoder().decode(Imported.self, from: Data(response.text.utf8))
            #expect(response.status == .ok && report.replaced == [one, two], "\(response.text)")
            // Who may: not a till, not an office of another school.
            #expect(try await Self.upload(city, Array(plan.utf8), replace: true, token: city.till).status == .forbidden)
            let elsewhere = try await fixture.account("other-office", name: "Another office", role: .schoolAdmin).token
            #expect(try await Self.upload(city, Array(plan.utf8), replace: true, token: elsewhere).status == .forbidden)
        }
    }

    @Test(
        "the office uploads a menu plan on its page: every problem listed by line in the page's language and nothing written, then set whole"
    )
    func uploadPage() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let (one, two) = (Self.day(1), Self.day(2))
            var office = Browser(client: client)
            #expect(try await office.signIn("astana", login: "school-office").status == .seeOther)
            var page = try await office.get("/astana/meals/menu?lang=en")
            #expect(page.main.contains(#"action="/astana/meals/menu/upload" enctype="multipart/form-data""#))
            func upload(_ file: [UInt8], _ language: String, replace: Bool = false) async throws -> TestResponse {
                try await office.postMultipart(
                    "/astana/meals/menu/upload?lang=\(language)",
                    fields: [("school", MealCity.schoolBIN), ("day", one)] + (replace ? [("replace", "on")] : []),
                    files: [("file", "menu.csv", file)]
                )
            }
            let bad = """
                day,item,price,allergens
                \(one),Палау,300,
                \(one),Сорпа,600,
                \(two),Нан,тегін,
                """
            var response = try await upload(Array(bad.utf8), "ru")
            #expect(response.status == .unprocessableContent, "\(response.main)")
            #expect(
                response.main.contains("Файл не принят, ничего не изменено. Найдено ошибок: 2."),
                "\(response.main)"
            )
            #expect(
                response.main.contains(
                    "<li>строка 3, item: Сорпа: цена от 0,01 до 500,00 ₸ — цены питания по договору.</li>"
                ),
                "\(response.main)"
            )
            #expect(response.main.contains("<li>строка 4, price: Цена в тенге, например 450 или 450,50.</li>"))
            #expect(try await Self.read(client, one, token: city.till).items.isEmpty)
            response = try await upload([0x64, 0x61, 0x79, 0x0A, 0xD0], "kk")
            #expect(response.main.contains("<li>2-жол, Файл UTF-8 емес: кестеден «CSV UTF-8» ретінде сақтаңыз.</li>"))

            let plan = """
                day,item,price,allergens
                \(two),"Көже, ыстық",200,
                \(one),Палау,300,
                \(one),Сүт,"50,5",Milk
                """
            response = try await upload(Array(plan.utf8), "en")
            #expect(response.status == .seeOther, "\(response.main)")
            page = try await office.get(
                "/astana/meals/menu?lang=en&school=\(MealCity.schoolBIN)&day=\(one)&imported=2"
            )
            #expect(page.main.contains("Menus set from the file: 2 days; the first is \(one)."), "\(page.main)")
            #expect(page.main.contains(#"value="Палау""#) && page.main.contains(#"value="milk""#))
            #expect(try await Self.read(client, two, token: city.till).items.map(\.name) == ["Көже, ыстық"])
            // Again: the days that have a menu are named in the page's language; replaced when ticked.
            response = try await upload(Array(plan.utf8), "kk")
            #expect(response.status == .unprocessableContent)
            #expect(response.main.contains("Бұл күндерде мәзір бұрыннан бар: \(one), \(two)."), "\(response.main)")
            response = try await upload(
                Array(plan.replacingOccurrences(of: "300", with: "350").utf8),
                "en",
                replace: true
            )
            #expect(response.status == .seeOther, "\(response.main)")
            #expect(try await Self.read(client, one, token: city.till).items.first?.price == 35_000)
            // No file, a file over the limit, a form without files: said on the upload's form.
            response = try await upload([], "en")
            #expect(
                response.status == .unprocessableContent
                    && response.main.contains("Choose a CSV file with the days&#39; menus.")
            )
            // Just over the file's bound, and far enough over that the form's body is too.
            for size in [MealMenus.maximumImportBytes + 1, 300 << 10] {
                response = try await upload([UInt8](repeating: 0x41, count: size), "en")
                #expect(
                    response.main.contains("The file is larger than 262144 bytes; a month&#39;s menus take far less."),
                    "\(response.main)"
                )
            }
            response = try await office.post(
                "/astana/meals/menu/upload?lang=en",
                form: ["school": MealCity.schoolBIN, "day": one]
            )
            #expect(response.status == .unprocessableContent && response.main.contains("multipart/form-data"))

            // An auditor reads the menus and has no upload; a parent has no menu page.
            _ = try await fixture.account("auditor", name: "Auditor", role: .auditor)
            var auditor = Browser(client: client)
            #expect(try await auditor.signIn("astana", login: "auditor").status == .seeOther)
            page = try await auditor.get("/astana/meals/menu?lang=en")
            #expect(page.status == .ok && !page.main.contains("menu-upload"))
            let refused = try await auditor.postMultipart(
                "/astana/meals/menu/upload?lang=en",
                fields: [("school", MealCity.schoolBIN)],
                files: [("file", "menu.csv", Array(plan.utf8))]
            )
            #expect(refused.status == .forbidden)
        }
    }

    @Test("menus written at once by several people take turns: each write is whole, none fails")
    func concurrentWrites() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        let items = (1...3).map { #"{"name": "Ас \#(writer)-\#($0)", "price": 1000}"# }
                        return try await client.api(
                            .put,
                            Self.menuPath(Self.day(1)),
                            token: writer.isMultiple(of: 2) ? city.school : city.admin,
                            json: #"{"items": [\#(items.joined(separator: ","))]}"#
                        ).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: .ok, count: 8))
            let names = try await Self.read(client, Self.day(1), token: city.till).items.map(\.name)
            let writer = names.first.map { String($0.dropFirst(3).prefix { $0 != "-" }) } ?? ""
            #expect(names == (1...3).map { "Ас \(writer)-\($0)" }, "\(names)")
        }
    }

    @Test("on a day with a menu a till charges only its items at its prices, and the menu's allergens count")
    func chargesFollowTheMenu() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(200_000)
            let response = try await client.api(.put, Self.menuPath(Self.day()), token: city.school, json: Self.lunch)
            #expect(response.status == .ok, "\(response.text)")
            func transfer(_ response: TestResponse) throws -> [String: Any] {
                try response.json()["transfer"] as? [String: Any] ?? [:]
            }
            // On the menu, its name in any case.
            var charged = try await Self.charge(city, #"[{"name": "палау", "price": 30000}]"#)
            #expect(
                try charged.status == .created && transfer(charged)["status"] as? String == "posted",
                "\(charged.text)"
            )
            // Off the menu, or at another price: refused, nothing written.
            for items in [
                #"[{"name": "Палау", "price": 25000}]"#,
                #"[{"name": "Пицца", "price": 100}, {"name": "Сүт", "price": 5000}, {"name": "Cola", "price": 100}]"#,
            ] {
                charged = try await Self.charge(city, items)
                #expect(charged.status == .unprocessableContent, "\(charged.text)")
                #expect(charged.text.contains("not on the menu for \(Self.day()) at that price: "), "\(charged.text)")
            }
            #expect(charged.text.contains("at that price: Пицца, Cola"), "\(charged.text)")
            #expect(
                MealReason.of("not on the menu for 2026-11-24 at that price: Пицца, Cola")?.figures == [
                    "2026-11-24", "Пицца, Cola",
                ]
            )
            // The menu's peanut counts though the till named no allergen; staff may confirm it.
            charged = try await Self.charge(city, #"[{"name": "Жаңғақ торты", "price": 10000}]"#)
            #expect(
                try transfer(charged)["reason"] as? String == "contains peanut, flagged for this pupil",
                "\(charged.text)"
            )
            charged = try await Self.charge(city, #"[{"name": "Жаңғақ торты", "price": 10000}]"#, override: true)
            #expect(try transfer(charged)["status"] as? String == "posted", "\(charged.text)")
            // Milk is not flagged for this pupil.
            charged = try await Self.charge(city, #"[{"name": "Сүт", "price": 5000}]"#)
            #expect(try transfer(charged)["status"] as? String == "posted", "\(charged.text)")
            #expect(try await city.balance() == 200_000 - 30_000 - 10_000 - 5_000)
            // Without the menu the till charges any item again.
            #expect(try await client.api(.delete, Self.menuPath(Self.day()), token: city.school).status == .noContent)
            charged = try await Self.charge(city, #"[{"name": "Пицца", "price": 100}]"#)
            #expect(try transfer(charged)["status"] as? String == "posted", "\(charged.text)")
            let check = try await city.ledgerCheck()
            #expect(check.passed && check.transfers == 5)
        }
    }

    @Test("the office sets the day's menu on its page; the till's page offers its items to tick and charges them")
    func pages() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            let today = Self.day()
            var office = Browser(client: client)
            #expect(try await office.signIn("astana", login: "school-office").status == .seeOther)
            var page = try await office.get("/astana/meals?lang=en")
            #expect(page.main.contains("/astana/meals/menu"))
            page = try await office.get("/astana/meals/menu?lang=en")
            #expect(page.status == .ok && page.main.contains("No menu is set for this day"), "\(page.main)")
            #expect(page.main.contains("Мектеп-гимназия №1 (\(MealCity.schoolBIN))"))
            let lunch = [
                "school": MealCity.schoolBIN, "day": today, "_do": "save", "item1": "Палау", "price1": "300",
                "item2": "Жаңғақ торты", "price2": "100", "allergens2": "Peanut",
            ]
            // A line refused is named, and the form comes back as typed.
            for (change, reason) in [
                (["price1": "600"], "Палау: a price from 0,01 to 500,00 ₸, the contract price per meal."),
                (["item3": "Суп"], "Line 3 has no price."),
                (["day": "2020-01-01"], "choose today or later"),
            ] {
                let refused = try await office.post("/astana/meals/menu?lang=en", form: lunch.merging(change) { $1 })
                #expect(refused.status == .unprocessableContent && refused.main.contains(reason), "\(refused.main)")
                #expect(refused.main.contains(#"value="Жаңғақ торты""#))
            }
            // Said in the page's language.
            let twice = try await office.post(
                "/astana/meals/menu?lang=kk",
                form: lunch.merging(["item2": "палау"]) { $1 }
            )
            #expect(twice.status == .unprocessableContent && twice.main.contains("палау екі рет көрсетілген."))
            let saved = try await office.post("/astana/meals/menu?lang=en", form: lunch)
            #expect(saved.status == .seeOther, "\(saved.main)")
            page = try await office.get("/astana/meals/menu?lang=en&school=\(MealCity.schoolBIN)&day=\(today)&saved=1")
            #expect(page.main.contains("Saved.") && page.main.contains(#"value="300,00""#))
            #expect(page.main.contains(#"value="peanut""#))
            // Copied forward on the same page: a refusal in the page's language on the copy's form
            // as typed, the day's lines as they stand; then copied, and the day copied to shown.
            let week = ["school": MealCity.schoolBIN, "day": today, "_do": "copy", "from": today, "through": today]
            let overlapping = try await office.post(
                "/astana/meals/menu?lang=ru",
                form: week.merging(["to": today]) { $1 }
            )
            #expect(overlapping.status == .unprocessableContent, "\(overlapping.main)")
            #expect(overlapping.main.contains("Дни, на которые копируют, не могут совпадать с копируемыми"))
            #expect(overlapping.main.contains(#"id="c_to" name="to" type="date" value="\#(today)""#))
            #expect(overlapping.main.contains(#"value="Палау""#))
            let copied = try await office.post(
                "/astana/meals/menu?lang=en",
                form: week.merging(["to": Self.day(7)]) { $1 }
            )
            #expect(copied.status == .seeOther, "\(copied.main)")
            page = try await office.get(
                "/astana/meals/menu?lang=en&school=\(MealCity.schoolBIN)&day=\(Self.day(7))&copied=1"
            )
            #expect(
                page.main.contains("Days copied: 1; the first is \(Self.day(7)).")
                    && page.main.contains(#"value="Палау""#)
            )
            let again = try await office.post(
                "/astana/meals/menu?lang=kk",
                form: week.merging(["to": Self.day(7)]) { $1 }
            )
            #expect(again.main.contains("Бұл күндерде мәзір бұрыннан бар: \(Self.day(7))."), "\(again.main)")

            var till = Browser(client: client)
            #expect(try await till.signIn("astana", login: "till-1").status == .seeOther)
            page = try await till.get("/astana/meals/till?lang=en")
            #expect(page.main.contains("Today&#39;s menu: tick the items served"))
            #expect(page.main.contains(#"name="menu1" value="30000:Палау""#) && page.main.contains("allergens: peanut"))
            #expect(!page.main.contains(#"name="item1""#) && page.main.contains(#"data-menu-day="\#(today)""#))
            // The form names its day, so that a page left open past midnight fetches the new one.
            #expect(page.main.contains(#"data-till-name="till-1" data-day="\#(today)""#))
            // The page kept for outages has the menu marked with its day, and the typed lines in
            // reserve (hidden and disabled) for the script to show on another day.
            var shell = try await till.get("/astana/meals/till?shell&lang=en")
            #expect(shell.main.contains(#"<fieldset data-menu-day="\#(today)">"#), "\(shell.main)")
            #expect(shell.main.contains(#"name="menu1" value="30000:Палау""#))
            #expect(
                shell.main.contains("<fieldset data-lines hidden disabled>") && shell.main.contains(#"name="item1""#)
            )
            var charged = try await till.post(
                "/astana/meals/till?lang=en",
                form: ["_key": UUID().uuidString, "card": "CARD-0001", "_menu": "1", "menu1": "30000:Палау"]
            )
            #expect(charged.status == .ok && charged.main.contains("Charged</strong>: Палау — 300,00 ₸"))
            charged = try await till.post(
                "/astana/meals/till?lang=en",
                form: ["_key": UUID().uuidString, "card": "CARD-0001", "_menu": "1"]
            )
            #expect(charged.status == .unprocessableContent && charged.main.contains("Tick the items served."))
            charged = try await till.post(
                "/astana/meals/till?lang=en",
                form: ["_key": UUID().uuidString, "card": "CARD-0001", "_menu": "1", "menu2": "10000:Жаңғақ торты"]
            )
            #expect(charged.main.contains("Declined") && charged.main.contains("peanut"), "\(charged.main)")
            // A ticked item the menu does not have (an old page, a hand-made form) is refused.
            charged = try await till.post(
                "/astana/meals/till?lang=en",
                form: ["_key": UUID().uuidString, "card": "CARD-0001", "_menu": "1", "menu1": "100:Палау"]
            )
            #expect(charged.status == .unprocessableContent && charged.main.contains("Not on the menu for \(today)"))
            #expect(try await city.balance() == 70_000)

            // Read by an auditor, not edited; not read by a parent.
            _ = try await fixture.account("auditor", name: "Auditor", role: .auditor)
            var auditor = Browser(client: client)
            #expect(try await auditor.signIn("astana", login: "auditor").status == .seeOther)
            page = try await auditor.get("/astana/meals/menu?lang=en")
            #expect(page.status == .ok && page.main.contains("<td>Палау</td>") && !page.main.contains("menu-form"))
            #expect(!page.main.contains("menu-copy"))
            var parent = Browser(client: client)
            #expect(try await parent.signIn("astana", login: "mother").status == .seeOther)
            #expect(try await parent.get("/astana/meals/menu?lang=en").status == .forbidden)
            // The child's page shows the week's menus from today, the child's flagged allergen
            // marked: today's, tomorrow's under its weekday and date; the one copied to a week on
            // is past the week.
            let tomorrow = try #require(Day(Self.day(1)))
            let set = try await client.api(
                .put,
                Self.menuPath(tomorrow.description),
                token: city.school,
                json: #"{"items": [{"name": "Көже", "price": 20000, "allergens": ["peanut"]}]}"#
            )
            #expect(set.status == .ok, "\(set.text)")
            let weekday = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"][
                tomorrow.weekday - 1
            ]
            page = try await parent.get("/astana/meals/pupils/\(city.pupil)?lang=en")
            #expect(page.main.contains("<h2>Menus at school this week</h2>"), "\(page.main)")
            #expect(page.main.contains("<h3>\(weekday), \(tomorrow.written)</h3>"), "\(page.main)")
            #expect(page.main.contains("Көже — 200,00 ₸ <small>(allergens: peanut)</small> <strong class=\"error\">"))
            #expect(!page.main.contains(try #require(Day(Self.day(7))).written))
            #expect(
                page.main.range(of: "Today&#39;s menu at school")!.lowerBound < page.main.range(of: "Көже")!.lowerBound
            )
            #expect(page.main.contains("Today&#39;s menu at school") && page.main.contains("Палау — 300,00 ₸"))
            #expect(
                page.main.contains(
                    "Жаңғақ торты — 100,00 ₸ <small>(allergens: peanut)</small> <strong class=\"error\">contains peanut, flagged"
                ),
                "\(page.main)"
            )

            // Removed: the till types its items again.
            let removed = try await office.post(
                "/astana/meals/menu?lang=en",
                form: ["school": MealCity.schoolBIN, "day": today, "_do": "remove"]
            )
            #expect(removed.status == .seeOther)
            page = try await till.get("/astana/meals/till?lang=en")
            #expect(page.main.contains(#"name="item1""#) && !page.main.contains("menu1"))
            shell = try await till.get("/astana/meals/till?shell&lang=en")
            #expect(!shell.main.contains("data-menu-day") && !shell.main.contains("data-lines"))
            #expect(shell.main.contains(#"name="item1""#))
            page = try await parent.get("/astana/meals/pupils/\(city.pupil)?lang=en")
            #expect(!page.main.contains("Today&#39;s menu at school") && page.main.contains("Көже"))
        }
    }
}
