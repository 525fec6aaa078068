import Core
import Foundation
import Hummingbird
import Prometheus

/// Pages and endpoints that need no city: the list of cities, the stylesheet, health, metrics.
struct PublicController {
    let dependencies: AppDependencies
    let stylesheet: ByteBuffer

    init(dependencies: AppDependencies) throws {
        self.dependencies = dependencies
        let path = dependencies.pages.staticDirectory + "/adal.css"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw AdalError.unavailable(reason: "stylesheet \(path) is missing")
        }
        self.stylesheet = ByteBuffer(bytes: data)
    }

    func register(on router: Router<AppRequestContext>) {
        router.get("/", use: home)
        router.get("/static/adal.css", use: css)
        router.get("/health", use: health)
        router.get("/metrics", use: metrics)
    }

    @Sendable func home(request: Request, context: AppRequestContext) async throws -> Response {
        let language = context.language
        let tenants = try await dependencies.tenants.tenants().map { tenant -> [String: Any] in
            ["slug": tenant.slug.value, "name": tenant.name[language], "region": tenant.region]
        }
        return dependencies.pages.page(
            "home",
            titleKey: "tenants_title",
            values: ["tenants": tenants, "hasTenants": !tenants.isEmpty],
            request: request,
            context: context
        )
    }

    @Sendable func css(request: Request, context: AppRequestContext) async throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/css; charset=utf-8"
        headers[.cacheControl] = "public, max-age=3600"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: stylesheet))
    }

    /// 200 when the database answers, 503 (problem JSON) when it does not.
    @Sendable func health(request: Request, context: AppRequestContext) async throws -> Response {
        do {
            try await dependencies.database.ping()
        } catch {
            throw AdalError.unavailable(reason: "database")
        }
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok,
            headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: #"{"database":"ok","status":"ok"}"#))
        )
    }

    /// Prometheus text exposition.
    @Sendable func metrics(request: Request, context: AppRequestContext) async throws -> Response {
        var buffer: [UInt8] = []
        dependencies.metrics.emit(into: &buffer)
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: buffer)))
    }
}
