import Audit
import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import PostgresNIO
import Storage
import TestSupport
import Testing
import Workflow

@testable import Web

/// The `adal serve` binary as a separate process on a test database, so it can be killed.
final class ServerProcess: @unchecked Sendable {
    let port: Int
    let environment: [String: String]
    let logPath: String
    private var process: Process?

    init(port: Int, environment: [String: String], logPath: String) {
        self.port = port
        self.environment = environment
        self.logPath = logPath
    }

    /// The package's debug build of `adal`, which `make test` builds with the tests.
    static var binary: String {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/adal").path
    }

    func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["serve", "--port", String(port)]
        process.environment = environment
        if !FileManager.default.fileExists(atPath: logPath) {
            FileManager.default.createFile(atPath: logPath, contents: nil)
        }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try process.run()
        self.process = process
        for _ in 0..<300 {
            if (try? await get("/health").status) == .ok { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw ServerDidNotStart(log: (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "")
    }

    /// SIGKILL: no shutdown handlers, no flushing, as a power cut or an OOM kill.
    func kill9() {
        guard let process else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        self.process = nil
    }

    func stop() {
        guard let process else { return }
        process.terminate()
        process.waitUntilExit()
        self.process = nil
    }

    func get(_ uri: String) async throws -> TestClient.Response {
        try await send(TestClient.Request(uri, method: .get))
    }

    func send(_ request: TestClient.Request) async throws -> TestClient.Response {
        try await TestClient.withClient(host: "127.0.0.1", port: port, configuration: .init(timeout: .seconds(5))) {
            client in
            try await client.execute(request)
        }
    }
}

struct ServerDidNotStart: Error, CustomStringConvertible {
    let log: String
    var description: String { "adal serve did not answer /health:\n\(log.suffix(2_000))" }
}

@Suite("Crashes")
struct ServerCrashTests {
    /// Sends `request` until the server answers it (2xx or a refusal), across crashes.
    static func acknowledged(
        _ server: ServerProcess,
        _ request: TestClient.Request,
        retries: RetryCount
    ) async throws -> TestClient.Response {
        for _ in 0..<2_000 {
            if let response = try? await server.send(request), response.status.code < 500 { return response }
            await retries.add()
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ServerDidNotStart(log: "no answer after many retries")
    }

    /// A test database with Astana running repair-report, tokens for its parent and administrator,
    /// and a way to start `adal serve` processes on it.
    struct Setup: Sendable {
        let databases: TestDatabases
        let astana: Tenant
        let parentToken: String
        let adminToken: String
        let directory: String
        let signerKey: String

        func server(name: String) throws -> ServerProcess {
            ServerProcess(
                port: try FreePort.find(),
                environment: [
                    "DATABASE_URL": databases.url(.application),
                    "ADAL_DATA_DIR": directory + "/" + name, "ADAL_WORKFLOWS_DIR": directory + "/workflows",
                    "ADAL_MIGRATIONS_DIR": "migrations", "ADAL_LOG_LEVEL": "warning",
                    "ADAL_AUDIT_SIGNER_KEY": signerKey,
                ],
                logPath: directory + "/\(name).log"
            )
        }

        func count(_ query: PostgresQuery) async throws -> Int64 {
            try await databases.owner.withTenant(astana.id) { connection in
                var value: Int64 = 0
                for try await number in try await connection.query(query, logger: databases.owner.logger).decode(
                    Int64.self
                ) {
                    value = number
                }
                return value
            }
        }

        static func with(_ body: @escaping @Sendable (Setup) async throws -> Void) async throws {
            try await TestDatabases.with { databases in
                let (astana, _) = try await databases.createCities(
                    hasher: BcryptHasher(cost: 4),
                    password: "irrelevant"
                )
                try await databases.owner.withTenant(astana.id) { connection in
                    try await connection.query(
                        "INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(astana.id), 'repair-report')",
                        logger: databases.owner.logger
                    )
                }
                let accounts = AccountService(
                    store: PostgresAccountStore(database: databases.owner),
                    hasher: BcryptHasher(cost: 4)
                )
                let parent = try await accounts.issueToken(
                    login: "parent",
                    name: "t",
                    roles: [.parent],
                    tenantID: astana.id
                )
                let admin = try await accounts.issueToken(
                    login: "admin",
                    name: "t",
                    roles: [.akimatAdmin],
                    tenantID: astana.id
                )
                let directory = NSTemporaryDirectory() + "/adal-process-\(UUID().uuidString)"
                try FileManager.default.createDirectory(
                    atPath: directory + "/workflows",
                    withIntermediateDirectories: true
                )
                defer { try? FileManager.default.removeItem(atPath: directory) }
                try Data(WebFixture.repairReport.utf8).write(
                    to: URL(fileURLWithPath: directory + "/workflows/repair-report.yaml")
                )
                try await body(
                    Setup(
                        databases: databases,
                        astana: astana,
                        parentToken: parent.0.text,
                        adminToken: admin.0.text,
                        directory: directory,
                        signerKey: try NoteSigner.generate(name: "adal.test").signerKey
                    )
                )
            }
        }
    }

    @Test("two server processes on one database fire each due timer exactly once")
    func twoProcessesShareTimers() async throws {
        try await Setup.with { setup in
            let engine = WorkflowEngine(
                database: setup.databases.application,
                registry: try WorkflowRegistry.load(
                    directory: URL(fileURLWithPath: setup.directory + "/workflows"),
                    implementations: []
                )
            )
            let reports = 40
            for number in 0..<reports {
                _ = try await engine.start(
                    tenantID: setup.astana.id,
                    service: "repair-report",
                    actor: StepActor(id: UUID(), roles: [.parent]),
                    input: ["school_bin": .string("940140000385"), "what": .string("Report \(number)")]
                )
            }
            // Every task overdue at once; the definition has no escalation event, so each overdue
            // task becomes exactly one 'task.overdue' message.
            try await setup.databases.owner.withTenant(setup.astana.id) { connection in
                try await connection.query(
                    "UPDATE jobs SET run_at = now() - interval '1 second' WHERE kind = 'escalation'",
                    logger: setup.databases.owner.logger
                )
            }
            let first = try setup.server(name: "first")
            let second = try setup.server(name: "second")
            async let a: Void = first.start()
            async let b: Void = second.start()
            _ = try await (a, b)
            defer {
                first.stop()
                second.stop()
            }
            var done: Int64 = 0
            for _ in 0..<200 {
                done = try await setup.count("SELECT count(*) FROM jobs WHERE kind = 'escalation' AND status = 'done'")
                if done == reports { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(done == Int64(reports))
            #expect(try await setup.count("SELECT count(*) FROM jobs WHERE topic = 'task.overdue'") == Int64(reports))
            #expect(try await setup.count("SELECT max(attempts) FROM jobs WHERE kind = 'escalation'") == 1)
        }
    }

    @Test("kill -9 during concurrent steps with retries by key: no acknowledged step lost, none applied twice")
    func killDuringSteps() async throws {
        try await Setup.with { setup in
            let (parent, admin, astana) = (setup.parentToken, setup.adminToken, setup.astana)
            let server = try setup.server(name: "crash")
            try await server.start()
            defer { server.stop() }

            let retries = RetryCount()
            let reports = 48
            let clients = 8
            let killer = Task {
                for _ in 0..<3 {
                    try await Task.sleep(for: .milliseconds(400))
                    server.kill9()
                    try await server.start()
                }
            }
            let outcomes = try await withThrowingTaskGroup(of: [(String, String, Int)].self) { group in
                for client in 0..<clients {
                    group.addTask {
                        var seen: [(String, String, Int)] = []
                        var number = client
                        while number < reports {
                            var headers = HTTPFields()
                            headers[.authorization] = "Bearer \(parent)"
                            headers[.contentType] = "application/json"
                            headers[WorkflowAPIController.idempotencyKey] = "report-\(number)"
                            let body = #"{"input": {"school_bin": "940140000385", "what": "Report \#(number)"}}"#
                            let started = try await Self.acknowledged(
                                server,
                                TestClient.Request(
                                    "/api/astana/services/repair-report/instances",
                                    method: .post,
                                    headers: headers,
                                    body: ByteBuffer(string: body)
                                ),
                                retries: retries
                            )
                            let id =
                                try JSONSerialization.jsonObject(with: Data(buffer: started.body ?? ByteBuffer()))
                                as? [String: Any]
                            let instance = id?["instance"] as? String ?? ""
                            var acceptHeaders = HTTPFields()
                            acceptHeaders[.authorization] = "Bearer \(admin)"
                            acceptHeaders[.contentType] = "application/json"
                            acceptHeaders[WorkflowAPIController.idempotencyKey] = "accept-\(number)"
                            let accepted = try await Self.acknowledged(
                                server,
                                TestClient.Request(
                                    "/api/astana/instances/\(instance)/events/accept",
                                    method: .post,
                                    headers: acceptHeaders,
                                    body: ByteBuffer(string: "{}")
                                ),
                                retries: retries
                            )
                            seen.append(("report-\(number)", instance, Int(accepted.status.code)))
                            number += clients
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: [(String, String, Int)]()) { $0 += $1 }
            }
            try await killer.value

            #expect(outcomes.count == reports)
            #expect(await retries.count > 0, "the kills must have interrupted some requests")
            #expect(outcomes.allSatisfy { $0.2 == 200 }, "every accept acknowledged with 200")
            var counts: [Int64] = []
            for query: PostgresQuery in [
                "SELECT count(*) FROM workflow_instances",
                "SELECT count(*) FROM workflow_instances WHERE state = 'in_work' AND last_sequence = 2",
                "SELECT count(*) FROM workflow_steps",
                "SELECT count(DISTINCT idempotency_key) FROM workflow_steps",
            ] {
                counts.append(try await setup.count(query))
            }
            #expect(counts == [Int64(reports), Int64(reports), Int64(2 * reports), Int64(2 * reports)])
            // Each acknowledged instance is the one stored under its key.
            for (key, instance, _) in outcomes {
                let stored = try await setup.databases.owner.withTenant(astana.id) { connection in
                    var id = ""
                    for try await value in try await connection.query(
                        "SELECT instance_id::text FROM workflow_steps WHERE idempotency_key = \(key)",
                        logger: setup.databases.owner.logger
                    ).decode(String.self) { id = value }
                    return id
                }
                #expect(stored == instance.lowercased(), "\(key)")
            }
            // The audit log survived the kills too: every step's leaf is in the tree (whatever was
            // still queued when a server died is integrated now), chained, and the tree verifies.
            let log = PostgresAuditLog(database: setup.databases.application)
            while try await log.integrate(tenantID: astana.id) > 0 {}
            let verified = try await AuditVerifier(database: setup.databases.application).verify(tenantID: astana.id)
            #expect(verified.size == 2 * reports)
            #expect(try await setup.count("SELECT count(*) FROM audit_queue") == 0)
            #expect(
                try await setup.count("SELECT count(*) FROM audit_leaves WHERE instance_id IS NOT NULL")
                    == Int64(2 * reports)
            )
        }
    }
}

actor RetryCount {
    var count = 0

    func add() {
        count += 1
    }
}
