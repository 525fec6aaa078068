import Core
import Foundation
import HTTPTypes
import Hummingbird
import OpenBudget
import Workflow

/// The open budget over HTTP: objects with planned and spent (public JSON), the city's CSV
/// import and district outlines (akimat), spending entries with their documents (each a
/// recorded step), the open-data files with their data package descriptor, and stored media.
struct OpenBudgetController {
    let dependencies: AppDependencies

    var store: BudgetStore { BudgetStore(database: dependencies.database) }

    func register(on router: Router<AppRequestContext>) {
        let reading = router.group("api/:tenant/budget").add(middleware: TenantMiddleware(dependencies: dependencies))
        reading.get("objects", use: objects)
        reading.get("objects/:code", use: object)
        let group = router.group("api/:tenant/budget").add(middleware: APITokenMiddleware(dependencies: dependencies))
        group.post("import", use: importFile)
        group.put("districts", use: saveDistricts)
        group.post("spending", use: recordSpending)
        let open = router.group(":tenant").add(middleware: TenantMiddleware(dependencies: dependencies))
        open.get("open-data/\(BudgetExport.csvName)", use: exportCSV)
        open.get("open-data/\(BudgetExport.jsonName)", use: exportJSON)
        open.get("open-data/datapackage.json", use: descriptor)
        open.get("media/:sha256", use: media)
    }

    // MARK: - Shapes

    struct ObjectRow: Codable {
        var code: String
        var kind: String
        var name: String
        var organisationBIN: String
        var organisationName: String
        var district: String
        var address: String
        var latitude: Double
        var longitude: Double
        /// Tiyn.
        var planned: Int64
        var spent: Int64
        var openReports: Int
    }

    struct ObjectsResponse: ResponseEncodable {
        var year: Int?
        var objects: [ObjectRow]
    }

    struct LineRow: Codable {
        var year: Int
        var category: String
        var planned: Int64
        var spent: Int64
    }

    struct EntryRow: Codable {
        var instance: UUID
        var sequence: Int64
        var service: String
        var year: Int
        var category: String
        var amount: Int64
        var source: String
        var description: String
        var document: String?
        var recordedAt: Date
        var withdrawn: Bool
    }

    struct ObjectResponse: ResponseEncodable {
        var object: ObjectRow
        var lines: [LineRow]
        var spending: [EntryRow]
    }

    struct DistrictsResponse: ResponseEncodable {
        var districts: [String]
    }

    struct SpendingResponse: ResponseEncodable {
        var instance: UUID
        var document: String
        var replayed: Bool
    }

    // MARK: - Reading

    /// The filter from `?kind=&district=&year=`; an unknown kind or a bad year names itself.
    static func filter(_ request: Request) throws -> BudgetStore.Filter {
        let query = request.uri.queryParameters
        var filter = BudgetStore.Filter()
        if let kind = query["kind"].map(String.init), !kind.isEmpty {
            guard let parsed = ObjectKind(rawValue: kind) else {
                throw AdalError.invalidField(
                    field: "kind",
                    reason: "one of " + ObjectKind.allCases.map(\.rawValue).joined(separator: ", ")
                )
            }
            filter.kind = parsed
        }
        if let district = query["district"].map(String.init), !district.isEmpty {
            filter.district = String(district.prefix(100))
        }
        if let year = query["year"].map(String.init), !year.isEmpty {
            guard let parsed = Int(year), (2000...2100).contains(parsed) else {
                throw AdalError.invalidField(field: "year", reason: "a year from 2000 to 2100")
            }
            filter.year = parsed
        }
        return filter
    }

    static func row(_ totals: BudgetStore.ObjectTotals) -> ObjectRow {
        let object = totals.object
        return ObjectRow(
            code: object.code,
            kind: object.kind.rawValue,
            name: object.name,
            organisationBIN: object.organisationBIN,
            organisationName: object.organisationName,
            district: object.district,
            address: object.address,
            latitude: object.latitude,
            longitude: object.longitude,
            planned: totals.planned,
            spent: totals.spent,
            openReports: totals.openReports
        )
    }

    @Sendable func objects(request: Request, context: AppRequestContext) async throws -> ObjectsResponse {
        let tenant = try context.requireTenant()
        let filter = try Self.filter(request)
        let objects = try await store.objects(filter, tenantID: tenant.id)
        return ObjectsResponse(year: filter.year, objects: objects.map(Self.row))
    }

    @Sendable func object(request: Request, context: AppRequestContext) async throws -> ObjectResponse {
        let tenant = try context.requireTenant()
        let code = context.parameters.get("code") ?? ""
        guard BudgetObject.isCode(code), let detail = try await store.object(code, tenantID: tenant.id) else {
            throw AdalError.notFound(what: "object")
        }
        let totals = BudgetStore.ObjectTotals(
            object: detail.object,
            planned: detail.lines.reduce(0) { $0 + $1.planned },
            spent: detail.lines.reduce(0) { $0 + $1.spent },
            openReports: 0
        )
        return ObjectResponse(
            object: Self.row(totals),
            lines: detail.lines.map {
                LineRow(year: $0.year, category: $0.category.rawValue, planned: $0.planned, spent: $0.spent)
            },
            spending: detail.spending.map {
                EntryRow(
                    instance: $0.instanceID,
                    sequence: $0.sequence,
                    service: $0.service,
                    year: $0.year,
                    category: $0.category.rawValue,
                    amount: $0.amount,
                    source: $0.source.rawValue,
                    description: $0.description,
                    document: $0.document,
                    recordedAt: $0.recordedAt,
                    withdrawn: $0.withdrawn
                )
            }
        )
    }

    // MARK: - The akimat's data

    /// The body is the CSV file. 200 with the report when imported; 422 with every problem when
    /// not (nothing written).
    @Sendable func importFile(
        request: Request,
        context: AppRequestContext
    ) async throws -> EditedResponse<BudgetCSV.Report> {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let body = try await request.readBody(limit: BudgetCSV.maximumBytes)
        let report = try await BudgetCSV.importFile(
            Array(buffer: body),
            tenantID: tenant.id,
            database: dependencies.database
        )
        return EditedResponse(status: report.imported ? .ok : .unprocessableContent, response: report)
    }

    /// The body is a GeoJSON FeatureCollection of districts (name in `properties.name`).
    @Sendable func saveDistricts(request: Request, context: AppRequestContext) async throws -> DistrictsResponse {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let body = try await request.readBody(limit: District.maximumBytes)
        let districts = try District.collection(Array(buffer: body))
        try await store.saveDistricts(districts, tenantID: tenant.id)
        return DistrictsResponse(districts: districts.map(\.name))
    }

    /// A spending entry: a multipart form with `object_code`, `year`, `category`, `amount`
    /// (tenge), `description` and the `document` file; one recorded step.
    @Sendable func recordSpending(
        request: Request,
        context: AppRequestContext
    ) async throws -> EditedResponse<SpendingResponse> {
        let (tenant, principal) = try context.authorised([.akimatAdmin])
        let form = try await MultipartForm.read(request, limit: MediaFile.maximumBytes(.pdf) + 64 * 1024)
        let (result, document) = try await spend(form: form, tenantID: tenant.id, principal: principal)
        return EditedResponse(
            status: result.replayed ? .ok : .created,
            response: SpendingResponse(instance: result.instanceID, document: document, replayed: result.replayed)
        )
    }

    func spend(form: MultipartForm, tenantID: UUID, principal: Principal) async throws -> (StepResult, String) {
        guard let part = form.files("document").first else {
            throw AdalError.invalidField(field: "document", reason: "the document (PDF, JPEG or PNG) is missing")
        }
        let file = try MediaFile.checked(
            part.content,
            claimedType: part.contentType,
            allowed: MediaFile.documentTypes,
            field: "document"
        )
        guard let amount = form["amount"].flatMap(Tenge.tiyn(from:)) else {
            throw AdalError.invalidField(field: "amount", reason: "an amount in tenge, such as 1250000 or 1250000,50")
        }
        guard let year = form["year"].flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) else {
            throw AdalError.invalidField(field: "year", reason: "a year such as 2026")
        }
        let input: [String: InputValue] = [
            "object_code": .string(form["object_code"] ?? ""), "year": .integer(year),
            "category": .string(form["category"] ?? ""), "amount": .integer(amount),
            "description": .string(form["description"] ?? ""),
            "document": Self.describe(file, name: part.filename ?? "document"),
        ]
        let result = try await dependencies.workflows.start(
            tenantID: tenantID,
            service: OpenBudgetService.key,
            actor: StepActor(id: principal.userID, roles: principal.roles),
            input: input,
            idempotencyKey: form["_key"].flatMap { $0.isEmpty ? nil : $0 },
            attachment: file.content
        )
        return (result, file.sha256Hex)
    }

    /// A file field's value: what the recorded step says of the file.
    static func describe(_ file: MediaFile, name: String) -> InputValue {
        let plain = String(
            name.unicodeScalars.filter { $0.properties.generalCategory != .control && $0 != "/" && $0 != "\\" }.prefix(
                200
            )
        )
        return .object([
            "name": .string(plain.isEmpty ? "file" : plain), "media_type": .string(file.mediaType.rawValue),
            "size": .integer(Int64(file.content.count)), "sha256": .string(file.sha256Hex),
        ])
    }

    // MARK: - Open data

    func exportRows(_ context: AppRequestContext) async throws -> [BudgetExport.Row] {
        try await store.lines(tenantID: try context.requireTenant().id)
    }

    static func openData(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = "public, max-age=300"
        headers[.accessControlAllowOrigin] = "*"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    @Sendable func exportCSV(request: Request, context: AppRequestContext) async throws -> Response {
        Self.openData(BudgetExport.csv(try await exportRows(context)), type: "text/csv; charset=utf-8")
    }

    @Sendable func exportJSON(request: Request, context: AppRequestContext) async throws -> Response {
        Self.openData(BudgetExport.json(try await exportRows(context)), type: "application/json")
    }

    @Sendable func descriptor(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let descriptor = BudgetExport.descriptor(city: tenant.slug.value, cityName: tenant.name[.en])
        let data = try JSONSerialization.data(withJSONObject: descriptor, options: [.prettyPrinted, .sortedKeys])
        return Self.openData(String(decoding: data, as: UTF8.self), type: "application/json")
    }

    // MARK: - Media

    /// A stored photo, video or document by its SHA-256: the checked type, no sniffing, and a
    /// policy under which nothing in it can run. Content-addressed, so cached for good.
    @Sendable func media(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let hex = (context.parameters.get("sha256") ?? "").lowercased()
        guard let file = try await MediaStore.load(hex, tenantID: tenant.id, database: dependencies.database) else {
            throw AdalError.notFound(what: "file")
        }
        var headers: HTTPFields = [
            .contentType: file.mediaType.rawValue, .cacheControl: "public, max-age=31536000, immutable",
            .contentDisposition: file.mediaType == .pdf ? "attachment; filename=\"\(hex.prefix(16)).pdf\"" : "inline",
        ]
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
        headers[.contentSecurityPolicy] = "default-src 'none'; sandbox"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: file.content)))
    }
}

extension BudgetCSV.Report: ResponseEncodable {}
