import Core
import Foundation
import Hummingbird
import MealPayments
import Workflow

/// The school office's page of bank transfers to make (``BankPayouts``): the payouts still
/// waiting at its schools (the akimat's: the whole city), oldest first, each with the whole IBAN
/// and its holder, and two forms — paid, with the payment order's number, or sent back by the
/// bank, with why.
extension MealsPagesController {
    func registerPayouts(on group: RouterGroup<AppRequestContext>) {
        group.get("payouts", use: payouts)
        group.post("payouts/:payout/paid", use: payoutPaid)
        group.post("payouts/:payout/returned", use: payoutReturned)
        group.get("payouts.csv", use: payoutsCSV)
    }

    /// The month's settled transfers as the API's file (``MealsController/payoutsCSV(request:context:)``),
    /// written for a spreadsheet in the reader's language (``MealsPagesController/dialect(_:)``).
    @Sendable func payoutsCSV(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard context.principal != nil else { return signIn(tenant) }
        return try await MealsController(dependencies: dependencies).payoutsCSV(
            request,
            context,
            dialect: Self.dialect(context.language)
        )
    }

    @Sendable func payouts(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard context.principal != nil else { return signIn(tenant) }
        return try await payoutsPage(message: nil, status: .ok, request, context)
    }

    @Sendable func payoutPaid(request: Request, context: AppRequestContext) async throws -> Response {
        try await recordPayout(request, context, event: "payout_paid", field: "reference", step: "bank_reference")
    }

    @Sendable func payoutReturned(request: Request, context: AppRequestContext) async throws -> Response {
        try await recordPayout(request, context, event: "payout_returned", field: "reason", step: "reason")
    }

    /// Records the form's outcome as the API does (``MealsController/settlePayout(_:event:input:)``),
    /// then shows the list again; an empty field or an outcome already recorded is said on it.
    private func recordPayout(
        _ request: Request,
        _ context: AppRequestContext,
        event: String,
        field: String,
        step: String
    ) async throws -> Response {
        let tenant = try context.requireTenant()
        _ = try context.authorised(MealsController.schoolStaff)
        let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
        let (locales, language) = (dependencies.pages.locales, context.language)
        let message: String
        do {
            _ = try await MealsController(dependencies: dependencies).settlePayout(
                context,
                event: event,
                input: [step: .string(form[field] ?? "")]
            )
            return Response.redirect(to: "/\(tenant.slug)/meals/payouts", type: .normal)
        } catch AdalError.invalidField {
            let label = locales.text(
                field == "reference" ? "meals_payouts_reference" : "meals_payouts_reason",
                language
            )
            message = locales.text("meals_payouts_required", language, figures: [label])
        } catch AdalError.conflict(let reason) {
            message = locales.text("meals_payouts_already", language, figures: [reason])
        }
        return try await payoutsPage(message: message, status: .unprocessableContent, request, context)
    }

    private func payoutsPage(
        message: String?,
        status: HTTPResponse.Status,
        _ request: Request,
        _ context: AppRequestContext
    ) async throws -> Response {
        let (tenant, principal) = try context.authorised(MealsController.payoutReaders)
        let meals = MealsController(dependencies: dependencies)
        // The transfers made are read a page at a time, from the newest or on from `after`.
        let after = try MealsController.payoutCursor(request)
        let (waiting, done) = (
            try await meals.officePayouts(context, done: false),
            try await meals.officePayouts(context, done: true, after: after)
        )
        let (locales, language) = (dependencies.pages.locales, context.language)
        let base = "/\(tenant.slug)/meals"
        func row(_ payout: BankPayouts.Payout) -> [String: Any] {
            let id = payout.id.uuidString.lowercased()
            var row: [String: Any] = [
                "at": WorkflowPagesController.format(payout.at), "pupil": payout.pupilName,
                "pupilPath": "\(base)/pupils/\(payout.pupil.uuidString.lowercased())",
                "amount": Money.shown(payout.amount), "iban": payout.iban, "holder": payout.holder,
                "paidPath": "\(base)/payouts/\(id)/paid", "returnedPath": "\(base)/payouts/\(id)/returned",
                "status": locales.text(
                    "meals_payout_" + payout.status,
                    language,
                    figures: [payout.bankReference ?? payout.returnedReason ?? ""]
                ),
                "returned": payout.status == "returned",
            ]
            // For the akimat and auditors: does the account match what the guardian's step recorded?
            if let check = payout.check {
                row["check"] = locales.text(
                    check.matches ? "meals_payouts_check_ok" : "meals_payouts_check_bad",
                    language
                )
                row["checkBad"] = !check.matches
                row["leaf"] = PageRenderer.optional(check.leafIndex.map { "/audit/\(tenant.slug)/leaves/\($0)" })
                row["leafIndex"] = check.leafIndex.map { String($0) } ?? ""
            }
            return row
        }
        return dependencies.pages.page(
            "meals_payouts",
            titleKey: "meals_payouts_title",
            values: [
                "payouts": waiting.map(row), "hasPayouts": !waiting.isEmpty,
                "done": done.map(row), "hasDone": !done.isEmpty,
                "olderPath": PageRenderer.optional(
                    done.count == MealQueries.payoutPage
                        ? done.last.map { "\(base)/payouts?after=\($0.id.uuidString.lowercased())" } : nil
                ),
                "newestPath": PageRenderer.optional(after == nil ? nil : "\(base)/payouts"),
                "csvPath": "\(base)/payouts.csv", "thisMonth": String(MealQueries.dateAndTime(Date()).date.prefix(7)),
                // Auditors read; the office and the akimat record.
                "mayRecord": !principal.roles.isDisjoint(with: MealsController.schoolStaff),
                "checked": !principal.roles.isDisjoint(with: [.akimatAdmin, .auditor]),
                "message": PageRenderer.optional(message),
            ],
            request: request,
            context: context,
            status: status
        )
    }
}
