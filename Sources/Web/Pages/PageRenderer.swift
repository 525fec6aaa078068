import Core
import Foundation
import Hummingbird
import Mustache

/// Renders pages: a Mustache template for the page's body inside the shared layout, with the
/// locale table of the request's language as `t`.
public struct PageRenderer: Sendable {
    public let library: MustacheLibrary
    public let locales: LocaleTables
    public let staticDirectory: String

    /// Loads templates and locale tables from the module's resources.
    public static func load() async throws -> PageRenderer {
        guard let root = Bundle.module.url(forResource: "Resources", withExtension: nil)?.path else {
            throw LocaleError.missingTable("Resources")
        }
        return try await PageRenderer(resourceDirectory: root)
    }

    public init(resourceDirectory: String) async throws {
        self.library = try await MustacheLibrary(directory: resourceDirectory + "/templates")
        self.locales = try LocaleTables(directory: resourceDirectory + "/locales")
        self.staticDirectory = resourceDirectory + "/static"
    }

    /// A template value that may be absent: Mustache sections treat `false` as absent, while a
    /// boxed nil would render as the text "nil".
    public static func optional(_ value: String?) -> Any {
        value ?? false
    }

    /// A full HTML page. `values` are the template's own data; the frame adds language links,
    /// tenant navigation and the anti-forgery token.
    public func page(
        _ template: String,
        titleKey: String,
        values: [String: Any],
        request: Request,
        context: AppRequestContext,
        status: HTTPResponse.Status = .ok
    ) -> Response {
        let language = context.language
        var data = values
        let strings = locales.strings[language] ?? [:]
        data["t"] = strings
        data["csrf"] = context.csrfToken
        if let tenant = context.tenant {
            var tenantData: [String: Any] = [
                "slug": tenant.slug.value, "name": tenant.name[language], "region": tenant.region,
            ]
            if let principal = context.principal {
                tenantData["principal"] = ["displayName": principal.displayName, "login": principal.login]
            }
            data["tenant"] = tenantData
        }
        let body = library.render(data, withTemplate: template) ?? ""
        var frame = data
        frame["content"] = body
        frame["title"] = locales.text(titleKey, language)
        frame["language"] = language.rawValue
        frame["languages"] = Language.allCases.map { option -> [String: Any] in
            [
                "code": option.rawValue, "name": option.nativeName, "current": option == language,
                "href": request.uri.path + "?lang=" + option.rawValue,
            ]
        }
        let html = library.render(frame, withTemplate: "layout") ?? ""
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}
