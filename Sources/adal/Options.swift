import ArgumentParser
import Foundation
import Logging
import PostgresNIO
import Storage
import Web

/// Options every command shares: where the data and the database are.
struct CommonOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: "Data folder; the embedded PostgreSQL lives under it. Env: ADAL_DATA_DIR."
    )
    var dataDirectory: String = ProcessInfo.processInfo.environment["ADAL_DATA_DIR"] ?? ".adal"

    @Option(name: .customLong("migrations-dir"), help: "Folder of numbered SQL migrations. Env: ADAL_MIGRATIONS_DIR.")
    var migrationsDirectory: String = ProcessInfo.processInfo.environment["ADAL_MIGRATIONS_DIR"] ?? "migrations"

    @Option(name: .customLong("workflows-dir"), help: "Folder of workflow definitions. Env: ADAL_WORKFLOWS_DIR.")
    var workflowsDirectory: String = ProcessInfo.processInfo.environment["ADAL_WORKFLOWS_DIR"] ?? "workflows"

    @Option(
        name: .customLong("log-level"),
        help: "trace, debug, info, notice, warning, error or critical. Env: ADAL_LOG_LEVEL."
    )
    var logLevel: String = ProcessInfo.processInfo.environment["ADAL_LOG_LEVEL"] ?? "info"

    /// The configuration these options and the environment describe. Database URLs come from the
    /// environment only, so that passwords never show in a process list.
    func configuration() throws -> AppConfiguration {
        var configuration = AppConfiguration()
        let environment = ProcessInfo.processInfo.environment
        configuration.dataDirectory = dataDirectory
        configuration.migrationsDirectory = migrationsDirectory
        configuration.workflowsDirectory = workflowsDirectory
        configuration.databaseURL = environment["DATABASE_URL"]
        configuration.migrationDatabaseURL = environment["MIGRATION_DATABASE_URL"]
        if let cost = environment["ADAL_BCRYPT_COST"] {
            guard let value = UInt8(cost), (4...31).contains(value) else {
                throw ValidationError("ADAL_BCRYPT_COST must be a whole number from 4 to 31")
            }
            configuration.bcryptCost = value
        }
        if let limit = environment["ADAL_MAX_BODY_BYTES"] {
            guard let value = Int(limit), value >= 1024 else {
                throw ValidationError("ADAL_MAX_BODY_BYTES must be a whole number of at least 1024")
            }
            configuration.maximumBodyBytes = value
        }
        if let connections = environment["ADAL_DATABASE_CONNECTIONS"] {
            guard let value = Int(connections), (1...200).contains(value) else {
                throw ValidationError("ADAL_DATABASE_CONNECTIONS must be a whole number from 1 to 200")
            }
            configuration.databaseConnections = value
        }
        for (name, keep) in [
            ("ADAL_KEEP_JOBS_DAYS", \AppConfiguration.keepFinishedJobs),
            ("ADAL_KEEP_MESSAGES_DAYS", \AppConfiguration.keepMessages),
        ] {
            guard let text = environment[name] else { continue }
            guard let days = Int(text), (1...3_650).contains(days) else {
                throw ValidationError("\(name) must be a whole number of days from 1 to 3650")
            }
            configuration[keyPath: keep] = .seconds(days * 86_400)
        }
        configuration.smtpURL = environment["ADAL_SMTP_URL"]
        configuration.mailFrom = environment["ADAL_MAIL_FROM"]
        configuration.smsURL = environment["ADAL_SMS_URL"]
        configuration.smsAPIKey = environment["ADAL_SMS_API_KEY"]
        configuration.smsSender = environment["ADAL_SMS_SENDER"]
        for (name, certificates) in [
            ("ADAL_SMTP_CA_FILE", \AppConfiguration.smtpTrustedCertificates),
            ("ADAL_SMS_CA_FILE", \AppConfiguration.smsTrustedCertificates),
        ] {
            guard let path = environment[name] else { continue }
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ValidationError("\(name) names no readable file: \(path)")
            }
            configuration[keyPath: certificates] = pem
        }
        if let simulated = environment["ADAL_SIMULATED_MESSAGES"] {
            guard ["0", "1"].contains(simulated) else {
                throw ValidationError("ADAL_SIMULATED_MESSAGES must be 1 (simulate email and SMS) or 0")
            }
            configuration.simulatedMessages = simulated == "1"
        }
        configuration.secureCookies = environment["ADAL_SECURE_COOKIES"] == "1"
        configuration.auditSignerKey = environment["ADAL_AUDIT_SIGNER_KEY"]
        configuration.keySealingSecret = environment["ADAL_KEY_SEALING_SECRET"]
        configuration.paymentWebhookSecret = environment["ADAL_PAYMENT_WEBHOOK_SECRET"]
        configuration.auditOriginHost = environment["ADAL_AUDIT_ORIGIN_HOST"]
        if let url = environment["ADAL_PUBLIC_URL"] {
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil,
                parsed.query == nil, parsed.fragment == nil
            else { throw ValidationError("ADAL_PUBLIC_URL must be an http(s) address such as https://adal.example.kz") }
            configuration.publicURL = url
        }
        if let prefix = environment["ADAL_OCDS_PREFIX"] {
            guard prefix.wholeMatch(of: /ocds-[a-z0-9]{6}/) != nil else {
                throw ValidationError("ADAL_OCDS_PREFIX must be 'ocds-' and six lower-case letters or digits")
            }
            configuration.ocdsPrefix = prefix
        }
        return configuration
    }

    func logger() throws -> Logger {
        guard let level = Logger.Level(rawValue: logLevel) else {
            throw ValidationError("unknown log level '\(logLevel)'")
        }
        _ = ServerLogging.installed
        var logger = Logger(label: "adal")
        logger.logLevel = level
        return logger
    }
}

/// Every logger of the command writes through ``LineLogHandler``; installed once, before the
/// first logger is made.
enum ServerLogging {
    static let installed: Void = LoggingSystem.bootstrap { LineLogHandler.standardError(label: $0) }
}

/// Runs `body` with the database resolved and migrated, then stops an embedded cluster this
/// process started, whatever `body` did.
func withPreparedDatabase<Result: Sendable>(
    _ configuration: AppConfiguration,
    logger: Logger,
    _ body: (DatabaseEndpoints) async throws -> Result
) async throws -> Result {
    let endpoints: DatabaseEndpoints
    do {
        endpoints = try await prepareDatabase(configuration: configuration, logger: logger)
    } catch {
        throw DatabaseFailure(error)
    }
    do {
        let result = try await body(endpoints)
        endpoints.cluster?.stop(logger: logger)
        return result
    } catch {
        endpoints.cluster?.stop(logger: logger)
        throw DatabaseFailure(error)
    }
}

/// Shows a database server's own message (and SQLSTATE) instead of PostgresNIO's deliberately
/// vague description; other errors pass through unchanged.
struct DatabaseFailure: Error, CustomStringConvertible {
    let underlying: any Error

    init(_ error: any Error) {
        self.underlying = (error as? DatabaseFailure)?.underlying ?? error
    }

    var description: String {
        guard let error = underlying as? PSQLError else { return String(describing: underlying) }
        if let message = error.serverInfo?[.message] {
            return "the database refused: \(message) (SQLSTATE \(error.sqlState ?? "?"))"
        }
        return "database connection failed: \(error.code)"
    }
}
