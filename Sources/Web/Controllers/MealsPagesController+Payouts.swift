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
        let (tenant, principal) = try context.authorised(MealsController.schoolStaff)
        let waiting = try await MealQueries(database: dependencies.database).waitingPayouts(
            staff: principal.roles.contains(.akimatAdmin) ? nil : principal.userID,
            tenantID: tenant.id
        )
        let base = "/\(tenant.slug)/meals"
        return dependencies.pages.page(
            "meals_payouts",
            titleKey: "meals_payouts_title",
            values: [
                "payouts": waiting.map { payout -> [String: Any] in
                    let id = payout.id.uuidString.lowercased()
                    return [
                        "at": WorkflowPagesController.format(payout.at), "pupil": payout.pupilName,
                        "pupilPath": "\(base)/pupils/\(payout.pupil.uuidString.lowercased())",
                        "amount": Money.shown(payout.amount), "iban": payout.iban, "holder": payout.holder,
                        "paidPath": "\(base)/payouts/\(id)/paid", "returnedPath": "\(base)/payouts/\(id)/returned",
                    ]
                },
                "hasPayouts": !waiting.isEmpty,
                "message": PageRenderer.optional(message),
            ],
            request: request,
            context: context,
            status: status
        )
    }
}
