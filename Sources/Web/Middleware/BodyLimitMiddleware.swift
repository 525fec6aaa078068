import Core
import Hummingbird
import NIOCore

/// Refuses a request whose declared body is larger than the limit before reading any of it.
/// Requests that carry documents (``UploadRoutes``) have a larger limit of their own. Bodies
/// without a length are bounded where they are read (`collect(upTo:)`).
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let maximumBytes: Int
    var maximumUploadBytes: Int = 0
    /// When given, requests carrying photos and videos pass through it (at most a few at once).
    var mediaGate: MediaUploadGate? = nil

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let limit = UploadRoutes.limit(request, body: maximumBytes, upload: maximumUploadBytes)
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw AdalError.tooLarge(limit: "request body", maximumBytes: limit)
        }
        if let mediaGate, UploadRoutes.carriesMedia(request) {
            return try await mediaGate.admit { try await next(request, context) }
        }
        return try await next(request, context)
    }
}

/// The requests that may carry documents (a bid on a competition, a supplier's registration, a
/// spending entry) or a citizen's photos and videos, and the larger limits they have.
enum UploadRoutes {
    /// Five videos of 10 MiB or one of 50 MiB with four photos, and the form around them.
    static let maximumMediaRequestBytes = 64 << 20

    static func carriesDocuments(_ request: Request) -> Bool {
        guard request.method == .post else { return false }
        let path = request.uri.path
        return path.hasSuffix("/bids") || path.hasSuffix("/suppliers") || path.hasSuffix("/suppliers/register")
            || path.hasSuffix("/budget/spending")
    }

    /// A citizen's report with its files, on the API, the page or Open311.
    static func carriesMedia(_ request: Request) -> Bool {
        guard request.method == .post else { return false }
        let path = request.uri.path
        return path.hasSuffix("/reports") || path.hasSuffix("/requests.json")
    }

    /// The most a request may send: `body` for most, more for those carrying files.
    static func limit(_ request: Request, body: Int, upload: Int) -> Int {
        if carriesMedia(request) { return max(body, maximumMediaRequestBytes) }
        return carriesDocuments(request) ? max(body, upload) : body
    }
}

extension Request {
    /// The body, read up to `maximumBytes`; more is `tooLarge`.
    func readBody(limit maximumBytes: Int) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: maximumBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw AdalError.tooLarge(limit: "request body", maximumBytes: maximumBytes)
        } catch is NIOTooManyBytesError {
            // A body already read whole (the anti-forgery check reads a form's) says so this way.
            throw AdalError.tooLarge(limit: "request body", maximumBytes: maximumBytes)
        }
    }
}
