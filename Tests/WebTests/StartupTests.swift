import Foundation
import Logging
import PostgresNIO
import TestSupport
import Testing

@testable import Storage
@testable import Web

@Suite("Start-up")
struct StartupTests {
    /// A configuration whose DATABASE_URL connects with `role`'s settings.
    static func serving(as role: DatabaseRole, of databases: TestDatabases) -> AppConfiguration {
        var configuration = AppConfiguration()
        configuration.databaseURL = databases.url(role)
        configuration.migrationsDirectory = TestCluster.migrationsDirectory
        return configuration
    }

    @Test("a database that is down gives a clear error within the start-up bound, not a hang")
    func databaseDown() async throws {
        // A port that nothing listens on: bind one, learn it, release it.
        let port = try FreePort.find()
        var configuration = AppConfiguration()
        configuration.databaseURL = "postgres://adal_app:secret@127.0.0.1:\(port)/adal?sslmode=disable"
        configuration.migrationsDirectory = TestCluster.migrationsDirectory
        let started = ContinuousClock.now
        do {
            _ = try await prepareDatabase(configuration: configuration, logger: TestCluster.logger)
            Issue.record("start-up succeeded without a database")
        } catch let error as DatabaseUnreachable {
            #expect(error.description.hasPrefix("Cannot reach the database at 127.0.0.1:\(port)"))
            #expect(!error.description.contains("secret"))
        }
        // A hang detector, not a speed goal: generous, so a loaded machine does not fail it.
        #expect(ContinuousClock.now - started < ConnectionCheck.startupTimeout + .seconds(20))
    }

    @Test("a malformed DATABASE_URL is named without repeating its password")
    func badURL() {
        #expect(throws: DatabaseURLError.self) {
            try DatabaseURL.parse("mysql://user:hunter2@host/db", variable: "DATABASE_URL")
        }
        let error = DatabaseURLError(variable: "DATABASE_URL", reason: "expected postgres://")
        #expect(!error.description.contains("hunter2"))
    }

    @Test("serving as a role that owns the tables is refused")
    func ownerRoleRefused() async throws {
        try await TestDatabases.with { databases in
            let configuration = Self.serving(as: .owner, of: databases)
            await #expect(throws: PrivilegedApplicationRole.self) {
                _ = try await prepareDatabase(configuration: configuration, logger: TestCluster.logger)
            }
        }
    }

    @Test("the application role with an up-to-date schema starts")
    func applicationRoleStarts() async throws {
        try await TestDatabases.with { databases in
            let configuration = Self.serving(as: .application, of: databases)
            let endpoints = try await prepareDatabase(configuration: configuration, logger: TestCluster.logger)
            #expect(endpoints.cluster == nil)
            #expect(endpoints.owner == nil)
        }
    }
}
