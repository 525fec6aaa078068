import Core
import Foundation
import HTTPTypes
import Hummingbird
import PrincipalRotation
import Workflow

/// Principal rotation over JSON: the registry (read, CSV import and export), the due list, the
/// plan proposal and its acceptance, and the public figures.
struct PrincipalRotationController {
    static let service = PrincipalRotationService.key
    /// Who reads the registry (it holds IINs): the akimat, the commission and auditors.
    static let readers: Set<Role> = [.akimatAdmin, .commissionMember, .auditor]
    static let planners: Set<Role> = [.akimatAdmin, .commissionMember]

    let dependencies: AppDependencies

    func register(on router: Router<AppRequestContext>) {
        router.get("api/:tenant/principal-rotation/public", use: publicFigures)
        let group = router.group("api/:tenant/principal-rotation")
            .add(middleware: APITokenMiddleware(dependencies: dependencies))
        group.get("registry", use: registry)
        group.get("registry.csv", use: export)
        group.post("registry", use: importRegistry)
        group.get("due", use: due)
        group.post("plan", use: propose)
        group.post("plan/accept", use: accept)
        group.get("staff/:login", use: staffSchools)
        group.put("staff/:login", use: addStaff)
        group.delete("staff/:login/:bin", use: removeStaff)
    }

    // MARK: - Shapes

    struct SchoolRow: Codable {
        var bin: String
        var name: String
        var district: String
        var locality: String
        var rural: Bool
        var principalIIN: String?
        var principalName: String?
        var since: Day?
    }

    struct RegistryResponse: ResponseEncodable {
        var schools: [SchoolRow]
    }

    struct DueRow: Codable {
        var kind: String
        var schoolBIN: String
        var schoolName: String
        var district: String
        var principalIIN: String
        var principalName: String
        var appointedOn: Day
        var dueOn: Day
        var overdue: Bool
    }

    struct DistrictCount: Codable {
        var district: String
        var tenureDue: Int
        var tenureOverdue: Int
        var attestationDue: Int
    }

    struct DueResponse: ResponseEncodable {
        var today: Day
        var policy: RotationPolicy
        var entries: [DueRow]
        var districts: [DistrictCount]
    }

    struct PlanRequest: Decodable {
        var dueBy: Day
        var movesOn: Day
    }

    struct ProposedMove: Codable {
        var principalIIN: String
        var principalName: String
        var fromBIN: String?
        var schoolBIN: String
        var schoolName: String
    }

    struct UnplacedRow: Codable {
        var principalIIN: String
        var principalName: String
        var reasons: [String]
    }

    struct PlanResponse: ResponseEncodable {
        var movesOn: Day
        var moves: [ProposedMove]
        var unplaced: [UnplacedRow]
    }

    struct AcceptRequest: Decodable {
        var moves: [AcceptedMove]
    }

    struct AcceptResponse: ResponseEncodable {
        var instances: [UUID]
    }

    struct PublicFigures: ResponseEncodable {
        var schools: Int
        var headed: Int
        /// How many principals have headed their school for 0, 1, … 14 and 15 or more full years.
        var tenureYears: [Int]
        var overdueByDistrict: [String: Int]
        var maxYearsUrban: Int
        var maxYearsRural: Int
    }

    // MARK: - Handlers

    @Sendable func registry(request: Request, context: AppRequestContext) async throws -> RegistryResponse {
        let (tenant, _) = try context.authorised(Self.readers)
        let registry = try await RegistryStore(database: dependencies.database).load(tenantID: tenant.id)
        return RegistryResponse(schools: Self.rows(registry))
    }

    @Sendable func export(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, _) = try context.authorised(Self.readers)
        let registry = try await RegistryStore(database: dependencies.database).load(tenantID: tenant.id)
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"\(tenant.slug)-principals.csv\""
        headers[.cacheControl] = "private, no-store"
        return Response(
            status: .ok,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: RegistryCSV.export(registry)))
        )
    }

    /// The body is the CSV file. 200 with the report when imported; 422 with every problem when
    /// not (nothing written).
    @Sendable func importRegistry(
        request: Request,
        context: AppRequestContext
    ) async throws -> EditedResponse<
        RegistryCSV.Report
    > {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: RegistryCSV.maximumBytes)
        } catch {
            throw AdalError.tooLarge(limit: "a registry file", maximumBytes: RegistryCSV.maximumBytes)
        }
        let (_, parameters) = try await dependencies.cityService(Self.service, tenantID: tenant.id)
        let policy = RotationPolicy(parameters: parameters)
        let report = try await RegistryCSV.importFile(
            Array(buffer.readableBytesView),
            tenantID: tenant.id,
            latestStart: Day.today().adding(months: policy.warningMonths),
            database: dependencies.database
        )
        return EditedResponse(status: report.imported ? .ok : .unprocessableContent, response: report)
    }

    @Sendable func due(request: Request, context: AppRequestContext) async throws -> DueResponse {
        let (tenant, _) = try context.authorised(Self.readers)
        return try await dueList(tenantID: tenant.id)
    }

    @Sendable func propose(request: Request, context: AppRequestContext) async throws -> PlanResponse {
        let (tenant, _) = try context.authorised(Self.planners)
        let body = try await request.decode(as: PlanRequest.self, context: context)
        let (registry, policy) = try await load(tenantID: tenant.id)
        let plan = PlanProposer.propose(registry: registry, policy: policy, dueBy: body.dueBy, movesOn: body.movesOn)
        return PlanResponse(
            movesOn: plan.movesOn,
            moves: plan.moves.compactMap { move in
                guard let principal = registry.principals[move.principal], let school = registry.schools[move.to] else {
                    return nil
                }
                return ProposedMove(
                    principalIIN: principal.iin,
                    principalName: principal.name,
                    fromBIN: move.from.flatMap { registry.schools[$0]?.bin },
                    schoolBIN: school.bin,
                    schoolName: school.name
                )
            },
            unplaced: plan.unplaced.compactMap { unplaced in
                registry.principals[unplaced.principal].map {
                    UnplacedRow(principalIIN: $0.iin, principalName: $0.name, reasons: unplaced.reasons)
                }
            }
        )
    }

    /// Starts one rotation per move once the whole plan keeps the policy; nothing is started
    /// when any move breaks it. Each start carries a key made from the move, so sending the same
    /// plan again starts nothing new.
    @Sendable func accept(request: Request, context: AppRequestContext) async throws -> EditedResponse<AcceptResponse> {
        let (tenant, principal) = try context.authorised(Self.planners)
        let body = try await request.decode(as: AcceptRequest.self, context: context)
        guard (1...2_000).contains(body.moves.count) else {
            throw AdalError.invalidField(field: "moves", reason: "1 to 2000 moves")
        }
        let instances = try await start(body.moves, tenant: tenant, principal: principal)
        return EditedResponse(status: .created, response: AcceptResponse(instances: instances))
    }

    struct StaffBody: Decodable {
        var schoolBIN: String
    }

    struct StaffSchools: ResponseEncodable {
        var schools: [String]
    }

    /// The schools a school administrator works at (the akimat).
    @Sendable func staffSchools(request: Request, context: AppRequestContext) async throws -> StaffSchools {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let user = try await dependencies.account(
            try context.parameters.require("login"),
            tenant: tenant,
            role: .schoolAdmin
        )
        return StaffSchools(
            schools: try await SchoolStaff(database: dependencies.database).schools(of: user, tenantID: tenant.id)
        )
    }

    /// Lets a school administrator read their school's rotations and confirm its handover.
    @Sendable func addStaff(request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let body = try await request.decode(as: StaffBody.self, context: context)
        let user = try await dependencies.account(
            try context.parameters.require("login"),
            tenant: tenant,
            role: .schoolAdmin
        )
        try await SchoolStaff(database: dependencies.database).assign(
            userID: user,
            schoolBIN: body.schoolBIN,
            tenantID: tenant.id
        )
        return .noContent
    }

    /// Takes one school from a school administrator's list; 404 when it was not on it.
    @Sendable func removeStaff(request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let (tenant, _) = try context.authorised([.akimatAdmin])
        let login = try context.parameters.require("login")
        let user = try await dependencies.account(login, tenant: tenant, role: .schoolAdmin)
        let bin = try context.parameters.require("bin")
        guard
            try await SchoolStaff(database: dependencies.database).remove(
                userID: user,
                schoolBIN: bin,
                tenantID: tenant.id
            )
        else { throw AdalError.notFound(what: "school \(bin) among the schools of '\(login)'") }
        return .noContent
    }

    /// Figures anyone may see: no names, no IINs.
    @Sendable func publicFigures(request: Request, context: AppRequestContext) async throws -> PublicFigures {
        let tenant = try await dependencies.tenant(named: context)
        return try await figures(tenantID: tenant.id)
    }

    // MARK: - Shared with the pages

    /// Checks the whole plan against the policy (nothing starts if any move breaks it), then
    /// starts one rotation per move, each with a key made from the move.
    func start(_ moves: [AcceptedMove], tenant: Tenant, principal: Core.Principal) async throws -> [UUID] {
        let (registry, policy) = try await load(tenantID: tenant.id)
        let starts: [RotationStart]
        switch policy.check(moves, registry: registry, on: Day.today()) {
        case .success(let found): starts = found
        case .failure(let refused):
            throw AdalError.invalidField(field: "moves", reason: refused.problems.joined(separator: "; "))
        }
        var instances: [UUID] = []
        for start in starts {
            let result = try await dependencies.workflows.start(
                tenantID: tenant.id,
                service: Self.service,
                actor: StepActor(id: principal.userID, roles: principal.roles),
                input: [
                    "school_bin": .string(start.schoolBIN), "outgoing_iin": .string(start.outgoingIIN),
                    "proposed_iin": .string(start.proposedIIN),
                ],
                idempotencyKey: "plan-\(start.schoolBIN)-\(start.outgoingIIN)-\(start.proposedIIN)"
            )
            instances.append(result.instanceID)
        }
        return instances
    }

    func load(tenantID: UUID) async throws -> (Registry, RotationPolicy) {
        let (_, parameters) = try await dependencies.cityService(Self.service, tenantID: tenantID)
        let registry = try await RegistryStore(database: dependencies.database).load(tenantID: tenantID)
        return (registry, RotationPolicy(parameters: parameters))
    }

    func dueList(tenantID: UUID) async throws -> DueResponse {
        let (registry, policy) = try await load(tenantID: tenantID)
        let today = Day.today()
        let entries = registry.dueList(policy: policy, today: today)
        var districts: [String: DistrictCount] = [:]
        for entry in entries {
            var count =
                districts[entry.school.district]
                ?? DistrictCount(district: entry.school.district, tenureDue: 0, tenureOverdue: 0, attestationDue: 0)
            switch (entry.kind, entry.overdue) {
            case (.tenure, true): count.tenureOverdue += 1
            case (.tenure, false): count.tenureDue += 1
            case (.attestation, _): count.attestationDue += 1
            }
            districts[entry.school.district] = count
        }
        return DueResponse(
            today: today,
            policy: policy,
            entries: entries.map { entry in
                DueRow(
                    kind: entry.kind.rawValue,
                    schoolBIN: entry.school.bin,
                    schoolName: entry.school.name,
                    district: entry.school.district,
                    principalIIN: entry.principal.iin,
                    principalName: entry.principal.name,
                    appointedOn: entry.appointedOn,
                    dueOn: entry.dueOn,
                    overdue: entry.overdue
                )
            },
            districts: districts.values.sorted { $0.district < $1.district }
        )
    }

    func figures(tenantID: UUID) async throws -> PublicFigures {
        let (registry, policy) = try await load(tenantID: tenantID)
        let today = Day.today()
        var years = [Int](repeating: 0, count: 16)
        for appointment in registry.current where appointment.startsOn <= today {
            var full = today.year - appointment.startsOn.year
            if (today.month, today.day) < (appointment.startsOn.month, appointment.startsOn.day) { full -= 1 }
            years[min(max(full, 0), 15)] += 1
        }
        var overdue: [String: Int] = [:]
        for entry in registry.dueList(policy: policy, today: today) where entry.kind == .tenure && entry.overdue {
            overdue[entry.school.district, default: 0] += 1
        }
        return PublicFigures(
            schools: registry.schools.count,
            headed: registry.current.count,
            tenureYears: years,
            overdueByDistrict: overdue,
            maxYearsUrban: policy.maxYearsUrban,
            maxYearsRural: policy.maxYearsRural
        )
    }

    static func rows(_ registry: Registry) -> [SchoolRow] {
        registry.schools.values.sorted { $0.bin < $1.bin }.map { school in
            let current = registry.currentAppointment(ofSchool: school.id)
            let principal = current.flatMap { registry.principals[$0.principalID] }
            return SchoolRow(
                bin: school.bin,
                name: school.name,
                district: school.district,
                locality: school.locality,
                rural: school.rural,
                principalIIN: principal?.iin,
                principalName: principal?.name,
                since: current?.startsOn
            )
        }
    }

}

extension RegistryCSV.Report: ResponseEncodable {}
