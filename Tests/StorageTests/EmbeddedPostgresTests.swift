import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

#if canImport(Glibc)
import Glibc
#endif

@Suite("The embedded PostgreSQL launcher", .serialized)
struct EmbeddedPostgresTests {
    let logger = TestCluster.logger

    /// A data folder of its own under /tmp, removed afterwards.
    func withDataDirectory(_ body: (String) async throws -> Void) async throws {
        let directory = "/tmp/adal-launcher-\(getpid())-\(UUID().uuidString.prefix(8))"
        defer {
            EmbeddedPostgres.stopImmediately(dataDirectory: directory)
            try? FileManager.default.removeItem(atPath: directory)
        }
        try await body(directory)
    }

    func answers(_ cluster: RunningCluster) async throws -> Bool {
        try await PostgresClient.using(cluster.configuration(role: .application), logger: logger) { client in
            let rows = try await client.query("SELECT current_user", logger: logger).collect()
            return try rows.first?.decode(String.self) == "adal_app"
        }
    }

    @Test("a killed server's lock file does not break the next start")
    func staleLockFile() async throws {
        try await withDataDirectory { directory in
            let launcher = EmbeddedPostgres(dataDirectory: directory, unsafeFastMode: true)
            let first = try await launcher.start(logger: logger)
            #expect(first.startedHere)
            let pidText = try String(contentsOfFile: directory + "/pgdata/postmaster.pid", encoding: .utf8)
            let pid = Int32(pidText.split(separator: "\n")[0])!
            // A crash: no shutdown, the lock file stays behind.
            kill(pid, SIGKILL)
            while kill(pid, 0) == 0 { try await Task.sleep(for: .milliseconds(50)) }
            #expect(FileManager.default.fileExists(atPath: directory + "/pgdata/postmaster.pid"))
            let second = try await launcher.start(logger: logger)
            #expect(second.startedHere)
            #expect(try await answers(second))
            second.stop(logger: logger)
            #expect(!FileManager.default.fileExists(atPath: directory + "/pgdata/postmaster.pid"))
        }
    }

    @Test("a second process on the same folder reuses the running server and leaves it running")
    func reuseRunning() async throws {
        try await withDataDirectory { directory in
            let launcher = EmbeddedPostgres(dataDirectory: directory, unsafeFastMode: true)
            let first = try await launcher.start(logger: logger)
            let second = try await launcher.start(logger: logger)
            #expect(!second.startedHere)
            #expect(second.port == first.port)
            second.stop(logger: logger)
            #expect(try await answers(first))
            first.stop(logger: logger)
        }
    }

    @Test(
        "roles connect over the cluster's own Unix socket, with their password; a folder too long for a socket uses TCP"
    )
    func unixSocket() async throws {
        try await withDataDirectory { directory in
            let cluster = try await EmbeddedPostgres(dataDirectory: directory, unsafeFastMode: true).start(
                logger: logger
            )
            defer { cluster.stop(logger: logger) }
            #expect(cluster.socketPath == directory + "/pgdata/.s.PGSQL.\(cluster.port)")
            #expect(cluster.configuration(role: .application).unixSocketPath == cluster.socketPath)
            let transport = try await PostgresClient.using(cluster.configuration(role: .application), logger: logger) {
                try await $0.query("SELECT coalesce(inet_client_addr()::text, 'socket')", logger: logger).collect()
                    .first?.decode(String.self)
            }
            #expect(transport == "socket")
            // The socket asks for the password as loopback does.
            var wrong = cluster.connectionConfiguration(role: .application)
            wrong.password = "not-the-password"
            await #expect(throws: PSQLError.self) {
                try await PostgresConnection.connect(configuration: wrong, id: 9, logger: logger).close()
            }
        }
        let long = "/tmp/adal-launcher-" + String(repeating: "x", count: 100)
        #expect(EmbeddedPostgres(dataDirectory: long).socketDirectory(port: 5432) == nil)
        #expect(EmbeddedPostgres(dataDirectory: "/tmp/it's").socketDirectory(port: 5432) == nil)
        #expect(EmbeddedPostgres(dataDirectory: "/tmp/adal-1").socketDirectory(port: 5432) == "/tmp/adal-1/pgdata")
    }

    @Test("the generated credentials are readable by their owner only")
    func credentialsArePrivate() async throws {
        try await withDataDirectory { directory in
            let cluster = try await EmbeddedPostgres(dataDirectory: directory, unsafeFastMode: true).start(
                logger: logger
            )
            defer { cluster.stop(logger: logger) }
            let attributes = try FileManager.default.attributesOfItem(atPath: directory + "/credentials.json")
            #expect((attributes[.posixPermissions] as? Int) == 0o600)
        }
    }

    @Test("without PostgreSQL installed, one sentence names the package to install")
    func notInstalled() {
        #expect(throws: EmbeddedPostgresError.notInstalled) {
            try PostgresBinaries.locate(path: "/nonexistent", debianRoot: "/nonexistent")
        }
        #expect(EmbeddedPostgresError.notInstalled.description.contains("apt-get install postgresql"))
    }
}
