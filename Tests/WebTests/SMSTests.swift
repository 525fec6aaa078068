import Core
import Foundation
import MealPayments
import Messaging
import PostgresNIO
import Prometheus
import Storage
import Testing

@testable import Web

@Suite("SMS through an aggregator's HTTP API")
struct SMSTests {
    /// What the test gateway (`scripts/sms-test-gateway.py`) took, as Python's own URL parser read
    /// the request: the query's fields, the form's (every value of each name).
    struct Received: Decodable, Sendable {
        var messageId: String
        var host: String?
        var contentType: String?
        var query: [String: String]
        var form: [String: [String]]
    }

    /// The gateway, over TLS with its own certificate, taking `key`; `options` shape its answers.
    static func gateway(key: String, _ options: [String] = []) async throws -> TestPeer {
        try await TestPeer(script: "sms-test-gateway.py", tls: true) { files in
            ["--key", key] + (files.map { ["--tls", $0.certificate, $0.key] } ?? []) + options
        }
    }

    /// A server whose SMS go through `peer` (key `city-key`), and nothing simulated.
    static func server(_ peer: TestPeer, sender: String? = nil) -> @Sendable (inout AppConfiguration) -> Void {
        let (port, certificate) = (peer.port, peer.certificate)
        return {
            $0.smsURL = "https://localhost:\(port)"
            $0.smsAPIKey = "city-key"
            $0.smsSender = sender
            $0.smsTrustedCertificates = certificate
            $0.simulatedMessages = false
        }
    }

    static func client(_ peer: TestPeer, key: String, sender: String? = "AKIMAT") throws -> SMSGateway {
        try SMSGateway(
            url: "https://localhost:\(peer.port)",
            apiKey: key,
            sender: sender,
            trustedCertificates: peer.certificate
        )
    }

    @Test("a message crosses TLS and reads, in Python's URL parser, as it was written: key, number, text, sender")
    func delivered() async throws {
        // A key with the characters a query must escape.
        let key = "kz+7/a=b&c%d"
        let peer = try await Self.gateway(key: key)
        defer { peer.stop() }
        let gateway = try Self.client(peer, key: key)
        let text = "Адал: Әлия Серікқызының шотында 250,00 ₸ қалды.\nОсталось 250,00 ₸ & 5% + «=»?"
        let id = try await gateway.send(text, to: "+77011234567")
        let received = try peer.received(Received.self)
        #expect(received.count == 1)
        let message = try #require(received.first)
        #expect(id == message.messageId && id == "1001")
        #expect(message.query == ["output": "json", "api": "v1", "apiKey": key])
        #expect(message.form["recipient"] == ["77011234567"])
        #expect(message.form["text"] == [text])
        #expect(message.form["from"] == ["AKIMAT"])
        #expect(message.form["params[validity]"] == ["1440"])
        #expect(message.host == "localhost:\(peer.port)")
        #expect(message.contentType?.hasPrefix("application/x-www-form-urlencoded") == true)
        // A code: the gateway keeps trying for an hour, its shortest; no sender name, the account's.
        try await Self.client(peer, key: key, sender: nil).send(
            "Adal: 123456",
            to: "77011234567",
            validity: .seconds(900)
        )
        let code = try #require(try peer.received(Received.self).last)
        #expect(code.form["params[validity]"] == ["60"] && code.form["from"] == nil)
    }

    @Test("refusals name the gateway's code or status, never the key or the number; nothing half-sent")
    func refused() async throws {
        let peer = try await Self.gateway(key: "right", ["--refuse", "2", "30"])
        defer { peer.stop() }
        // Too many requests, twice; the third goes.
        let gateway = try Self.client(peer, key: "right")
        for _ in 0..<2 {
            let busy = await #expect(throws: SMSError.refused(code: 30, detail: nil)) {
                try await gateway.send("Adal", to: "+77011234567")
            }
            #expect(busy?.description == "the SMS gateway asks for fewer requests (code 30)")
        }
        try await gateway.send("Adal", to: "+77011234567")
        #expect(try peer.received(Received.self).count == 1)
        #expect(SMSError.refused(code: 30, detail: nil).refusesAddress == false)
        let wrongKey = await #expect(throws: SMSError.refused(code: 8, detail: nil)) {
            try await Self.client(peer, key: "wrong-key-9").send("Adal", to: "+77011234567")
        }
        #expect(wrongKey?.description.contains("wrong-key-9") == false)
        // Refused here, before any request: not a number, no text, too long a text.
        await #expect(throws: SMSError.self) { try await gateway.send("Adal", to: "+7 701 123") }
        await #expect(throws: SMSError.self) { try await gateway.send("", to: "+77011234567") }
        await #expect(throws: SMSError.self) {
            try await gateway.send(String(repeating: "ә", count: SMSGateway.maximumText + 1), to: "+77011234567")
        }
        // The gateway's own validation (code 1: it takes Kazakh numbers only) names the field,
        // not the number it quoted.
        let foreign = await #expect(throws: SMSError.refused(code: 1, detail: "recipient")) {
            try await gateway.send("Adal", to: "+4915112345678")
        }
        #expect(foreign?.description == "the SMS gateway found the message invalid (code 1: recipient)")
        #expect(foreign?.refusesAddress == true && wrongKey?.refusesAddress == false)
        #expect(try peer.received(Received.self).count == 1)

        // A page instead of the API's answer; a gateway that never answers; a certificate not trusted.
        let down = try await Self.gateway(key: "right", ["--http", "503"])
        defer { down.stop() }
        await #expect(throws: SMSError.status(503)) {
            try await Self.client(down, key: "right").send("Adal", to: "+77011234567")
        }
        let silent = try await Self.gateway(key: "right", ["--silent"])
        defer { silent.stop() }
        let late = await #expect(throws: SMSError.self) {
            try await Self.client(silent, key: "right").send("Adal", to: "+77011234567", deadline: .seconds(1))
        }
        #expect(late?.description.contains("no answer within 1 s") == true, "\(String(describing: late))")
        let untrusted = try SMSGateway(url: "https://localhost:\(peer.port)", apiKey: "right")
        await #expect(throws: (any Error).self) { try await untrusted.send("Adal", to: "+77011234567") }
        #expect(try peer.received(Received.self).count == 1)

        // Settings refused at start, each naming what is wrong.
        for (url, key, sender, reason) in [
            ("http://api.mobizon.kz", "k", nil, "must start https://"),
            ("https://api.mobizon.kz/service", "k", nil, "no path"),
            ("https://api.mobizon.kz", " ", nil, "API key"),
            ("https://api.mobizon.kz", "k", "AKIMAT-ASTANA", "sender's name"),
        ] as [(String, String, String?, String)] {
            let error = #expect(throws: SMSError.self) { try SMSGateway(url: url, apiKey: key, sender: sender) }
            #expect(error?.description.contains(reason) == true, "\(String(describing: error))")
        }
        var missingKey = AppConfiguration()
        missingKey.smsURL = "https://api.mobizon.kz"
        #expect(throws: SMSError.configuration("ADAL_SMS_API_KEY must be set with ADAL_SMS_URL")) {
            try SMSGateway.configured(missingKey)
        }
    }

    @Test("the server's SMS channel: a code by the gateway and never kept; an alert sent once across its job's retries")
    func serverChannel() async throws {
        let peer = try await Self.gateway(key: "city-key")
        defer { peer.stop() }
        try await WebFixture.with(configure: Self.server(peer, sender: "ASTANA")) { fixture, client in
            // Only SMS has a gateway: email is not offered.
            #expect(fixture.dependencies.notificationChannels.map(\.kind) == [.sms])
            var browser = Browser(client: client)
            _ = try await browser.signIn("astana", login: "parent")
            let page = try await browser.get("/astana/account?lang=en")
            #expect(page.main.contains("does not send email yet") && !page.main.contains("simulated"))
            let sent = try await browser.post(
                "/astana/account/contacts?lang=en",
                form: ["kind": "sms", "address": "8 702 000 00 01"]
            )
            #expect(sent.main.contains("A code was sent to +7 702 ••• •• 01"), "\(sent.main)")
            let codeMessage = try #require(try peer.received(Received.self).last)
            #expect(codeMessage.form["recipient"] == ["77020000001"] && codeMessage.form["from"] == ["ASTANA"])
            #expect(codeMessage.form["params[validity]"] == ["60"])
            let text = try #require(codeMessage.form["text"]?.first)
            #expect(text.hasPrefix("Adal: your confirmation code"), "\(text)")
            let code = try #require(text.split(whereSeparator: { !$0.isNumber }).first { $0.count == 6 })
            #expect(try await fixture.keptMessages(containing: String(code)) == 0)
            let confirmed = try await browser.post(
                "/astana/account/contacts/confirm?lang=en",
                form: ["kind": "sms", "code": String(code)]
            )
            #expect(confirmed.main.contains("Confirmed: messages now go to +7 702 000 00 01."), "\(confirmed.main)")

            // The mother's alert (her number confirmed) whose email gateway fails once: the job
            // runs again, the SMS goes once.
            let city = try await MealCity.make(fixture, client)
            try await city.alertAcrossRetry(through: try #require(fixture.dependencies.channel(.sms)))
            let alerts = try peer.received(Received.self).dropFirst()
            #expect(alerts.count == 1, "\(alerts.map(\.form))")
            let alert = try #require(alerts.first)
            #expect(alert.form["recipient"] == ["77011234567"] && alert.form["params[validity]"] == ["1440"])
            #expect(try await fixture.keptMessages(channel: "sms", address: "+77011234567", fromJob: true) == 1)
            // The operators see what the gateway took: the code and the alert.
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: [:], body: nil).text
            #expect(metrics.contains(#"adal_messages_total{channel="sms",outcome="sent"} 2"#), "\(metrics)")
            #expect(metrics.contains(#"adal_message_gateway_duration_seconds_count{channel="sms"} 2"#))
        }
    }

    @Test(
        "a number the gateway refuses for good: the alert's job is done, nothing more goes there, its owner is told, and confirming it again restores it"
    )
    func refusedNumber() async throws {
        let peer = try await Self.gateway(key: "city-key", ["--refuse-number", "77011234567"])
        defer { peer.stop() }
        try await WebFixture.with(configure: Self.server(peer)) { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.queueAlert()
            let runner = city.mealJobRunner(channels: fixture.dependencies.notificationChannels)
            _ = try await runner.runDueJobs()
            // Done at the first attempt: no retry for an address that cannot take it.
            let owner = fixture.databases.owner
            let waiting = try await owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT count(*) FROM jobs WHERE kind = 'outbox' AND status <> 'done'",
                    logger: owner.logger
                ).collect().first?.decode(Int64.self)
            }
            #expect(waiting == 0)
            #expect(try peer.received(Received.self).isEmpty)
            #expect(try await fixture.keptMessages(channel: "sms") == 0)
            let contacts = fixture.dependencies.contacts
            let mother = try await fixture.dependencies.account("mother", tenant: fixture.astana, role: .parent)
            #expect(try await contacts.confirmed(userID: mother, tenantID: fixture.astana.id)[.sms] == nil)
            // Its owner reads why on their account page, in their language, and in the API.
            var browser = Browser(client: client)
            try await browser.signIn("astana", login: "mother")
            let page = try await browser.get("/astana/account?lang=en")
            let today = Day.today()
            let shown = String(format: "%02d.%02d.%04d", today.day, today.month, today.year)
            #expect(
                page.main.contains("The gateway refused +7 701 123 45 67 on \(shown): no messages go there."),
                "\(page.main)"
            )
            // Its code is refused as well (asked for past the minute between codes): the form says to
            // check the number, not to wait.
            try await owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    "UPDATE user_contacts SET code_sent_at = now() - interval '2 minutes'",
                    logger: owner.logger
                )
            }
            let again = try await browser.post(
                "/astana/account/contacts?lang=ru",
                form: ["kind": "sms", "address": "+7 701 123 45 67"]
            )
            #expect(again.status == .unprocessableContent)
            #expect(again.main.contains("Шлюз отклонил этот адрес: проверьте его или укажите другой."), "\(again.main)")
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: [:], body: nil).text
            #expect(metrics.contains(#"adal_messages_total{channel="sms",outcome="refused"} 2"#), "\(metrics)")
            #expect(!metrics.contains(#"adal_messages_total{channel="sms",outcome="sent"}"#))
            let alertsPage = try await browser.get("/astana/meals/pupils/\(city.pupil)?lang=en")
            #expect(alertsPage.main.contains("Alerts reach you only on these pages"), "\(alertsPage.main)")
            // Confirmed again (once the owner has made the number work), messages go there again.
            let number = try ContactAddress("+7 701 123 45 67", kind: .sms, field: "sms")
            let later = Date().addingTimeInterval(2 * ContactBook.codeInterval + 1)
            guard
                case .code(let code) = try await contacts.propose(
                    number,
                    userID: mother,
                    tenantID: fixture.astana.id,
                    now: later
                )
            else {
                Issue.record("the refused number counted as confirmed")
                return
            }
            try await contacts.confirm(.sms, code: code, userID: mother, tenantID: fixture.astana.id, now: later)
            #expect(try await contacts.confirmed(userID: mother, tenantID: fixture.astana.id)[.sms] == number)
            #expect(
                try await contacts.contacts(userID: mother, tenantID: fixture.astana.id).allSatisfy {
                    $0.refused == nil
                }
            )
        }
    }

    @Test("each hand-over is counted by its outcome: sent, refused for good, or failed and retried")
    func counted() async throws {
        let metrics = PrometheusCollectorRegistry()
        let message = OutgoingMessage(
            text: "Adal",
            user: UUID(),
            address: try ContactAddress("+77011234567", kind: .sms, field: "sms"),
            reference: UUID()
        )
        for error in [nil, SMSError.refused(code: 1, detail: "recipient"), SMSError.refused(code: 30, detail: nil)] {
            let gateway = countedGateway(.sms, metrics: metrics) { _ in
                if let error { throw error }
                return "1001"
            }
            if let error {
                await #expect(throws: error) { try await gateway(message) }
            } else {
                #expect(try await gateway(message) == "1001")
            }
        }
        var buffer: [UInt8] = []
        metrics.emit(into: &buffer)
        let text = String(decoding: buffer, as: UTF8.self)
        for outcome in ["sent", "refused", "failed"] {
            #expect(text.contains(#"adal_messages_total{channel="sms",outcome="\#(outcome)"} 1"#), "\(text)")
        }
        #expect(text.contains(#"adal_message_gateway_duration_seconds_count{channel="sms"} 3"#))
    }

    /// A question the test gateway was asked: the ids, as Python's form parser read them.
    struct Question: Decodable, Sendable {
        var ids: [String]
    }

    @Test("delivery reports: each final status read, the rest left out; questions bounded; refusals named")
    func statuses() async throws {
        let reported = [
            "0002": "UNDELIV", "0003": "ACCEPTD", "0004": "PDLIVRD", "0005": "EXPIRED", "0006": "REJECTD",
            "0007": "ENROUTE-SOMEDAY", "0008": "DELETED",
        ]
        let peer = try await Self.gateway(
            key: "city-key",
            reported.sorted { $0.key < $1.key }.flatMap { ["--report", $0, $1] }
        )
        defer { peer.stop() }
        let gateway = try Self.client(peer, key: "city-key")
        var ids: [String] = []
        for last in 1...8 {
            ids.append(try await gateway.send("Adal", to: "+7701000000\(last)"))
        }
        let deliveries = try await gateway.deliveries(of: ids + ["999999"])
        #expect(
            deliveries == [
                ids[0]: .delivered, ids[1]: .undelivered, ids[3]: .partial, ids[4]: .expired, ids[5]: .rejected,
                ids[7]: .undelivered,
            ]
        )
        #expect(try peer.received(Question.self, suffix: ".question").map(\.ids) == [ids + ["999999"]])
        // More than the API takes is refused before anything goes; none is nothing to ask.
        await #expect(throws: SMSError.self) {
            try await gateway.deliveries(of: (0...SMSGateway.maximumAsked).map(String.init))
        }
        #expect(try await gateway.deliveries(of: []).isEmpty)
        #expect(try peer.received(Question.self, suffix: ".question").count == 1)
        // A wrong key is the API's refusal, which does not repeat the key.
        do {
            _ = try await Self.client(peer, key: "wrong-key").deliveries(of: ids)
            Issue.record("a wrong key was taken")
        } catch let error as SMSError {
            #expect(error == .refused(code: 8, detail: nil) && !error.description.contains("wrong-key"))
        }
        #expect(MessageDelivery.allCases.filter(\.failed) == [.undelivered, .expired, .rejected])
    }

    @Test(
        "the server asks what became of each SMS until the gateway says, less often as it ages; an undelivered one is shown to its owner and counted"
    )
    func deliveriesReported() async throws {
        let peer = try await Self.gateway(key: "city-key")
        defer { peer.stop() }
        try await WebFixture.with(configure: Self.server(peer)) { fixture, client in
            let report = { (status: String) in
                try Data(#"{"4567": "\#(status)"}"#.utf8).write(to: URL(fileURLWithPath: peer.folder + "/reports.json"))
            }
            let questions = { try peer.received(Question.self, suffix: ".question").map(\.ids) }
            let city = try await MealCity.make(fixture, client)
            try await city.queueAlert()
            _ = try await city.mealJobRunner(channels: fixture.dependencies.notificationChannels).runDueJobs()
            let alert = try #require(try peer.received(Received.self).last)
            #expect(alert.form["recipient"] == ["77011234567"])
            // A message of three days ago without a report is asked about no more.
            let owner = fixture.databases.owner
            try await owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    """
                    INSERT INTO meal_notifications (tenant_id, id, user_id, channel, address, message, gateway_id, sent_at)
                    SELECT tenant_id, gen_random_uuid(), user_id, 'sms', address, 'old', 'old-1', now() - interval '3 days'
                    FROM meal_notifications WHERE channel = 'sms'
                    """,
                    logger: owner.logger
                )
            }
            let reports = deliveryReports(dependencies: fixture.dependencies)
            let start = Date()
            // On its way: asked, nothing kept, not asked again within the pass's interval.
            try report("ACCEPTD")
            #expect(try await reports.pass(at: start).isEmpty)
            #expect(try questions() == [[alert.messageId]])
            #expect(try await reports.pass(at: start.addingTimeInterval(60)).isEmpty)
            #expect(try questions().count == 1)
            #expect(try await reports.pass(at: start.addingTimeInterval(301)).isEmpty)
            #expect(try questions().count == 2)
            // Undelivered: kept once, asked about no more.
            try report("UNDELIV")
            #expect(try await reports.pass(at: start.addingTimeInterval(602)) == [.undelivered: 1])
            #expect(try await reports.pass(at: start.addingTimeInterval(3_600)).isEmpty)
            #expect(try questions() == [[alert.messageId], [alert.messageId], [alert.messageId]])
            let kept = try await owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT gateway_id, delivery FROM meal_notifications WHERE channel = 'sms' AND delivery IS NOT NULL",
                    logger: owner.logger
                ).collect().map { try $0.decode((String, String).self) }
            }
            #expect(kept.map(\.0) == [alert.messageId] && kept.map(\.1) == ["undelivered"])
            // Its owner reads it on the account page, in her language; the operators count it.
            var browser = Browser(client: client)
            try await browser.signIn("astana", login: "mother")
            let today = Day.today()
            let shown = String(format: "%02d.%02d.%04d", today.day, today.month, today.year)
            let page = try await browser.get("/astana/account?lang=en")
            #expect(
                page.main.contains(
                    "The message of \(shown) to +7 701 123 45 67 did not arrive: the operator could not deliver it."
                ),
                "\(page.main)"
            )
            let russian = try await browser.get("/astana/account?lang=ru")
            #expect(
                russian.main.contains(
                    "Сообщение от \(shown) на +7 701 123 45 67 не дошло: оператор не смог его доставить."
                )
            )
            let metrics = try await client.execute(uri: "/metrics", method: .get, headers: [:], body: nil).text
            #expect(
                metrics.contains(#"adal_message_deliveries_total{channel="sms",outcome="undelivered"} 1"#),
                "\(metrics)"
            )
            // The API says it too.
            let listed = try await client.api(.get, "/api/astana/account/contacts", token: city.parent)
            let answer = try JSONSerialization.jsonObject(with: Data(listed.text.utf8)) as? [String: Any]
            let sms = (answer?["contacts"] as? [[String: Any]])?.first { $0["kind"] as? String == "sms" }
            let undelivered = sms?["undelivered"] as? [String: Any]
            #expect(undelivered?["outcome"] as? String == "undelivered", "\(listed.text)")
            #expect((undelivered?["sentAt"] as? String)?.hasPrefix(String(format: "%04d-", today.year)) == true)
            // Another parent's page says nothing of it.
            var other = Browser(client: client)
            try await other.signIn("astana", login: "parent")
            #expect(!(try await other.get("/astana/account?lang=en")).main.contains("did not arrive"))
            // A later message that arrived ends the notice.
            try await owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    """
                    INSERT INTO meal_notifications (tenant_id, id, user_id, channel, address, message, gateway_id,
                        delivery, delivery_at, sent_at)
                    SELECT tenant_id, gen_random_uuid(), user_id, 'sms', address, 'later', 'later-1', 'delivered', now(),
                        now()
                    FROM meal_notifications WHERE gateway_id = \(alert.messageId)
                    """,
                    logger: owner.logger
                )
            }
            #expect(!(try await browser.get("/astana/account?lang=en")).main.contains("did not arrive"))
            // The akimat sees how its guardians' messages fare, without a number: of the last 30
            // days, the alert (undelivered), the later one (delivered) and the one of three days
            // ago (never reported); email reports nothing.
            var admin = Browser(client: client)
            try await admin.signIn("astana", login: "meals-admin")
            let canteens = try await admin.get("/astana/meals/city?lang=en")
            #expect(
                canteens.main.contains(
                    "<tr><th scope=\"row\">Mobile phone (SMS)</th><td>3</td><td>1</td><td>0</td><td>1</td><td>0</td><td>0</td><td>1</td><td>0</td></tr>"
                ),
                "\(canteens.main)"
            )
            #expect(canteens.main.contains("<tr><th scope=\"row\">Email</th><td>0</td><td>—</td>"))
            #expect(!canteens.main.contains("+7 701") && !canteens.main.contains("77011234567"))
            let day = today.description
            let todayOnly = try await admin.get("/astana/meals/city?lang=ru&from=\(day)&to=\(day)")
            #expect(todayOnly.main.contains("Мобильный телефон (SMS)</th><td>2</td><td>1</td><td>0</td><td>1</td>"))
        }
    }
}
