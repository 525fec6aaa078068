import Core
import Foundation
import HTTPTypes
import Hummingbird
import MealTenders
import PostgresNIO
import Storage
import Workflow

/// School-meal competitions over JSON: the public list and detail (bids only once opened, marks
/// only once an award is proposed), documents, the suppliers' registration and sealed bids, and
/// the city's open contracting data (OCDS release and record packages). The other steps go
/// through the generic instance API.
struct CompetitionsController {
    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        let open = router.group("api/:tenant").add(middleware: TenantMiddleware(dependencies: dependencies))
        open.get("meal-competitions", use: list)
        open.get("meal-competitions/:id", use: detail)
        open.get("meal-competitions/:id/bids/:number/documents/:position", use: bidDocument)
        open.get("suppliers/:bin/documents/:sha256", use: supplierDocument)
        let ocds = router.group(":tenant/ocds").add(middleware: TenantMiddleware(dependencies: dependencies))
        ocds.get("releases", use: releases)
        ocds.get("records/:ocid", use: record)
        let signed = router.group("api/:tenant").add(middleware: APITokenMiddleware(dependencies: dependencies))
        signed.post("suppliers", use: registerSupplier)
        signed.post("meal-competitions/:id/bids", use: submitBid)
        signed.get("meal-competitions/:id/my-bid", use: myBid)
    }

    // MARK: - Shapes

    struct DocumentUpload: Decodable {
        var kind: String?
        var name: String
        var mediaType: String?
        /// The file, base64.
        var content: String

        func document(field: String) throws -> Document {
            guard let bytes = Data(base64Encoded: content) else {
                throw AdalError.invalidField(field: field, reason: "content must be base64")
            }
            return try Document.checked(name: name, claimedType: mediaType, content: Array(bytes), field: field)
        }
    }

    struct SupplierRequest: Decodable {
        var bin: String
        var name: String
        var documents: [DocumentUpload]?
    }

    struct BidRequest: Decodable {
        /// Tiyn, a whole number.
        var pricePerMeal: Int64
        var claims: BidClaims
        var documents: [DocumentUpload]?
    }

    struct BidReceipt: ResponseEncodable {
        var instance: UUID
        var sequence: Int64
        var commitment: String
        var replayed: Bool
    }

    struct MyBid: ResponseEncodable {
        var number: Int
        var round: Int
        var commitment: String
        var submittedAt: Date
        var opened: Bool
    }

    struct Summary: Codable {
        var id: UUID
        var ocid: String
        var title: String
        var state: String
        var ceilingPrice: Int64
        var ceilingValue: Int64
        var bidDeadline: Date?
        var awardSupplier: String?
        var awardPrice: Int64?
        var flags: [String]
    }

    struct ListResponse: ResponseEncodable {
        var competitions: [Summary]
    }

    struct SchoolBody: Codable {
        var bin: String
        var name: String
        var pupilsGrades1to4: Int
        var pupilsGrades5to9: Int
        var pupilsGrades10to11: Int
    }

    struct MemberBody: Codable {
        var id: UUID
        var name: String
        var seat: String
    }

    struct BidBody: Codable {
        var number: Int
        var round: Int
        var supplierBIN: String
        var supplierName: String
        var commitment: String
        var submittedAt: Date
        var matchesCommitment: Bool?
        var pricePerMeal: Int64?
        var conditionalPrice: Int64?
        var discountBasisPoints: Int64?
        var rank: Int?
        var claims: BidClaims?
        var documents: [DocumentBody]
    }

    struct DocumentBody: Codable {
        var position: Int
        var name: String
        var mediaType: String
        var size: Int
        var sha256: String
        var url: String
    }

    struct MarksBody: Codable {
        var bid: Int
        var member: String
        /// One mark 0–10 per criterion, by criterion name.
        var marks: [String: Int]
    }

    struct FlagBody: Codable {
        var code: String
        var detail: String
    }

    struct StepBody: Codable {
        var sequence: Int64
        var event: String
        var to: String
        var actorRole: String
        var at: Date
        var leafIndex: Int64?
        var input: InputValue
    }

    struct DetailResponse: ResponseEncodable {
        var id: UUID
        var ocid: String
        var title: String
        var state: String
        var buyer: String
        var buyerBIN: String
        var ceilingPrice: Int64
        var ceilingValue: Int64
        var totalMeals: Int64
        var schoolDays: Int
        var mealsPerDay: Int
        var periodStart: String
        var periodEnd: String
        var round: Int
        var announcedAt: Date?
        var bidDeadline: Date?
        var openedAt: Date?
        /// Sealed until the deadline: null before the bids are opened.
        var bids: [BidBody]?
        var schools: [SchoolBody]
        var commission: [MemberBody]
        /// Public once an award is proposed.
        var marks: [MarksBody]?
        var awardSupplierBIN: String?
        var awardSupplier: String?
        var awardPrice: Int64?
        var complaintsUntil: Date?
        var contractNumber: String?
        var contractSignedAt: Date?
        var contractValue: Int64?
        var deliveries: [DeliveryBody]
        var flags: [FlagBody]
        var steps: [StepBody]
    }

    struct DeliveryBody: Codable {
        var month: String
        var meals: Int
        var amount: Int64
    }

    // MARK: - Public

    /// The competition with its flags, for pages and the API alike.
    func load(_ id: UUID, tenantID: UUID) async throws -> (Competition, [RedFlag]) {
        guard let found = try await flagged(tenantID: tenantID, ids: { _ in [id] }).first else {
            throw AdalError.notFound(what: "competition")
        }
        return found
    }

    /// The city's competitions (newest first, at most ``CompetitionStore/pageSize``) with their flags.
    func competitions(tenantID: UUID) async throws -> [(Competition, [RedFlag])] {
        let logger = dependencies.database.logger
        return try await flagged(tenantID: tenantID) { connection in
            try await CompetitionStore.list(tenantID: tenantID, on: connection, logger: logger)
        }
    }

    /// Competitions and their flags in one transaction; the city's awards, which the flags
    /// compare each winner with, are read once.
    private func flagged(
        tenantID: UUID,
        ids: @escaping @Sendable (PostgresConnection) async throws -> [UUID]
    ) async throws -> [(Competition, [RedFlag])] {
        let logger = dependencies.database.logger
        let standard = dependencies.workflows.registry.latest(CompetitionService.key)?.parameter("bid_window").flatMap {
            if case .duration(let window) = $0.defaultValue { return window }
            return nil
        }
        return try await dependencies.database.withTenant(tenantID) { connection in
            let awards = try await CompetitionStore.awardsBySupplier(tenantID: tenantID, on: connection, logger: logger)
            var found: [(Competition, [RedFlag])] = []
            for id in try await ids(connection) {
                guard
                    let competition = try await CompetitionStore.load(
                        id,
                        tenantID: tenantID,
                        on: connection,
                        logger: logger
                    )
                else { continue }
                found.append(
                    (competition, RedFlags.of(competition, awardsBySupplier: awards, standardWindow: standard))
                )
            }
            return found
        }
    }

    @Sendable func list(request: Request, context: AppRequestContext) async throws -> ListResponse {
        let tenant = try context.requireTenant()
        return ListResponse(
            competitions: try await competitions(tenantID: tenant.id).map { competition, flags in
                Summary(
                    id: competition.instanceID,
                    ocid: competition.ocid,
                    title: competition.title,
                    state: competition.state,
                    ceilingPrice: competition.ceilingPrice,
                    ceilingValue: competition.ceilingValue,
                    bidDeadline: competition.bidDeadline,
                    awardSupplier: competition.awardSupplierBIN.flatMap { competition.supplierNames[$0] },
                    awardPrice: competition.awardPrice,
                    flags: flags.map(\.code)
                )
            }
        )
    }

    func competitionID(_ context: AppRequestContext) throws -> UUID {
        guard let id = context.parameters.get("id").flatMap(UUID.init(uuidString:)) else {
            throw AdalError.notFound(what: "competition")
        }
        return id
    }

    @Sendable func detail(request: Request, context: AppRequestContext) async throws -> DetailResponse {
        let tenant = try context.requireTenant()
        let (competition, flags) = try await load(try competitionID(context), tenantID: tenant.id)
        let steps = try await WorkflowQueries(database: dependencies.database).steps(
            of: competition.instanceID,
            tenantID: tenant.id
        )
        return Self.detail(
            competition,
            flags: flags,
            steps: steps,
            tenant: tenant,
            definitions: dependencies.workflows.registry
        )
    }

    /// Everything the public may see of a competition.
    static func detail(
        _ c: Competition,
        flags: [RedFlag],
        steps: [StepRecord],
        tenant: Tenant,
        definitions: WorkflowRegistry
    ) -> DetailResponse {
        let ranking = c.awardedAt == nil && c.withdrawnAwards.isEmpty ? nil : ranking(c, definitions: definitions)
        let members = Dictionary(uniqueKeysWithValues: c.members.map { ($0.userID, $0.name) })
        return DetailResponse(
            id: c.instanceID,
            ocid: c.ocid,
            title: c.title,
            state: c.state,
            buyer: c.buyerName,
            buyerBIN: c.buyerBIN,
            ceilingPrice: c.ceilingPrice,
            ceilingValue: c.ceilingValue,
            totalMeals: c.totalMeals,
            schoolDays: c.schoolDays,
            mealsPerDay: c.mealsPerDay,
            periodStart: c.periodStart,
            periodEnd: c.periodEnd,
            round: c.round,
            announcedAt: c.announcedAt,
            bidDeadline: c.bidDeadline,
            openedAt: c.openedAt,
            bids: c.bidsAreOpen
                ? c.bids.filter { $0.openedAt != nil }.map { bid in
                    let place = ranking?.ranked.firstIndex { $0.bid == bid.number }
                    return BidBody(
                        number: bid.number,
                        round: bid.round,
                        supplierBIN: bid.supplierBIN,
                        supplierName: bid.supplierName,
                        commitment: bid.commitment,
                        submittedAt: bid.submittedAt,
                        matchesCommitment: bid.matchesCommitment,
                        pricePerMeal: bid.pricePerMeal,
                        conditionalPrice: place.map { ranking!.ranked[$0].conditionalPrice },
                        discountBasisPoints: place.map { ranking!.ranked[$0].discount },
                        rank: place.map { $0 + 1 },
                        claims: bid.claims,
                        documents: bid.documents.map {
                            DocumentBody(
                                position: $0.position,
                                name: $0.name,
                                mediaType: $0.mediaType,
                                size: $0.size,
                                sha256: $0.sha256,
                                url:
                                    "/api/\(tenant.slug)/meal-competitions/\(c.instanceID)/bids/\(bid.number)/documents/\($0.position)"
                            )
                        }
                    )
                } : nil,
            schools: c.schools.map {
                SchoolBody(
                    bin: $0.bin,
                    name: $0.name,
                    pupilsGrades1to4: $0.pupils.grades1to4,
                    pupilsGrades5to9: $0.pupils.grades5to9,
                    pupilsGrades10to11: $0.pupils.grades10to11
                )
            },
            commission: c.members.map { MemberBody(id: $0.userID, name: $0.name, seat: $0.seat) },
            marks: ranking == nil
                ? nil
                : c.marks.map { mark in
                    MarksBody(
                        bid: mark.bid,
                        member: members[mark.member] ?? "",
                        marks: Dictionary(uniqueKeysWithValues: zip(Criterion.allCases.map(\.rawValue), mark.values))
                    )
                },
            awardSupplierBIN: c.awardSupplierBIN,
            awardSupplier: c.awardSupplierBIN.flatMap { c.supplierNames[$0] },
            awardPrice: c.awardPrice,
            complaintsUntil: c.complaintsUntil,
            contractNumber: c.contractNumber,
            contractSignedAt: c.contractSignedAt,
            contractValue: c.contractSignedAt == nil ? nil : c.contractValue,
            deliveries: c.deliveries.map { DeliveryBody(month: $0.month, meals: $0.meals, amount: $0.amount) },
            flags: flags.map { FlagBody(code: $0.code, detail: $0.detail) },
            steps: ServicePages.shown(steps, service: CompetitionService.key, state: c.state).map { step in
                StepBody(
                    sequence: step.sequence,
                    event: step.event,
                    to: step.toState,
                    actorRole: step.actorRole,
                    at: step.at,
                    leafIndex: step.leafIndex,
                    input: publicInput(step.input)
                )
            }
        )
    }

    /// A step's input as the public sees it: people's IINs are left out (their hashes are in the
    /// audit leaf).
    static func publicInput(_ input: InputValue) -> InputValue {
        guard case .object(var fields) = input else { return input }
        for key in fields.keys where key.hasSuffix("iin") { fields[key] = .string("hidden") }
        return .object(fields)
    }

    /// The ranking by the competition's frozen parameters.
    static func ranking(_ c: Competition, definitions: WorkflowRegistry) -> Ranking {
        Ranking(
            bids: c.currentBids.filter(\.isValid).map { ($0.number, $0.pricePerMeal ?? 0, $0.sequence) },
            marks: c.marks.filter { mark in c.currentBids.contains { $0.number == mark.bid } },
            members: c.members.count,
            discounts: Criterion.allCases.map { criterion in c.parameters["discount_" + criterion.rawValue] ?? 0 }
        )
    }

    @Sendable func bidDocument(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let id = try competitionID(context)
        guard let number = context.parameters.get("number").flatMap(Int32.init),
            let position = context.parameters.get("position").flatMap(Int32.init)
        else { throw AdalError.notFound(what: "document") }
        let logger = dependencies.database.logger
        let found = try await dependencies.database.withTenant(tenant.id) { connection -> (String, String, Data)? in
            // Documents exist only for opened bids: a sealed bid's are inside its sealed bytes.
            for try await row in try await connection.query(
                """
                SELECT name, media_type, content FROM meal_bid_documents
                WHERE tenant_id = \(tenant.id) AND instance_id = \(id) AND bid_number = \(number) AND position = \(position)
                """,
                logger: logger
            ).decode((String, String, Data).self) {
                return row
            }
            return nil
        }
        guard let (name, type, content) = found else { throw AdalError.notFound(what: "document") }
        return Self.file(name: name, mediaType: type, content: content)
    }

    @Sendable func supplierDocument(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let bin = context.parameters.get("bin"),
            let hash = context.parameters.get("sha256").flatMap(BidContent.unhex), hash.count == 32
        else { throw AdalError.notFound(what: "document") }
        let logger = dependencies.database.logger
        let found = try await dependencies.database.withTenant(tenant.id) { connection -> (String, String, Data)? in
            for try await row in try await connection.query(
                """
                SELECT name, media_type, content FROM meal_supplier_documents
                WHERE tenant_id = \(tenant.id) AND bin = \(bin) AND sha256 = \(Data(hash))
                """,
                logger: logger
            ).decode((String, String, Data).self) {
                return row
            }
            return nil
        }
        guard let (name, type, content) = found else { throw AdalError.notFound(what: "document") }
        return Self.file(name: name, mediaType: type, content: content)
    }

    /// A stored document, served so that a browser never runs it: its checked type, no sniffing,
    /// as an attachment, under a policy that allows nothing active.
    static func file(name: String, mediaType: String, content: Data) -> Response {
        let ascii = String(
            name.unicodeScalars.map { $0.isASCII && $0 != "\"" && $0.value >= 0x20 ? Character($0) : "_" }
        )
        var headers: HTTPFields = [
            .contentType: mediaType, .contentDisposition: "attachment; filename=\"\(ascii)\"",
            .cacheControl: "public, max-age=86400, immutable",
        ]
        headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        headers[.contentSecurityPolicy] = "default-src 'none'; sandbox"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: content)))
    }

    // MARK: - Suppliers and bids

    @Sendable func registerSupplier(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try context.authorised([.supplier])
        let body = try await request.readBody(limit: dependencies.maximumUploadBodyBytes)
        let supplier = try Self.decode(SupplierRequest.self, body)
        let documents = try (supplier.documents ?? []).enumerated().map { index, upload in
            (kind: upload.kind ?? "other", document: try upload.document(field: "documents[\(index)]"))
        }
        guard documents.count <= Suppliers.maximumDocuments else {
            throw AdalError.invalidField(field: "documents", reason: "at most \(Suppliers.maximumDocuments)")
        }
        try await dependencies.suppliers.register(
            tenantID: tenant.id,
            userID: principal.userID,
            bin: supplier.bin,
            name: supplier.name,
            documents: documents
        )
        return Response(status: .created)
    }

    @Sendable func submitBid(request: Request, context: AppRequestContext) async throws -> EditedResponse<BidReceipt> {
        let (tenant, principal) = try context.authorised([.supplier])
        let id = try competitionID(context)
        let body = try await request.readBody(limit: dependencies.maximumUploadBodyBytes)
        let bid = try Self.decode(BidRequest.self, body)
        let documents = try (bid.documents ?? []).enumerated().map { index, upload in
            try upload.document(field: "documents[\(index)]")
        }
        let (result, content) = try await submit(
            price: bid.pricePerMeal,
            claims: bid.claims,
            documents: documents,
            competition: id,
            key: request.headers[WorkflowAPIController.idempotencyKey],
            tenant: tenant,
            principal: principal
        )
        return EditedResponse(
            status: result.replayed ? .ok : .created,
            response: BidReceipt(
                instance: id,
                sequence: result.sequence,
                commitment: content.commitment,
                replayed: result.replayed
            )
        )
    }

    /// Seals and submits a bid for the signed-in supplier (the API and the bid page alike).
    func submit(
        price: Int64,
        claims: BidClaims,
        documents: [Document],
        competition id: UUID,
        key: String?,
        tenant: Tenant,
        principal: Principal
    ) async throws -> (StepResult, BidContent) {
        guard let supplier = try await dependencies.suppliers.supplier(of: principal.userID, tenantID: tenant.id) else {
            throw AdalError.forbidden(
                reason: "register the supplier (/\(tenant.slug)/suppliers/register) before bidding"
            )
        }
        let content = try BidContent(
            supplierBIN: supplier.bin,
            pricePerMeal: price,
            claims: claims,
            documents: documents,
            nonce: Bidding.nonce(
                sealer: dependencies.keySealer,
                tenantID: tenant.id,
                competition: id,
                user: principal.userID,
                idempotencyKey: key
            )
        )
        let result = try await Bidding.submit(
            content,
            competition: id,
            tenantID: tenant.id,
            actor: StepActor(id: principal.userID, roles: principal.roles),
            idempotencyKey: key,
            engine: dependencies.workflows
        )
        return (result, content)
    }

    @Sendable func myBid(request: Request, context: AppRequestContext) async throws -> MyBid {
        let (tenant, principal) = try context.authorised([.supplier])
        let (competition, _) = try await load(try competitionID(context), tenantID: tenant.id)
        guard let supplier = try await dependencies.suppliers.supplier(of: principal.userID, tenantID: tenant.id),
            let bid = competition.currentBids.first(where: { $0.supplierBIN == supplier.bin })
        else { throw AdalError.notFound(what: "bid") }
        return MyBid(
            number: bid.number,
            round: bid.round,
            commitment: bid.commitment,
            submittedAt: bid.submittedAt,
            opened: bid.openedAt != nil
        )
    }

    /// JSON with the field that did not fit named.
    static func decode<T: Decodable>(_ type: T.Type, _ body: ByteBuffer) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer: body))
        } catch let DecodingError.keyNotFound(key, _) {
            throw AdalError.invalidField(field: key.stringValue, reason: "missing")
        } catch let DecodingError.typeMismatch(_, context) {
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw AdalError.invalidField(
                field: field.isEmpty ? "body" : field,
                reason: "wrong type (amounts are whole tiyn)"
            )
        } catch let DecodingError.valueNotFound(_, context) {
            throw AdalError.invalidField(
                field: context.codingPath.map(\.stringValue).joined(separator: "."),
                reason: "missing"
            )
        } catch {
            throw AdalError.invalidField(field: "body", reason: "not JSON")
        }
    }

    // MARK: - Open contracting data

    /// Releases per page of the package.
    static let releasesPerPage = 100

    @Sendable func releases(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let page = max(1, request.uri.queryParameters.get("page").flatMap(Int.init) ?? 1)
        guard page <= 100_000 else { throw AdalError.invalidField(field: "page", reason: "at most 100000") }
        let logger = dependencies.database.logger
        let offset = (page - 1) * Self.releasesPerPage
        let rows = try await dependencies.database.withTenant(tenant.id) { connection in
            var texts: [String] = []
            for try await text in try await connection.query(
                """
                SELECT release::text FROM ocds_releases WHERE tenant_id = \(tenant.id)
                ORDER BY published_at, release_id LIMIT \(Self.releasesPerPage + 1) OFFSET \(offset)
                """,
                logger: logger
            ).decode(String.self) {
                texts.append(text)
            }
            return texts
        }
        let base = "\(dependencies.publicBase)/\(tenant.slug)/ocds/releases"
        var links: [(String, JSONText)] = []
        if rows.count > Self.releasesPerPage { links.append(("next", .string("\(base)?page=\(page + 1)"))) }
        if page > 1 { links.append(("prev", .string("\(base)?page=\(page - 1)"))) }
        return Self.package(
            uri: page == 1 ? base : "\(base)?page=\(page)",
            tenant: tenant,
            key: "releases",
            items: Array(rows.prefix(Self.releasesPerPage)),
            links: links
        )
    }

    @Sendable func record(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let ocid = try context.parameters.require("ocid")
        let logger = dependencies.database.logger
        let releases = try await dependencies.database.withTenant(tenant.id) { connection in
            var texts: [String] = []
            for try await text in try await connection.query(
                """
                SELECT release::text FROM ocds_releases WHERE tenant_id = \(tenant.id) AND ocid = \(ocid)
                ORDER BY published_at, step_sequence LIMIT 10000
                """,
                logger: logger
            ).decode(String.self) {
                texts.append(text)
            }
            return texts
        }
        guard let latest = releases.last else { throw AdalError.notFound(what: "ocid \(ocid)") }
        // Each release is a full picture of the process, so the compiled release is the latest
        // one under its own id and the tag `compiled`.
        guard var compiled = try JSONSerialization.jsonObject(with: Data(latest.utf8)) as? [String: Any] else {
            throw AdalError.unavailable(reason: "stored release is not an object")
        }
        compiled["id"] = "\(ocid)-compiled"
        compiled["tag"] = ["compiled"]
        let compiledText = String(decoding: try JSONSerialization.data(withJSONObject: compiled), as: UTF8.self)
        let record =
            "{\"ocid\":\(JSONText.string(ocid).text),\"releases\":[\(releases.joined(separator: ","))],"
            + "\"compiledRelease\":\(compiledText)}"
        return Self.package(
            uri: "\(dependencies.publicBase)/\(tenant.slug)/ocds/records/\(ocid)",
            tenant: tenant,
            key: "records",
            items: [record],
            links: []
        )
    }

    /// A release or record package around stored JSON texts.
    static func package(
        uri: String,
        tenant: Tenant,
        key: String,
        items: [String],
        links: [(String, JSONText)]
    ) -> Response {
        var head: [(String, JSONText)] = [
            ("uri", .string(uri)), ("version", .string("1.1")),
            ("publishedDate", .string(OCDSRelease.timestamp(Date()))),
            ("publisher", .object([("name", .string("Adal — \(tenant.name.en)"))])),
            ("license", .string("https://creativecommons.org/licenses/by/4.0/")),
        ]
        if !links.isEmpty { head.append(("links", .object(links))) }
        var text = JSONText.object(head).text
        text.removeLast()
        text += ",\"\(key)\":[\(items.joined(separator: ","))]}"
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        headers[.accessControlAllowOrigin] = "*"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
