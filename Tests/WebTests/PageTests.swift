import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@testable import Web

@Suite("Pages, languages and errors")
struct PageTests {
    @Test("the start page lists the cities, in Kazakh by default")
    func startPage() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            let page = try await browser.get("/")
            #expect(page.status == .ok)
            #expect(page.text.contains(#"<html lang="kk">"#))
            #expect(page.main.contains("Adal-дағы қалалар"))
            #expect(page.main.contains(#"href="/astana""#))
            #expect(page.main.contains(#"href="/shymkent""#))
        }
    }

    @Test("the language switch changes every visible string and is remembered")
    func languageSwitch() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            var visible: [Language: Set<String>] = [:]
            for language in Language.allCases {
                let page = try await browser.get("/astana/login?lang=\(language.rawValue)")
                #expect(page.text.contains(#"<html lang="\#(language.rawValue)">"#))
                visible[language] = Set(page.visibleTexts)
            }
            // Apart from the brand, city names, language names and "Логин" (a word Kazakh and
            // Russian share), nothing visible stays the same across a switch.
            let invariant: Set<String> = ["Adal", "Астана", "Қазақша", "Русский", "English", "Логин"]
            let kk = visible[.kk]!.subtracting(invariant)
            #expect(kk.intersection(visible[.ru]!).isEmpty, "\(kk.intersection(visible[.ru]!))")
            #expect(kk.intersection(visible[.en]!).isEmpty, "\(kk.intersection(visible[.en]!))")
            #expect(visible[.ru]!.subtracting(invariant).intersection(visible[.en]!).isEmpty)
            // The last choice is kept by cookie.
            let next = try await browser.get("/astana")
            #expect(next.text.contains(#"<html lang="en">"#))
            #expect(next.main.contains("Sick-leave certificates with QR verification"))
        }
    }

    @Test("a city shows only the services it turned on")
    func enabledServices() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            let astana = try await browser.get("/astana?lang=ru")
            #expect(astana.main.contains("Безналичная оплата школьного питания"))
            #expect(!astana.main.contains("Ротация директоров школ"))
            let shymkent = try await browser.get("/shymkent?lang=ru")
            #expect(shymkent.main.contains("Город ещё не подключил ни одной услуги."))
        }
    }

    @Test("an unknown city is a localised 404 page, and a 404 problem under /api")
    func unknownCity() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            let page = try await browser.get("/atlantis?lang=ru")
            #expect(page.status == .notFound)
            #expect(page.main.contains("Такая страница или запись не найдена."))
            let problem = try await client.execute(uri: "/api/atlantis/me", method: .get, headers: [:], body: nil)
            #expect(problem.status == .notFound)
            #expect(problem.headers[.contentType] == "application/problem+json")
            let document = try problem.json()
            #expect(document["status"] as? Int == 404)
            #expect(document["instance"] as? String == "/api/atlantis/me")
        }
    }

    @Test("an oversized body gets 413 before it is read, and nothing is written")
    func oversizedBody() async throws {
        try await WebFixture.with(maximumBodyBytes: 4096) { fixture, client in
            var browser = Browser(client: client)
            try await browser.get("/astana/login")
            let large = String(repeating: "x", count: 10_000)
            let response = try await browser.post("/astana/login", form: ["login": "parent", "password": large])
            #expect(response.status == .contentTooLarge)
            #expect(browser.jar["adal_session"] == nil)
            let api = try await client.execute(
                uri: "/api/astana/me",
                method: .post,
                headers: [.contentType: "application/json"],
                body: ByteBuffer(string: large)
            )
            #expect(api.status == .contentTooLarge)
            #expect(api.headers[.contentType] == "application/problem+json")
        }
    }

    @Test("health checks the database; metrics are Prometheus text; responses carry a request id")
    func healthAndMetrics() async throws {
        try await WebFixture.with { fixture, client in
            let health = try await client.execute(uri: "/health", method: .get, headers: [:], body: nil)
            #expect(health.status == .ok)
            #expect(try health.json()["database"] as? String == "ok")
            #expect(health.headers[.requestID]?.isEmpty == false)
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: [:], body: nil)
            #expect(metrics.status == .ok)
            #expect(metrics.text.contains(#"adal_http_requests_total{method="GET",route="/health",status="200"} 1"#))
        }
    }
}

extension TestResponse {
    /// Text a person sees: text between tags, with scripts and styles left out, trimmed, non-empty.
    var visibleTexts: [String] {
        var texts: [String] = []
        var current = ""
        var inTag = false
        for character in text {
            if character == "<" {
                inTag = true
                texts.append(current)
                current = ""
            } else if character == ">" {
                inTag = false
            } else if !inTag {
                current.append(character)
            }
        }
        texts.append(current)
        return texts.map { $0.trimmingWhitespace() }.filter { !$0.isEmpty && $0.contains(where: \.isLetter) }
    }
}
