import Foundation
import PostgresNIO
import TestSupport
import Testing

@testable import Storage

@Suite("PostgreSQL settings recommended for deployment")
struct ServerSettingsTests {
    @Test("lines of name = value, comments and quotes read; a line that is not one named by its number")
    func parsing() throws {
        let read = try ServerSettings.parse(
            file: """
                # a comment
                shared_buffers = 4GB   # memory

                wal_compression='lz4'
                min_wal_size=512MB
                """,
            named: "test.conf"
        )
        #expect(
            read.settings == [
                .init(name: "shared_buffers", value: "4GB"),
                .init(name: "wal_compression", value: "lz4"),
                .init(name: "min_wal_size", value: "512MB"),
            ]
        )
        #expect(
            throws: ServerSettingsError(
                reason: "test.conf, line 2: shared_buffers: give name=value, such as wal_compression=lz4"
            )
        ) {
            try ServerSettings.parse(file: "# one\nshared_buffers\n", named: "test.conf")
        }
        #expect(
            throws: ServerSettingsError(
                reason:
                    "test.conf, line 1: work_mem: the value 4MB; DROP TABLE x may hold only letters, digits and _ . : -"
            )
        ) {
            try ServerSettings.parse(file: "work_mem = 4MB; DROP TABLE x\n", named: "test.conf")
        }
        let named = "a setting's name is lower-case letters and _, with one . after an extension's name"
        #expect(throws: ServerSettingsError(reason: "Shared_Buffers: \(named)")) {
            try ServerSettings.parse(setting: "Shared_Buffers=1GB")
        }
        for name in ["auto_explain..log_analyze", ".log_analyze", "a.b.c", "work_mem;"] {
            #expect(throws: ServerSettingsError(reason: "\(name): \(named)")) {
                try ServerSettings.parse(setting: "\(name)=on")
            }
        }
        #expect(
            try ServerSettings.parse(setting: "auto_explain.log_min_duration = 0")
                == .init(name: "auto_explain.log_min_duration", value: "0")
        )
        let merged = read.overridden(by: ServerSettings([.init(name: "shared_buffers", value: "128MB")]))
        #expect(merged.settings.map(\.name) == ["wal_compression", "min_wal_size", "shared_buffers"])
        #expect(merged.settings.last?.value == "128MB")
    }

    /// The file the benchmarks run with and operators copy: every name a setting of this
    /// PostgreSQL, every size within the setting's bounds.
    @Test("deploy/postgresql.conf names real settings with values in their bounds")
    func deployed() async throws {
        let settings = try ServerSettings.read(path: TestCluster.repositoryRoot + "/" + ServerSettings.deployedPath)
        #expect(settings.settings.map(\.name).contains("shared_buffers"))
        try await TestDatabases.with { databases in
            try await databases.owner.withConnection { connection in
                for setting in settings.settings {
                    let rows = try await connection.query(
                        """
                        SELECT unit, min_val::float8, max_val::float8,
                            CASE WHEN unit IN ('8kB', 'kB', 'MB') THEN pg_size_bytes(\(setting.value)) END
                        FROM pg_settings WHERE name = \(setting.name)
                        """,
                        logger: databases.owner.logger
                    ).collect()
                    #expect(rows.count == 1, "\(setting.name) is not a setting of this PostgreSQL")
                    guard let row = rows.first else { continue }
                    let (unit, low, high, bytes) = try row.decode((String?, Double?, Double?, Int64?).self)
                    guard let unit, let low, let high else { continue }
                    let size: Double? =
                        switch unit {
                        case "8kB": 8192
                        case "kB": 1024
                        case "MB": 1_048_576
                        default: nil
                        }
                    guard let size else { continue }
                    let given = Double(try #require(bytes, "\(setting.name): \(setting.value) is not a size"))
                    #expect(given >= low * size && given <= high * size, "\(setting.name) = \(setting.value)")
                }
            }
        }
    }
}
