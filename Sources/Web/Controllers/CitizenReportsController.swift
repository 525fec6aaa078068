import Core
import Foundation
import HTTPTypes
import Hummingbird
import OpenBudget
import Workflow

/// Citizens' reports over JSON: submitted with text and up to five photos or videos (signed in
/// in with a token as a resident, parent, employer or auditor, or anonymously with a contact where the city allows it), and read
/// by anyone — the report, its state, the answer, never the reporter.
struct CitizenReportsController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let open = router.group("api/:tenant").add(middleware: TenantMiddleware(dependencies: dependencies))
        open.get("reports", use: list)
        open.get("reports/:id", use: detail)
        let submitting = router.group("api/:tenant").add(
            middleware: APITokenMiddleware(dependencies: dependencies, optional: true)
        )
        submitting.post("reports", use: submit)
    }

    // MARK: - Shapes

    struct ReportRow: ResponseEncodable {
        var id: UUID
        var objectCode: String?
        var objectName: String?
        var category: String
        var description: String
        var latitude: Double?
        var longitude: Double?
        var address: String
        var state: String
        var closed: Bool
        var verdict: String?
        var answer: String?
        var submittedAt: Date
        var answeredAt: Date?
        var updatedAt: Date
        var dueAt: Date?
        var media: [String]
    }

    struct ReportsResponse: ResponseEncodable {
        var reports: [ReportRow]
    }

    struct Submitted: ResponseEncodable {
        var id: UUID
        var state: String
        var media: [String]
        var replayed: Bool
    }

    /// What someone hands in: the fields of the report and its files.
    struct Submission {
        var objectCode: String?
        var category: String
        var description: String
        var latitude: String?
        var longitude: String?
        var address: String?
        var contact: String
        var files: [(name: String, claimedType: String?, content: [UInt8])]
        var key: String?

        init(form: MultipartForm) {
            func text(_ name: String) -> String? {
                form[name].map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
            }
            objectCode = text("object_code")
            category = text("category") ?? "other"
            description = form["description"] ?? ""
            latitude = text("latitude")
            longitude = text("longitude")
            address = text("address")
            contact = text("contact") ?? ""
            files = form.files("media").map { ($0.filename ?? "file", $0.contentType, $0.content) }
            key = text("_key")
        }

        init(
            objectCode: String?,
            category: String,
            description: String,
            latitude: String?,
            longitude: String?,
            address: String?,
            contact: String,
            key: String?
        ) {
            self.objectCode = objectCode
            self.category = category
            self.description = description
            self.latitude = latitude
            self.longitude = longitude
            self.address = address
            self.contact = contact
            self.files = []
            self.key = key
        }
    }

    // MARK: - Submitting

    @Sendable func submit(request: Request, context: AppRequestContext) async throws -> EditedResponse<Submitted> {
        let tenant = try context.requireTenant()
        if let principal = context.principal { try principal.require(anyOf: CitizenReportService.reporterRoles) }
        let form = try await MultipartForm.read(request, limit: UploadRoutes.maximumMediaRequestBytes)
        let (result, media) = try await submit(
            Submission(form: form),
            principal: context.principal,
            address: context.remoteAddress,
            tenantID: tenant.id
        )
        return EditedResponse(
            status: result.replayed ? .ok : .created,
            response: Submitted(id: result.instanceID, state: result.toState, media: media, replayed: result.replayed)
        )
    }

    /// Checks and cleans the files, then starts the report: one step that stores the report,
    /// its files and the sealed contact, or nothing. A signed-in person reports as themselves; anyone
    /// else as the system on their behalf, with a contact.
    func submit(
        _ submission: Submission,
        principal: Principal?,
        address: String,
        tenantID: UUID
    ) async throws -> (StepResult, [String]) {
        guard submission.files.count <= MediaFile.maximumPerReport else {
            throw AdalError.invalidField(field: "media", reason: "at most \(MediaFile.maximumPerReport) files")
        }
        let files = try submission.files.enumerated().map { index, part in
            (
                part.name,
                try MediaFile.checked(
                    part.content,
                    claimedType: part.claimedType,
                    allowed: MediaFile.reportTypes,
                    field: "media[\(index)] (\(String(part.name.prefix(60))))"
                )
            )
        }
        guard submission.contact.count <= CitizenReportService.maximumContact else {
            throw AdalError.invalidField(
                field: "contact",
                reason: "at most \(CitizenReportService.maximumContact) characters"
            )
        }
        var input: [String: InputValue] = [
            "category": .string(submission.category), "description": .string(submission.description),
        ]
        input["object_code"] = submission.objectCode.map(InputValue.string)
        input["latitude"] = submission.latitude.map(InputValue.string)
        input["longitude"] = submission.longitude.map(InputValue.string)
        input["address"] = submission.address.map(InputValue.string)
        for (index, (name, file)) in files.enumerated() {
            input[CitizenReportService.fileFields[index]] = OpenBudgetController.describe(file, name: name)
        }
        let actor: StepActor
        if let principal {
            actor = StepActor(id: principal.userID, roles: principal.roles)
        } else {
            guard !submission.contact.isEmpty else {
                throw AdalError.invalidField(
                    field: "contact",
                    reason: "sign in, or leave an e-mail or phone number so the answer can reach you"
                )
            }
            try dependencies.mediaGate.countAnonymous(from: address)
            actor = .system
        }
        let result = try await dependencies.workflows.start(
            tenantID: tenantID,
            service: CitizenReportService.key,
            actor: actor,
            input: input,
            idempotencyKey: submission.key,
            attachment: AttachmentBundle.encode([Array(submission.contact.utf8)] + files.map(\.1.content))
        )
        return (result, files.map(\.1.sha256Hex))
    }

    // MARK: - Reading

    static func row(_ report: CitizenReport) -> ReportRow {
        ReportRow(
            id: report.instanceID,
            objectCode: report.objectCode,
            objectName: report.objectName,
            category: report.category,
            description: report.description,
            latitude: report.latitude,
            longitude: report.longitude,
            address: report.address,
            state: report.state,
            closed: report.closed,
            verdict: report.verdict,
            answer: report.answer,
            submittedAt: report.submittedAt,
            answeredAt: report.answeredAt,
            updatedAt: report.updatedAt,
            dueAt: report.taskDueAt,
            media: report.media.map(\.sha256)
        )
    }

    @Sendable func list(request: Request, context: AppRequestContext) async throws -> ReportsResponse {
        let tenant = try context.requireTenant()
        let query = request.uri.queryParameters
        var filter = ReportStore.Filter()
        filter.objectCode = query["object"].map(String.init).flatMap { BudgetObject.isCode($0) ? $0 : nil }
        switch query["status"].map(String.init) {
        case "open": filter.open = true
        case "closed": filter.open = false
        default: break
        }
        let reports = try await ReportStore(database: dependencies.database).reports(filter, tenantID: tenant.id)
        return ReportsResponse(reports: reports.map(Self.row))
    }

    @Sendable func detail(request: Request, context: AppRequestContext) async throws -> ReportRow {
        let tenant = try context.requireTenant()
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)),
            let report = try await ReportStore(database: dependencies.database).reports(
                ReportStore.Filter(ids: [id], limit: 1),
                tenantID: tenant.id
            ).first
        else { throw AdalError.notFound(what: "report") }
        return Self.row(report)
    }
}
