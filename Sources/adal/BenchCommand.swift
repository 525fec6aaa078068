import ArgumentParser
import Audit
import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Web

/// `adal bench`: measurements on a private PostgreSQL, never on a real data folder.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure Adal on a throw-away embedded PostgreSQL (build with -c release).",
        subcommands: [Audit.self, WorkflowBench.self, VerifyBench.self, RotationBench.self, MealsBench.self]
    )

    struct Audit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Audit log: steps per second on one hot city and on several, verification time, proof latency.",
            discussion: """
                Each step is its own transaction that queues one leaf (as a workflow step will), from \
                --writers concurrent writers, while a sequencer integrates; fsync stays on. Then --verify-leaves \
                leaves are verified and --proofs inclusion proofs timed.
                """
        )

        @Option(help: "Steps on the hot city.") var steps = 20_000
        @Option(help: "Cities for the spread run.") var tenants = 8
        @Option(help: "Concurrent writers.") var writers = 16
        @Option(help: "Leaves in the tree that is verified.") var verifyLeaves = 200_000
        @Option(help: "Inclusion proofs to time.") var proofs = 1_000

        func run() async throws {
            let (steps, tenantCount, writers, verifyLeaves, proofs) = (steps, tenants, writers, verifyLeaves, proofs)
            try await BenchEnvironment.with(tenants: tenantCount, connections: writers + 4) { database, owner, cities in
                let hot = try await Self.appendRun(database, cities: [cities[0]], steps: steps, writers: writers)
                print(
                    String(
                        format: "one hot city: %d steps queued and integrated in %.2f s = %.0f steps/s",
                        steps,
                        hot,
                        Double(steps) / hot
                    )
                )
                let spread = try await Self.appendRun(database, cities: cities, steps: steps, writers: writers)
                print(
                    String(
                        format: "%d cities: %d steps in %.2f s = %.0f steps/s",
                        cities.count,
                        steps,
                        spread,
                        Double(steps) / spread
                    )
                )
                let log = PostgresAuditLog(database: database)
                let target = cities[cities.count > 1 ? 1 : 0]
                let filled = try await Self.bulkFill(database, tenant: target, total: verifyLeaves)
                print(String(format: "bulk-integrated %d leaves in %.2f s", verifyLeaves, filled))
                // As on a server up for a while: statistics gathered, rows vacuumed.
                try await WorkflowBench.vacuum(owner)
                let started = ContinuousClock.now
                let verified = try await AuditVerifier(database: database).verify(tenantID: target.id)
                print(
                    String(
                        format: "verified %d leaves in %.2f s",
                        verified.size,
                        BenchEnvironment.seconds(ContinuousClock.now - started)
                    )
                )
                var generator = SystemRandomNumberGenerator()
                let proofStart = ContinuousClock.now
                for _ in 0..<proofs {
                    _ = try await log.inclusionProof(
                        index: Int.random(in: 0..<verified.size, using: &generator),
                        size: verified.size,
                        tenantID: target.id
                    )
                }
                let perProof = BenchEnvironment.seconds(ContinuousClock.now - proofStart) / Double(proofs) * 1000
                print(
                    String(
                        format: "inclusion proof at size %d: %.3f ms each (mean of %d, from the database)",
                        verified.size,
                        perProof,
                        proofs
                    )
                )
                var hashes: [TreeHash] = []
                for _ in 0..<proofs {
                    let index = Int.random(in: 0..<verified.size, using: &generator)
                    if let leaf = try await log.leaf(index: index, tenantID: target.id) { hashes.append(leaf.hash) }
                }
                let byHashStart = ContinuousClock.now
                for hash in hashes {
                    guard try await log.inclusionProof(leafHash: hash, size: verified.size, tenantID: target.id) != nil
                    else { throw ValidationError("leaf \(hash) not found by its hash") }
                }
                print(
                    String(
                        format: "inclusion proof by leaf hash at size %d: %.3f ms each (mean of %d)",
                        verified.size,
                        BenchEnvironment.seconds(ContinuousClock.now - byHashStart) / Double(hashes.count) * 1000,
                        hashes.count
                    )
                )
            }
        }

        static func entry(_ tenant: UUID, _ number: Int) -> AuditEntry {
            AuditEntry(
                tenantID: tenant,
                service: "meal-payments",
                instanceID: UUID(),
                sequence: 1,
                event: "charge",
                actorRole: "canteen_till",
                time: Date(),
                amounts: [(label: "price", tiyn: 85_000)],
                inputHash: Array(repeating: UInt8(number & 0xff), count: 32),
                subjects: [],
                previousLeafIndex: AuditEntry.noPreviousLeaf
            )
        }

        /// `steps` one-leaf transactions spread over `cities` by `writers` tasks, with one sequencer per city running.
        static func appendRun(_ database: Database, cities: [Tenant], steps: Int, writers: Int) async throws -> Double {
            let log = PostgresAuditLog(database: database)
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<writers {
                    group.addTask {
                        var number = writer
                        while number < steps {
                            let tenant = cities[number % cities.count].id
                            let entry = entry(tenant, number)
                            try await database.withTenant(tenant) { connection in
                                try await PostgresAuditLog.queue(
                                    entry,
                                    tenantID: tenant,
                                    on: connection,
                                    logger: database.logger
                                )
                            }
                            number += writers
                        }
                    }
                }
                for (position, city) in cities.enumerated() {
                    // Steps n with n % cities.count == position go to this city.
                    let expected = steps / cities.count + (position < steps % cities.count ? 1 : 0)
                    group.addTask {
                        // This city's sequencer, until every one of its steps is in the tree.
                        var integrated = 0
                        while integrated < expected {
                            let moved = try await log.integrate(tenantID: city.id)
                            integrated += moved
                            if moved == 0 { try await Task.sleep(for: .milliseconds(10)) }
                        }
                    }
                }
                try await group.waitForAll()
            }
            return BenchEnvironment.seconds(ContinuousClock.now - started)
        }

        /// Queues `total` leaves in bulk and integrates them, for the verification measurement.
        static func bulkFill(_ database: Database, tenant: Tenant, total: Int) async throws -> Double {
            let log = PostgresAuditLog(database: database)
            let already = try await log.head(tenantID: tenant.id).size
            let started = ContinuousClock.now
            var queued = 0
            while queued < total {
                let count = min(PostgresAuditLog.maximumBatch, total - queued)
                let entries = try (0..<count).map { TreeHash.hex(try entry(tenant.id, queued + $0).encoded()) }
                try await database.withTenant(tenant.id) { connection in
                    try await connection.query(
                        """
                        INSERT INTO audit_queue (tenant_id, entry)
                        SELECT \(tenant.id), decode(e, 'hex') FROM unnest(\(entries)::text[]) AS t (e)
                        """,
                        logger: database.logger
                    )
                }
                queued += count
                while try await log.integrate(tenantID: tenant.id) > 0 {}
            }
            let size = try await log.head(tenantID: tenant.id).size
            guard size == already + total else {
                throw ValidationError("bulk fill left \(size) leaves, expected \(already + total)")
            }
            return BenchEnvironment.seconds(ContinuousClock.now - started)
        }
    }
}

/// A throw-away embedded cluster for one benchmark run: fsync and synchronous_commit stay on.
enum BenchEnvironment {
    static let logger = {
        _ = ServerLogging.installed
        var logger = Logger(label: "adal.bench")
        logger.logLevel = .warning
        return logger
    }()

    /// Creates the cluster, migrates it, creates `tenants` cities (bench-0…), runs `body` with
    /// the application role's and the owner's databases, and removes the cluster. With
    /// `statements`, the cluster counts its statements (``BenchStatements``); `settings` are set
    /// on the cluster before anything runs (``apply(_:to:directory:)``): by default those
    /// `deploy/postgresql.conf` recommends (``serverSettings(stock:extra:)``).
    static func with(
        tenants: Int,
        connections: Int,
        statements: Bool = false,
        settings: ServerSettings? = nil,
        _ body: @escaping @Sendable (_ application: Database, _ owner: Database, [Tenant]) async throws -> Void
    ) async throws {
        let directory = NSTemporaryDirectory() + "/adal-bench-\(UUID().uuidString)"
        defer {
            EmbeddedPostgres.stopImmediately(dataDirectory: directory)
            try? FileManager.default.removeItem(atPath: directory)
        }
        var configuration = AppConfiguration()
        configuration.dataDirectory = directory
        configuration.migrationsDirectory = ProcessInfo.processInfo.environment["ADAL_MIGRATIONS_DIR"] ?? "migrations"
        let settings = try settings ?? serverSettings(stock: false, extra: [])
        var endpoints = try await prepareDatabase(configuration: configuration, logger: logger)
        do {
            endpoints = try await apply(settings, to: endpoints, directory: directory)
        } catch {
            throw DatabaseFailure(error)
        }
        if statements {
            endpoints = try await BenchStatements.load(into: endpoints, directory: directory, logger: logger)
        }
        if let cluster = endpoints.cluster {
            try await prepareWAL(cluster)
        }
        let application = endpoints.application.steadyPool(connections: connections)
        try await endpoints.withOwner(logger: logger) { owner in
            let store = PostgresTenantStore(database: owner)
            var cities: [Tenant] = []
            for number in 0..<max(tenants, 1) {
                cities.append(
                    try await store.create(
                        slug: TenantSlug("bench-\(number)"),
                        name: LocalizedText(kk: "B", ru: "B", en: "B"),
                        region: ""
                    )
                )
            }
            let created = cities
            try await PostgresClient.using(application, logger: logger) { client in
                try await body(Database(client: client, logger: logger, configuration: application), owner, created)
            }
        }
        endpoints.cluster?.stop(logger: logger)
    }

    /// The settings a bench's cluster runs with: those `deploy/postgresql.conf` recommends
    /// (PostgreSQL's own defaults with `stock`), then each "name=value" of `extra`.
    static func serverSettings(stock: Bool, extra: [String]) throws -> ServerSettings {
        let asked = ServerSettings(try extra.map { try ServerSettings.parse(setting: $0) })
        guard !stock else { return asked }
        guard FileManager.default.fileExists(atPath: ServerSettings.deployedPath) else {
            throw ValidationError(
                "\(ServerSettings.deployedPath) not found: run the benchmark from the checkout (as `make bench` does), or give --stock-server"
            )
        }
        return try ServerSettings.read(path: ServerSettings.deployedPath).overridden(by: asked)
    }

    /// Sets each setting on the cluster (ALTER SYSTEM, then a reload) and prints them. One that
    /// takes effect only at start (such as `shared_buffers`) restarts the cluster; the endpoints
    /// of the cluster that runs.
    static func apply(
        _ settings: ServerSettings,
        to endpoints: DatabaseEndpoints,
        directory: String
    ) async throws
        -> DatabaseEndpoints
    {
        guard !settings.settings.isEmpty, let cluster = endpoints.cluster else { return endpoints }
        print(
            "PostgreSQL settings: "
                + settings.settings.map { "\($0.name)=\($0.value)" }.joined(separator: ", ")
        )
        let pending = try await cluster.withSuperuserConnection(database: "postgres", logger: logger) {
            connection in
            // An extension's settings are known once its library is loaded (`auto_explain.…`).
            let libraries = Set(settings.settings.compactMap { $0.name.split(separator: ".").dropLast().first })
            for library in libraries.sorted() {
                try await connection.query(PostgresQuery(unsafeSQL: "LOAD '\(library)'"), logger: logger)
            }
            for setting in settings.settings {
                // A bare name and a plain word (``ServerSettings/parse(setting:)``), so both can
                // stand in the text.
                try await connection.query(
                    PostgresQuery(unsafeSQL: "ALTER SYSTEM SET \(setting.name) = '\(setting.value)'"),
                    logger: logger
                )
            }
            try await connection.query("SELECT pg_reload_conf()", logger: logger)
            try await Task.sleep(for: .milliseconds(200))
            let names = settings.settings.map(\.name)
            return try await connection.query(
                "SELECT name FROM pg_settings WHERE pending_restart AND name = ANY(\(names))",
                logger: logger
            ).collect().map { try $0.decode(String.self) }
        }
        guard !pending.isEmpty else { return endpoints }
        return try await restart(endpoints, directory: directory)
    }

    /// Stops the bench's embedded cluster and starts it again (on another port), for settings
    /// read only at start; the endpoints of the started cluster.
    static func restart(_ endpoints: DatabaseEndpoints, directory: String) async throws -> DatabaseEndpoints {
        guard let cluster = endpoints.cluster else { return endpoints }
        cluster.stop(logger: logger)
        let restarted = try await EmbeddedPostgres(dataDirectory: directory).start(logger: logger)
        return DatabaseEndpoints(
            application: restarted.configuration(role: .application),
            owner: restarted.configuration(role: .owner),
            cluster: restarted
        )
    }

    /// Makes `segments` WAL segments ahead, as a server that has run a while has them.
    /// PostgreSQL keeps the segments a checkpoint no longer needs and reuses them as the next
    /// ones; a new cluster has none, so the commit that fills a segment waits while the next is
    /// made (16 MB of zeroes and a flush: 11–21 ms on this machine's disk, every 3 s or so under
    /// the charges' load — most of a run's slowest batches). Each round writes a message and
    /// switches to a new segment; the checkpoint then keeps the finished ones for reuse.
    static func prepareWAL(_ cluster: RunningCluster, segments: Int = 32) async throws {
        try await cluster.withSuperuserConnection(database: "postgres", logger: logger) { connection in
            for _ in 0..<segments {
                try await connection.query("SELECT pg_logical_emit_message(false, 'adal-bench', '')", logger: logger)
                try await connection.query("SELECT pg_switch_wal()", logger: logger)
            }
            try await connection.query("CHECKPOINT", logger: logger)
        }
    }

    /// Runs `body` as `tasks` concurrent tasks, each returning its latencies in milliseconds,
    /// prints the throughput and p50/p99 of them all, and returns how many there were.
    @discardableResult
    static func concurrently(
        _ tasks: Int,
        label: String,
        _ body: @escaping @Sendable (Int) async throws -> [Double]
    ) async throws -> Int {
        let begin = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for task in 0..<tasks { group.addTask { try await body(task) } }
            var all: [Double] = []
            for try await part in group { all += part }
            return all.sorted()
        }
        print(report(label, latencies: latencies, seconds: seconds(ContinuousClock.now - begin)))
        return latencies.count
    }

    /// `label: N in T s = R /s; p50 …, p99 …` from sorted latencies in milliseconds.
    static func report(_ label: String, latencies: [Double], seconds total: Double) -> String {
        guard !latencies.isEmpty else { return "\(label): nothing done" }
        return String(
            format: "%@: %d in %.2f s = %.0f /s; p50 %.2f ms, p99 %.2f ms",
            label,
            latencies.count,
            total,
            Double(latencies.count) / total,
            latencies[latencies.count / 2],
            latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
        )
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
