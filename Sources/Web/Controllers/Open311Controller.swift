import Core
import Foundation
import HTTPTypes
import Hummingbird
import OpenBudget
import Workflow

/// Citizens' reports through Open311 GeoReport v2 (JSON), so the civic-reporting apps that speak
/// it work with every city: `/open311/{city}/v2/` serves the service list, each service's
/// definition, request creation and queries. A service is a report category; `api_key` is a
/// signed-in person's API token (a resident, parent, employer or auditor), and without one a report needs an e-mail or phone number (where the
/// city takes anonymous reports). `media_url` is not fetched (the server never loads addresses
/// it is handed); files come with a multipart request's `media` parts instead.
struct Open311Controller {
    let dependencies: AppDependencies

    static let categories = ["not_done", "poor_quality", "overpriced", "meals", "other"]

    func register(on router: Router<AppRequestContext>) {
        let group = router.group("open311/:tenant/v2").add(middleware: TenantMiddleware(dependencies: dependencies))
        group.get("discovery.json", use: discovery)
        group.get("services.json", use: services)
        group.get("services/:file", use: service)
        group.get("requests.json", use: requests)
        group.post("requests.json", use: create)
        group.get("requests/:file", use: request)
    }

    static func json(_ value: Any, status: HTTPResponse.Status = .ok) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8", .accessControlAllowOrigin: "*"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    func text(_ key: String, _ context: AppRequestContext) -> String {
        dependencies.pages.locales.text(key, context.language)
    }

    @Sendable func discovery(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        return try Self.json([
            "changeset": "2026-11-22T00:00:00Z", "contact": "Akimat of \(tenant.name[.en])",
            "key_service": "A resident's API token from the city's account page",
            "endpoints": [
                [
                    "specification": "http://wiki.open311.org/GeoReport_v2",
                    "url": "\(dependencies.publicBase)/open311/\(tenant.slug)/v2",
                    "changeset": "2026-11-22T00:00:00Z", "type": "production", "formats": ["application/json"],
                ]
            ],
        ])
    }

    @Sendable func services(request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requireTenant()
        return try Self.json(
            Self.categories.map { code in
                [
                    "service_code": code, "service_name": text("option_category_" + code, context),
                    "description": text("report_category_\(code)_hint", context), "metadata": true, "type": "realtime",
                    "keywords": "budget,discrepancy", "group": text("service_citizen_report", context),
                ] as [String: Any]
            }
        )
    }

    @Sendable func service(request: Request, context: AppRequestContext) async throws -> Response {
        _ = try context.requireTenant()
        let file = context.parameters.get("file") ?? ""
        guard file.hasSuffix(".json"), Self.categories.contains(String(file.dropLast(5))) else {
            throw AdalError.notFound(what: "service")
        }
        return try Self.json([
            "service_code": String(file.dropLast(5)),
            "attributes": [
                [
                    "variable": true, "code": "object_code", "datatype": "string", "required": false, "order": 1,
                    "datatype_description": "The code of the object on the city's open budget map",
                    "description": text("field_object_code", context),
                ] as [String: Any]
            ],
        ])
    }

    // MARK: - Requests

    func row(_ report: CitizenReport, slug: String, context: AppRequestContext) -> [String: Any] {
        var row: [String: Any] = [
            "service_request_id": report.instanceID.uuidString.lowercased(),
            "status": report.closed ? "closed" : "open",
            "service_code": report.category, "service_name": text("option_category_" + report.category, context),
            "description": report.description,
            "agency_responsible": "akimat", "requested_datetime": WorkflowPagesController.iso(report.submittedAt),
            "updated_datetime": WorkflowPagesController.iso(report.updatedAt), "address": report.address,
            "status_notes": report.answer ?? "", "address_id": report.objectCode ?? "",
        ]
        if let latitude = report.latitude, let longitude = report.longitude {
            row["lat"] = latitude
            row["long"] = longitude
        }
        if let due = report.taskDueAt, !report.closed { row["expected_datetime"] = WorkflowPagesController.iso(due) }
        if let first = report.media.first {
            row["media_url"] = "\(dependencies.publicBase)/\(slug)/media/\(first.sha256)"
        }
        return row
    }

    @Sendable func requests(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let query = request.uri.queryParameters
        var filter = ReportStore.Filter(limit: 200)
        if let ids = query["service_request_id"].map(String.init), !ids.isEmpty {
            let parsed = ids.split(separator: ",").prefix(200).map {
                UUID(uuidString: String($0).trimmingCharacters(in: .whitespaces))
            }
            guard parsed.allSatisfy({ $0 != nil }) else {
                throw AdalError.invalidField(field: "service_request_id", reason: "ids separated by commas")
            }
            filter.ids = parsed.compactMap { $0 }
        } else {
            if let codes = query["service_code"].map(String.init), !codes.isEmpty {
                filter.categories = codes.split(separator: ",").map(String.init)
            }
            switch query["status"].map(String.init) {
            case "open"?: filter.open = true
            case "closed"?: filter.open = false
            case nil, ""?, "open,closed"?, "closed,open"?: break
            case let other?: throw AdalError.invalidField(field: "status", reason: "open or closed, not \(other)")
            }
            filter.submittedFrom = try Self.date(query["start_date"].map(String.init), field: "start_date")
            filter.submittedTo = try Self.date(query["end_date"].map(String.init), field: "end_date")
            // Like the standard: without dates, the last 90 days.
            if filter.submittedFrom == nil, filter.submittedTo == nil {
                filter.submittedFrom = Date().addingTimeInterval(-90 * 86_400)
            }
        }
        let reports = try await ReportStore(database: dependencies.database).reports(filter, tenantID: tenant.id)
        return try Self.json(reports.map { row($0, slug: tenant.slug.value, context: context) })
    }

    static func date(_ text: String?, field: String) throws -> Date? {
        guard let text, !text.isEmpty else { return nil }
        let formatter = ISO8601DateFormatter()
        guard let date = formatter.date(from: text) else {
            throw AdalError.invalidField(field: field, reason: "a W3C date-time such as 2026-11-01T00:00:00Z")
        }
        return date
    }

    @Sendable func request(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let file = context.parameters.get("file") ?? ""
        guard file.hasSuffix(".json"), let id = UUID(uuidString: String(file.dropLast(5))),
            let report = try await ReportStore(database: dependencies.database).reports(
                ReportStore.Filter(ids: [id], limit: 1),
                tenantID: tenant.id
            ).first
        else { throw AdalError.notFound(what: "service request") }
        return try Self.json([row(report, slug: tenant.slug.value, context: context)])
    }

    /// A new report from the form fields GeoReport v2 defines (URL-encoded), or a multipart
    /// request with the same fields and `media` files.
    @Sendable func create(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        var files: [(name: String, claimedType: String?, content: [UInt8])] = []
        let field: (String) -> String?
        if MultipartForm.boundary(contentType: request.headers[.contentType]) != nil {
            let form = try await MultipartForm.read(request, limit: UploadRoutes.maximumMediaRequestBytes)
            files = form.files("media").map { ($0.filename ?? "file", $0.contentType, $0.content) }
            field = { form[$0] }
        } else {
            let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
            field = { form[$0] }
        }
        func text(_ name: String) -> String? {
            field(name).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        guard let code = text("service_code") else {
            throw AdalError.invalidField(field: "service_code", reason: "required; see services.json")
        }
        guard Self.categories.contains(code) else {
            throw AdalError.invalidField(
                field: "service_code",
                reason: "one of " + Self.categories.joined(separator: ", ")
            )
        }
        guard text("lat") != nil || text("address_string") != nil || text("attribute[object_code]") != nil else {
            throw AdalError.invalidField(
                field: "lat",
                reason: "a location: lat and long, address_string, or attribute[object_code]"
            )
        }
        var principal: Principal?
        if let key = text("api_key") {
            guard let found = try await dependencies.accounts.principal(apiToken: key, tenantID: tenant.id) else {
                throw AdalError.unauthenticated
            }
            try found.require(anyOf: CitizenReportService.reporterRoles)
            principal = found
        }
        let name = [text("first_name"), text("last_name")].compactMap { $0 }.joined(separator: " ")
        let contact = [name, text("email") ?? "", text("phone") ?? ""].filter { !$0.isEmpty }.joined(separator: ", ")
        var submission = CitizenReportsController.Submission(
            objectCode: text("attribute[object_code]"),
            category: code,
            description: field("description") ?? "",
            latitude: text("lat"),
            longitude: text("long"),
            address: text("address_string"),
            contact: principal == nil ? contact : "",
            key: nil
        )
        submission.files = files
        let (result, _) = try await CitizenReportsController(dependencies: dependencies).submit(
            submission,
            principal: principal,
            address: context.remoteAddress,
            tenantID: tenant.id
        )
        return try Self.json([
            [
                "service_request_id": result.instanceID.uuidString.lowercased(),
                "service_notice": self.text("report_notice", context), "account_id": NSNull(),
            ] as [String: Any]
        ])
    }
}
