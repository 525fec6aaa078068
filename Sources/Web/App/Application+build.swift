import Audit
import Core
import Foundation
import Hummingbird
import Logging
import MealPayments
import MealTenders
import OpenBudget
import PostgresNIO
import Prometheus
import ServiceLifecycle
import SickLeave
import Storage
import Workflow

/// The routes and middleware, as a plain function so tests can call it with their own dependencies.
public func buildRouter(_ dependencies: AppDependencies) throws -> Router<AppRequestContext> {
    let router = Router(context: AppRequestContext.self)
    router.add(middleware: RequestLogMiddleware())
    router.add(middleware: PrometheusMiddleware(registry: dependencies.metrics))
    router.add(middleware: ErrorMiddleware(pages: dependencies.pages))
    router.add(
        middleware: BodyLimitMiddleware(
            maximumBytes: dependencies.maximumBodyBytes,
            maximumUploadBytes: dependencies.maximumUploadBodyBytes,
            mediaGate: dependencies.mediaGate
        )
    )
    router.add(middleware: LanguageMiddleware(secureCookies: dependencies.secureCookies))
    router.add(
        middleware: CSRFMiddleware(
            maximumBodyBytes: dependencies.maximumBodyBytes,
            secureCookies: dependencies.secureCookies,
            maximumUploadBytes: dependencies.maximumUploadBodyBytes
        )
    )
    try PublicController(dependencies: dependencies).register(on: router)
    APIController(dependencies: dependencies).register(on: router)
    WorkflowAPIController(dependencies: dependencies).register(on: router)
    AuditController(dependencies: dependencies).register(on: router)
    TenantPagesController(dependencies: dependencies).register(on: router)
    AccountContactsController(dependencies: dependencies).register(on: router)
    WorkflowPagesController(dependencies: dependencies).register(on: router)
    WorkflowFormsController(dependencies: dependencies).register(on: router)
    ServiceAdminController(dependencies: dependencies).register(on: router)
    AuditPagesController(dependencies: dependencies).register(on: router)
    SickLeaveController(dependencies: dependencies).register(on: router)
    SickLeavePagesController(dependencies: dependencies).register(on: router)
    PrincipalRotationController(dependencies: dependencies).register(on: router)
    PrincipalRotationPagesController(dependencies: dependencies).register(on: router)
    MealsController(dependencies: dependencies).register(on: router)
    MealsPagesController(dependencies: dependencies).register(on: router)
    CompetitionsController(dependencies: dependencies).register(on: router)
    CompetitionPagesController(dependencies: dependencies).register(on: router)
    OpenBudgetController(dependencies: dependencies).register(on: router)
    CitizenReportsController(dependencies: dependencies).register(on: router)
    Open311Controller(dependencies: dependencies).register(on: router)
    BudgetPagesController(dependencies: dependencies).register(on: router)
    ParticipatoryBudgetController(dependencies: dependencies).register(on: router)
    return router
}

/// Builds the services of a running server on an application-role client. With the client's
/// settings (`clientConfiguration`) the API tokens' principals are kept between requests while
/// ``AppDependencies/principalListener`` runs as one of the server's services.
public func buildDependencies(
    configuration: AppConfiguration,
    client: PostgresClient,
    clientConfiguration: PostgresClient.Configuration? = nil,
    metrics: PrometheusCollectorRegistry,
    logger: Logger
) async throws -> AppDependencies {
    let database = Database(
        client: client,
        logger: logger,
        leaseTimeout: configuration.databaseLeaseTimeout,
        configuration: clientConfiguration
    )
    let auditLog = PostgresAuditLog(database: database)
    let notary = try AuditKeys.notary(log: auditLog, configuration: configuration, logger: logger)
    // Tokens' principals kept between requests, while a listener on a connection of its own
    // hears of every change (it runs as one of the server's services).
    let principalListener = clientConfiguration.map {
        PrincipalListener(configuration: $0, cache: PrincipalCache(), logger: logger)
    }
    let accounts = AccountService(
        store: PostgresAccountStore(database: database, principals: principalListener?.cache),
        hasher: BcryptHasher(cost: configuration.bcryptCost),
        sessionLifetime: configuration.sessionLifetime
    )
    let sealer = try AuditKeys.keySealer(configuration: configuration, logger: logger)
    let registry = try ServiceImplementations.registry(configuration: configuration, sealer: sealer)
    logger.info(
        "workflow definitions loaded",
        metadata: [
            "definitions":
                "\(registry.keys.map { "\($0)@\(registry.versions($0).map(String.init).joined(separator: ","))" })"
        ]
    )
    var dependencies = AppDependencies(
        database: database,
        tenants: RememberingTenantStore(PostgresTenantStore(database: database)),
        auditLog: auditLog,
        notary: notary,
        accounts: accounts,
        workflows: WorkflowEngine(database: database, registry: registry),
        pages: try await PageRenderer.load(),
        metrics: metrics,
        maximumBodyBytes: configuration.maximumBodyBytes,
        secureCookies: configuration.secureCookies,
        sickLeaveLists: CityLists(database: database, sealer: sealer),
        certificateChecks: CheckRecorder(database: database),
        keySealer: sealer,
        webhookSecret: try AuditKeys.webhookSecret(configuration: configuration, logger: logger),
        publicBase: configuration.publicBase,
        ocdsPrefix: configuration.ocdsPrefix,
        maximumUploadBodyBytes: configuration.maximumUploadBodyBytes
    )
    dependencies.principalListener = principalListener
    dependencies.notificationChannels = try messageChannels(
        configuration: configuration,
        database: database,
        metrics: metrics,
        logger: logger
    )
    return dependencies
}

/// The HTTP application on an application-role client; the client runs as one of its services.
public func buildApplication(
    configuration: AppConfiguration,
    database: DatabaseEndpoints,
    metrics: PrometheusCollectorRegistry,
    logger: Logger
) async throws -> some ApplicationProtocol {
    let pool = database.application.steadyPool(connections: configuration.databaseConnections)
    let client = PostgresClient.onDatabaseLoops(pool, logger: logger)
    let dependencies = try await buildDependencies(
        configuration: configuration,
        client: client,
        clientConfiguration: pool,
        metrics: metrics,
        logger: logger
    )
    return Application(
        router: try buildRouter(dependencies),
        server: .http1OnEventLoops,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "adal"),
        services: [client]
            + backgroundServices(configuration: configuration, dependencies: dependencies, logger: logger),
        eventLoopGroupProvider: .shared(ServerLoops.group),
        logger: logger
    )
}

/// What the server runs beside its routes: the audit sequencer, the job runner (timers and the
/// outbox), the certificate checks' recorder, the clinics' key rotation, the housekeeping that
/// deletes what a city keeps only for a while and, when the database announces changes, the
/// principals' listener. The benchmarks run the same list, so they measure
/// the server as it runs in a city.
public func backgroundServices(
    configuration: AppConfiguration,
    dependencies: AppDependencies,
    logger: Logger
) -> [any Service] {
    let sequencer = AuditSequencer(
        log: dependencies.auditLog,
        mergeDelay: configuration.auditMergeDelay,
        logger: logger
    )
    let jobs = JobRunner(
        engine: dependencies.workflows,
        handlers: ServiceImplementations.outboxHandlers(logger: logger).merging(
            MealOutbox.handlers(
                channels: dependencies.notificationChannels,
                contacts: dependencies.contacts,
                topUps: dependencies.topUps,
                provider: dependencies.paymentProvider,
                schools: dependencies.mealSchools,
                say: MealsPagesController.say(dependencies.pages.locales)
            ),
            uniquingKeysWith: { first, _ in first }
        ).merging(
            CompetitionOutbox.handlers(engine: dependencies.workflows, contracts: dependencies.mealSchools),
            uniquingKeysWith: { first, _ in first }
        ).merging(OpenBudgetService.handlers(database: dependencies.database), uniquingKeysWith: { first, _ in first }),
        pollInterval: configuration.jobPollInterval,
        logger: logger
    )
    return [
        sequencer, jobs, dependencies.certificateChecks, dependencies.keyRotation,
        housekeeping(configuration: configuration, database: dependencies.database),
        deliveryReports(dependencies: dependencies),
    ]
        + (dependencies.principalListener.map { [$0] } ?? [])
}

/// The server's housekeeping with every service's retention rule, as the configuration sets
/// the periods (README, "What is kept and for how long").
public func housekeeping(configuration: AppConfiguration, database: Database) -> Housekeeping {
    Housekeeping(
        database: database,
        rules: PostgresAccountStore.retentionRules + ContactBook.retentionRules
            + JobRunner.retentionRules(keep: configuration.keepFinishedJobs)
            + MealInbox.retentionRules(pages: configuration.keepMessages, sent: configuration.keepFinishedJobs)
            + TopUps.retentionRules
    )
}

/// Resolves the database (starting the embedded cluster when none is configured), applies
/// pending migrations as the owner, and checks the application role before anything is served:
/// reachable within 10 s, unprivileged, schema up to date.
public func prepareDatabase(configuration: AppConfiguration, logger: Logger) async throws -> DatabaseEndpoints {
    let endpoints = try await DatabaseEndpoints.resolve(
        databaseURL: configuration.databaseURL,
        migrationDatabaseURL: configuration.migrationDatabaseURL,
        dataDirectory: configuration.dataDirectory,
        logger: logger
    )
    do {
        let migrator = Migrator(migrations: try Migration.load(directory: configuration.migrationsDirectory))
        if configuration.migrateOnStart, let owner = endpoints.owner {
            try await PostgresClient.using(owner, logger: logger) { client in
                try await client.withConnection { connection in
                    try await migrator.migrate(connection: connection, logger: logger)
                }
            }
        }
        try await PostgresClient.using(endpoints.application, logger: logger) { client in
            try await client.withConnection { connection in
                try await ConnectionCheck.requireUnprivileged(connection, logger: logger)
                let pending = try await migrator.unapplied(connection: connection, logger: logger)
                if let first = pending.first {
                    throw PendingMigrations(first: first.fileName, count: pending.count)
                }
            }
        }
        return endpoints
    } catch {
        endpoints.cluster?.stop(logger: logger)
        throw error
    }
}

/// The schema is behind the code and this process cannot migrate it.
public struct PendingMigrations: Error, CustomStringConvertible {
    public var first: String
    public var count: Int
    public var description: String {
        "The database has \(count) migration(s) to apply, starting with \(first): run 'adal migrate' with MIGRATION_DATABASE_URL set."
    }
}
