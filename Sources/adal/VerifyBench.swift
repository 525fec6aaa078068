import ArgumentParser
import Core
import Crypto
import Foundation
import SickLeave
import Storage
import Workflow

/// `adal bench verify`: sick-leave token verification, offline on one core and through the
/// online check (trust list and certificate standing read from PostgreSQL) from many clients.
struct VerifyBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Sick-leave tokens: offline verifications/s on one core, online checks/s with p50/p99, QR cost.",
        discussion: """
            Offline: parse + Base45 + CBOR + ES256 signature check of a real token, in one task. Online: \
            CertificateVerifier (one transaction: the city's trusted keys and the version's standing) from \
            --clients concurrent tasks on a throw-away embedded PostgreSQL; this is the service behind \
            POST /api/{city}/sick-leave/verify, without the HTTP layer.
            """
    )

    @Option(help: "Offline verifications to time.") var offline = 20_000
    @Option(help: "Online checks to time.") var online = 10_000
    @Option(help: "Concurrent clients for the online checks.") var clients = 32

    func run() async throws {
        let (offline, online, clients) = (offline, online, clients)
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
                    implementations: [SickLeaveService(sealer: sealer).implementation]
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
            let begin = ContinuousClock.now
            let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
                for client in 0..<clients {
                    group.addTask {
                        var latencies: [Double] = []
                        latencies.reserveCapacity(perClient)
                        for number in 0..<perClient {
                            let start = ContinuousClock.now
                            let answer = try await checker.verify(
                                tokenList[(client + number) % tokenList.count],
                                tenantID: city.id
                            )
                            guard answer.verdict == "in_force" else {
                                throw ValidationError("verdict \(answer.verdict)")
                            }
                            latencies.append(BenchEnvironment.seconds(ContinuousClock.now - start) * 1000)
                        }
                        return latencies
                    }
                }
                var all: [Double] = []
                for try await part in group { all += part }
                return all.sorted()
            }
            let total = BenchEnvironment.seconds(ContinuousClock.now - begin)
            print(
                String(
                    format:
                        "online (service + PostgreSQL, %d clients): %d checks in %.2f s = %.0f /s; p50 %.2f ms, p99 %.2f ms",
                    clients,
                    latencies.count,
                    total,
                    Double(latencies.count) / total,
                    latencies[latencies.count / 2],
                    latencies[min(latencies.count - 1, latencies.count * 99 / 100)]
                )
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
