import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import OpenBudget
import TestSupport
import Testing

@testable import Web

@Suite("Open budget pages")
struct BudgetPageTests {
    @Test(
        "the map draws each district and object, filters by kind, district and year, and lists them for reading without it"
    )
    func map() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            _ = try await BudgetCity.prepare(fixture, client)
            var browser = Browser(client: client)
            let page = try await browser.get("/astana/budget?lang=en")
            #expect(page.status == .ok)
            #expect(page.text.components(separatedBy: "class=\"marker ").count - 1 == 3)
            #expect(page.text.components(separatedBy: "class=\"district ").count - 1 == 2)
            #expect(page.text.contains("href=\"/astana/budget/objects/AST-CLI-001\""))
            #expect(page.text.contains("<script src=\"/static/budget-map.js\""))
            let clinics = try await browser.get("/astana/budget?kind=clinic&district=&year=")
            #expect(clinics.text.components(separatedBy: "class=\"marker ").count - 1 == 1)
            let almaty = try await browser.get("/astana/budget?district=%D0%90%D0%BB%D0%BC%D0%B0%D1%82%D1%8B&year=2025")
            #expect(almaty.text.components(separatedBy: "class=\"marker ").count - 1 == 2)
            #expect(almaty.text.contains("75\u{202F}000\u{202F}000,00 ₸"))
            #expect(try await browser.get("/astana/budget?year=soon").status == .unprocessableContent)
            #expect(try await browser.get("/static/budget-map.js").status == .ok)

            let object = try await browser.get("/astana/budget/objects/AST-SCH-001?lang=ru")
            #expect(object.status == .ok)
            #expect(object.text.contains("1\u{202F}250\u{202F}000,00 ₸") && object.text.contains("<svg"))
            #expect(object.text.contains("/astana/reports/new?object=AST-SCH-001"))
            #expect(try await browser.get("/astana/budget/objects/NOPE").status == .notFound)
            #expect(try await browser.get("/shymkent/budget/objects/AST-SCH-001").status == .notFound)

            let dashboard = try await browser.get("/astana/dashboard?lang=en")
            #expect(dashboard.status == .ok)
            #expect(dashboard.text.contains("77\u{202F}450\u{202F}000,50 ₸"))
        }
    }

    @Test("the home page gives the share of the city's services automated, from its catalogue")
    func catalogue() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            let city = try await BudgetCity.prepare(fixture, client)
            let services = (0..<40).map { number in
                #"{"code": "S-\#(number)", "title": "Service \#(number)", "agency": "Akimat", "status": "\#(number < 39 ? "automated" : "paper")"}"#
            }
            let saved = try await client.api(
                .put,
                "/api/astana/services-catalogue",
                token: city.admin,
                json: #"{"services": [\#(services.joined(separator: ","))]}"#
            )
            #expect(saved.status == .ok, "\(saved.text)")
            #expect(try saved.json()["percentAutomated"] as? Double == 97.5)
            var browser = Browser(client: client)
            #expect(try await browser.get("/astana?lang=en").text.contains("97.5 %"))
            #expect(try await browser.get("/astana?lang=kk").text.contains("97,5 %"))
            #expect(try await browser.get("/astana/services-catalogue").text.contains("Service 39"))
            let twice = try await client.api(
                .put,
                "/api/astana/services-catalogue",
                token: city.admin,
                json: #"{"services": [\#(services[0]), \#(services[0])]}"#
            )
            #expect(twice.status == .unprocessableContent)
            #expect(
                try await client.api(.put, "/api/astana/services-catalogue", token: city.resident, json: "{}").status
                    == .forbidden
            )
        }
    }

    @Test("a resident reports from the object's page; a visitor is asked for a contact")
    func reportForm() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20) { fixture, client in
            _ = try await BudgetCity.prepare(fixture, client)
            var visitor = Browser(client: client)
            let anonymous = try await visitor.get("/astana/reports/new?object=AST-SCH-001&lang=en")
            #expect(anonymous.text.contains("name=\"contact\""))
            var resident = Browser(client: client)
            _ = try await resident.signIn("astana", login: "resident-1")
            let form = try await resident.get("/astana/reports/new?object=AST-SCH-001&lang=en")
            #expect(form.text.contains("№1 мектеп-лицей") && !form.text.contains("name=\"contact\""))
            let sent = try await resident.postMultipart(
                "/astana/reports",
                fields: [
                    ("object_code", "AST-SCH-001"), ("category", "poor_quality"),
                    ("description", "Cracks in the new floor."),
                ],
                files: [("media", "floor.png", CraftedMedia.png())]
            )
            #expect(sent.status == .found, "\(sent.text.prefix(500))")
            let location = sent.headers[.location] ?? ""
            #expect(location.hasPrefix("/astana/reports/"))
            let page = try await resident.get(location + "?lang=en")
            #expect(page.text.contains("Cracks in the new floor.") && page.text.contains("<img src=\"/astana/media/"))
            // A refused report is shown again with what was typed and the reason.
            let refused = try await resident.postMultipart(
                "/astana/reports",
                fields: [("category", "other"), ("description", "Kept text")],
                files: [("media", "x.gif", CraftedMedia.gif)]
            )
            #expect(refused.status == .unsupportedMediaType)
            #expect(refused.text.contains("Kept text") && refused.text.contains("media[0]"))
            // The reason opens in the reader's language (English, chosen above), then names the file.
            #expect(refused.text.contains("This type of file is not taken. media[0]"))
        }
    }
}
