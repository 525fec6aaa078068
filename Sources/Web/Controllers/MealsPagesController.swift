import Core
import Foundation
import Hummingbird
import MealPayments
import Workflow

/// School meals for people: a guardian's children and each child's account (balance, monthly
/// spending chart, every charge, alerts, CSV statement), and the city's canteens per school and
/// day with their flags.
struct MealsPagesController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant/meals").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get(use: children)
        group.get("pupils/:pupil", use: pupil)
        group.get("pupils/:pupil/statement.csv", use: statementCSV)
        group.post("pupils/:pupil/alerts", use: saveAlerts)
        group.post("pupils/:pupil/return", use: returnBalance)
        group.post("pupils/:pupil/payout", use: payOut)
        registerPayouts(on: group)
        registerMenus(on: group)
        group.get("city", use: city)
        group.get("city.csv", use: cityCSV)
        group.get("till", use: till)
        group.post("till", use: tillCharge)
    }

    /// The canteen till's page: a charge by card (the meal at the contract price, allergens, the
    /// staff's override), its answer, and today's meals at this till's school. Each form carries
    /// the charge's id, so a double click or a reload is one charge.
    /// With `?shell`, the page as the till's service worker keeps it for outages
    /// (`static/till-worker.js`): the form alone, without today's meals or anyone's name.
    @Sendable func till(request: Request, context: AppRequestContext) async throws -> Response {
        try await tillPage(
            answer: nil,
            message: nil,
            shell: request.uri.queryParameters["shell"] != nil,
            status: .ok,
            request: request,
            context: context
        )
    }

    @Sendable func tillCharge(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try context.authorised([.canteenTill])
        let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
        // What a refused form is answered with, on the form as typed.
        let message: String
        do {
            guard let id = form["_key"].flatMap(UUID.init(uuidString:)) else {
                throw AdalError.invalidField(field: "_key", reason: "the form's charge id is missing")
            }
            let items = try Self.tillItems(form, locales: dependencies.pages.locales, language: context.language)
            // Sent by the page's script for a charge it kept while the server could not be reached.
            var servedAt: Date?
            if let text = form["served_at"], !text.isEmpty {
                guard let date = MealAccountService.parseServedAt(text) else {
                    throw AdalError.invalidField(field: "served_at", reason: MealAccountService.servedAtShape)
                }
                servedAt = date
            }
            let answer = try await MealsController(dependencies: dependencies).charge(
                MealsController.ChargeBody(
                    id: id,
                    card: (form["card"] ?? "").trimmingCharacters(in: .whitespaces),
                    items: items,
                    allergenOverride: form["override"] == "on",
                    servedAt: servedAt
                ),
                principal: principal,
                tenant: tenant
            )
            return try await tillPage(
                answer: answer.responseGenerator,
                message: nil,
                status: .ok,
                request: request,
                context: context
            )
        } catch {
            guard let refused = refusal(error, context.language) else { throw error }
            message = refused
        }
        return try await tillPage(
            answer: nil,
            message: message,
            refill: form,
            status: .unprocessableContent,
            request: request,
            context: context
        )
    }

    /// What a refused form is told, in `language`: a line's own message, or the reason of a
    /// refusal or a field (without the field's code when ``MealReason`` says it); nil for an error
    /// that is not a refusal.
    func refusal(_ error: any Error, _ language: Language) -> String? {
        if let error = error as? TillFormError { return error.message }
        return MealReason.text(of: error).map { said($0, language) }
    }

    /// A reason a charge was declined or refused, or an alert refused, in `language` when it is
    /// one ``MealReason`` knows; else as it is.
    func said(_ reason: String, _ language: Language) -> String {
        guard let known = MealReason.of(reason) else { return reason }
        return dependencies.pages.locales.text(known.key, language, figures: known.figures)
    }

    /// A message to a guardian in a language, by its locale key and figures
    /// (``MealOutbox/handlers(channels:contacts:topUps:provider:schools:say:)``).
    static func say(_ locales: LocaleTables) -> @Sendable (String, Language, [String]) -> String {
        { key, language, figures in locales.text(key, language, figures: figures) }
    }

    /// The alerts form's fields by the locale key of their labels.
    static let alertLabels = [
        "lowBalanceAlert": "meals_alert_low", "autoThreshold": "meals_alert_threshold",
        "autoAmount": "meals_alert_amount",
    ]

    /// How many days of menus a child's page shows, from today: a week.
    static let menuDaysShown = 7

    /// How many item lines the till's form has (the API takes up to 20 items).
    static let tillLines = 5

    /// A line of the till's form refused, said in the page's language.
    struct TillFormError: Error {
        let message: String
    }

    /// The meal's items from the till's form: the menu's items ticked (`menuN`, each
    /// `price:name` in tiyn, shown when the school set today's menu), then the typed lines.
    /// The first line's item may be left unnamed (the page's word for a meal).
    static func tillItems(
        _ form: FormFields,
        locales: LocaleTables,
        language: Language
    ) throws(TillFormError) -> [MealsController.ChargeItem] {
        var items: [MealsController.ChargeItem] = []
        for line in 1...MealMenus.maximumItems {
            guard let ticked = form["menu\(line)"], let colon = ticked.firstIndex(of: ":"),
                let price = Int64(ticked[..<colon])
            else { continue }
            items.append(MealsController.ChargeItem(name: String(ticked[ticked.index(after: colon)...]), price: price))
        }
        if form["_menu"] != nil && items.isEmpty {
            throw TillFormError(message: locales.text("till_menu_none", language))
        }
        return items
            + (try formLines(
                form,
                lines: tillLines,
                unnamedFirst: true,
                required: items.isEmpty,
                locales: locales,
                language: language
            ))
    }

    /// The lines of a form of items: line n is `itemN`, `priceN` (tenge) and `allergensN`
    /// (comma-separated); an empty line is skipped. With `unnamedFirst` the first line's item may
    /// be left unnamed (the page's word for a meal); any other priced line must be named, and a
    /// named line priced; with `required`, at least one line.
    static func formLines(
        _ form: FormFields,
        lines: Int,
        unnamedFirst: Bool,
        required: Bool = true,
        locales: LocaleTables,
        language: Language
    ) throws(TillFormError) -> [MealsController.ChargeItem] {
        let refuse = { (key: String, line: Int) in
            TillFormError(message: locales.text(key, language, figures: [String(line)]))
        }
        var items: [MealsController.ChargeItem] = []
        for line in 1...lines {
            let text = { (field: String) in (form[field + "\(line)"] ?? "").trimmingCharacters(in: .whitespaces) }
            let (name, priceText) = (text("item"), text("price"))
            let allergens = text("allergens").split(separator: ",")
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            if name.isEmpty && priceText.isEmpty && allergens.isEmpty { continue }
            guard !priceText.isEmpty else { throw refuse("till_line_no_price", line) }
            guard let price = StepForm.tiyn(fromTenge: priceText), price > 0 else {
                throw refuse("till_line_bad_price", line)
            }
            guard !name.isEmpty || (line == 1 && unnamedFirst) else { throw refuse("till_line_no_item", line) }
            items.append(
                MealsController.ChargeItem(
                    name: name.isEmpty ? locales.text("till_meal", language) : name,
                    price: price,
                    allergens: allergens.isEmpty ? nil : allergens
                )
            )
        }
        guard !items.isEmpty || !required else { throw refuse("till_line_no_price", 1) }
        return items
    }

    /// The till's page; `refill` is a refused form, shown again with what was typed (under a new
    /// charge id: nothing was charged).
    private func tillPage(
        answer: MealsController.TransferAnswer?,
        message: String?,
        refill: FormFields? = nil,
        shell: Bool = false,
        status: HTTPResponse.Status,
        request: Request,
        context: AppRequestContext
    ) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else { return signIn(tenant) }
        try principal.require(anyOf: [.canteenTill])
        let today = Day.today().description
        let day = shell ? [] : try await queries.tillDay(till: principal.userID, day: today, tenantID: tenant.id)
        // The school's menu for today, its items to tick. The kept shell has it too, marked with
        // its day, and the typed lines in reserve: opened on another day, its script shows the
        // lines instead (till-offline.js).
        let menu =
            try await MealMenus(database: dependencies.database).tillMenu(
                till: principal.userID,
                day: today,
                tenantID: tenant.id
            )?.items ?? []
        let locales = dependencies.pages.locales
        return dependencies.pages.page(
            "meals_till",
            titleKey: "till_title",
            values: [
                "slug": tenant.slug.value, "key": UUID().uuidString.lowercased(), "today": today,
                // Whose charges the page's script keeps and sends (till-offline.js).
                "tillID": principal.userID.uuidString.lowercased(), "tillName": principal.login,
                "card": refill?["card"] ?? "", "override": refill?["override"] == "on",
                "lines": (1...Self.tillLines).map { line -> [String: Any] in
                    [
                        "n": line, "first": line == 1, "item": refill?["item\(line)"] ?? "",
                        "price": refill?["price\(line)"] ?? "", "allergens": refill?["allergens\(line)"] ?? "",
                    ]
                },
                "menu": menu.enumerated().map { index, item -> [String: Any] in
                    let field = "menu\(index + 1)"
                    return [
                        "field": field, "value": "\(item.price):\(item.name)", "name": item.name,
                        "price": Money.shown(item.price), "allergens": item.allergens.joined(separator: ", "),
                        "hasAllergens": !item.allergens.isEmpty,
                        "checked": refill?[field] != nil,
                    ]
                },
                "hasMenu": !menu.isEmpty, "hasLines": menu.isEmpty || shell, "linesInReserve": !menu.isEmpty && shell,
                "message": PageRenderer.optional(message),
                "answer": answer.map { answer -> [String: Any] in
                    [
                        "posted": answer.transfer.status == "posted", "amount": Money.shown(answer.transfer.amount),
                        "items": answer.transfer.items.joined(separator: ", "),
                        "reason": PageRenderer.optional(answer.transfer.reason.map { said($0, context.language) }),
                        "balance": Money.shown(answer.balance), "replayed": answer.replayed,
                        "paidBy": locales.text(
                            "meals_paid_by_" + (answer.transfer.paidBy ?? "parent"),
                            context.language
                        ),
                    ]
                } ?? false,
                "meals": day.map { found -> [String: Any] in
                    [
                        "time": WorkflowPagesController.format(found.line.at), "pupil": found.pupilName,
                        "items": found.line.items.joined(separator: ", "), "amount": Money.shown(found.line.amount),
                        "posted": found.line.status == "posted",
                        "reason": PageRenderer.optional(found.line.reason.map { said($0, context.language) }),
                    ]
                },
                "hasMeals": !day.isEmpty, "shell": shell,
            ],
            request: request,
            context: context,
            status: status
        )
    }

    private var queries: MealQueries { MealQueries(database: dependencies.database) }

    @Sendable func children(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else { return signIn(tenant) }
        let children = try await queries.children(of: principal.userID, tenantID: tenant.id)
        let notifications = try await queries.notifications(of: principal.userID, tenantID: tenant.id)
        return dependencies.pages.page(
            "meals_children",
            titleKey: "meals_title",
            values: [
                "children": children.map { child in
                    [
                        "name": child.name, "school": child.schoolName, "balance": Money.shown(child.balance),
                        "path": "/\(tenant.slug)/meals/pupils/\(child.id.uuidString.lowercased())",
                        "subsidised": child.freeMealCategory != nil,
                    ]
                },
                "hasChildren": !children.isEmpty,
                "notifications": notifications.map {
                    ["at": WorkflowPagesController.format($0.at), "message": $0.message]
                },
                "hasNotifications": !notifications.isEmpty,
                "isStaff": !principal.roles.isDisjoint(with: [.akimatAdmin, .auditor]),
                "paysOut": !principal.roles.isDisjoint(with: MealsController.schoolStaff),
                "readsMenus": !principal.roles.isDisjoint(with: MealsController.schoolStaff.union([.auditor])),
                "slug": tenant.slug.value,
            ],
            request: request,
            context: context
        )
    }

    @Sendable func pupil(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard context.principal != nil else { return signIn(tenant) }
        return try await page(try await visiblePupil(context), message: nil, status: .ok, request, context)
    }

    private func page(
        _ pupil: MealQueries.PupilRef,
        message: String?,
        status: HTTPResponse.Status,
        _ request: Request,
        _ context: AppRequestContext
    ) async throws -> Response {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let alerts = try await queries.alerts(of: principal.userID, pupil: pupil.id, tenantID: tenant.id)
        let language = context.language
        // Where the guardian's alerts go besides these pages: their confirmed addresses of the
        // kinds the server has a gateway for (on a server with none, nothing to ask for).
        var reach = ""
        if alerts != nil {
            let addresses = try await dependencies.contacts.confirmed(userID: principal.userID, tenantID: tenant.id)
            let kinds = ContactAddress.Kind.allCases.filter { dependencies.channel($0) != nil }
            let shown = kinds.compactMap { addresses[$0] }.map { $0.kind == .sms ? $0.spaced : $0.text }
            reach =
                shown.isEmpty
                ? dependencies.pages.locales.text(
                    kinds.isEmpty ? "meals_alert_reach_only_page" : "meals_alert_reach_page",
                    language
                )
                : dependencies.pages.locales.text(
                    "meals_alert_reach",
                    language,
                    figures: [shown.joined(separator: ", ")]
                )
        }
        let lines = try await queries.statement(pupil: pupil.id, tenantID: tenant.id, limit: 200)
        let returns = try await queries.balanceReturns(pupil: pupil.id, tenantID: tenant.id)
        // The office sees the whole account number it pays into; guardians see it masked.
        let payouts = try await queries.payouts(
            pupil: pupil.id,
            whole: !principal.roles.isDisjoint(with: MealsController.schoolStaff),
            tenantID: tenant.id
        )
        // What may go back now, to cards and by bank (a guardian's own payments only).
        let returnable = try await queries.returnable(
            pupil: pupil.id,
            guardian: Self.guardian(principal),
            tenantID: tenant.id
        )
        let mayMove = !principal.roles.isDisjoint(with: Self.returners)
        let locales = dependencies.pages.locales
        let path = "/\(tenant.slug)/meals/pupils/\(pupil.id.uuidString.lowercased())"
        let months = try await queries.monthly(pupil: pupil.id, tenantID: tenant.id)
        // The menus at the pupil's school this day and the six after, the pupil's flagged
        // allergens marked: a family plans the week's lunches (or a packed one) ahead.
        let today = Day.today()
        let menus = try await MealMenus(database: dependencies.database).pupilMenus(
            pupil: pupil.id,
            from: today,
            days: Self.menuDaysShown,
            tenantID: tenant.id
        )
        let chart = BarChart.svg(
            months.map {
                BarChart.Bar(
                    // "2026-11" as 11.2026, as the page writes dates (23.11.2026).
                    label: "\($0.month.suffix(2)).\($0.month.prefix(4))",
                    value: $0.tiyn,
                    caption: Money.shown($0.tiyn / 100 * 100).replacingOccurrences(of: ",00", with: ""),
                    highlighted: false
                )
            },
            label: dependencies.pages.locales.text("meals_chart_label", language)
        )
        return dependencies.pages.page(
            "meals_pupil",
            titleKey: "meals_account_title",
            values: [
                "name": pupil.name, "school": pupil.schoolName, "balance": Money.shown(pupil.balance),
                "dailyLimit": Money.shown(pupil.dailyLimit), "category": PageRenderer.optional(pupil.freeMealCategory),
                "chart": chart, "hasMonths": !months.isEmpty,
                "menus": menus.map { menu -> [String: Any] in
                    [
                        "title": menu.day == today.description
                            ? locales.text("meals_menu_today", language)
                            : Day(menu.day).map {
                                locales.text(
                                    "meals_menu_on",
                                    language,
                                    figures: [locales.text("weekday_\($0.weekday)", language), $0.written]
                                )
                            }
                                ?? menu.day,
                        "items": menu.items.map { line -> [String: Any] in
                            [
                                "name": line.item.name, "price": Money.shown(line.item.price),
                                "allergens": line.item.allergens.joined(separator: ", "),
                                "hasAllergens": !line.item.allergens.isEmpty,
                                "flagged": PageRenderer.optional(
                                    line.flagged.isEmpty
                                        ? nil
                                        : locales.text(
                                            "meals_menu_flagged",
                                            language,
                                            figures: [line.flagged.joined(separator: ", ")]
                                        )
                                ),
                            ]
                        },
                    ]
                },
                "hasMenu": !menus.isEmpty,
                "csv": "/\(tenant.slug)/meals/pupils/\(pupil.id.uuidString.lowercased())/statement.csv",
                "lines": lines.map { line -> [String: Any] in
                    [
                        "at": WorkflowPagesController.format(line.at),
                        "kind": dependencies.pages.locales.text("meals_kind_" + line.kind, language),
                        "status": dependencies.pages.locales.text("meals_status_" + line.status, language),
                        "declined": line.status == "declined" || line.status == "voided",
                        "school": line.school ?? "", "items": line.items.joined(separator: ", "),
                        "amount": Money.shown(line.amount),
                        "paidBy": line.paid.map { dependencies.pages.locales.text("meals_paid_by_" + $0, language) }
                            ?? "",
                        "reason": line.reason.map { said($0, language) } ?? "",
                    ]
                },
                "hasLines": !lines.isEmpty,
                "message": PageRenderer.optional(message),
                // Guardians and the school's staff may return the balance; a new id on every
                // showing, so a double click is one return.
                "mayReturn": mayMove && returnable.toCards > 0,
                // Less than the balance can go back to cards: how much.
                "returnMost": PageRenderer.optional(
                    returnable.toCards < pupil.balance
                        ? locales.text("meals_return_most", language, figures: [Money.shown(returnable.toCards)]) : nil
                ),
                "returnPath": path + "/return", "returnID": UUID().uuidString.lowercased(),
                "returns": returns.map { made -> [String: Any] in
                    [
                        "at": WorkflowPagesController.format(made.at), "amount": Money.shown(made.amount),
                        "parts": made.parts.map { part -> [String: Any] in
                            [
                                // Whose card, when the top-up's payer is on record.
                                "text": locales.text(
                                    part.payerName == nil ? "meals_return_part" : "meals_return_part_payer",
                                    language,
                                    figures: [
                                        Money.shown(part.amount), WorkflowPagesController.format(part.topUpAt),
                                        part.payerName ?? "",
                                    ]
                                ),
                                "status": locales.text(
                                    BalanceReturns.lastingFailures.contains(part.failure ?? "")
                                        ? "meals_return_failed_for_good" : "meals_return_" + part.status,
                                    language
                                ),
                                "failed": part.status == "failed",
                            ]
                        },
                    ]
                },
                "hasReturns": !returns.isEmpty,
                // A bank transfer, once a card could no longer take its money back.
                "mayPayOut": mayMove && returnable.byBank > 0,
                "payoutMost": locales.text("meals_payout_most", language, figures: [Money.shown(returnable.byBank)]),
                "payoutPath": path + "/payout", "payoutID": UUID().uuidString.lowercased(),
                "payouts": payouts.map { payout -> [String: Any] in
                    [
                        "at": WorkflowPagesController.format(payout.at),
                        "account": locales.text(
                            "meals_payout_account",
                            language,
                            figures: [Money.shown(payout.amount), payout.iban, payout.holder]
                        ),
                        "status": locales.text(
                            "meals_payout_" + payout.status,
                            language,
                            figures: [payout.bankReference ?? payout.returnedReason ?? ""]
                        ),
                        "returned": payout.status == "returned",
                    ]
                },
                "hasPayouts": !payouts.isEmpty,
                "alerts": alerts.map { alerts -> [String: Any] in
                    [
                        "path": path + "/alerts",
                        "low": alerts.lowBalanceAlert.map(Money.tenge) ?? "",
                        "threshold": alerts.autoThreshold.map(Money.tenge) ?? "",
                        "amount": alerts.autoAmount.map(Money.tenge) ?? "",
                        "reach": reach, "accountPath": "/\(tenant.slug)/account#contacts",
                    ]
                } ?? false,
            ],
            request: request,
            context: context,
            status: status
        )
    }

    /// The guardian's alerts, from the form on the child's page: amounts in tenge, empty to
    /// turn one off. A bad value shows the page again with the reason.
    @Sendable func saveAlerts(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let pupil = try await visiblePupil(context)
        let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
        do {
            func amount(_ field: String) throws -> Int64? {
                guard let text = form[field]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
                guard let tiyn = StepForm.tiyn(fromTenge: text) else {
                    throw AdalError.invalidField(field: field, reason: MealReason.tengeShape)
                }
                return tiyn
            }
            try await dependencies.mealSchools.guardianSettings(
                userID: principal.userID,
                pupilID: pupil.id,
                lowBalanceAlert: try amount("lowBalanceAlert"),
                autoThreshold: try amount("autoThreshold"),
                autoAmount: try amount("autoAmount"),
                // The alert comes in the language the guardian reads this page in.
                language: context.language,
                tenantID: tenant.id
            )
        } catch AdalError.invalidField(let field, let reason) {
            // The field as the form labels it, and why, in the page's language.
            let label = Self.alertLabels[field].map { dependencies.pages.locales.text($0, context.language) } ?? field
            return try await page(
                pupil,
                message: "\(label): \(said(reason, context.language))",
                status: .unprocessableContent,
                request,
                context
            )
        }
        return Response.redirect(to: "/\(tenant.slug)/meals/pupils/\(pupil.id.uuidString.lowercased())", type: .normal)
    }

    /// Who may return a child's balance from the page: the child's guardians and the staff of
    /// the school (the step checks which child and which school).
    static let returners: Set<Role> = [.parent, .schoolAdmin, .akimatAdmin]

    /// Whose own payments a payout by `principal` may take: a guardian's (the step acts as the
    /// parent first); nil for the office and the akimat, who may pay out any.
    static func guardian(_ principal: Principal) -> UUID? {
        principal.roles.contains(.parent) ? principal.userID : nil
    }

    /// The amount typed in tenge, or all that can go back to cards now when it is left empty,
    /// back to the payments it came from (the form on the child's page). A refusal shows the
    /// page again with its reason.
    @Sendable func returnBalance(request: Request, context: AppRequestContext) async throws -> Response {
        try await moneyForm(request, context, labels: ["amount": "meals_return_amount"]) { form, pupil, principal in
            guard let id = form["id"].flatMap(UUID.init(uuidString:)) else {
                throw AdalError.invalidField(field: "id", reason: "the form's return id; load the page again")
            }
            let tenant = try context.requireTenant()
            var amount = try formAmount(form)
            if amount == nil {
                let toCards = try await queries.returnable(pupil: pupil.id, guardian: nil, tenantID: tenant.id).toCards
                amount = toCards > 0 ? toCards : nil
            }
            _ = try await MealsController(dependencies: dependencies).returnBalance(
                .init(id: id, amount: amount),
                pupil: pupil,
                principal: principal,
                tenant: try context.requireTenant()
            )
        }
    }

    /// What can no longer go back to a card, by bank transfer to the account typed in the form
    /// on the child's page (amount in tenge, empty for all of it).
    @Sendable func payOut(request: Request, context: AppRequestContext) async throws -> Response {
        let labels = ["amount": "meals_return_amount", "iban": "meals_payout_iban", "holder": "meals_payout_holder"]
        return try await moneyForm(request, context, labels: labels) { form, pupil, principal in
            guard let id = form["id"].flatMap(UUID.init(uuidString:)) else {
                throw AdalError.invalidField(field: "id", reason: "the form's payout id; load the page again")
            }
            _ = try await MealsController(dependencies: dependencies).payOut(
                .init(id: id, iban: form["iban"] ?? "", holder: form["holder"] ?? "", amount: try formAmount(form)),
                pupil: pupil,
                principal: principal,
                tenant: try context.requireTenant()
            )
        }
    }

    /// A form on the child's page that moves its money (a return, a payout), for its guardians
    /// and the school's staff: back to the page once `take` is done; a refusal shows the page
    /// again with its reason in the reader's language, a bad field named as the form labels it
    /// (`labels`: field → locale key).
    private func moneyForm(
        _ request: Request,
        _ context: AppRequestContext,
        labels: [String: String],
        _ take: (FormFields, MealQueries.PupilRef, Principal) async throws -> Void
    ) async throws -> Response {
        let (tenant, principal) = try context.authorised(Self.returners)
        let pupil = try await visiblePupil(context)
        let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
        let language = context.language
        let message: String
        do {
            try await take(form, pupil, principal)
            return Response.redirect(
                to: "/\(tenant.slug)/meals/pupils/\(pupil.id.uuidString.lowercased())",
                type: .normal
            )
        } catch AdalError.invalidField(let field, let reason) {
            let label = labels[field].map { dependencies.pages.locales.text($0, language) } ?? field
            message = "\(label): \(said(reason, language))"
        } catch WorkflowError.refused(let reason) {
            message = said(reason, language)
        }
        return try await page(pupil, message: message, status: .unprocessableContent, request, context)
    }

    /// The form's `amount` in tenge as tiyn; nil when left empty.
    private func formAmount(_ form: FormFields) throws -> Int64? {
        guard let text = form["amount"]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        guard let tiyn = StepForm.tiyn(fromTenge: text) else {
            throw AdalError.invalidField(field: "amount", reason: MealReason.tengeShape)
        }
        return tiyn
    }

    @Sendable func statementCSV(request: Request, context: AppRequestContext) async throws -> Response {
        guard context.principal != nil else { return signIn(try context.requireTenant()) }
        return try await MealsController(dependencies: dependencies).statementCSV(
            context,
            words: csvWords(context.language)
        )
    }

    /// A CSV file for people reading `language`: semicolons and a decimal comma in Russian and
    /// Kazakh, as spreadsheets set up for those languages read a CSV file; commas and a decimal
    /// point in English; a byte-order mark in all.
    static func dialect(_ language: Language) -> CSVDialect { .people(decimalComma: language != .en) }

    /// The statement file for people: columns, kinds, who paid and reasons in `language`, as
    /// the page says them.
    func csvWords(_ language: Language) -> MealQueries.CSVWords {
        let locales = dependencies.pages.locales
        let columns = [
            "meals_csv_date", "meals_csv_time", "meals_what", "meals_csv_status", "meals_csv_school", "meals_items",
            "meals_csv_amount", "meals_paid_by", "meals_csv_reason",
        ]
        return MealQueries.CSVWords(
            header: columns.map { locales.text($0, language) },
            kind: { locales.text("meals_kind_" + $0, language) },
            status: { locales.text("meals_status_" + $0, language) },
            paidBy: { locales.text("meals_paid_by_" + $0, language) },
            reason: { said($0, language) },
            dialect: Self.dialect(language)
        )
    }

    /// The city's canteens per school and day (the last 30 days by default), flagged days marked.
    @Sendable func city(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard context.principal != nil else { return signIn(tenant) }
        let (from, to, days) = try await cityDays(request, context)
        let locales = dependencies.pages.locales
        let counts = try await MealInbox(database: dependencies.database).counts(
            from: from,
            to: to,
            tenantID: tenant.id
        )
        return dependencies.pages.page(
            "meals_city",
            titleKey: "meals_city_title",
            values: [
                // Whether alerts reach the guardians: counts only, no address.
                "messages": counts.map { counts -> [String: Any] in
                    // A kind whose gateway reports nothing (email, a simulated one) shows no reports.
                    let reported = dependencies.channel(counts.kind)?.reports != nil
                    let report = { (delivery: MessageDelivery) in reported ? String(counts.reports[delivery] ?? 0) : "—"
                    }
                    return [
                        "label": locales.text("contacts_" + counts.kind.rawValue, context.language),
                        "taken": String(counts.taken), "delivered": report(.delivered), "partial": report(.partial),
                        "undelivered": report(.undelivered), "expired": report(.expired), "rejected": report(.rejected),
                        "unreported": reported ? String(counts.unreported) : "—",
                        "refused": String(counts.refusedAddresses),
                    ]
                },
                "slug": tenant.slug.value, "from": from, "to": to,
                "days": days.map { day -> [String: Any] in
                    [
                        "day": day.day, "school": day.school, "supplier": day.supplierBIN ?? "",
                        "meals": String(day.meals), "pupils": String(day.pupils), "amount": Money.shown(day.amount),
                        "price": day.pricePerMeal.map(Money.shown) ?? "",
                        "contract": day.pricePerMeal.map { Money.shown($0 * Int64(day.meals)) } ?? "",
                        "flags": flags(day, context.language), "flagged": !day.flags.isEmpty,
                    ]
                },
                "hasDays": !days.isEmpty,
            ],
            request: request,
            context: context
        )
    }

    /// The city page's table as a CSV file for a spreadsheet, in the page's language.
    @Sendable func cityCSV(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard context.principal != nil else { return signIn(tenant) }
        let (from, to, days) = try await cityDays(request, context)
        let language = context.language
        let dialect = Self.dialect(language)
        let locales = dependencies.pages.locales
        let header = [
            "meals_day", "meals_csv_school_bin", "meals_csv_school", "meals_supplier", "meals_meals", "meals_pupils",
            "meals_csv_amount", "meals_csv_price", "meals_csv_contract", "meals_flags",
        ].map { locales.text($0, language) }
        let rows = days.map { day in
            [
                day.day, day.schoolBIN, day.school, day.supplierBIN ?? "", String(day.meals), String(day.pupils),
                Money.tenge(day.amount, decimalMark: dialect.decimalMark),
                day.pricePerMeal.map { Money.tenge($0, decimalMark: dialect.decimalMark) } ?? "",
                day.pricePerMeal.map { Money.tenge($0 * Int64(day.meals), decimalMark: dialect.decimalMark) } ?? "",
                flags(day, language),
            ]
        }
        return MealsController.csvFile(dialect.text([header] + rows), name: "canteens-\(from)-\(to).csv")
    }

    /// The period asked for (the last 30 days by default) and the city's canteens in it, for
    /// the akimat and auditors only.
    private func cityDays(
        _ request: Request,
        _ context: AppRequestContext
    ) async throws -> (from: String, to: String, days: [MealQueries.SchoolDay]) {
        let (tenant, _) = try context.authorised([.akimatAdmin, .auditor])
        let query = request.uri.queryParameters
        let to = try day(query["to"].map(String.init), field: "to") ?? Day.today().description
        let from =
            try day(query["from"].map(String.init), field: "from")
            ?? Day.today().adding(days: -30).description
        return (from, to, try await queries.schoolDays(from: from, to: to, tenantID: tenant.id))
    }

    /// A day's flags as the page says them, "; " between them.
    private func flags(_ day: MealQueries.SchoolDay, _ language: Language) -> String {
        day.flags.map {
            dependencies.pages.locales.text("meals_flag_" + $0.kind.rawValue, language, figures: [String($0.count)])
        }.joined(separator: "; ")
    }

    private func day(_ text: String?, field: String) throws -> String? {
        guard let text, !text.isEmpty else { return nil }
        return try Day(checking: text, field: field).description
    }

    private func visiblePupil(_ context: AppRequestContext) async throws -> MealQueries.PupilRef {
        try await MealsController(dependencies: dependencies).visiblePupil(context).1
    }

    func signIn(_ tenant: Tenant) -> Response {
        Response.redirect(to: "/\(tenant.slug)/login", type: .normal)
    }
}
