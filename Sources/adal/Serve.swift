import ArgumentParser
import Foundation
import Hummingbird
import Logging
import Prometheus
import Storage
import Web

/// `adal serve`: the HTTP server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve Adal's pages and API.",
        discussion: """
            Connects as the application role (DATABASE_URL), or starts the embedded PostgreSQL. \
            Pending migrations are applied first when the owner role is available. Stops cleanly \
            on SIGINT or SIGTERM, together with the embedded PostgreSQL.
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var server: ServerOptions

    func run() async throws {
        var configuration = try common.configuration()
        server.apply(to: &configuration)
        try await serve(configuration, logger: try common.logger())
    }
}

/// Where the server listens.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address to listen on. Env: ADAL_HOST.")
    var host: String = ProcessInfo.processInfo.environment["ADAL_HOST"] ?? "127.0.0.1"

    @Option(help: "Port to listen on. Env: ADAL_PORT.")
    var port: Int = ProcessInfo.processInfo.environment["ADAL_PORT"].flatMap(Int.init) ?? 8080

    func apply(to configuration: inout AppConfiguration) {
        configuration.host = host
        configuration.port = port
    }
}

/// Prepares the database, serves until a signal, and stops the embedded cluster afterwards.
func serve(
    _ configuration: AppConfiguration,
    logger: Logger,
    beforeServing: (DatabaseEndpoints) async throws -> Void = { _ in }
) async throws {
    try await withPreparedDatabase(configuration, logger: logger) { endpoints in
        try await beforeServing(endpoints)
        let app = try await buildApplication(
            configuration: configuration,
            database: endpoints,
            metrics: PrometheusCollectorRegistry(),
            logger: logger
        )
        logger.notice("Adal is serving on http://\(configuration.host):\(configuration.port)")
        try await app.runService()
    }
}
