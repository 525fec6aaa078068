import Core
import Foundation
import MealTenders
import Workflow

/// Pages a service has beyond the generic ones (forms, instance page): its own list for the
/// people who work in it, and a page per instance that shows its records (a certificate with its
/// QR code, a competition with its bids).
enum ServicePages {
    /// Where the service's list is for someone with `roles`; nil when it has none for them.
    static func listPath(_ service: String, slug: String, roles: Set<Role>) -> String? {
        switch service {
        case SickLeavePagesController.service:
            roles.isDisjoint(with: SickLeavePagesController.clinicRoles)
                ? "/\(slug)/sick-leave/mine" : "/\(slug)/sick-leave"
        case "meal-payments", MealsController.service:
            roles.contains(.canteenTill)
                ? "/\(slug)/meals/till"
                : roles.isDisjoint(with: [.akimatAdmin, .auditor]) ? "/\(slug)/meals" : "/\(slug)/meals/city"
        case PrincipalRotationController.service:
            roles.isDisjoint(with: PrincipalRotationController.readers)
                ? "/\(slug)/principal-rotation/public" : "/\(slug)/principal-rotation"
        default: publicPath(service, slug: slug)
        }
    }

    /// Steps as people see them: each service may keep part of an input private for a while
    /// (a competition's marks until the award is proposed).
    static func shown(_ steps: [StepRecord], service: String, state: String) -> [StepRecord] {
        guard service == CompetitionService.key else { return steps }
        return steps.map { $0.showing(CompetitionService.shownInput(event: $0.event, input: $0.input, state: state)) }
    }

    /// The page of the service anyone may read, signed in or not.
    static func publicPath(_ service: String, slug: String) -> String? {
        switch service {
        case "school-meal-competition", "meal-direct-award": "/\(slug)/meal-competitions"
        case PrincipalRotationController.service: "/\(slug)/principal-rotation/public"
        case "open-budget": "/\(slug)/budget"
        case "citizen-report": "/\(slug)/reports"
        case "participatory-budget": "/\(slug)/participatory-budget"
        default: nil
        }
    }

    /// The service's own page of an instance, if it has one.
    static func detailPath(_ service: String, slug: String, instance: UUID) -> String? {
        switch service {
        case SickLeavePagesController.service: "/\(slug)/sick-leave/certificates/\(instance.uuidString.lowercased())"
        case "school-meal-competition": "/\(slug)/meal-competitions/\(instance.uuidString.lowercased())"
        case "citizen-report": "/\(slug)/reports/\(instance.uuidString.lowercased())"
        case "participatory-budget": "/\(slug)/participatory-budget/\(instance.uuidString.lowercased())"
        default: nil
        }
    }
}
