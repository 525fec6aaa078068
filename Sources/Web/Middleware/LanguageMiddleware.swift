import Core
import Hummingbird

/// Chooses the page language: `?lang=` (remembered in a cookie), then the cookie, then Kazakh.
struct LanguageMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let secureCookies: Bool

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        var context = context
        let chosen = request.uri.queryParameters["lang"].flatMap { Language(rawValue: String($0)) }
        context.language = Self.language(of: request)
        var response = try await next(request, context)
        if let chosen, request.cookies[AdalCookie.language]?.value != chosen.rawValue {
            response.setCookie(AdalCookie.language(chosen, secure: secureCookies))
        }
        return response
    }

    /// The language a request asks for; also used by the error middleware, which runs outside this one.
    static func language(of request: Request) -> Language {
        if let query = request.uri.queryParameters["lang"], let language = Language(rawValue: String(query)) {
            return language
        }
        if let cookie = request.cookies[AdalCookie.language]?.value, let language = Language(rawValue: cookie) {
            return language
        }
        return .default
    }
}
