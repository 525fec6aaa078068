import Core
import Foundation
import HTTPTypes
import Hummingbird
import Workflow

/// The workflow engine over JSON, under `/api/{tenant}`: start instances, fire events, read
/// instances with their steps, the caller's inbox and the dead jobs.
struct WorkflowAPIController {
    let dependencies: AppDependencies

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    func register(on router: Router<AppRequestContext>) {
        let group = router.group("api/:tenant").add(middleware: APITokenMiddleware(dependencies: dependencies))
        group.post("services/:service/instances", use: start)
        group.post("instances/:id/events/:event", use: fire)
        group.get("instances", use: search)
        group.get("instances/:id", use: instance)
        group.get("inbox", use: inbox)
        group.get("jobs/dead", use: deadJobs)
    }

    /// A step's body: the event's input fields.
    struct StepBody: Decodable {
        var input: [String: InputValue]?
    }

    struct StepResponse: ResponseEncodable {
        var instance: UUID
        var sequence: Int64
        var event: String
        var from: String?
        var to: String
        var at: Date
        var replayed: Bool

        init(_ result: StepResult) {
            instance = result.instanceID
            sequence = result.sequence
            event = result.event
            from = result.fromState
            to = result.toState
            at = result.at
            replayed = result.replayed
        }
    }

    struct InstanceResponse: ResponseEncodable {
        var instance: InstanceSummary
        var overdue: Bool
        var steps: [StepRecord]
        /// Events the caller may take now.
        var events: [String]
    }

    struct ListResponse: ResponseEncodable {
        var instances: [InstanceSummary]
        /// Pass as `before` for the next page; absent on the last page.
        var next: String?
    }

    struct DeadJobsResponse: ResponseEncodable {
        var jobs: [DeadJob]
    }

    @Sendable func start(request: Request, context: AppRequestContext) async throws -> EditedResponse<StepResponse> {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let service = try context.parameters.require("service")
        let body = try await request.decode(as: StepBody.self, context: context)
        let result = try await dependencies.workflows.start(
            tenantID: tenant.id,
            service: service,
            actor: StepActor(id: principal.userID, roles: principal.roles),
            input: body.input ?? [:],
            idempotencyKey: request.headers[Self.idempotencyKey]
        )
        return EditedResponse(status: result.replayed ? .ok : .created, response: StepResponse(result))
    }

    @Sendable func fire(request: Request, context: AppRequestContext) async throws -> StepResponse {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let id = try instanceID(context)
        let body = try await request.decode(as: StepBody.self, context: context)
        let result = try await dependencies.workflows.fire(
            tenantID: tenant.id,
            instanceID: id,
            event: try context.parameters.require("event"),
            actor: StepActor(id: principal.userID, roles: principal.roles),
            input: body.input ?? [:],
            idempotencyKey: request.headers[Self.idempotencyKey]
        )
        return StepResponse(result)
    }

    @Sendable func instance(request: Request, context: AppRequestContext) async throws -> InstanceResponse {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let view = try await InstanceView.load(
            id: try instanceID(context),
            tenantID: tenant.id,
            principal: principal,
            dependencies: dependencies
        )
        return InstanceResponse(
            instance: view.summary,
            overdue: view.summary.isOverdue(at: Date()),
            steps: view.steps,
            events: view.availableEvents.map(\.name)
        )
    }

    @Sendable func search(request: Request, context: AppRequestContext) async throws -> ListResponse {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        try principal.require(anyOf: InstanceView.seeEverything)
        let filter = try InstanceView.filter(from: request.uri.queryParameters)
        let instances = try await WorkflowQueries(database: dependencies.database).search(filter, tenantID: tenant.id)
        let next =
            instances.count == filter.limit
            ? instances.last?.cursor
            : nil
        return ListResponse(instances: instances, next: next)
    }

    @Sendable func inbox(request: Request, context: AppRequestContext) async throws -> ListResponse {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        let tasks = try await ServicePages.inbox(principal: principal, tenantID: tenant.id, dependencies: dependencies)
        return ListResponse(instances: tasks, next: nil)
    }

    @Sendable func deadJobs(request: Request, context: AppRequestContext) async throws -> DeadJobsResponse {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        try principal.require(anyOf: [.akimatAdmin])
        return DeadJobsResponse(
            jobs: try await WorkflowQueries(database: dependencies.database).deadJobs(tenantID: tenant.id)
        )
    }

    private func instanceID(_ context: AppRequestContext) throws -> UUID {
        guard let text = context.parameters.get("id"), let id = UUID(uuidString: text) else {
            throw AdalError.notFound(what: "instance")
        }
        return id
    }
}
