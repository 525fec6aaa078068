import Core
import Foundation
import Hummingbird
import SickLeave

/// The sick-leave pages for people: a clinic's list of its certificates, one certificate with
/// its QR code, versions, checks and the doctor's actions, a printable view, and the patient's
/// own certificates with who checked them. Opening a certificate and the doctor's steps use the
/// generic forms (WorkflowFormsController).
struct SickLeavePagesController {
    static let service = SickLeaveService.key
    /// Who works with certificates: a clinic's doctors (their clinics only) and the akimat.
    static let clinicRoles: Set<Role> = [.clinicDoctor, .akimatAdmin]

    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let group = router.group(":tenant/sick-leave").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get(use: list)
        group.get("mine", use: mine)
        group.get("certificates/:instance", use: certificate)
        group.get("certificates/:instance/print", use: printable)
        let api = SickLeaveController(dependencies: dependencies)
        group.get("certificates/:instance/versions/:version/qr.svg", use: api.qrSVG)
        group.get("certificates/:instance/versions/:version/qr.png", use: api.qrPNG)
    }

    /// The certificates of the doctor's clinics (the whole city for the akimat), newest first.
    @Sendable func list(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else { return signIn(tenant) }
        try principal.require(anyOf: Self.clinicRoles)
        let clinics: [Clinic]? =
            principal.roles.contains(.akimatAdmin)
            ? nil
            : try await Clinic.ofStaff(userID: principal.userID, tenantID: tenant.id, database: dependencies.database)
        let found = try await CertificateSummary.list(
            clinics: clinics?.map(\.id),
            tenantID: tenant.id,
            database: dependencies.database
        )
        let language = context.language
        let rows = found.map { summary -> [String: Any] in
            [
                "path": "/\(tenant.slug)/sick-leave/certificates/\(summary.instance.uuidString.lowercased())",
                "patient": summary.patientName, "clinic": summary.clinic,
                "period": "\(summary.periodStart) – \(summary.periodEnd)",
                "status": statusText(summary.status, language), "version": String(summary.version),
            ]
        }
        return dependencies.pages.page(
            "sick_leave_list",
            titleKey: "sick_leave_list_title",
            values: [
                "certificates": rows, "hasCertificates": !rows.isEmpty,
                "clinics": (clinics ?? []).map { ["name": $0.name, "bin": $0.bin] },
                "noClinic": clinics?.isEmpty ?? false,
                "openPath": principal.roles.contains(.clinicDoctor) && !(clinics?.isEmpty ?? true)
                    ? "/\(tenant.slug)/services/\(Self.service)/new" : false,
            ],
            request: request,
            context: context
        )
    }

    /// One certificate for its clinic: the current QR code, every version, the checks, and the
    /// doctor's next steps.
    @Sendable func certificate(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else { return signIn(tenant) }
        let view = try await SickLeaveController(dependencies: dependencies).load(context)
        let language = context.language
        let base = "/\(tenant.slug)/sick-leave/certificates/\(view.instance.uuidString.lowercased())"
        let instance = try await InstanceView.load(
            id: view.instance,
            tenantID: tenant.id,
            principal: principal,
            dependencies: dependencies
        )
        var values = try facts(view, language: language, correction: .medium)
        values["versions"] = view.versions.reversed().map { version -> [String: Any] in
            [
                "number": String(version.version), "status": statusText(version.status, language),
                "end": version.periodEnd, "issued": WorkflowPagesController.format(version.issuedAt),
                "png": "\(base)/versions/\(version.version)/qr.png",
                "svg": "\(base)/versions/\(version.version)/qr.svg",
            ]
        }
        values["checks"] = checkRows(view, language: language)
        values["hasChecks"] = !view.checks.isEmpty
        values["printPath"] = "\(base)/print"
        values["stepsPath"] = "/\(tenant.slug)/instances/\(view.instance.uuidString.lowercased())"
        values["events"] = WorkflowPagesController(dependencies: dependencies)
            .eventForms(instance, slug: tenant.slug.value, language: language)
        values["hasEvents"] = !instance.formEvents.isEmpty
        return dependencies.pages.page(
            "certificate",
            titleKey: "cert_title",
            values: values,
            request: request,
            context: context
        )
    }

    /// What goes on paper: the facts an employer reads and the code at print error correction.
    @Sendable func printable(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard context.principal != nil else { return signIn(tenant) }
        let view = try await SickLeaveController(dependencies: dependencies).load(context)
        return dependencies.pages.page(
            "certificate_print",
            titleKey: "cert_title",
            values: try facts(view, language: context.language, correction: .quartile),
            request: request,
            context: context
        )
    }

    /// The signed-in person's own certificates (matched by the IIN on their account), with
    /// when and by whom each was checked, and the code to show an employer.
    @Sendable func mine(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let principal = context.principal else { return signIn(tenant) }
        try await dependencies.certificateChecks.flush()
        let views = try await CertificateView.ofPatient(
            userID: principal.userID,
            tenantID: tenant.id,
            database: dependencies.database
        )
        let language = context.language
        let rows = try views.map { view -> [String: Any] in
            var row = try facts(view, language: language, correction: .medium)
            row["checks"] = checkRows(view, language: language)
            row["hasChecks"] = !view.checks.isEmpty
            return row
        }
        return dependencies.pages.page(
            "my_certificates",
            titleKey: "my_certificates_title",
            values: ["certificates": rows, "hasCertificates": !rows.isEmpty],
            request: request,
            context: context
        )
    }

    /// The certificate's facts, and the current version's QR code unless it was revoked (a
    /// revoked certificate must not be printed again).
    private func facts(
        _ view: CertificateView,
        language: Language,
        correction: QRCode.Correction
    ) throws -> [String: Any] {
        var values: [String: Any] = [
            "patient": view.patientName, "birth": view.dateOfBirth, "employer": view.employerBIN,
            "clinic": view.clinic, "period": "\(view.periodStart) – \(view.periodEnd)",
            "status": statusText(view.status, language), "revoked": view.status == "revoked",
        ]
        if let current = view.versions.last {
            values["version"] = String(current.version)
            if view.status != "revoked" {
                let link = SickLeaveController(dependencies: dependencies).link(current.token)
                values["qr"] = try QRCode(link, correction: correction)
                    .svg(title: dependencies.pages.locales.text("cert_qr_label", language))
            }
        }
        return values
    }

    private func checkRows(_ view: CertificateView, language: Language) -> [[String: Any]] {
        view.checks.map { check in
            [
                "at": WorkflowPagesController.format(check.at),
                "by": check.by ?? dependencies.pages.locales.text("cert_anonymous", language),
                "version": String(check.version),
                "verdict": dependencies.pages.locales.text("verdict_" + check.verdict, language),
            ]
        }
    }

    private func statusText(_ status: String, _ language: Language) -> String {
        dependencies.pages.locales.text("cert_status_" + status, language)
    }

    private func signIn(_ tenant: Tenant) -> Response {
        Response.redirect(to: "/\(tenant.slug)/login", type: .normal)
    }
}
