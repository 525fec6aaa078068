import Core
import Foundation
import Hummingbird
import Logging
import MealPayments
import Workflow

/// Maps every error to one answer at the edge: an RFC 9457 problem document under `/api/`, a
/// localised HTML page elsewhere. Unexpected errors are logged with the request id and shown
/// to the user only as that id, never with their text.
struct ErrorMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext
    let pages: PageRenderer

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        do {
            return try await next(request, context)
        } catch {
            var problem = Problem(error)
            problem.reason = MealReason.of(error: error)
            if problem.status == .internalServerError {
                context.logger.error("unexpected error", metadata: ["error": "\(String(reflecting: type(of: error)))"])
                context.logger.debug("unexpected error detail", metadata: ["detail": "\(error)"])
            }
            var context = context
            context.language = LanguageMiddleware.language(of: request)
            var response =
                request.uri.path.hasPrefix("/open311/")
                ? problem.open311()
                : request.uri.path.hasPrefix("/api/") || request.uri.path.hasPrefix("/audit/")
                    || request.uri.path == "/health"
                    ? problem.json(
                        instance: request.uri.path,
                        requestID: context.id,
                        language: LanguageMiddleware.requested(by: request),
                        locales: pages.locales
                    )
                    : problem.page(pages: pages, request: request, context: context)
            if let seconds = problem.retryAfter {
                response.headers[.retryAfter] = String(seconds)
            }
            if problem.status == .unauthorized && request.uri.path.hasPrefix("/api/") {
                response.headers[.wwwAuthenticate] = "Bearer realm=\"adal\""
            }
            return response
        }
    }
}

/// One error as the edge shows it.
struct Problem {
    var status: HTTPResponse.Status
    /// Short machine name, also the last part of the problem type.
    var kind: String
    /// Locale key of the people-facing message.
    var messageKey: String
    /// English detail for the API (field errors and limits only; never internal text).
    var detail: String?
    var field: String?
    var retryAfter: Int?
    /// The refusal's reason when it is one the pages can say in every language (a till's
    /// refusals, a menu's checks): the API gives its code, and its sentence when asked.
    var reason: MealReason?

    init(_ error: any Error) {
        switch error {
        case let error as AdalError:
            self.init(error)
        case WorkflowError.refused(let reason):
            self.init(
                status: .unprocessableContent,
                kind: "refused",
                messageKey: "error_refused",
                detail: reason,
                field: nil,
                retryAfter: nil
            )
        case let error as HTTPError where error.status == .notFound:
            self.init(AdalError.notFound(what: "page"))
        case let error as HTTPError where error.status == .contentTooLarge:
            self.init(AdalError.tooLarge(limit: "request body", maximumBytes: 0))
        case let error as HTTPError where (400..<500).contains(error.status.code):
            self.init(
                status: error.status,
                kind: "bad-request",
                messageKey: "error_invalid_field",
                detail: error.body,
                field: nil,
                retryAfter: nil
            )
        default:
            self.init(
                status: .internalServerError,
                kind: "internal",
                messageKey: "error_internal",
                detail: nil,
                field: nil,
                retryAfter: nil
            )
        }
    }

    init(
        status: HTTPResponse.Status,
        kind: String,
        messageKey: String,
        detail: String?,
        field: String?,
        retryAfter: Int?
    ) {
        self.status = status
        self.kind = kind
        self.messageKey = messageKey
        self.detail = detail
        self.field = field
        self.retryAfter = retryAfter
    }

    init(_ error: AdalError) {
        switch error {
        case .invalidField(let field, let reason):
            self.init(
                status: .unprocessableContent,
                kind: "invalid-field",
                messageKey: "error_invalid_field",
                detail: "\(field): \(reason)",
                field: field,
                retryAfter: nil
            )
        case .notFound:
            self.init(
                status: .notFound,
                kind: "not-found",
                messageKey: "error_not_found",
                detail: nil,
                field: nil,
                retryAfter: nil
            )
        case .invalidCredentials:
            self.init(
                status: .unauthorized,
                kind: "invalid-credentials",
                messageKey: "error_invalid_credentials",
                detail: nil,
                field: nil,
                retryAfter: nil
            )
        case .unauthenticated:
            self.init(
                status: .unauthorized,
                kind: "unauthenticated",
                messageKey: "error_unauthenticated",
                detail: nil,
                field: nil,
                retryAfter: nil
            )
        case .forbidden(let reason):
            self.init(
                status: .forbidden,
                kind: "forbidden",
                messageKey: "error_forbidden",
                detail: reason,
                field: nil,
                retryAfter: nil
            )
        case .conflict(let reason):
            self.init(
                status: .conflict,
                kind: "conflict",
                messageKey: "error_conflict",
                detail: reason,
                field: nil,
                retryAfter: nil
            )
        case .tooManyAttempts(let seconds):
            self.init(
                status: .tooManyRequests,
                kind: "too-many-attempts",
                messageKey: "error_too_many_attempts",
                detail: "try again in \(seconds) seconds",
                field: nil,
                retryAfter: seconds
            )
        case .tooLarge(let limit, let maximumBytes):
            self.init(
                status: .contentTooLarge,
                kind: "too-large",
                messageKey: "error_too_large",
                detail: maximumBytes > 0 ? "\(limit) is limited to \(maximumBytes) bytes" : nil,
                field: nil,
                retryAfter: nil
            )
        case .unsupportedMediaType(let field, let reason):
            self.init(
                status: .unsupportedMediaType,
                kind: "unsupported-media-type",
                messageKey: "error_unsupported_media",
                detail: "\(field): \(reason)",
                field: field,
                retryAfter: nil
            )
        case .csrfRejected:
            self.init(
                status: .forbidden,
                kind: "csrf",
                messageKey: "error_csrf",
                detail: nil,
                field: nil,
                retryAfter: nil
            )
        case .unavailable:
            self.init(
                status: .serviceUnavailable,
                kind: "unavailable",
                messageKey: "error_unavailable",
                detail: nil,
                field: nil,
                retryAfter: nil
            )
        }
    }

    /// `application/problem+json` (RFC 9457). A known reason adds its code (`reason`); when the
    /// client asks for a language (`Accept-Language`), `detail` says that reason in it.
    func json(instance: String, requestID: String, language: Language? = nil, locales: LocaleTables? = nil) -> Response
    {
        var document: [String: Any] = [
            "type": "/problems/\(kind)", "title": status.reasonPhrase, "status": Int(status.code),
            "instance": instance, "request_id": requestID,
        ]
        if let detail { document["detail"] = detail }
        if let field { document["field"] = field }
        if let retryAfter { document["retry_after"] = retryAfter }
        var headers = HTTPFields()
        if let reason {
            document["reason"] = reason.code
            if let language, let locales {
                document["detail"] = locales.text(reason.key, language, figures: reason.figures)
                headers[.contentLanguage] = language.rawValue
            }
        }
        let data =
            (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes]))
            ?? Data()
        headers[.contentType] = "application/problem+json"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    /// For a form shown again: the reader's-language sentence for the kind of error, then the
    /// exact detail (field, limit, what was found), which names things the way the API does.
    func explained(_ error: AdalError, pages: PageRenderer, language: Language) -> String {
        pages.locales.text(messageKey, language) + " " + error.description
    }

    /// The error as Open311 GeoReport v2 clients read it: a list of `{code, description}`.
    func open311() -> Response {
        let document: [[String: Any]] = [
            ["code": Int(status.code), "description": detail ?? "\(status.reasonPhrase) (\(kind))"]
        ]
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.withoutEscapingSlashes])) ?? Data()
        return Response(
            status: status,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    /// The localised error page.
    func page(pages: PageRenderer, request: Request, context: AppRequestContext) -> Response {
        var values: [String: Any] = [
            "message": pages.locales.text(messageKey, context.language), "requestID": context.id,
        ]
        if let retryAfter { values["detail"] = String(retryAfter) }
        if kind == "invalid-field", let detail { values["detail"] = detail }
        return pages.page(
            "error",
            titleKey: "error_title",
            values: values,
            request: request,
            context: context,
            status: status
        )
    }
}
