import ArgumentParser
import Core
import Crypto
import Foundation
import SickLeave
import Storage
import Web
import Workflow

/// `adal bench verify`: sick-leave token verification, offline on one core and through the
/// online check (trust list and certificate standing read from PostgreSQL) from many clients.
struct VerifyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Sick-leave tokens: offline verifications/s on one core, online checks/s with p50/p99, QR cost.",
        discussion: """
            Offline: parse + Base45 + CBOR + ES256 signature check of a real token, in one task. Online: \
            CertificateVerifier (one statement: the key the token names and the version's standing) from \
            --clients concurrent tasks on a throw-away embedded PostgreSQL; this is the service behind \
            POST /api/{city}/sick-leave/verify, without the HTTP layer. HTTP: the real server (router, \
            middleware, JSON) on 127.0.0.1 driven by wrk with --clients connections for --http-seconds, \
            POST /api/{city}/sick-leave/verify and POST /api/v1/verify, on the same cores as the server \
            and PostgreSQL.
            """
    )

    @Option(help: "Offline verifications to time.") var offline = 20_000
    @Option(help: "Online checks to time.") var online = 10_000
    @Option(help: "Concurrent clients for the online checks.") var clients = 32
    @Option(name: .customLong("http-seconds"), help: "Seconds of each HTTP run (0 skips them; needs wrk).")
    var httpSeconds = 10

    func run() async throws {
        let (offline, online, clients, httpSeconds) = (offline, online, clients, httpSeconds)
        // Offline, one core.
        let key = P256.Signing.PrivateKey()
        let keyID: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8]
        let token = try Self.sample(statusIndex: 7).signed(keyID: keyID, key: .p256(key))
        let trusted = TrustedKey(
            keyID: keyID,
            publicKey: Array(key.publicKey.rawRepresentation),
            algorithm: .es256,
            clinicBIN: "940140000385",
            validFrom: 0,
            validUntil: Int64.max / 2
        )
        let verifier = TokenVerifier(trusted: [trusted])
        var started = ContinuousClock.now
        for _ in 0..<offline {
            guard case .genuine = verifier.verify(token) else {
                throw ValidationError("the sample token did not verify")
            }
        }
        var seconds = BenchEnvironment.seconds(ContinuousClock.now - started)
        print(
            String(
                format: "offline: %d verifications in %.2f s = %.0f /s on one core (%.1f µs each)",
                offline,
                seconds,
                Double(offline) / seconds,
                seconds / Double(offline) * 1e6
            )
        )
        started = ContinuousClock.now
        let codes = 200
        for _ in 0..<codes {
            let code = try QRCode(token, correction: .quartile)
            _ = code.png(scale: 8)
            _ = code.svg(title: "bench")
        }
        seconds = BenchEnvironment.seconds(ContinuousClock.now - started)
        print(String(format: "QR code per certificate (encode + PNG + SVG): %.2f ms", seconds / Double(codes) * 1000))

        // Online, through the database.
        try await BenchEnvironment.with(tenants: 1, connections: clients + 2) { database, owner, cities in
            let city = cities[0]
            let sealer = KeySealer.ephemeral()
            let engine = WorkflowEngine(
                database: database,
                registry: try WorkflowRegistry.load(
                    directory: URL(
                        fileURLWithPath: ProcessInfo.processInfo.environment["ADAL_WORKFLOWS_DIR"] ?? "workflows"
                    ),
                    implementations: ServiceImplementations.all(sealer: sealer)
                )
            )
            let doctor = UUID()
            try await owner.withTenant(city.id) { connection in
                try await connection.run(
                    "INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(city.id), 'sick-leave')",
                    logger: owner.logger
                )
                let clinic = try await Clinic.register(
                    bin: "940140000385",
                    name: "Bench clinic",
                    tenantID: city.id,
                    on: connection,
                    logger: owner.logger
                )
                try await connection.run(
                    """
                    INSERT INTO users (tenant_id, id, login, display_name, password_hash)
                    VALUES (\(city.id), \(doctor), 'bench-doctor', 'Bench doctor', 'not used')
                    """,
                    logger: owner.logger
                )
                try await clinic.addStaff(userID: doctor, tenantID: city.id, on: connection, logger: owner.logger)
            }
            var tokens: [String] = []
            for number in 0..<50 {
                let started = try await engine.start(
                    tenantID: city.id,
                    service: SickLeaveService.key,
                    actor: StepActor(id: doctor, roles: [.clinicDoctor]),
                    input: [
                        "clinic_bin": .string("940140000385"), "patient_iin": .string("791028302728"),
                        "patient_name": .string("Patient \(number)"), "date_of_birth": .string("1979-10-28"),
                        "employer_bin": .string("070941024691"), "start_date": .string("2026-11-16"),
                        "expected_end": .string("2026-11-20"),
                    ]
                )
                if let view = try await CertificateView.load(
                    instance: started.instanceID,
                    tenantID: city.id,
                    database: database
                ) {
                    tokens += view.versions.map(\.token)
                }
            }
            let recorder = CheckRecorder(database: database)
            let checker = CertificateVerifier(database: database, recorder: recorder, keyCities: KeyCities())
            let flusher = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: CheckRecorder.flushInterval)
                    try? await recorder.flush()
                }
            }
            defer { flusher.cancel() }
            let tokenList = tokens
            let perClient = online / clients
            try await BenchEnvironment.concurrently(
                clients,
                label: "online (service + PostgreSQL, \(clients) clients) checks"
            ) {
                client in
                var latencies: [Double] = []
                latencies.reserveCapacity(perClient)
                for number in 0..<perClient {
                    let start = ContinuousClock.now
                    let answer = try await checker.verify(
                        tokenList[(client + number) % tokenList.count],
                        tenantID: city.id
                    )
                    guard answer.verdict == "in_force" else { throw ValidationError("verdict \(answer.verdict)") }
                    latencies.append(BenchEnvironment.seconds(ContinuousClock.now - start) * 1000)
                }
                return latencies
            }
            if httpSeconds > 0 {
                try await Self.overHTTP(
                    database: database,
                    city: city.slug.value,
                    tokens: tokenList,
                    clients: clients,
                    seconds: httpSeconds
                )
            }
        }
    }

    /// The real server on a free local port, driven by wrk: the city's endpoint, then the one
    /// that finds the city by key id.
    static func overHTTP(
        database: Database,
        city: String,
        tokens: [String],
        clients: Int,
        seconds: Int
    ) async throws {
        guard BenchServer.wrkAvailable else {
            print("HTTP: skipped, wrk is not installed (scripts/setup.sh bench)")
            return
        }
        try await BenchServer.with(database: database) { base, directory, _ in
            try await verifyRuns(
                base: base,
                directory: directory,
                city: city,
                tokens: tokens,
                clients: clients,
                seconds: seconds
            )
        }
    }

    static func verifyRuns(
        base: String,
        directory: String,
        city: String,
        tokens: [String],
        clients: Int,
        seconds: Int
    )
        async throws
    {
        let script = directory + "/verify.lua"
        let quoted = tokens.map { "\"\($0)\"" }.joined(separator: ",\n")
        try """
        -- POSTs the bench's tokens in turn; expects 200 with an in-force verdict.
        local tokens = {\(quoted)}
        local next = 0
        request = function()
          next = next % #tokens + 1
          return wrk.format("POST", nil, {["Content-Type"] = "application/json"},
            '{"token":"' .. tokens[next] .. '"}')
        end
        -- Each wrk thread counts in its own Lua state; done() adds the counts up.
        wrong = 0
        local threads = {}
        setup = function(thread) table.insert(threads, thread) end
        response = function(status, headers, body)
          if status ~= 200 or not string.find(body, '"in_force"', 1, true) then wrong = wrong + 1 end
        end
        \(BenchServer.countWrongAnswers)
        """.write(toFile: script, atomically: true, encoding: .utf8)
        for path in ["/api/\(city)/sick-leave/verify", "/api/v1/verify"] {
            // A short warm-up, then the measured run.
            _ = try BenchServer.wrk(["-t1", "-c4", "-d2s", "-s", script, base + path])
            let output = try BenchServer.wrk([
                "-t2", "-c\(clients)", "-d\(seconds)s", "--latency", "-s", script, base + path,
            ])
            print(
                "HTTP \(path) (\(clients) connections, \(seconds) s, wrk on the same 2 cores): "
                    + BenchServer.summary(output)
            )
        }
    }

    static func sample(statusIndex: Int) -> SickLeaveToken {
        SickLeaveToken(
            certificateID: Array(repeating: 7, count: 12),
            version: 1,
            patientName: "Әлия Серікқызы Нұрланова",
            dateOfBirth: CalendarDate("1987-04-12")!,
            periodStart: CalendarDate("2026-11-16")!,
            periodEnd: CalendarDate("2026-11-25")!,
            status: .open,
            clinicName: "Қалалық емхана №4",
            clinicBIN: "940140000385",
            statusIndex: statusIndex,
            issuedAt: 1_795_000_000
        )
    }
}
