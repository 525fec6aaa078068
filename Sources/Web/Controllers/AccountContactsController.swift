import Core
import Foundation
import Hummingbird
import MealPayments
import Messaging
import Storage

/// The account page and the addresses on it where messages reach its owner (a guardian's
/// low-balance alerts, news of a balance return): an email address and a mobile number, each
/// used once the code sent to it is typed back (`ContactBook`; docs/identity.md, "Contact
/// addresses").
struct AccountContactsController {
    let dependencies: AppDependencies

    /// How long the page waits for a gateway to take a code before saying it could not be sent.
    static let sendDeadline: Duration = .seconds(10)

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant/account").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get(use: account)
        group.post("contacts", use: propose)
        group.post("contacts/confirm", use: confirm)
        group.post("contacts/remove", use: remove)
        let api = router.group("api/:tenant/account/contacts").add(
            middleware: APITokenMiddleware(dependencies: dependencies)
        )
        api.get(use: list)
        api.post(use: proposeByAPI)
        api.post("confirm", use: confirmByAPI)
        api.delete(":kind", use: removeByAPI)
    }

    /// One kind of the caller's addresses, as the API gives it (`+77011234567` for a number);
    /// `offered` is false where the server has no gateway for the kind (nothing is sent to it).
    struct ContactAnswer: ResponseEncodable {
        var kind: String
        var offered: Bool
        var confirmed: String?
        var pending: String?
        /// When a gateway refused the confirmed address for good (nothing goes there since).
        var refused: String? = nil
        /// The last message to the confirmed address with a delivery report since it was
        /// confirmed, when it did not arrive.
        var undelivered: UndeliveredAnswer? = nil
    }

    struct UndeliveredAnswer: ResponseEncodable {
        var sentAt: String
        /// `undelivered`, `expired` or `rejected`.
        var outcome: String
    }

    struct ContactsAnswer: ResponseEncodable {
        var contacts: [ContactAnswer]
    }

    /// `GET /api/{city}/account/contacts`: the caller's addresses of each kind.
    @Sendable func list(request: Request, context: AppRequestContext) async throws -> ContactsAnswer {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let contacts = try await dependencies.contacts.contacts(userID: principal.userID, tenantID: tenant.id)
        let undelivered = try await MealInbox(database: dependencies.database).undelivered(
            user: principal.userID,
            tenantID: tenant.id
        )
        return ContactsAnswer(
            contacts: contacts.map { contact in
                ContactAnswer(
                    kind: contact.kind.rawValue,
                    offered: dependencies.channel(contact.kind) != nil,
                    confirmed: contact.confirmed?.text,
                    pending: contact.pending?.text,
                    refused: contact.refused?.iso8601Text,
                    undelivered: undelivered.first { $0.address == contact.confirmed }.map {
                        UndeliveredAnswer(sentAt: $0.sentAt.iso8601Text, outcome: $0.delivery.rawValue)
                    }
                )
            }
        )
    }

    struct ProposeBody: Decodable {
        var kind: String
        var address: String
    }

    /// `POST /api/{city}/account/contacts` `{"kind", "address"}`: 202 when a code was sent to the
    /// address (`pending`), 200 when it is the confirmed one already; 422 (a kind the server
    /// does not send, a malformed address), 429 or 503 as the page.
    @Sendable func proposeByAPI(
        request: Request,
        context: AppRequestContext
    ) async throws
        -> EditedResponse<ContactAnswer>
    {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let body = try await request.decode(as: ProposeBody.self, context: context)
        let address = try ContactAddress(
            String(body.address.prefix(1000)),
            kind: try Self.kind(body.kind),
            field: "address"
        )
        do {
            let sent =
                try await sendCode(to: address, principal: principal, tenant: tenant, language: context.language)
                != nil
            return EditedResponse(
                status: sent ? .accepted : .ok,
                response: ContactAnswer(
                    kind: address.kind.rawValue,
                    offered: true,
                    confirmed: sent ? nil : address.text,
                    pending: sent ? address.text : nil
                )
            )
        } catch is CodeNotSent {
            throw AdalError.unavailable(reason: "the code could not be sent: try again in a minute")
        }
    }

    struct ConfirmBody: Decodable {
        var kind: String
        var code: String
    }

    /// `POST /api/{city}/account/contacts/confirm` `{"kind", "code"}`: the address confirmed.
    @Sendable func confirmByAPI(request: Request, context: AppRequestContext) async throws -> ContactAnswer {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let body = try await request.decode(as: ConfirmBody.self, context: context)
        let address = try await dependencies.contacts.confirm(
            try Self.kind(body.kind),
            code: String(body.code.prefix(32)),
            userID: principal.userID,
            tenantID: tenant.id
        )
        return ContactAnswer(
            kind: address.kind.rawValue,
            offered: dependencies.channel(address.kind) != nil,
            confirmed: address.text,
            pending: nil
        )
    }

    /// `DELETE /api/{city}/account/contacts/{kind}`: no more messages of that kind.
    @Sendable func removeByAPI(request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let kind = try Self.kind(context.parameters.get("kind") ?? "")
        try await dependencies.contacts.remove(kind, userID: principal.userID, tenantID: tenant.id)
        return .noContent
    }

    static func kind(_ text: String) throws(AdalError) -> ContactAddress.Kind {
        guard let kind = ContactAddress.Kind(rawValue: text) else {
            throw .invalidField(field: "kind", reason: "email or sms")
        }
        return kind
    }

    @Sendable func account(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard context.principal != nil else {
            return Response.redirect(to: "/\(tenant.slug)/login", type: .normal)
        }
        return try await page(message: nil, request: request, context: context)
    }

    /// Asks to use the address typed for a kind: a code is sent to it, and the page asks for it.
    @Sendable func propose(request: Request, context: AppRequestContext) async throws -> Response {
        try await contactForm(request, context) { form, kind, principal, tenant in
            let address = try ContactAddress(form["address"] ?? "", kind: kind, field: "address")
            switch try await sendCode(to: address, principal: principal, tenant: tenant, language: context.language) {
            case nil: return ("contacts_already", [])
            // Where messages are only simulated, the page shows the code that went nowhere.
            case .simulated(let code): return ("contacts_code_simulated", [Self.shown(address), code])
            case .sent: return ("contacts_code_sent", [Self.shown(address, masked: true)])
            }
        }
    }

    /// Confirms the waiting address with the code typed.
    @Sendable func confirm(request: Request, context: AppRequestContext) async throws -> Response {
        try await contactForm(request, context) { form, kind, principal, tenant in
            let address = try await dependencies.contacts.confirm(
                kind,
                code: String((form["code"] ?? "").prefix(32)),
                userID: principal.userID,
                tenantID: tenant.id
            )
            return ("contacts_confirmed_now", [Self.shown(address)])
        }
    }

    /// Stops messages of a kind: the confirmed address and any waiting one are forgotten.
    @Sendable func remove(request: Request, context: AppRequestContext) async throws -> Response {
        try await contactForm(request, context) { _, kind, principal, tenant in
            try await dependencies.contacts.remove(kind, userID: principal.userID, tenantID: tenant.id)
            return ("contacts_removed", [])
        }
    }

    /// Reads a contact form (its `kind`, `email` or `sms`) of a signed-in user, runs `body`, and
    /// shows the account page with what it says (a locale key and its figures), or with the
    /// refusal's reason in the reader's language (422; 429 when asked too often; 503 when the
    /// code could not be sent).
    private func contactForm(
        _ request: Request,
        _ context: AppRequestContext,
        _ body: (FormFields, ContactAddress.Kind, Principal, Tenant) async throws -> (String, [String])
    ) async throws -> Response {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let form = FormFields(String(buffer: try await request.readBody(limit: 4096)))
        let locales = dependencies.pages.locales
        do {
            let (key, figures) = try await body(form, try Self.kind(form["kind"] ?? ""), principal, tenant)
            return try await page(
                message: locales.text(key, context.language, figures: figures),
                request: request,
                context: context
            )
        } catch AdalError.invalidField(let field, let reason) {
            let known = Self.reasons(reason)
            let said =
                known.map { locales.text($0.key, context.language, figures: $0.figures) } ?? "\(field): \(reason)"
            return try await page(message: said, status: .unprocessableContent, request: request, context: context)
        } catch is CodeNotSent {
            return try await page(
                message: locales.text("contact_send_failed", context.language),
                status: .serviceUnavailable,
                request: request,
                context: context
            )
        } catch AdalError.tooManyAttempts(let seconds) {
            var response = try await page(
                message: locales.text("contact_wait", context.language, figures: [String(seconds)]),
                status: .tooManyRequests,
                request: request,
                context: context
            )
            response.headers[.retryAfter] = String(seconds)
            return response
        }
    }

    /// How a code went: through a gateway, or nowhere, where messages are simulated.
    enum CodeSent: Equatable {
        case sent
        case simulated(code: String)
    }

    /// Asks to use `address` and sends it its code in `language`; nil when it is the confirmed
    /// address already (no code is sent). Refused, before anything is kept, when the server has
    /// no gateway for the address's kind; ``CodeNotSent`` when the gateway failed.
    func sendCode(
        to address: ContactAddress,
        principal: Principal,
        tenant: Tenant,
        language: Language
    ) async throws
        -> CodeSent?
    {
        guard let channel = dependencies.channel(address.kind) else {
            throw AdalError.invalidField(field: "kind", reason: Self.notOffered(address.kind))
        }
        let proposal = try await dependencies.contacts.propose(address, userID: principal.userID, tenantID: tenant.id)
        guard case .code(let code) = proposal else { return nil }
        let text = dependencies.pages.locales.text("contact_code_message", language, figures: [code])
        do {
            try await send(text, to: principal.userID, at: address, through: channel, tenantID: tenant.id)
        } catch {
            // Which gateway and why go to the log; the code, the address and the message do not.
            dependencies.database.logger.warning(
                "a confirmation code could not be sent",
                metadata: [
                    "channel": .string(address.kind.rawValue),
                    // The gateways' errors name the step, the reply code or the API's code, nothing
                    // of the message.
                    "error": .string(error is SMTPError || error is SMSError ? "\(error)" : "\(type(of: error))"),
                ]
            )
            // Refused for good (no such mailbox, a number the aggregator will not take): trying
            // again in a minute cannot help, so the form says to check the address.
            if let refusal = error as? any GatewayRefusal, refusal.refusesAddress {
                throw AdalError.invalidField(field: "address", reason: Self.gatewayRefused)
            }
            throw CodeNotSent()
        }
        return channel.simulated ? .simulated(code: code) : .sent
    }

    /// Why an address is refused when its gateway would not take the code for it.
    static let gatewayRefused = "the gateway refused this address: check it, or give another"

    /// Why an address of `kind` is refused on a server without its gateway.
    static func notOffered(_ kind: ContactAddress.Kind) -> String {
        "this server sends no \(kind == .email ? "email" : "SMS"): no gateway is set up for it"
    }

    /// An address as its owner reads it: a number spaced (or masked, where a code was just sent
    /// to it), an email address whole.
    static func shown(_ address: ContactAddress, masked: Bool = false) -> String {
        address.kind == .sms ? (masked ? address.masked : address.spaced) : address.text
    }

    /// Sends `text` to `address` through `channel`, within ``sendDeadline``.
    private func send(
        _ text: String,
        to user: UUID,
        at address: ContactAddress,
        through channel: any NotificationChannel,
        tenantID: UUID
    ) async throws {
        let sent = try await finished(within: Self.sendDeadline) {
            try await channel.send(
                OutgoingMessage(text: text, user: user, address: address, reference: UUID(), kept: false),
                tenantID: tenantID
            )
        }
        if !sent { throw AdalError.unavailable(reason: "the gateway did not answer") }
    }

    /// A gateway failed to take a code, or did not answer within ``sendDeadline``.
    struct CodeNotSent: Error {}

    /// The locale key and figures of a refusal's reason.
    static func reasons(_ reason: String) -> (key: String, figures: [String])? {
        let keys = [
            ContactAddress.emailShape: "contact_email_shape", ContactAddress.emailTooLong: "contact_email_long",
            ContactAddress.mobileShape: "contact_mobile_shape", ContactAddress.landline: "contact_landline",
            ContactBook.codeShape: "contact_code_shape", ContactBook.noCodeWaiting: "contact_no_code",
            ContactBook.codeExpired: "contact_code_expired", ContactBook.codeSpent: "contact_code_spent",
            notOffered(.email): "contacts_not_offered_email", notOffered(.sms): "contacts_not_offered_sms",
            gatewayRefused: "contact_gateway_refused",
        ]
        if let key = keys[reason] { return (key, []) }
        for left in 1..<ContactBook.codeTries where reason == ContactBook.wrongCode(triesLeft: left) {
            return ("contact_code_wrong", [String(left)])
        }
        return nil
    }

    /// The account page: who is signed in, their roles, and their addresses with a form each.
    func page(
        message: String?,
        status: HTTPResponse.Status = .ok,
        request: Request,
        context: AppRequestContext
    ) async throws -> Response {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let locales = dependencies.pages.locales
        let roles = principal.roles.sorted().map { locales.name(of: $0, context.language) }
        let path = "/\(tenant.slug)/account/contacts"
        let undelivered = try await MealInbox(database: dependencies.database).undelivered(
            user: principal.userID,
            tenantID: tenant.id
        )
        let date = { (date: Date) in Day.today(date).written }
        let contacts = try await dependencies.contacts.contacts(userID: principal.userID, tenantID: tenant.id).map {
            contact -> [String: Any] in
            let shown = { (address: ContactAddress) in Self.shown(address) }
            let channel = dependencies.channel(contact.kind)
            return [
                "kind": contact.kind.rawValue,
                // No gateway: the kind is not offered, and an address kept from before can only go.
                "offered": channel != nil,
                "notOffered": locales.text("contacts_not_offered_" + contact.kind.rawValue, context.language),
                "simulated": channel?.simulated == true,
                // A gateway refused the confirmed address for good: said, with the day.
                "refused": PageRenderer.optional(
                    contact.confirmed.flatMap { address in contact.refused.map { (address, $0) } }.map {
                        address,
                        refusedAt in
                        locales.text("contacts_refused", context.language, figures: [shown(address), date(refusedAt)])
                    }
                ),
                // The last message to the confirmed address with a report did not reach it: its day and why.
                "undelivered": PageRenderer.optional(
                    undelivered.first { $0.address == contact.confirmed }.map {
                        locales.text(
                            "contacts_undelivered",
                            context.language,
                            figures: [
                                shown($0.address), date($0.sentAt),
                                locales.text("delivery_" + $0.delivery.rawValue, context.language),
                            ]
                        )
                    }
                ),
                "label": locales.text("contacts_" + contact.kind.rawValue, context.language),
                "inputType": contact.kind == .email ? "email" : "tel",
                "autocomplete": contact.kind == .email ? "email" : "tel",
                "confirmed": PageRenderer.optional(contact.confirmed.map(shown)),
                "pending": PageRenderer.optional(contact.pending.map(shown)),
                // Said around the address, as each language orders it.
                "codeLabel": contact.pending.map {
                    locales.text("contacts_code", context.language, figures: [shown($0)])
                } ?? "",
                "path": path,
            ]
        }
        return dependencies.pages.page(
            "account",
            titleKey: "account_title",
            values: [
                "principal": ["displayName": principal.displayName, "login": principal.login], "roles": roles,
                "contacts": contacts, "contactMessage": PageRenderer.optional(message),
            ],
            request: request,
            context: context,
            status: status
        )
    }
}
