import Core
import Foundation
import MealPayments
import MealTenders
import PrincipalRotation
import SickLeave
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

    /// Whether `principal`, who holds one of the service's roles, may read this instance: a
    /// service that keeps people's records narrows its roles to the records that are theirs to
    /// see, as its own pages do (a pupil's meal account: their guardians and their school's
    /// office, not every parent or till of the city; a sick-leave certificate: its clinic's
    /// doctors, not every doctor or employer; a rotation: the commission and the office of its
    /// school, which the rotation's steps name principals of by IIN). Akimat administrators and
    /// auditors read every one.
    static func mayRead(
        _ summary: InstanceSummary,
        principal: Principal,
        tenantID: UUID,
        dependencies: AppDependencies
    ) async throws -> Bool {
        if !principal.roles.isDisjoint(with: InstanceView.seeEverything) { return true }
        switch summary.service {
        case MealsController.service:
            let queries = MealQueries(database: dependencies.database)
            guard let pupil = try await queries.pupil(instance: summary.id, tenantID: tenantID) else { return false }
            return try await MealsController(dependencies: dependencies)
                .mayRead(pupil, principal: principal, tenantID: tenantID)
        case SickLeavePagesController.service:
            guard
                let view = try await CertificateView.load(
                    instance: summary.id,
                    tenantID: tenantID,
                    database: dependencies.database
                )
            else { return false }
            return try await SickLeaveController(dependencies: dependencies)
                .mayRead(clinicBIN: view.clinicBIN, principal: principal, tenantID: tenantID)
        case PrincipalRotationController.service:
            // The commission reads every rotation; a school's office those of its own schools.
            if principal.roles.contains(.commissionMember) { return true }
            return try await SchoolStaff(database: dependencies.database).worksAt(
                rotation: summary.id,
                userID: principal.userID,
                tenantID: tenantID
            )
        default:
            return true
        }
    }

    /// The open tasks waiting for one of `principal`'s roles, less those of instances they may
    /// not read (``mayRead``): a school's office is not offered another school's handover.
    static func inbox(
        principal: Principal,
        tenantID: UUID,
        dependencies: AppDependencies
    ) async throws
        -> [InstanceSummary]
    {
        var kept: [InstanceSummary] = []
        for task in try await WorkflowQueries(database: dependencies.database).inbox(
            roles: principal.roles,
            tenantID: tenantID
        ) where try await mayRead(task, principal: principal, tenantID: tenantID, dependencies: dependencies) {
            kept.append(task)
        }
        return kept
    }

    /// Events only the service's own pages take, which the generic instance page does not offer
    /// as forms: their input is made there — a meal account's transfer ids, a charge's items, a
    /// payout's bank account, which comes beside the step and never in its input.
    static func ownPageEvents(_ service: String) -> Set<String> {
        switch service {
        case MealsController.service:
            ["charge", "refund", "return_balance", "pay_out", "payout_paid", "payout_returned"]
        default: []
        }
    }

    /// The service's own page of this instance, if it has one: ``detailPath(_:slug:instance:)``,
    /// and a pupil's page for their meal account.
    static func detailPath(
        _ summary: InstanceSummary,
        tenant: Tenant,
        dependencies: AppDependencies
    ) async throws -> String? {
        let slug = tenant.slug.value
        guard summary.service == MealsController.service else {
            return detailPath(summary.service, slug: slug, instance: summary.id)
        }
        let queries = MealQueries(database: dependencies.database)
        return try await queries.pupil(instance: summary.id, tenantID: tenant.id).map {
            "/\(slug)/meals/pupils/\($0.id.uuidString.lowercased())"
        }
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
