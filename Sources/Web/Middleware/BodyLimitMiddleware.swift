import Core
import Hummingbird

/// Refuses a request whose declared body is larger than the limit before reading any of it.
/// Requests that carry documents (``UploadRoutes``) have a larger limit of their own. Bodies
/// without a length are bounded where they are read (`collect(upTo:)`).
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let maximumBytes: Int
    var maximumUploadBytes: Int = 0

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let limit = UploadRoutes.carriesDocuments(request) ? max(maximumBytes, maximumUploadBytes) : maximumBytes
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw AdalError.tooLarge(limit: "request body", maximumBytes: limit)
        }
        return try await next(request, context)
    }
}

/// The requests that may carry documents: a bid on a competition, a supplier's registration.
enum UploadRoutes {
    static func carriesDocuments(_ request: Request) -> Bool {
        guard request.method == .post else { return false }
        let path = request.uri.path
        return path.hasSuffix("/bids") || path.hasSuffix("/suppliers") || path.hasSuffix("/suppliers/register")
    }
}

extension Request {
    /// The body, read up to `maximumBytes`; more is `tooLarge`.
    func readBody(limit maximumBytes: Int) async throws -> ByteBuffer {
        do {
            return try await body.collect(upTo: maximumBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw AdalError.tooLarge(limit: "request body", maximumBytes: maximumBytes)
        }
    }
}
