import Core
import Foundation
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
    /// The language an API client asks for in `Accept-Language`: the most wanted of kk, ru and
    /// en (a region, as in `ru-KZ`, counts as its language; `q=0` refuses one); nil when the
    /// header names none of them. The API answers in English unless asked.
    static func requested(by request: Request) -> Language? {
        guard let header = request.headers[.acceptLanguage] else { return nil }
        var best: (language: Language, weight: Double)?
        for range in header.split(separator: ",").prefix(Self.maximumRanges) {
            let parts = range.split(separator: ";")
            let tag = parts.first?.trimmingCharacters(in: .whitespaces).lowercased() ?? ""
            guard let language = Language(rawValue: String(tag.prefix { $0 != "-" })) else { continue }
            var weight = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.trimmingCharacters(in: .whitespaces)
                if pair.hasPrefix("q="), let value = Double(pair.dropFirst(2)), (0...1).contains(value) {
                    weight = value
                }
            }
            if weight > 0, weight > best?.weight ?? 0 { best = (language, weight) }
        }
        return best?.language
    }

    /// Language ranges of `Accept-Language` read at most.
    static let maximumRanges = 16

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
