import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import MealPayments
import Storage
import Testing

@testable import Web

@Suite("Contact addresses on the account page")
struct AccountContactsTests {
    @Test("an email address is used once the code sent to it is typed back; a wrong code is counted")
    func emailConfirmed() async throws {
        try await WebFixture.with { fixture, client in
            var browser = Browser(client: client)
            _ = try await browser.signIn("astana", login: "parent")
            let page = try await browser.get("/astana/account?lang=en")
            #expect(page.main.contains("Where messages reach you"))
            #expect(page.main.contains("No confirmed address"))
            let sent = try await browser.post(
                "/astana/account/contacts",
                form: ["kind": "email", "address": " Parent@Mail.KZ "]
            )
            #expect(sent.status == .ok)
            #expect(page.main.contains("Messages are only simulated on this server"))
            let code = try await Self.lastCode(fixture, to: "Parent@mail.kz")
            // Messages are simulated here: the page shows the code that went nowhere.
            #expect(
                sent.main.contains("Simulated: nothing was sent to Parent@mail.kz. The code is \(code);"),
                "\(sent.main)"
            )
            #expect(sent.main.contains("name=\"code\""))
            // The code's message went to the address being confirmed, in the page's language.
            #expect(
                try await Self.messages(fixture, to: "Parent@mail.kz").first?.hasPrefix("Adal: your confirmation code")
                    == true
            )
            // Not yet confirmed: no message goes there.
            let user = try await Self.user(fixture, "parent")
            #expect(
                try await fixture.dependencies.contacts.confirmed(userID: user, tenantID: fixture.astana.id).isEmpty
            )

            let wrong = try await browser.post(
                "/astana/account/contacts/confirm",
                form: ["kind": "email", "code": code == "000000" ? "111111" : "000000"]
            )
            #expect(wrong.status == .unprocessableContent)
            #expect(wrong.main.contains("The code is wrong (4 tries left)."), "\(wrong.main)")
            let shape = try await browser.post(
                "/astana/account/contacts/confirm",
                form: ["kind": "email", "code": "12a456"]
            )
            #expect(shape.status == .unprocessableContent && shape.main.contains("six digits"))
            let right = try await browser.post(
                "/astana/account/contacts/confirm",
                form: ["kind": "email", "code": String(code.prefix(3)) + " " + code.dropFirst(3)]
            )
            #expect(right.status == .ok)
            #expect(right.main.contains("Confirmed: messages now go to Parent@mail.kz."), "\(right.main)")
            #expect(
                try await fixture.dependencies.contacts.confirmed(userID: user, tenantID: fixture.astana.id)
                    == [.email: ContactAddress(stored: "Parent@mail.kz", kind: .email)]
            )
            // The same code again: nothing waits any more.
            let again = try await browser.post(
                "/astana/account/contacts/confirm",
                form: ["kind": "email", "code": code]
            )
            #expect(again.status == .unprocessableContent && again.main.contains("No code is waiting"))
            // The confirmed address again sends no code.
            let same = try await browser.post(
                "/astana/account/contacts",
                form: ["kind": "email", "address": "Parent@mail.kz"]
            )
            #expect(same.main.contains("confirmed already"))
            #expect(try await Self.messages(fixture, to: "Parent@mail.kz").count == 1)
        }
    }

    @Test(
        "a mobile number through a gateway: refused when it cannot take SMS, masked once sent, asked again too soon 429, in the reader's language"
    )
    func mobileNumber() async throws {
        let gateway = CapturingGateway(kind: .sms)
        try await WebFixture.with(channels: [gateway]) { fixture, client in
            var browser = Browser(client: client)
            _ = try await browser.signIn("astana", login: "parent")
            let landline = try await browser.post(
                "/astana/account/contacts?lang=ru",
                form: ["kind": "sms", "address": "+7 7172 55 66 77"]
            )
            #expect(landline.status == .unprocessableContent)
            #expect(landline.main.contains("Это городской номер, на него не приходят SMS"), "\(landline.main)")
            let kind = try await browser.post("/astana/account/contacts", form: ["kind": "fax", "address": "1"])
            #expect(kind.status == .unprocessableContent)
            let sent = try await browser.post(
                "/astana/account/contacts?lang=en",
                form: ["kind": "sms", "address": "8 (701) 123-45-67"]
            )
            #expect(sent.status == .ok)
            // A real gateway took the code: the page shows neither it nor the whole number.
            #expect(sent.main.contains("A code was sent to +7 701 ••• •• 67"), "\(sent.main)")
            #expect(!sent.main.contains("simulated") && !sent.main.contains("Simulated"))
            let code = try #require(gateway.sent.current.first)
            #expect(code.address.text == "+77011234567" && !code.kept)
            let digits = try #require(code.text.split(whereSeparator: { !$0.isNumber }).first { $0.count == 6 })
            #expect(!sent.main.contains(String(digits)))
            #expect(sent.main.contains("The code sent to +7 701 123 45 67"), "\(sent.main)")
            // Each language says it around the number in its own order.
            let kazakh = try await browser.get("/astana/account?lang=kk")
            #expect(kazakh.main.contains("+7 701 123 45 67 мекенжайына жіберілген код"), "\(kazakh.main)")
            // Email has no gateway on this server: not offered.
            #expect(kazakh.main.contains("Қаланың сервері әзірге электрондық хат жібермейді."), "\(kazakh.main)")
            #expect(gateway.sent.current.count == 1)
            let soon = try await browser.post(
                "/astana/account/contacts?lang=en",
                form: ["kind": "sms", "address": "+7 702 000 00 00"]
            )
            #expect(soon.status == .tooManyRequests)
            #expect(Int(soon.headers[.retryAfter] ?? "") ?? 0 > 0)
            #expect(soon.main.contains("Codes were asked for too often"))
            #expect(gateway.sent.current.count == 1)
            // Signed out: nothing can be asked for.
            var stranger = Browser(client: client)
            try await stranger.get("/astana/login")
            let anonymous = try await stranger.post(
                "/astana/account/contacts",
                form: ["kind": "sms", "address": "+77011234567"]
            )
            #expect(anonymous.status != .ok)
            #expect(gateway.sent.current.count == 1)
            // Nothing was kept of any code.
            #expect(try await Self.messages(fixture, to: "+77011234567").isEmpty)
        }
    }

    @Test(
        "codes: five wrong tries spend one, one lasts 15 minutes, five an hour; a new address waits beside the confirmed one"
    )
    func codeRules() async throws {
        try await WebFixture.with { fixture, _ in
            let contacts = fixture.dependencies.contacts
            let tenantID = fixture.astana.id
            let user = try await Self.user(fixture, "parent")
            let start = Date()
            let first = try ContactAddress("+7 701 123 45 67", kind: .sms, field: "sms")
            guard case .code(let code) = try await contacts.propose(first, userID: user, tenantID: tenantID, now: start)
            else {
                Issue.record("no code")
                return
            }
            let wrong = code == "000000" ? "111111" : "000000"
            for left in (1...4).reversed() {
                await #expect(
                    throws: AdalError.invalidField(field: "code", reason: ContactBook.wrongCode(triesLeft: left))
                ) {
                    try await contacts.confirm(.sms, code: wrong, userID: user, tenantID: tenantID, now: start)
                }
            }
            await #expect(throws: AdalError.invalidField(field: "code", reason: ContactBook.codeSpent)) {
                try await contacts.confirm(.sms, code: wrong, userID: user, tenantID: tenantID, now: start)
            }
            // Spent: the right code no longer confirms.
            await #expect(throws: AdalError.invalidField(field: "code", reason: ContactBook.codeSpent)) {
                try await contacts.confirm(.sms, code: code, userID: user, tenantID: tenantID, now: start)
            }
            // A new code a minute later; typed after 15 minutes it has expired.
            let later = start.addingTimeInterval(61)
            guard
                case .code(let second) = try await contacts.propose(first, userID: user, tenantID: tenantID, now: later)
            else {
                Issue.record("no second code")
                return
            }
            await #expect(throws: AdalError.invalidField(field: "code", reason: ContactBook.codeExpired)) {
                try await contacts.confirm(
                    .sms,
                    code: second,
                    userID: user,
                    tenantID: tenantID,
                    now: later.addingTimeInterval(ContactBook.codeLifetime + 1)
                )
            }
            guard
                case .code(let third) = try await contacts.propose(
                    first,
                    userID: user,
                    tenantID: tenantID,
                    now: later + 61
                )
            else {
                Issue.record("no third code")
                return
            }
            try await contacts.confirm(.sms, code: third, userID: user, tenantID: tenantID, now: later + 62)
            // A new number waits beside the confirmed one, which keeps getting messages.
            let next = try ContactAddress("+7 777 000 11 22", kind: .sms, field: "sms")
            _ = try await contacts.propose(next, userID: user, tenantID: tenantID, now: later + 122)
            let shown = try await contacts.contacts(userID: user, tenantID: tenantID, now: later + 123)
            #expect(shown.first { $0.kind == .sms } == ContactBook.Contact(kind: .sms, confirmed: first, pending: next))
            #expect(try await contacts.confirmed(userID: user, tenantID: tenantID) == [.sms: first])
            // Five codes within the hour (the first four, then this one): the sixth waits.
            _ = try await contacts.propose(next, userID: user, tenantID: tenantID, now: later + 183)
            await #expect(throws: AdalError.tooManyAttempts(retryAfterSeconds: 3600 - 305)) {
                try await contacts.propose(next, userID: user, tenantID: tenantID, now: later + 244)
            }
            // Removing and adding again does not start the count afresh.
            try await contacts.remove(.sms, userID: user, tenantID: tenantID)
            #expect(try await contacts.confirmed(userID: user, tenantID: tenantID).isEmpty)
            await #expect(throws: AdalError.tooManyAttempts(retryAfterSeconds: 3600 - 366)) {
                try await contacts.propose(first, userID: user, tenantID: tenantID, now: later + 305)
            }
            // An hour after the first code, codes may be sent again.
            guard case .code = try await contacts.propose(first, userID: user, tenantID: tenantID, now: start + 3601)
            else {
                Issue.record("no code after the hour")
                return
            }
            // Another city's user of the same id has no addresses here, and cannot confirm this one.
            #expect(try await contacts.confirmed(userID: user, tenantID: fixture.shymkent.id).isEmpty)
            await #expect(throws: AdalError.invalidField(field: "code", reason: ContactBook.noCodeWaiting)) {
                try await contacts.confirm(.sms, code: third, userID: user, tenantID: fixture.shymkent.id)
            }
        }
    }

    @Test(
        "a server without gateways offers no address it cannot reach: nothing asked for or kept, an address from before can go"
    )
    func noGateway() async throws {
        let withoutGateways: @Sendable (inout AppConfiguration) -> Void = { $0.simulatedMessages = false }
        try await WebFixture.with(configure: withoutGateways) { fixture, client in
            #expect(fixture.dependencies.notificationChannels.isEmpty)
            let city = try await MealCity.make(fixture, client)
            // Her addresses, confirmed while the server still had its gateways.
            try await city.confirmContacts()
            var mother = Browser(client: client)
            try await mother.signIn("astana", login: "mother")
            let page = try await mother.get("/astana/account?lang=en")
            #expect(page.main.contains("This city&#39;s server does not send email yet."), "\(page.main)")
            #expect(page.main.contains("This city&#39;s server does not send SMS yet."))
            #expect(!page.main.contains("name=\"address\"") && !page.main.contains("simulated"))
            #expect(page.main.contains("+7 701 123 45 67") && page.main.contains("Stop messages this way"))
            // Her alerts go to the pages only, and the page does not send her to confirm anything.
            let pupil = try await mother.get("/astana/meals/pupils/\(city.pupil)?lang=en")
            #expect(pupil.main.contains("Alerts reach you on these pages. <a"), "\(pupil.main)")

            var parent = Browser(client: client)
            _ = try await parent.signIn("astana", login: "parent")
            let refused = try await parent.post(
                "/astana/account/contacts?lang=ru",
                form: ["kind": "email", "address": "parent@mail.kz"]
            )
            #expect(refused.status == .unprocessableContent)
            #expect(refused.main.contains("Сервер города пока не отправляет электронные письма."), "\(refused.main)")
            // Nothing kept of the address, and no code counted against the hour's five.
            let user = try await Self.user(fixture, "parent")
            let contacts = fixture.dependencies.contacts
            #expect(
                try await contacts.contacts(userID: user, tenantID: fixture.astana.id).allSatisfy { $0.pending == nil }
            )
            for _ in 0..<ContactBook.codesPerHour + 1 {
                let again = try await parent.post(
                    "/astana/account/contacts",
                    form: ["kind": "sms", "address": "+77011112233"]
                )
                #expect(again.status == .unprocessableContent)
            }

            let token = try await fixture.account("father", name: "Father", role: .parent).token
            let path = "/api/astana/account/contacts"
            let listed = try await client.api(.get, path, token: token).json()["contacts"] as? [[String: Any]]
            #expect(listed?.map { $0["offered"] as? Bool } == [false, false], "\(String(describing: listed))")
            let asked = try await client.api(
                .post,
                path,
                token: token,
                json: #"{"kind": "sms", "address": "8 777 000 11 22"}"#
            )
            #expect(asked.status == .unprocessableContent && asked.text.contains("no gateway"), "\(asked.text)")

            // An address from before can still be removed.
            let removed = try await mother.post("/astana/account/contacts/remove?lang=en", form: ["kind": "sms"])
            #expect(removed.status == .ok && removed.main.contains("No more messages are sent this way."))
            let motherID = try await Self.user(fixture, "mother")
            #expect(
                try await contacts.confirmed(userID: motherID, tenantID: fixture.astana.id).keys.sorted {
                    $0.rawValue < $1.rawValue
                } == [.email]
            )
        }
    }

    @Test("a gateway that fails to take the code: the page says so (503), and the code waits a minute")
    func gatewayDown() async throws {
        try await WebFixture.with(channels: [DownGateway(kind: .email), DownGateway(kind: .sms)]) { fixture, client in
            var browser = Browser(client: client)
            _ = try await browser.signIn("astana", login: "parent")
            let down = try await browser.post(
                "/astana/account/contacts?lang=en",
                form: ["kind": "sms", "address": "+7 701 123 45 67"]
            )
            #expect(down.status == .serviceUnavailable)
            #expect(down.main.contains("The code could not be sent: try again in a minute."), "\(down.main)")
            let user = try await Self.user(fixture, "parent")
            #expect(
                try await fixture.dependencies.contacts.confirmed(userID: user, tenantID: fixture.astana.id).isEmpty
            )
        }
    }

    @Test("the API: a code asked for (202), confirmed, listed and removed; refusals as problems")
    func api() async throws {
        try await WebFixture.with { fixture, client in
            let token = try await fixture.account("father", name: "Father", role: .parent).token
            let path = "/api/astana/account/contacts"
            #expect(try await client.api(.get, path).status == .unauthorized)
            let asked = try await client.api(
                .post,
                path,
                token: token,
                json: #"{"kind": "sms", "address": "8 777 000 11 22"}"#
            )
            #expect(asked.status == .accepted, "\(asked.text)")
            #expect(try asked.json()["pending"] as? String == "+77770001122")
            let code = try await Self.lastCode(fixture, to: "+77770001122")
            let badKind = try await client.api(
                .post,
                path + "/confirm",
                token: token,
                json: #"{"kind": "fax", "code": "1"}"#
            )
            #expect(badKind.status == .unprocessableContent && badKind.text.contains("kind"))
            let wrong = try await client.api(
                .post,
                path + "/confirm",
                token: token,
                json: #"{"kind": "sms", "code": "\#(code == "000000" ? "111111" : "000000")"}"#
            )
            #expect(wrong.status == .unprocessableContent && wrong.text.contains("4 tries left"), "\(wrong.text)")
            let right = try await client.api(
                .post,
                path + "/confirm",
                token: token,
                json: #"{"kind": "sms", "code": "\#(code)"}"#
            )
            #expect(try right.status == .ok && right.json()["confirmed"] as? String == "+77770001122", "\(right.text)")
            let listed = try await client.api(.get, path, token: token).json()["contacts"] as? [[String: Any]]
            #expect(listed?.map { $0["kind"] as? String } == ["email", "sms"])
            #expect(listed?.last?["confirmed"] as? String == "+77770001122")
            let again = try await client.api(
                .post,
                path,
                token: token,
                json: #"{"kind": "sms", "address": "+77770001122"}"#
            )
            #expect(try again.status == .ok && again.json()["confirmed"] as? String == "+77770001122")
            let landline = try await client.api(
                .post,
                path,
                token: token,
                json: #"{"kind": "sms", "address": "+77172556677"}"#
            )
            #expect(landline.status == .unprocessableContent && landline.text.contains("landline"))
            #expect(try await client.api(.delete, path + "/sms", token: token).status == .noContent)
            #expect(try await client.api(.delete, path + "/fax", token: token).status == .unprocessableContent)
            let after = try await client.api(.get, path, token: token).json()["contacts"] as? [[String: Any]]
            #expect(
                after?.allSatisfy { $0["confirmed"] == nil || $0["confirmed"] is NSNull } == true,
                "\(String(describing: after))"
            )
        }
    }

    /// The id of Astana's account `login`.
    static func user(_ fixture: WebFixture, _ login: String) async throws -> UUID {
        try #require(try await fixture.dependencies.accounts.store.user(login: login, tenantID: fixture.astana.id)).id
    }

    /// What the recorded gateways sent to `address`, newest first.
    static func messages(_ fixture: WebFixture, to address: String) async throws -> [String] {
        try await fixture.databases.owner.withTenant(fixture.astana.id) { connection in
            try await connection.query(
                "SELECT message FROM meal_notifications WHERE address = \(address) ORDER BY sent_at DESC",
                logger: fixture.databases.owner.logger
            ).collect().map { try $0.decode(String.self) }
        }
    }

    /// The six digits of the last code sent to `address`.
    static func lastCode(_ fixture: WebFixture, to address: String) async throws -> String {
        let message = try #require(try await messages(fixture, to: address).first)
        let digits = message.split(whereSeparator: { !$0.isNumber }).first { $0.count == 6 }
        return String(try #require(digits))
    }
}

/// A real gateway's stand-in that keeps in memory what it took (nothing in a table).
struct CapturingGateway: NotificationChannel {
    let kind: ContactAddress.Kind
    let sent = Locked<[OutgoingMessage]>([])

    func send(_ message: OutgoingMessage, tenantID: UUID) async throws {
        sent.withLock { $0.append(message) }
    }
}

/// A gateway that refuses every message.
struct DownGateway: NotificationChannel {
    let kind: ContactAddress.Kind

    func send(_ message: OutgoingMessage, tenantID: UUID) async throws {
        throw AdalError.unavailable(reason: "the gateway is down")
    }
}
