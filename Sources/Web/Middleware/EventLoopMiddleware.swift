import Hummingbird
import Storage

/// Runs the rest of a request on its connection's event loop instead of Swift's global executor.
///
/// For short requests that mostly wait — a till's charge waits for its token's lookup and for
/// its batch — each wait otherwise ends with a hop to a thread of the global executor, and the
/// response with a hop back to the event loop. Only for routes whose handlers never compute for
/// long: everything else on that loop waits while they do.
struct EventLoopMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        try await withTaskExecutorPreference(EventLoopExecutor(context.eventLoop)) {
            try await next(request, context)
        }
    }
}
