import Core
import Foundation
import PostgresNIO
import Prometheus
import Storage
import Workflow

/// A long paced run window by window, as the server and PostgreSQL saw it: the share of charges
/// over 25 ms inside the server, the batches, the WAL written (and how much of it full-page
/// images, which follow each checkpoint), the checkpoint's writing and autovacuum. A lunch rush
/// lasts minutes, not seconds; this shows whether its slow requests come with one of those.
struct BenchWindows {
    /// The counters at one moment.
    struct Sample {
        var at: ContinuousClock.Instant
        var wall: Date
        var times: ServerTimes
        var batches: BatchesServed
        var phases: BatchPhaseTimes
        /// PostgreSQL's WAL position in bytes (`pg_current_wal_lsn()`).
        var walPosition: Double
        /// Full-page images written to the WAL (`pg_stat_wal`).
        var fullPageImages: Int64
        /// Checkpoints finished and the buffers checkpoints wrote (`pg_stat_bgwriter`).
        var checkpoints: Int64
        var checkpointBuffers: Int64
        /// Buffers written outside checkpoints: by the background writer to make room, and by
        /// the backends themselves — new pages of growing tables, and dirty ones they evict when
        /// the background writer fell behind (`pg_stat_bgwriter`); and the database's blocks
        /// read from outside shared buffers (`pg_stat_database`). Far above the new pages, they
        /// say the pages being written no longer fit in `shared_buffers`.
        var cleanedBuffers: Int64
        var backendBuffers: Int64
        var blocksRead: Int64
    }

    let every: Duration
    let database: Database
    /// The server's counters now: its times for the charges' route, the batches, their phases.
    let counters: @Sendable () -> (ServerTimes, BatchesServed, BatchPhaseTimes)

    func sample() async throws -> Sample {
        let (times, batches, phases) = counters()
        let (at, wall) = (ContinuousClock.now, Date())
        let row = try await database.withConnection { connection in
            try await connection.query(
                """
                SELECT (pg_current_wal_lsn() - '0/0')::float8, w.wal_fpi,
                    b.checkpoints_timed + b.checkpoints_req, b.buffers_checkpoint,
                    b.buffers_clean, b.buffers_backend, d.blks_read
                FROM pg_stat_wal w, pg_stat_bgwriter b, pg_stat_database d
                WHERE d.datname = current_database()
                """,
                logger: database.logger
            ).decode((Double, Int64, Int64, Int64, Int64, Int64, Int64).self).reduce(
                into: (0.0, Int64(0), Int64(0), Int64(0), Int64(0), Int64(0), Int64(0))
            ) { $0 = $1 }
        }
        return Sample(
            at: at,
            wall: wall,
            times: times,
            batches: batches,
            phases: phases,
            walPosition: row.0,
            fullPageImages: row.1,
            checkpoints: row.2,
            checkpointBuffers: row.3,
            cleanedBuffers: row.4,
            backendBuffers: row.5,
            blocksRead: row.6
        )
    }

    /// Prints a line per window until cancelled (the run's end); returns each finished window's
    /// share of charges over 25 ms inside the server, in percent.
    func watch() async throws -> [Double] {
        var last = try await sample()
        let first = last
        var shares: [Double] = []
        while true {
            do {
                try await Task.sleep(until: last.at + every, clock: .continuous)
                let next = try await sample()
                let share = next.times.percent(over: "0.025", since: last.times)
                print("    " + (try await line(from: last, to: next, start: first.at, share: share)))
                shares.append(share)
                last = next
            } catch  where Task.isCancelled {
                // The run ended, while asleep or while reading a window (a read cut short throws
                // CancellationError, which used to end the whole bench): the windows finished.
                return shares
            }
        }
    }

    /// "20–30 s: 2,001 charges/s, over 25 ms 0.41 %; batches of 14.2, p99 13.1 ms, slow COMMIT 2;
    /// WAL 41.3 MB, 9,812 full pages; buffers written by the background writer 310, by backends
    /// 2,600; 120 blocks read; checkpoint writing 1,204 buffers; autovacuum: transfers".
    func line(
        from earlier: Sample,
        to later: Sample,
        start: ContinuousClock.Instant,
        share: Double
    ) async throws
        -> String
    {
        let seconds = BenchEnvironment.seconds(later.at - earlier.at)
        let batches = later.batches.since(earlier.batches)
        let phases = later.phases.since(earlier.phases)
        let slow = BatchPhaseTimes.Phase.allCases.filter { phases.slow[$0.rawValue] > 0 }
            .map { "\($0.label) \(phases.slow[$0.rawValue])" }
        var parts = [
            String(
                format: "%.0f–%.0f s: %.0f charges/s, over 25 ms %.2f %%",
                BenchEnvironment.seconds(earlier.at - start),
                BenchEnvironment.seconds(later.at - start),
                Double(later.times.count - earlier.times.count) / seconds,
                share
            ),
            String(
                format: "batches of %.1f, p99 %.1f ms%@",
                batches.meanSize,
                batches.milliseconds(within: 0.99),
                slow.isEmpty ? "" : ", slow " + slow.joined(separator: ", ")
            ),
            String(
                format: "WAL %.1f MB, %lld full pages",
                (later.walPosition - earlier.walPosition) / 1_048_576,
                later.fullPageImages - earlier.fullPageImages
            ),
        ]
        let cleaned = later.cleanedBuffers - earlier.cleanedBuffers
        let byBackends = later.backendBuffers - earlier.backendBuffers
        let read = later.blocksRead - earlier.blocksRead
        if cleaned > 0 || byBackends > 0 || read > 0 {
            parts.append(
                "buffers written by the background writer \(cleaned), by backends \(byBackends); \(read) blocks read"
            )
        }
        let finished = later.checkpoints - earlier.checkpoints
        let written = later.checkpointBuffers - earlier.checkpointBuffers
        if finished > 0 || written > 0 {
            parts.append(
                "checkpoint writing \(written) buffers" + (finished > 0 ? ", \(finished) finished" : "")
            )
        }
        let vacuumed = try await BenchCPU.autovacuumed(since: earlier.wall, until: later.wall, database: database)
        let working = try await BenchCPU.autovacuumAtWork(database: database)
        if !vacuumed.isEmpty || !working.isEmpty {
            parts.append(
                "autovacuum: " + (vacuumed + working.map { "\($0) (at work)" }).joined(separator: ", ")
            )
        }
        return parts.joined(separator: "; ")
    }
}
