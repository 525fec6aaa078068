import ArgumentParser
import Core
import Foundation
import MealPayments
import PostgresNIO
import Storage
import Web
import Workflow

/// `adal bench meals`: canteen charges through the server, and the same ledger SQL directly.
struct MealsBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "meals",
        abstract:
            "School-meal charges/s with p50/p99 over HTTP (wrk) against the same SQL run directly (release build).",
        discussion: """
            A throw-away embedded PostgreSQL (fsync and synchronous_commit on) with --pupils pupils in one school, \
            each funded through the ledger. HTTP: the real server in this process, wrk with --tills connections \
            for --seconds, each request a charge of a random pupil by a new id, or, for --retry-percent of them, the \
            previous request sent again. Direct: --tills tasks running the charges' statements in batches as the \
            server does (the pupils' instances locked, then adal_meal_charges: checks, debits, shards, transfer \
            rows), without HTTP, the engine's step records and audit leaves. Each run prints its rate, p50 and p99 \
            and the CPU time per charge of the server, PostgreSQL and wrk; then the HTTP rate as a share of the \
            direct one, and `ledger check`. Between them, unless --rate is 0, a paced HTTP run: the same tills \
            sending --rate charges/s together at random moments (a Poisson process), not as fast as answers come, \
            which gives the latency at that rate rather than with every till waiting at once.
            """
    )

    @Option(help: "Pupils.") var pupils = 10_000
    @Option(help: "Concurrent tills (connections).") var tills = 64
    @Option(help: "Seconds of each run.") var seconds = 15
    @Option(help: "Share of requests sent again with the same id, in percent.") var retryPercent = 10
    @Option(help: "Database connections of the server's pool (tills beyond them wait for one).") var connections = 16
    @Option(
        help:
            "Charges per second of the paced HTTP run (the tills send at random moments at this rate together); 0 skips it."
    )
    var rate = 2_000
    @Option(help: "Seconds of the paced run (--seconds unless given): minutes for a lunch rush's sustained load.")
    var pacedSeconds: Int?
    @Option(
        help:
            "Print the paced run window by window, every this many seconds (charges over 25 ms in the server, batches, WAL and full-page images, checkpoints, autovacuum); 0 for none."
    )
    var window = 0
    @Flag(help: "Also print the statements that took PostgreSQL's time during the HTTP run (pg_stat_statements).")
    var statements = false
    @Option(
        name: .customLong("setting"),
        help:
            "A PostgreSQL setting for the bench's cluster, name=value (such as wal_compression=lz4), over those of deploy/postgresql.conf; one read only at start (shared_buffers) restarts the cluster; repeat for several."
    )
    var settings: [String] = []
    @Flag(
        help:
            "Run the bench's cluster with PostgreSQL's own defaults instead of the settings deploy/postgresql.conf recommends (--setting still applies)."
    )
    var stockServer = false
    @Flag(
        help:
            "The school sets today's menu (five items) and every charge names one of its items; one pupil in twenty has an allergen flagged (not on the menu), so each charge also runs the menu's check and the allergen read."
    )
    var menu = false
    @Flag(
        help:
            "Every pupil has a guardian with a low-balance alert, set between the pupil's funds and 49 meals (of 400 ₸ on average) below them, so about one charge in fifty crosses an alert; the server's outbox delivers the alerts during the runs (email and SMS, simulated)."
    )
    var guardians = false
    @Option(
        help:
            "Milliseconds between the audit sequencer's passes in the server (its merge delay, 1,000 as deployed): shorter passes integrate fewer leaves each, more often."
    )
    var auditMerge = 1_000
    @Option(
        help:
            "Milliseconds each alert's email and SMS take to send, as a real gateway's call would (0: the recorded channels' own time); with --guardians."
    )
    var gatewayMs = 0

    func validate() throws {
        guard (0...30_000).contains(gatewayMs) else {
            throw ValidationError("--gateway-ms must be 0 to 30000 milliseconds")
        }
        guard gatewayMs == 0 || guardians else {
            throw ValidationError("--gateway-ms needs --guardians: without them no alert is sent")
        }
        guard (10...60_000).contains(auditMerge) else {
            throw ValidationError("--audit-merge must be 10 to 60000 milliseconds")
        }
        guard rate >= 0 else { throw ValidationError("--rate must be 0 (no paced run) or more") }
        guard (pacedSeconds ?? 1) > 0 else { throw ValidationError("--paced-seconds must be 1 or more") }
        guard window >= 0 else { throw ValidationError("--window must be 0 (none) or more seconds") }
        guard window == 0 || rate > 0 else { throw ValidationError("--window needs a paced run (--rate above 0)") }
        for setting in settings {
            do {
                _ = try ServerSettings.parse(setting: setting)
            } catch let error as ServerSettingsError {
                throw ValidationError("--setting \(error.reason)")
            }
        }
    }

    func run() async throws {
        let (pupils, tills, seconds, retryPercent, statements, rate) = (
            pupils, tills, seconds, retryPercent, statements, rate
        )
        let (pacedSeconds, window) = (self.pacedSeconds ?? seconds, window)
        try await BenchEnvironment.with(
            tenants: 1,
            connections: connections,
            statements: statements,
            settings: try BenchEnvironment.serverSettings(stock: stockServer, extra: settings)
        ) {
            database,
            owner,
            cities in
            let city = cities[0]
            let token = try await Canteen.open(tenantID: city.id, pricePerMeal: 60_000, database: owner)
            let engine = WorkflowEngine(
                database: database,
                registry: try WorkflowRegistry.load(
                    directory: URL(
                        fileURLWithPath: ProcessInfo.processInfo.environment["ADAL_WORKFLOWS_DIR"] ?? "workflows"
                    ),
                    implementations: ServiceImplementations.all(sealer: .ephemeral())
                )
            )
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<16 {
                    group.addTask {
                        for number in stride(from: worker, to: pupils, by: 16) {
                            _ = try await engine.start(
                                tenantID: city.id,
                                service: MealAccountService.key,
                                actor: StepActor(id: UUID(), roles: [.akimatAdmin]),
                                input: [
                                    "school_bin": .string(Canteen.schoolBIN), "pupil_name": .string("Pupil \(number)"),
                                    "grade": .integer(Int64(number % 11 + 1)), "card": .string(Self.card(number)),
                                    "daily_limit": .integer(10_000_000),
                                ]
                            )
                        }
                    }
                }
                try await group.waitForAll()
            }
            let funds: Int64 = 5_000_000
            try await Self.fund(tenantID: city.id, amount: funds, database: owner)
            if menu { try await Self.setMenu(tenantID: city.id, database: owner) }
            if guardians { try await Self.addGuardians(tenantID: city.id, funds: funds, database: owner) }
            // A city's tables carry planner statistics; the bench's just grew from nothing, and a
            // cached generic plan made on an empty table reads the wrong index for every charge.
            try await owner.withoutTenant { connection in
                try await connection.run("ANALYZE", logger: owner.logger)
            }
            // The set-up's steps queued their leaves; a city's server integrates as it goes, so
            // the runs start with none waiting and the server's own sequencer keeps up from there.
            let log = PostgresAuditLog(database: database)
            while try await log.integrate(tenantID: city.id) > 0 {}
            print(
                String(
                    format: "set-up: %d pupils registered and funded in %.1f s",
                    pupils,
                    BenchEnvironment.seconds(ContinuousClock.now - started)
                )
            )
            var httpRate: Double?
            if BenchServer.wrkAvailable {
                try await BenchServer.with(
                    database: database,
                    auditMergeDelay: .milliseconds(auditMerge),
                    gatewayDelay: .milliseconds(gatewayMs)
                ) {
                    base,
                    directory,
                    dependencies in
                    let script = directory + "/charges.lua"
                    try Self.script(pupils: pupils, token: token, retryPercent: retryPercent, menu: menu)
                        .write(toFile: script, atomically: true, encoding: .utf8)
                    _ = try BenchServer.wrk([
                        "-t1", "-c4", "-d2s", "-s", script, base + "/api/\(city.slug)/meals/charges",
                    ])
                    let route = "/api/{tenant}/meals/charges"
                    let windows = BenchWindows(every: .seconds(max(window, 1)), database: owner) {
                        (
                            ServerTimes.now(dependencies.metrics, route: route), dependencies.mealChargeBatches,
                            dependencies.workflows.batchPhases.times
                        )
                    }
                    /// One wrk run of `script` from `tills` connections for `seconds`, printed under
                    /// `label` with the CPU per charge and the batches it made; window by window
                    /// while it runs when `windowed`.
                    func run(
                        _ script: String,
                        label: String,
                        seconds: Int,
                        windowed: Bool = false
                    ) async throws
                        -> String
                    {
                        let before = try await BenchCPU.now(database: database)
                        let auditBefore = try await Self.audit(tenantID: city.id, log: log, database: database)
                        let started = Date()
                        let timesBefore = ServerTimes.now(dependencies.metrics, route: route)
                        let batchesBefore = dependencies.mealChargeBatches
                        let phasesBefore = dependencies.workflows.batchPhases.times
                        var watching: Task<[Double], any Error>?
                        if windowed {
                            print("\(label), \(seconds) s, every \(window) s (inside the server):")
                            watching = Task { try await windows.watch() }
                        }
                        let output = try BenchServer.wrk([
                            "-t2", "-c\(tills)", "-d\(seconds)s", "--latency", "-s", script,
                            base + "/api/\(city.slug)/meals/charges",
                        ])
                        watching?.cancel()
                        if let shares = try await watching?.value, !shares.isEmpty {
                            let under = shares.filter { $0 < 1 }.count
                            print(
                                String(
                                    format:
                                        "    windows with fewer than 1 %% of charges over 25 ms (p99 under 25 ms inside the server): %d of %d; the worst %.2f %%",
                                    under,
                                    shares.count,
                                    shares.max() ?? 0
                                )
                            )
                        }
                        let after = try await BenchCPU.now(database: database)
                        print(
                            "\(label) (\(tills) tills, \(retryPercent)% retried, \(seconds) s, wrk on the same 2 cores): "
                                + BenchServer.summary(output)
                        )
                        print("  " + after.perRequest(since: before, requests: BenchServer.requests(output)))
                        print("  " + Self.describe(dependencies.mealChargeBatches.since(batchesBefore)))
                        print("  " + Self.describe(dependencies.workflows.batchPhases.times.since(phasesBefore)))
                        print("  " + ServerTimes.now(dependencies.metrics, route: route).over(since: timesBefore))
                        print("  " + (try await BenchCPU.autovacuum(since: started, database: database)))
                        if guardians {
                            print("  " + (try await Self.alerts(since: started, tenantID: city.id, database: owner)))
                        }
                        let auditAfter = try await Self.audit(tenantID: city.id, log: log, database: database)
                        print(
                            "  audit log (the server's sequencer): "
                                + "\(auditAfter.size - auditBefore.size) leaves integrated during the run, "
                                + "\(auditAfter.queued) queued at its end"
                        )
                        return output
                    }
                    if statements { try await BenchStatements.reset(owner) }
                    httpRate = BenchServer.rate(
                        try await run(script, label: "HTTP POST /api/{city}/meals/charges", seconds: seconds)
                    )
                    if statements { print(try await BenchStatements.top(owner).joined(separator: "\n")) }
                    if rate > 0 {
                        let paced = directory + "/paced.lua"
                        try
                            (Self.script(pupils: pupils, token: token, retryPercent: retryPercent, menu: menu) + "\n"
                            + BenchServer.pacing(rate: Double(rate), threads: 2))
                            .write(toFile: paced, atomically: true, encoding: .utf8)
                        let output = try await run(
                            paced,
                            label: "paced at \(rate) charges/s, random moments",
                            seconds: pacedSeconds,
                            windowed: window > 0
                        )
                        if let reached = BenchServer.rate(output), reached < 0.97 * Double(rate) {
                            print(
                                "  below the rate asked for: the tills were all waiting for answers at times, and "
                                    + "a charge's wait for a free till is not in its latency"
                            )
                        }
                        // Every charge of the day reads the pupil's earlier meals of the day (the
                        // daily limit's sum); a long run gives each pupil more than a school day.
                        let perPupil = Double(dependencies.mealChargeBatches.requests) / Double(pupils)
                        if perPupil > 20 {
                            print(
                                String(
                                    format:
                                        "  by now %.0f charges a pupil today, where a school day has 1 to 3: each charge's daily limit reads them all, so a longer run slows by itself; give more --pupils to measure a real day",
                                    perPupil
                                )
                            )
                        }
                    }
                }
            } else {
                print("HTTP: skipped, wrk is not installed (scripts/setup.sh bench)")
            }
            let directRate = try await Self.direct(
                tenantID: city.id,
                pupils: pupils,
                tills: tills,
                seconds: seconds,
                menu: menu,
                database: database
            )
            if let httpRate, directRate > 0 {
                print(String(format: "HTTP against direct SQL: %.2f of its rate", httpRate / directRate))
            }
            let check = try await LedgerCheck.run(tenantID: city.id, database: owner)
            print(
                "ledger check: \(check.accounts) accounts, \(check.transfers) posted transfers, sum \(check.total): "
                    + (check.passed ? "ok" : "FAILED")
            )
        }
    }

    static func card(_ number: Int) -> String { String(format: "B%07d", number) }

    /// The city's audit tree's size and the leaves still queued for it.
    static func audit(
        tenantID: UUID,
        log: PostgresAuditLog,
        database: Database
    ) async throws -> (
        size: Int, queued: Int
    ) {
        let size = try await log.head(tenantID: tenantID).size
        let queued = try await database.withTenant(tenantID) { connection in
            try await connection.query(
                "SELECT count(*) FROM audit_queue WHERE tenant_id = \(tenantID)",
                logger: database.logger
            ).collect().first?.decode(Int.self) ?? 0
        }
        return (size, queued)
    }

    /// The items of the bench's menu (``setMenu(tenantID:database:)``): `Ас 1` … `Ас 5` at 200 ₸
    /// to 600 ₸, the last with milk.
    static let menuItems: [(name: String, price: Int64)] = (1...5).map { ("Ас \($0)", Int64($0 + 1) * 10_000) }

    /// Today's menu at the bench's school, and an allergen flagged (peanut, on no item) for one
    /// pupil in twenty.
    static func setMenu(tenantID: UUID, database: Database) async throws {
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                """
                INSERT INTO meal_menu_items (tenant_id, school_id, day, position, name, price, allergens, set_by, set_at)
                SELECT \(tenantID), s.id, (now() AT TIME ZONE INTERVAL '+05:00')::date, l.position, l.name, l.price,
                    CASE WHEN l.position = 5 THEN '{milk}'::text[] ELSE '{}' END, \(UUID()), now()
                FROM meal_schools s,
                    unnest(\(menuItems.indices.map { Int16($0 + 1) })::smallint[], \(menuItems.map(\.name))::text[],
                        \(menuItems.map(\.price))::bigint[]) AS l (position, name, price)
                WHERE s.tenant_id = \(tenantID)
                """,
                logger: logger
            )
            try await connection.run(
                """
                UPDATE pupils SET allergens = '{peanut}'
                WHERE tenant_id = \(tenantID) AND substring(card FROM 2)::int % 20 = 0
                """,
                logger: logger
            )
        }
    }

    /// A guardian (a parent's account) for every pupil, whose low-balance alert is the pupil's
    /// `funds` less 0 to 49 meals of 400 ₸ (the bench's average), one level each for the pupils
    /// in turn: a pupil's alert is crossed by one of its charges, and with every pupil at a
    /// different meal of its own, about one charge in fifty crosses one. Each guardian has a
    /// confirmed email address and mobile number.
    static func addGuardians(tenantID: UUID, funds: Int64, database: Database) async throws {
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                """
                WITH g AS (
                    SELECT id AS pupil_id, gen_random_uuid() AS user_id, row_number() OVER (ORDER BY card) AS n
                    FROM pupils WHERE tenant_id = \(tenantID)
                ), u AS (
                    INSERT INTO users (tenant_id, id, login, display_name, password_hash)
                    SELECT \(tenantID), user_id, 'guardian-' || n, 'Guardian ' || n, '!' FROM g
                ), r AS (
                    INSERT INTO user_roles (tenant_id, user_id, role) SELECT \(tenantID), user_id, 'parent' FROM g
                ), c AS (
                    -- Each with an email address and a mobile number confirmed, so an alert
                    -- goes through both gateways.
                    INSERT INTO user_contacts (tenant_id, user_id, channel, address, confirmed_at)
                    SELECT \(tenantID), user_id, kind, CASE kind WHEN 'email' THEN 'guardian-' || n || '@bench.kz'
                        ELSE '+7701' || lpad(n::text, 7, '0') END, now()
                    FROM g, unnest(ARRAY['email', 'sms']) AS kind
                )
                INSERT INTO guardians (tenant_id, user_id, pupil_id, low_balance_alert)
                SELECT \(tenantID), user_id, pupil_id, \(funds) - (n % 50) * 40000 FROM g
                """,
                logger: database.logger
            )
        }
    }

    /// The low-balance alerts queued since `started`, those the outbox delivered and those
    /// still waiting.
    static func alerts(since started: Date, tenantID: UUID, database: Database) async throws -> String {
        try await database.withTenant(tenantID) { connection in
            var counts = (queued: 0, delivered: 0, waiting: 0)
            for try await row in try await connection.query(
                """
                SELECT count(*)::integer, (count(*) FILTER (WHERE status = 'done'))::integer,
                    (count(*) FILTER (WHERE status = 'pending'))::integer
                FROM jobs WHERE tenant_id = \(tenantID) AND topic = \(BalanceWatch.lowBalanceTopic)
                    AND created_at >= \(started)
                """,
                logger: database.logger
            ).decode((Int, Int, Int).self) { counts = row }
            return "low-balance alerts: \(counts.queued) queued during the run, \(counts.delivered) delivered, "
                + "\(counts.waiting) waiting at its end"
        }
    }

    /// A charge's items as the bench sends them: one item of the menu, or one at a random price.
    static func benchItems(menu: Bool) -> (json: String, amount: Int64) {
        guard menu, let item = menuItems.randomElement() else {
            let amount = Int64.random(in: 20_000...60_000)
            return (#"[{"name":"Lunch","price":\#(amount)}]"#, amount)
        }
        return (#"[{"name":"\#(item.name)","price":\#(item.price)}]"#, item.price)
    }

    /// Every pupil gets `amount` through the ledger: one posted top-up each from a clearing row.
    static func fund(tenantID: UUID, amount: Int64, database: Database) async throws {
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            let clearing = UUID()
            try await connection.run(
                """
                INSERT INTO ledger_accounts (tenant_id, id, kind, owner, shard, balance)
                SELECT \(tenantID), \(clearing), 'clearing', 'bench', 0, -count(*) * \(amount) FROM pupils
                WHERE tenant_id = \(tenantID)
                """,
                logger: logger
            )
            try await connection.run(
                """
                INSERT INTO transfers (tenant_id, id, kind, status, debit_account, credit_account, amount, pupil_id,
                    school_id, request_hash, local_day)
                SELECT tenant_id, gen_random_uuid(), 'top_up', 'posted', \(clearing), account_id, \(amount), id,
                    school_id, '\\x00'::bytea, current_date
                FROM pupils WHERE tenant_id = \(tenantID)
                """,
                logger: logger
            )
            try await connection.run(
                "UPDATE ledger_accounts SET balance = \(amount) WHERE tenant_id = \(tenantID) AND kind = 'pupil'",
                logger: logger
            )
        }
    }

    /// Charges per transaction and a batch's time from its start to its answers (with the
    /// tills' closed loop, a charge waits for the batch in flight, then for its own).
    static func describe(_ served: BatchesServed) -> String {
        String(
            format:
                "charges per transaction: %.1f on average (%d charges in %d batches); a batch %.1f ms from start to answers (p50 %.1f, p99 %.1f ms)",
            served.meanSize,
            served.requests,
            served.batches,
            served.meanMilliseconds,
            served.milliseconds(within: 0.5),
            served.milliseconds(within: 0.99)
        )
    }

    /// A batch's phases on average, and the batches in which a phase was slow.
    static func describe(_ phases: BatchPhaseTimes) -> String {
        let all = BatchPhaseTimes.Phase.allCases
        let slow = all.filter { phases.slow[$0.rawValue] > 0 }.map { "\($0.label) \(phases.slow[$0.rawValue])" }
        return "a batch's phases on average: "
            + all.map { "\($0.label) " + String(format: "%.2f", phases.meanMilliseconds($0)) }.joined(separator: ", ")
            + " ms; batches with a phase of \(Int(BatchPhaseTimes.slowLimit / .milliseconds(1))) ms or more: "
            + (slow.isEmpty ? "none" : slow.joined(separator: ", "))
    }

    /// The wrk script: a charge of a random pupil with a new id, or the previous request again.
    static func script(pupils: Int, token: String, retryPercent: Int, menu: Bool = false) -> String {
        // Without a menu an item at a random price; with it, one of the menu's items.
        let item =
            menu
            ? "local n = math.random(1, \(menuItems.count)); local name, price = \"Ас \" .. n, (n + 1) * 10000"
            : "local name, price = \"Ас\", math.random(20000, 60000)"
        return """
            -- Charges at the till; each thread seeded apart, so ids never collide between threads.
            local counter = 0
            setup = function(thread)
              counter = counter + 1
              thread:set("seed", counter * 7919 + os.time())
              table.insert(threads, thread)
            end
            threads = {}
            init = function(args) math.randomseed(seed) end
            local last = nil
            local function uuid()
              return string.format("%08x-%04x-4%03x-8%03x-%04x%08x", math.random(0, 2147483647), math.random(0, 65535),
                math.random(0, 4095), math.random(0, 4095), math.random(0, 65535), math.random(0, 2147483647))
            end
            request = function()
              local body
              if last ~= nil and math.random(100) <= \(retryPercent) then
                body = last
              else
                \(item)
                body = string.format('{"id":"%s","card":"B%07d","items":[{"name":"%s","price":%d}]}',
                  uuid(), math.random(0, \(pupils - 1)), name, price)
              end
              last = body
              return wrk.format("POST", nil, {["Content-Type"] = "application/json",
                ["Authorization"] = "Bearer \(token)"}, body)
            end
            wrong = 0
            response = function(status, headers, body)
              if status ~= 200 and status ~= 201 then wrong = wrong + 1 end
            end
            \(BenchServer.countWrongAnswers)
            """
    }

    /// The charges' statements from `tills` tasks for `seconds`, without HTTP or the engine, in
    /// batches as the server makes them (a ``BatchQueue`` of the city): the instances' lock and
    /// `adal_meal_charges` for the batch, in one transaction each; no step record or audit leaf.
    /// The rate it reached per second. Each task charges its own pupils, as a batch may hold a
    /// pupil only once.
    static func direct(
        tenantID: UUID,
        pupils: Int,
        tills: Int,
        seconds: Int,
        menu: Bool,
        database: Database
    ) async throws
        -> Double
    {
        let logger = database.logger
        let (list, till) = try await database.withTenant(tenantID) { connection in
            var found: [UUID] = []
            for try await instance in try await connection.query(
                "SELECT instance_id FROM pupils WHERE tenant_id = \(tenantID)",
                logger: logger
            ).decode(UUID.self) {
                found.append(instance)
            }
            var till: UUID?
            for try await user in try await connection.query(
                "SELECT user_id FROM meal_tills WHERE tenant_id = \(tenantID) LIMIT 1",
                logger: logger
            ).decode(UUID.self) {
                till = user
            }
            return (found, till)
        }
        guard let till else { throw AdalError.notFound(what: "till") }
        let queue = BatchQueue<UUID, PreparedCharges.Charge, Void>(
            lanes: 2,
            maximumBatch: 64,
            maximumWaiting: 4_096,
            opening: { tenantID, take in
                // Opened ahead as the server's batches are; the batch's size once taken.
                let taken = Locked(0)
                do {
                    try await database.withTenant(tenantID, genericPlans: true) { connection in
                        let charges = await take()
                        taken.withLock { $0 = charges.count }
                        guard !charges.isEmpty else { return }
                        let lock = PreparedInstanceLock(
                            tenantID: tenantID,
                            instanceIDs: charges.map(\.instanceID),
                            idempotencyKeys: charges.map { _ in nil }
                        )
                        for try await _ in try await connection.execute(lock, logger: logger) {}
                        let statement = try PreparedCharges(
                            tenantID: tenantID,
                            charges: charges,
                            now: Date(),
                            shard: Int16.random(in: 0..<Int16(Ledger.shards))
                        )
                        for try await _ in try await connection.execute(statement, logger: logger) {}
                    }
                    return Array(repeating: .success(()), count: taken.current)
                } catch {
                    return Array(repeating: .failure(error), count: taken.current)
                }
            }
        )
        let deadline = ContinuousClock.now + .seconds(seconds)
        let before = try await BenchCPU.now(database: database)
        let begin = ContinuousClock.now
        let charges = try await BenchEnvironment.concurrently(tills, label: "direct SQL (\(tills) tasks) charges") {
            task in
            let own = stride(from: task, to: list.count, by: tills).map { list[$0] }
            var latencies: [Double] = []
            while ContinuousClock.now < deadline, let instance = own.randomElement() {
                let (items, amount) = Self.benchItems(menu: menu)
                let start = ContinuousClock.now
                let charge = PreparedCharges.Charge(
                    instanceID: instance,
                    transfer: UUID(),
                    requestHash: Data([0]),
                    till: till,
                    items: items,
                    amount: amount,
                    allergens: [],
                    override: false
                )
                try await queue.submit(charge, key: tenantID)
                latencies.append(BenchEnvironment.seconds(ContinuousClock.now - start) * 1000)
            }
            return latencies
        }
        let served = queue.served
        print("  " + Self.describe(served))
        let elapsed = BenchEnvironment.seconds(ContinuousClock.now - begin)
        print("  " + (try await BenchCPU.now(database: database)).perRequest(since: before, requests: charges))
        return Double(charges) / elapsed
    }
}
