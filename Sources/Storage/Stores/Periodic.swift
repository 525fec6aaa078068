import Logging
import ServiceLifecycle

/// Runs `pass` at once and then every `interval` until the task is cancelled or the server shuts
/// down gracefully (which cuts the wait short, so the server stops at once). A pass that fails
/// is logged as `failure` with its error's type, and the next one still runs.
public func everyInterval(
    _ interval: Duration,
    logger: Logger,
    failure: Logger.Message,
    _ pass: () async throws -> Void
) async {
    while !Task.isCancelled && !Task.isShuttingDownGracefully {
        do {
            try await pass()
        } catch {
            logger.error(failure, metadata: ["error": "\(type(of: error))"])
        }
        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
    }
}
