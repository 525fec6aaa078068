import Core
import Foundation
import HTTPTypes
import Hummingbird
import Prometheus

/// Pages and endpoints that need no city: the list of cities, the stylesheet, health, metrics.
struct PublicController {
    let dependencies: AppDependencies
    /// The files under /static, read once at start: name → (content type, bytes).
    let assets: [String: (type: String, body: ByteBuffer)]

    static let assetTypes = [
        "adal.css": "text/css; charset=utf-8", "verify-leaf.js": "text/javascript; charset=utf-8",
        "verify-link.js": "text/javascript; charset=utf-8", "budget-map.js": "text/javascript; charset=utf-8",
        "till-offline.js": "text/javascript; charset=utf-8", "till-worker.js": "text/javascript; charset=utf-8",
    ]

    init(dependencies: AppDependencies) throws {
        self.dependencies = dependencies
        var assets: [String: (type: String, body: ByteBuffer)] = [:]
        for (name, type) in Self.assetTypes {
            let path = dependencies.pages.staticDirectory + "/" + name
            guard let data = FileManager.default.contents(atPath: path) else {
                throw AdalError.unavailable(reason: "static file \(path) is missing")
            }
            assets[name] = (type, ByteBuffer(bytes: data))
        }
        self.assets = assets
    }

    func register(on router: Router<AppRequestContext>) {
        router.get("/", use: home)
        router.get("/static/:file", use: asset)
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

    @Sendable func asset(request: Request, context: AppRequestContext) async throws -> Response {
        guard let name = context.parameters.get("file"), let asset = assets[name] else {
            throw AdalError.notFound(what: "file")
        }
        var headers = HTTPFields()
        headers[.contentType] = asset.type
        if name == "till-worker.js" {
            // The till's service worker serves the till's page under /{city}/meals/till, outside
            // /static/; the browser checks for a new version at every page load.
            headers[HTTPField.Name("Service-Worker-Allowed")!] = "/"
            headers[.cacheControl] = "no-cache"
        } else {
            headers[.cacheControl] = "public, max-age=3600"
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: asset.body))
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
