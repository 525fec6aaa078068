import ArgumentParser
import Audit
import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// `adal bench workflow`: steps per second and step latency through the engine, then the same
/// SQL statements without the engine, on one city and on many.
struct WorkflowBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Workflow engine: steps/s and p50/p99 step latency, engine against raw SQL.",
        discussion: """
            Runs a three-step definition (start → review → close, with a human task and its escalation \
            timer on the first state) from --clients concurrent clients, on one city and on --tenants \
            cities, while the audit sequencer integrates the leaves; fsync and synchronous_commit stay on. \
            Each run is repeated with the engine's own SQL statements issued directly (the raw mode), and \
            the ratio printed.
            """
    )

    @Option(help: "Steps per run (a multiple of three: each instance takes three).") var steps = 30_000
    @Option(help: "Concurrent clients.") var clients = 16
    @Option(help: "Cities for the spread run.") var tenants = 100
    @Option(help: "Steps run first and not measured (fills caches and WAL segments).") var warmup = 6_000
    @Flag(help: "Skip the raw-SQL runs.") var noRaw = false

    static let definitionText = """
        key: bench-three-step
        version: 1
        title: {kk: Өлшеу, ru: Замер, en: Benchmark}
        roles: [procurement_officer]
        states:
          received:
            initial: true
            title: {kk: Қабылданды, ru: Принято, en: Received}
            task: {role: procurement_officer, due: P5D, escalate: escalate}
          reviewed:
            title: {kk: Қаралды, ru: Рассмотрено, en: Reviewed}
          closed:
            terminal: true
            title: {kk: Жабылды, ru: Закрыто, en: Closed}
        start:
          title: {kk: Бастау, ru: Начать, en: Start}
          roles: [procurement_officer]
          input:
            amount: {type: money}
        events:
          - name: review
            title: {kk: Қарау, ru: Рассмотреть, en: Review}
            from: received
            to: reviewed
            roles: [procurement_officer]
            input:
              note: {type: string, max_length: 200}
          - name: escalate
            title: {kk: Жіберу, ru: Передать, en: Escalate}
            from: received
            to: reviewed
            roles: [system]
          - name: close
            title: {kk: Жабу, ru: Закрыть, en: Close}
            from: reviewed
            to: closed
            roles: [procurement_officer]
        """

    func run() async throws {
        let definition = try DefinitionLoader.load(
            bytes: Array(Self.definitionText.utf8),
            file: "bench-three-step.yaml",
            hooks: .none
        )
        let registry = try {
            var registry = WorkflowRegistry()
            try registry.add(definition)
            return registry
        }()
        let (steps, clients, tenantCount, noRaw, warmup) = (
            steps - steps % 3, clients, tenants, noRaw, warmup - warmup % 3
        )
        try await BenchEnvironment.with(tenants: tenantCount, connections: clients + 4) { database, owner, cities in
            for city in cities {
                try await database.withTenant(city.id) { connection in
                    try await connection.query(
                        "INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(city.id), \(definition.key))",
                        logger: database.logger
                    )
                }
            }
            let engine = WorkflowEngine(database: database, registry: registry)
            let sequencer = AuditSequencer(
                log: PostgresAuditLog(database: database),
                mergeDelay: .milliseconds(200),
                logger: database.logger
            )
            let sequencing = Task { try await sequencer.run() }
            defer { sequencing.cancel() }
            if warmup > 0 {
                _ = try await Self.measure(steps: warmup, clients: clients) { client, number in
                    try await Self.engineInstance(engine, tenant: cities[number % cities.count].id, client: client)
                }
            }
            for run in [Array(cities.prefix(1)), cities] {
                let label = run.count == 1 ? "one city" : "\(run.count) cities"
                try await Self.vacuum(owner)
                let viaEngine = try await Self.measure(steps: steps, clients: clients) { client, number in
                    try await Self.engineInstance(engine, tenant: run[number % run.count].id, client: client)
                }
                print(viaEngine.line("engine, \(label)", steps: steps))
                try await Self.vacuum(owner)
                guard !noRaw else { continue }
                let raw = try await Self.measure(steps: steps, clients: clients) { client, number in
                    try await Self.rawInstance(database, definition: definition, tenant: run[number % run.count].id)
                }
                print(raw.line("raw SQL, \(label)", steps: steps))
                print(String(format: "engine / raw, %@: %.2f", label, viaEngine.rate(steps) / raw.rate(steps)))
            }
        }
    }

    /// A fresh cluster has no statistics and the runs leave dead rows that autovacuum would only
    /// clear a minute later: each measured run starts from a vacuumed, analysed database, as a
    /// server that has been up for a while would.
    static func vacuum(_ owner: Database) async throws {
        try await owner.client.withConnection { connection in
            try await connection.query("VACUUM ANALYZE", logger: owner.logger)
        }
    }

    /// One run's elapsed time and the latency of every step.
    struct Measurement {
        let seconds: Double
        let latencies: [Double]

        func rate(_ steps: Int) -> Double { Double(steps) / seconds }

        func line(_ label: String, steps: Int) -> String {
            let sorted = latencies.sorted()
            let p50 = sorted[sorted.count / 2] * 1000
            let p99 = sorted[min(sorted.count - 1, sorted.count * 99 / 100)] * 1000
            return String(
                format: "%@: %d steps in %.2f s = %.0f steps/s; step latency p50 %.2f ms, p99 %.2f ms",
                label,
                steps,
                seconds,
                rate(steps),
                p50,
                p99
            )
        }
    }

    /// Runs `steps / 3` instances over `clients` tasks; `instance` returns its three step latencies.
    static func measure(
        steps: Int,
        clients: Int,
        instance: @escaping @Sendable (Int, Int) async throws -> [Double]
    ) async throws -> Measurement {
        let instances = steps / 3
        let started = ContinuousClock.now
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for client in 0..<clients {
                group.addTask {
                    var latencies: [Double] = []
                    var number = client
                    while number < instances {
                        latencies += try await instance(client, number)
                        number += clients
                    }
                    return latencies
                }
            }
            return try await group.reduce(into: [Double]()) { $0 += $1 }
        }
        return Measurement(seconds: BenchEnvironment.seconds(ContinuousClock.now - started), latencies: latencies)
    }

    static func timed(_ body: () async throws -> Void) async throws -> Double {
        let started = ContinuousClock.now
        try await body()
        return BenchEnvironment.seconds(ContinuousClock.now - started)
    }

    static let officer = StepActor(id: UUID(), roles: [.procurementOfficer])

    static func engineInstance(_ engine: WorkflowEngine, tenant: UUID, client: Int) async throws -> [Double] {
        var instance = UUID()
        let first = try await timed {
            instance = try await engine.start(
                tenantID: tenant,
                service: "bench-three-step",
                actor: officer,
                input: ["amount": .integer(85_000)],
                idempotencyKey: UUID().uuidString
            ).instanceID
        }
        let second = try await timed {
            _ = try await engine.fire(
                tenantID: tenant,
                instanceID: instance,
                event: "review",
                actor: officer,
                input: ["note": .string("checked")],
                idempotencyKey: UUID().uuidString
            )
        }
        let third = try await timed {
            _ = try await engine.fire(
                tenantID: tenant,
                instanceID: instance,
                event: "close",
                actor: officer,
                input: [:],
                idempotencyKey: UUID().uuidString
            )
        }
        return [first, second, third]
    }

    /// The same three steps as the engine writes them, statement for statement, with the values
    /// computed directly instead of by the engine's checks.
    static func rawInstance(_ database: Database, definition: WorkflowDefinition, tenant: UUID) async throws -> [Double]
    {
        let instance = UUID()
        let states: [(event: String, from: String?, to: String, input: String)] = [
            ("start", nil, "received", #"{"amount":85000}"#),
            ("review", "received", "reviewed", #"{"note":"checked"}"#),
            ("close", "reviewed", "closed", "{}"),
        ]
        var latencies: [Double] = []
        for (offset, step) in states.enumerated() {
            let sequence = Int64(offset + 1)
            let now = Date()
            let inputHash = Array(SHA256.hash(data: Array(step.input.utf8)))
            let key = UUID().uuidString
            let entry = try AuditEntry(
                tenantID: tenant,
                service: definition.key,
                instanceID: instance,
                sequence: UInt64(sequence),
                event: step.event,
                actorRole: "procurement_officer",
                time: now,
                amounts: offset == 0 ? [(label: "amount", tiyn: 85_000)] : [],
                inputHash: inputHash,
                subjects: [],
                previousLeafIndex: AuditEntry.noPreviousLeaf
            ).encoded()
            let write = StepWrite(
                start: offset == 0,
                tenantID: tenant,
                instanceID: instance,
                service: definition.key,
                definitionVersion: definition.version,
                definitionSHA256: definition.sha256,
                parametersJSON: "{}",
                sequence: sequence,
                event: step.event,
                fromState: step.from,
                toState: step.to,
                actorID: officer.id,
                actorRole: "procurement_officer",
                inputJSON: step.input,
                inputSHA256: inputHash,
                idempotencyKey: key,
                requestSHA256: inputHash,
                at: now,
                subject: nil,
                taskRole: offset == 0 ? "procurement_officer" : nil,
                taskDueAt: offset == 0 ? now.addingTimeInterval(5 * 86_400) : nil,
                closes: offset == 2,
                cancelsTimers: offset == 1,
                jobs: offset == 0
                    ? StateJobs(scheduling: [
                        (kind: "escalation", event: "escalate", at: now.addingTimeInterval(5 * 86_400))
                    ])
                    : .none,
                auditEntry: entry
            )
            latencies.append(
                try await timed {
                    try await database.withTenant(tenant) { connection in
                        if offset == 0 {
                            _ = try await connection.query(
                                """
                                SELECT definition_version, parameters::text FROM tenant_services
                                WHERE tenant_id = \(tenant) AND service_key = \(definition.key)
                                """,
                                logger: database.logger
                            ).collect()
                        } else {
                            for try await _ in try await connection.execute(
                                PreparedInstanceLock(tenantID: tenant, instanceID: instance, idempotencyKey: key),
                                logger: database.logger
                            ) {}
                        }
                        for try await _ in try await connection.execute(try write.prepared, logger: database.logger) {}
                    }
                }
            )
        }
        return latencies
    }
}
