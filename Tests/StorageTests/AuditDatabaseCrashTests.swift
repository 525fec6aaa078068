import Audit
import Core
import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

#if canImport(Glibc)
import Glibc
#endif

/// PostgreSQL itself dies (SIGKILL of the postmaster and every backend, as in a power cut of the
/// database machine) while steps are queueing leaves and the sequencer integrates them. On a
/// cluster of its own with fsync on, unlike the shared test cluster.
@Suite("The audit log when PostgreSQL is killed")
struct AuditDatabaseCrashTests {
    let logger = TestCluster.logger

    /// What the writers saw: steps acknowledged (committed), and steps whose outcome is unknown
    /// because the connection died during them (they may or may not have committed).
    final class Outcomes: @unchecked Sendable {
        private let lock = NSLock()
        private var acknowledged: Set<UUID> = []
        private var inDoubt: Set<UUID> = []
        private var unexpected: [String] = []
        private var unavailable = 0

        func record(_ instance: UUID, _ result: Result<Void, any Error>) {
            lock.lock()
            defer { lock.unlock() }
            switch result {
            case .success: acknowledged.insert(instance)
            case .failure(AdalError.unavailable):
                unavailable += 1
                inDoubt.insert(instance)
            case .failure(let error): unexpected.append("\(error)")
            }
        }

        var snapshot: (acknowledged: Set<UUID>, inDoubt: Set<UUID>, unexpected: [String], unavailable: Int) {
            lock.lock()
            defer { lock.unlock() }
            return (acknowledged, inDoubt, unexpected, unavailable)
        }
    }

    @Test(
        "after kill -9 of PostgreSQL during appends no acknowledged leaf is lost or doubled, and the tree verifies",
        .timeLimit(.minutes(3))
    )
    func killDatabase() async throws {
        let directory = NSTemporaryDirectory() + "adal-db-crash-\(UUID().uuidString)"
        defer {
            EmbeddedPostgres.stopImmediately(dataDirectory: directory)
            try? FileManager.default.removeItem(atPath: directory)
        }
        // fsync and synchronous_commit on: what survives is what a real server would keep.
        let embedded = EmbeddedPostgres(dataDirectory: directory, port: try FreePort.find())
        let cluster = try await embedded.start(logger: logger)
        let database = EmbeddedPostgres.databaseName
        let tenant = try await PostgresClient.using(
            cluster.configuration(role: .owner, database: database),
            logger: logger
        ) {
            client in
            try await client.withConnection { connection in
                try await Migrator(migrations: try Migration.load(directory: TestCluster.migrationsDirectory))
                    .migrate(connection: connection, logger: logger)
            }
            return try await PostgresTenantStore(database: Database(client: client, logger: logger)).create(
                slug: TenantSlug("astana"),
                name: LocalizedText(kk: "Астана", ru: "Астана", en: "Astana"),
                region: ""
            )
        }

        let outcomes = Outcomes()
        let report = try await PostgresClient.using(
            cluster.configuration(role: .application, database: database),
            logger: logger
        ) { client in
            let application = Database(client: client, logger: logger, leaseTimeout: .seconds(2))
            let log = PostgresAuditLog(database: application)
            let stop = StopFlag()
            let killedDown = try await withThrowingTaskGroup(of: AdalError?.self) { group in
                for writer in 0..<4 {
                    group.addTask {
                        var number = 0
                        while !stop.isSet {
                            let instance = UUID()
                            let entry = Self.entry(
                                tenant: tenant.id,
                                instance: instance,
                                number: writer * 1_000_000 + number
                            )
                            number += 1
                            do {
                                try await application.withTenant(tenant.id) { connection in
                                    try await PostgresAuditLog.queue(
                                        entry,
                                        tenantID: tenant.id,
                                        on: connection,
                                        logger: logger
                                    )
                                }
                                outcomes.record(instance, .success(()))
                            } catch {
                                outcomes.record(instance, .failure(error))
                                try await Task.sleep(for: .milliseconds(50))
                            }
                        }
                        return nil
                    }
                }
                group.addTask {
                    while !stop.isSet {
                        do {
                            if try await log.integrate(tenantID: tenant.id) == 0 {
                                try await Task.sleep(for: .milliseconds(20))
                            }
                        } catch {
                            try await Task.sleep(for: .milliseconds(50))
                        }
                    }
                    return nil
                }
                try await Task.sleep(for: .seconds(1.5))
                #expect(Self.killCluster(directory: directory) > 0)
                // A call made while the database is down fails with "unavailable" instead of waiting.
                var down: AdalError?
                do {
                    _ = try await log.head(tenantID: tenant.id)
                } catch let error as AdalError {
                    down = error
                }
                _ = try await embedded.start(logger: logger)
                // Writers and the sequencer reconnect on their own and carry on for a while.
                let before = outcomes.snapshot.acknowledged.count
                while outcomes.snapshot.acknowledged.count < before + 100 {
                    try await Task.sleep(for: .milliseconds(100))
                }
                stop.set()
                try await group.waitForAll()
                return down
            }
            while try await log.integrate(tenantID: tenant.id) > 0 {}
            let verified = try await AuditVerifier(database: application).verify(tenantID: tenant.id)
            var instances: [UUID] = []
            var before: Int?
            while true {
                let page = try await log.recentLeaves(
                    tenantID: tenant.id,
                    before: before,
                    limit: PostgresAuditLog.maximumPage
                )
                guard let last = page.last else { break }
                instances += try page.map { try AuditEntry(decoding: $0.entry).instanceID }
                before = last.index
            }
            let queued = try await application.withTenant(tenant.id) { connection in
                try await connection.query("SELECT count(*) FROM audit_queue", logger: logger).collect().first?.decode(
                    Int.self
                )
            }
            return (killedDown, verified, instances, queued ?? -1)
        }

        let (down, verified, instances, queued) = report
        let seen = outcomes.snapshot
        #expect(down.map { if case .unavailable = $0 { true } else { false } } == true)
        #expect(seen.unexpected.isEmpty, "\(seen.unexpected.prefix(3))")
        #expect(seen.unavailable > 0)
        #expect(queued == 0)
        #expect(verified.size == instances.count)
        // Every acknowledged step has its leaf, exactly once; any other leaf is a step whose
        // commit was in flight when the server died.
        let leaves = Set(instances)
        #expect(leaves.count == instances.count)
        #expect(seen.acknowledged.isSubset(of: leaves))
        #expect(leaves.subtracting(seen.acknowledged).isSubset(of: seen.inDoubt))
    }

    static func entry(tenant: UUID, instance: UUID, number: Int) -> AuditEntry {
        AuditEntry(
            tenantID: tenant,
            service: "meal-payments",
            instanceID: instance,
            sequence: 1,
            event: "charge",
            actorRole: "canteen_till",
            time: Date(),
            amounts: [(label: "price", tiyn: Int64(number))],
            inputHash: Array(repeating: UInt8(number & 0xff), count: 32),
            subjects: [],
            previousLeafIndex: AuditEntry.noPreviousLeaf
        )
    }

    /// SIGKILLs the cluster's postmaster and every process it started; returns how many.
    static func killCluster(directory: String) -> Int {
        guard
            let text = try? String(contentsOfFile: directory + "/pgdata/postmaster.pid", encoding: .utf8),
            let postmaster = Int32(text.split(separator: "\n").first ?? "")
        else { return 0 }
        var victims = [postmaster]
        let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for name in processes {
            guard let pid = Int32(name),
                let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let afterName = stat.range(of: ") ")
            else { continue }
            // Fields after the command name: state, parent pid, …
            let fields = stat[afterName.upperBound...].split(separator: " ")
            if fields.count > 1, Int32(fields[1]) == postmaster { victims.append(pid) }
        }
        for pid in victims { kill(pid, SIGKILL) }
        // Wait until they are gone, so the restart does not meet their shared memory.
        for _ in 0..<100 where victims.contains(where: { kill($0, 0) == 0 }) {
            usleep(50_000)
        }
        return victims.count
    }
}

/// Set once, read by many tasks.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false

    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}
