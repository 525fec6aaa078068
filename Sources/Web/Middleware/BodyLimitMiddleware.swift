import Core
import Hummingbird

/// Refuses a request whose declared body is larger than the limit before reading any of it.
/// Bodies without a length are bounded where they are read (`collect(upTo:)`).
struct BodyLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let maximumBytes: Int

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        if let length = request.headers[.contentLength].flatMap(Int.init), length > maximumBytes {
            throw AdalError.tooLarge(limit: "request body", maximumBytes: maximumBytes)
        }
        return try await next(request, context)
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
