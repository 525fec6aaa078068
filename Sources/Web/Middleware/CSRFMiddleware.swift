import Core
import Crypto
import Foundation
import Hummingbird

/// Anti-forgery for every form: a random token in an HttpOnly, SameSite=Lax cookie, repeated in
/// each form as `_csrf`; an unsafe request (POST, PUT, PATCH, DELETE) outside `/api/` must
/// send both, equal, and, when the browser names its origin, come from this host.
/// The API is exempt: it authenticates with bearer tokens, never with cookies.
struct CSRFMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let maximumBodyBytes: Int
    let secureCookies: Bool
    /// The limit of forms that carry documents (``UploadRoutes``).
    var maximumUploadBytes: Int = 0

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        // The API and Open311 authenticate by token, never by cookie, and render no forms.
        if request.uri.path.hasPrefix("/api/") || request.uri.path.hasPrefix("/open311/") {
            return try await next(request, context)
        }
        var context = context
        var request = request
        let existing = request.cookies[AdalCookie.csrf].map(\.value).flatMap { SecretToken.isWellFormed($0) ? $0 : nil }
        let token = existing ?? SecretToken.generate().text
        context.csrfToken = token

        if Self.isUnsafe(request.method) {
            guard let existing else { throw AdalError.csrfRejected }
            if let origin = request.headers[.origin], let host = request.head.authority {
                guard URL(string: origin)?.hostWithPort == host else { throw AdalError.csrfRejected }
            }
            let sent: String?
            let body: ByteBuffer
            if let boundary = MultipartForm.boundary(contentType: request.headers[.contentType]) {
                // A form with files: the token is one of its parts.
                let limit =
                    UploadRoutes.limit(request, body: maximumBodyBytes, upload: maximumUploadBytes)
                body = try await request.readBody(limit: limit)
                sent = try MultipartForm(body: Array(buffer: body), boundary: boundary)["_csrf"]
            } else {
                body = try await request.readBody(limit: maximumBodyBytes)
                sent = FormFields(String(buffer: body))["_csrf"]
            }
            guard let sent, Self.constantTimeEqual(sent, existing) else {
                throw AdalError.csrfRejected
            }
            request.body = RequestBody(buffer: body)
        }
        var response = try await next(request, context)
        let isPage = response.headers[.contentType]?.hasPrefix("text/html") ?? false
        if existing == nil && isPage {
            response.setCookie(AdalCookie.csrf(token, secure: secureCookies))
        }
        return response
    }

    static func isUnsafe(_ method: HTTPRequest.Method) -> Bool {
        [.post, .put, .patch, .delete].contains(method)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let left = Array(a.utf8)
        let right = Array(b.utf8)
        guard left.count == right.count else { return false }
        return zip(left, right).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

extension URL {
    fileprivate var hostWithPort: String? {
        guard let host else { return nil }
        return port.map { "\(host):\($0)" } ?? host
    }
}

/// Fields of an `application/x-www-form-urlencoded` body; for a repeated name, the first wins.
struct FormFields {
    /// At most this many fields are read from one form.
    static let maximumFields = 200
    private var values: [String: String] = [:]

    init(_ body: String) {
        for pair in body.split(separator: "&").prefix(Self.maximumFields) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = Self.decode(parts[0]), values[name] == nil else { continue }
            values[name] = parts.count > 1 ? Self.decode(parts[1]) ?? "" : ""
        }
    }

    subscript(name: String) -> String? { values[name] }

    private static func decode(_ text: Substring) -> String? {
        text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
