import Hummingbird
import Prometheus

/// Counts requests and their durations by method, matched route (not raw path, so that the
/// number of series stays bounded) and status.
struct PrometheusMiddleware<Context: RequestContext>: RouterMiddleware {
    let registry: PrometheusCollectorRegistry

    static var buckets: [Duration] {
        [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
        ]
    }

    func handle(
        _ request: Request,
        context: Context,
        next: (Request, Context) async throws -> Response
    ) async throws
        -> Response
    {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let labels = [
            ("method", request.method.rawValue), ("route", context.endpointPath ?? "unmatched"),
            ("status", String(response.status.code)),
        ]
        registry.makeCounter(name: "adal_http_requests_total", labels: labels).increment()
        registry.makeDurationHistogram(
            name: "adal_http_request_duration_seconds",
            labels: Array(labels.prefix(2)),
            buckets: Self.buckets
        ).recordNanoseconds(Int64((ContinuousClock.now - start) / .nanoseconds(1)))
        return response
    }
}
