import Foundation
import PostgresNIO
import Storage

#if canImport(Glibc)
import Glibc
#endif

/// CPU time spent by the three parties of an HTTP benchmark on one machine — this process (the
/// server), PostgreSQL (its postmaster and every child) and the load generator (this process's
/// waited-for children) — so a run reports what a request costs, not only how many fit into a
/// noisy shared VM's seconds.
struct BenchCPU {
    var server: Double
    var database: Double
    var generator: Double

    /// The times now; PostgreSQL's postmaster is found from a backend of `database`.
    static func now(database: Database) async throws -> BenchCPU {
        let backend = try await database.withConnection { connection in
            try await connection.query("SELECT pg_backend_pid()", logger: database.logger).decode(Int32.self)
                .reduce(into: Int32(0)) { $0 = $1 }
        }
        let processes = ProcessTimes.all()
        let postmaster = processes[backend]?.parent ?? -1
        // Backends that have ended count through the postmaster, which waited for them: without
        // them the figure fell (even below zero) when a run's connections closed.
        let database =
            processes.filter { $0.key == postmaster || $0.value.parent == postmaster }
            .reduce(0) { $0 + $1.value.seconds } + (processes[postmaster]?.endedChildren ?? 0)
        var own = rusage()
        getrusage(RUSAGE_SELF.rawValue, &own)
        var children = rusage()
        getrusage(RUSAGE_CHILDREN.rawValue, &children)
        return BenchCPU(server: own.seconds, database: database, generator: children.seconds)
    }

    /// The tables autovacuum vacuumed or analysed since `start` ("none" when it did not run): its
    /// worker takes a core of the two while it works, which a run's p99 may show.
    static func autovacuum(since start: Date, database: Database) async throws -> String {
        let tables = try await autovacuumed(since: start, until: .distantFuture, database: database)
        return "autovacuum during the run: " + (tables.isEmpty ? "none" : tables.joined(separator: ", "))
    }

    /// "table (vacuum, analyse)" for each table autovacuum finished with between `start` and
    /// `end`.
    static func autovacuumed(since start: Date, until end: Date, database: Database) async throws -> [String] {
        try await database.withConnection { connection in
            try await connection.query(
                """
                SELECT relname, coalesce(last_autovacuum >= \(start) AND last_autovacuum < \(end), false),
                    coalesce(last_autoanalyze >= \(start) AND last_autoanalyze < \(end), false)
                FROM pg_stat_all_tables
                WHERE (last_autovacuum >= \(start) AND last_autovacuum < \(end))
                   OR (last_autoanalyze >= \(start) AND last_autoanalyze < \(end))
                ORDER BY relname
                """,
                logger: database.logger
            ).collect().map { row in
                let (table, vacuumed, analysed) = try row.decode((String, Bool, Bool).self)
                let what = [vacuumed ? "vacuum" : nil, analysed ? "analyse" : nil].compactMap { $0 }
                return "\(table) (\(what.joined(separator: ", ")))"
            }
        }
    }

    /// The tables autovacuum's workers are on now (a worker's query reads "autovacuum: VACUUM
    /// ANALYZE public.transfers").
    static func autovacuumAtWork(database: Database) async throws -> [String] {
        try await database.withConnection { connection in
            try await connection.query(
                """
                SELECT coalesce(substring(query FROM '([^. ]+)$'), '?') FROM pg_stat_activity
                WHERE backend_type = 'autovacuum worker' ORDER BY 1
                """,
                logger: database.logger
            ).collect().map { try $0.decode(String.self) }
        }
    }

    /// "CPU per request: …" for `requests` requests between `start` and `self`, with the rate
    /// the machine's cores would allow at that cost.
    func perRequest(since start: BenchCPU, requests: Int) -> String {
        guard requests > 0 else { return "CPU per request: no requests" }
        let parts = [server - start.server, database - start.database, generator - start.generator]
        let milliseconds = parts.map { $0 * 1000 / Double(requests) }
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount)
        return String(
            format: "CPU per request: server %.2f ms, PostgreSQL %.2f ms, wrk %.2f ms; %d cores at this cost: %.0f /s",
            milliseconds[0],
            milliseconds[1],
            milliseconds[2],
            Int(cores),
            cores * 1000 / milliseconds.reduce(0, +)
        )
    }
}

/// Each process's parent, CPU seconds (user + system) and those of its children it has waited
/// for, from `/proc`.
enum ProcessTimes {
    static func all() -> [Int32: (parent: Int32, seconds: Double, endedChildren: Double)] {
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var found: [Int32: (Int32, Double, Double)] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? [] {
            guard let pid = Int32(name), let stat = try? String(contentsOfFile: "/proc/\(name)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { continue }
            // After the command's closing parenthesis: state, parent, …, utime (12th), stime
            // (13th), cutime and cstime (14th and 15th).
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 14, let parent = Int32(fields[1]), let user = Double(fields[11]),
                let system = Double(fields[12]), let childUser = Double(fields[13]),
                let childSystem = Double(fields[14])
            else { continue }
            found[pid] = (parent, (user + system) / ticks, (childUser + childSystem) / ticks)
        }
        return found
    }
}

extension rusage {
    fileprivate var seconds: Double {
        Double(ru_utime.tv_sec) + Double(ru_utime.tv_usec) / 1e6 + Double(ru_stime.tv_sec) + Double(ru_stime.tv_usec)
            / 1e6
    }
}
