/// The municipal services Adal knows of, in the order DESIGN.md lists them. A tenant turns each
/// on separately; the service's workflow and pages arrive with its own module.
public enum ServiceKey: String, CaseIterable, Codable, Sendable {
    case schoolMealCompetition = "school-meal-competition"
    /// Direct awards that feed a competition's schools while it runs (at most two months).
    case mealDirectAward = "meal-direct-award"
    case mealPayments = "meal-payments"
    case sickLeave = "sick-leave"
    case principalRotation = "principal-rotation"
    case openBudget = "open-budget"
    /// A citizen's report on a budget object, referred to the body responsible and answered.
    case citizenReport = "citizen-report"
    case participatoryBudget = "participatory-budget"

    /// Parses a service key, naming `field` in the error.
    public static func parse(_ text: String, field: String = "service") throws(AdalError) -> ServiceKey {
        guard let key = ServiceKey(rawValue: text.trimmingWhitespace()) else {
            let known = ServiceKey.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalidField(field: field, reason: "unknown service '\(text)'; known services: \(known)")
        }
        return key
    }
}
