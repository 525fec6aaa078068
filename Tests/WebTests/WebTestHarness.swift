import Audit
import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import MealPayments
import PostgresNIO
import Prometheus
import Storage
import TestSupport
import Workflow

@testable import Web

/// A city with users, built on a fresh database, and the application under test on the
/// application role, exactly as the server builds it (bcrypt at a low cost for speed).
struct WebFixture: Sendable {
    static let password = "correct horse battery"

    /// A small service the web tests run: a parent reports a broken thing at a school, the akimat
    /// takes it on and closes it.
    static let repairReport = """
        key: repair-report
        version: 1
        title: {kk: Жөндеу туралы хабар, ru: Сообщение о ремонте, en: Repair report}
        roles: [parent, akimat_admin]
        parameters:
          response_time:
            type: duration
            title: {kk: Жауап мерзімі, ru: Срок ответа, en: Response time}
            default: P3D
            min: P1D
            max: P10D
        states:
          reported:
            initial: true
            title: {kk: Хабарланды, ru: Сообщено, en: Reported}
            task: {role: akimat_admin, due: {parameter: response_time}}
          in_work:
            title: {kk: Жұмыста, ru: В работе, en: In work}
          closed:
            terminal: true
            title: {kk: Жабылды, ru: Закрыто, en: Closed}
        start:
          title: {kk: Хабарлау, ru: Сообщить, en: Report}
          roles: [parent]
          input:
            school_bin: {type: bin}
            what: {type: string, max_length: 300}
        events:
          - name: accept
            title: {kk: Қабылдау, ru: Принять, en: Accept}
            from: reported
            to: in_work
            roles: [akimat_admin]
          - name: close
            title: {kk: Жабу, ru: Закрыть, en: Close}
            from: [reported, in_work]
            to: closed
            roles: [akimat_admin]
            input:
              outcome: {type: enum, values: [repaired, not_needed]}
        """

    let databases: TestDatabases
    let dependencies: AppDependencies
    let astana: Tenant
    let shymkent: Tenant

    static func with(
        maximumBodyBytes: Int = 64 * 1024,
        mode: TestingSetup = .router,
        channels: [any NotificationChannel]? = nil,
        configure: @escaping @Sendable (inout AppConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (WebFixture, any TestClientProtocol) async throws -> Void
    ) async throws {
        try await TestDatabases.with { databases in
            var configuration = try AppConfiguration.forTests()
            defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
            configuration.maximumBodyBytes = maximumBodyBytes
            configure(&configuration)
            configuration.workflowsDirectory = configuration.dataDirectory + "/workflows"
            try FileManager.default.createDirectory(
                atPath: configuration.workflowsDirectory,
                withIntermediateDirectories: true
            )
            try Data(Self.repairReport.utf8).write(
                to: URL(fileURLWithPath: configuration.workflowsDirectory + "/repair-report.yaml")
            )
            // The services' real definitions, as the server loads them: the current versions and
            // the earlier ones in archive/.
            for name in try FileManager.default.contentsOfDirectory(atPath: TestCluster.repositoryRoot + "/workflows")
            where name.hasSuffix(".yaml") || name == "archive" {
                try FileManager.default.copyItem(
                    atPath: TestCluster.repositoryRoot + "/workflows/" + name,
                    toPath: configuration.workflowsDirectory + "/" + name
                )
            }
            var dependencies = try await buildDependencies(
                configuration: configuration,
                client: databases.application.client,
                metrics: PrometheusCollectorRegistry(),
                logger: databases.application.logger
            )
            if let channels { dependencies.notificationChannels = channels }
            let (astana, shymkent) = try await databases.createCities(
                hasher: BcryptHasher(cost: 4),
                password: password
            )
            let owner = PostgresTenantStore(database: databases.owner)
            try await owner.enable(.sickLeave, tenantID: astana.id)
            try await owner.enable(.mealPayments, tenantID: astana.id)
            for tenant in [astana, shymkent] {
                try await databases.owner.withTenant(tenant.id) { connection in
                    try await connection.query(
                        "INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(tenant.id), 'repair-report')",
                        logger: databases.owner.logger
                    )
                }
            }
            let fixture = WebFixture(
                databases: databases,
                dependencies: dependencies,
                astana: astana,
                shymkent: shymkent
            )
            let app = Application(
                router: try buildRouter(dependencies),
                server: .http1OnEventLoops,
                eventLoopGroupProvider: .shared(ServerLoops.group)
            )
            try await app.test(mode) { client in
                try await body(fixture, client)
            }
        }
    }
}

/// A browser's cookie jar, enough for these tests: remembers each Set-Cookie by name.
struct CookieJar {
    private(set) var values: [String: String] = [:]

    mutating func take(from response: TestResponse) {
        for header in response.headers[values: .setCookie] {
            let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
            let name = String(pair[0])
            let value = pair.count > 1 ? String(pair[1]) : ""
            if header.contains("Max-Age=0") { values[name] = nil } else { values[name] = value }
        }
    }

    var header: HTTPFields {
        var fields = HTTPFields()
        if !values.isEmpty {
            fields[.cookie] = values.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ")
        }
        return fields
    }

    subscript(name: String) -> String? {
        get { values[name] }
        set { values[name] = newValue }
    }
}

/// A browser-like session against the test client: keeps cookies and posts forms with the
/// anti-forgery token of the last page.
struct Browser {
    let client: any TestClientProtocol
    var jar = CookieJar()

    init(client: any TestClientProtocol) {
        self.client = client
    }

    @discardableResult
    mutating func get(_ uri: String) async throws -> TestResponse {
        let response = try await client.execute(uri: uri, method: .get, headers: jar.header, body: nil)
        jar.take(from: response)
        return response
    }

    @discardableResult
    mutating func post(_ uri: String, form: [String: String], csrf: Bool = true) async throws -> TestResponse {
        var fields = form
        if csrf, let token = jar["adal_csrf"] { fields["_csrf"] = token }
        var headers = jar.header
        headers[.contentType] = "application/x-www-form-urlencoded"
        let body = fields.map {
            "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
        }
        .joined(separator: "&")
        let response = try await client.execute(
            uri: uri,
            method: .post,
            headers: headers,
            body: ByteBuffer(string: body)
        )
        jar.take(from: response)
        return response
    }

    mutating func signIn(
        _ tenant: String,
        login: String,
        password: String = WebFixture.password
    ) async throws
        -> TestResponse
    {
        try await get("/\(tenant)/login")
        return try await post("/\(tenant)/login", form: ["login": login, "password": password])
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    /// The page's `<main>` element, where a page's own message stands.
    var main: String {
        guard let start = text.range(of: "<main"), let end = text.range(of: "</main>") else { return "" }
        return String(text[start.lowerBound..<end.upperBound])
    }

    func json() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
    }
}

extension AppConfiguration {
    /// Fast bcrypt, a fresh signing key, and a data folder of its own under /tmp.
    static func forTests() throws -> AppConfiguration {
        var configuration = AppConfiguration()
        configuration.bcryptCost = 4
        configuration.auditSignerKey = try NoteSigner.generate(name: "adal.test").signerKey
        configuration.auditOriginHost = "adal.test"
        configuration.dataDirectory = NSTemporaryDirectory() + "/adal-web-test-" + UUID().uuidString
        // The whole suite shares two cores and one PostgreSQL: a request may wait longer for a
        // connection than production allows without anything being wrong (the lease itself is
        // tested with its production bound by the crash tests, which run a real server).
        configuration.databaseLeaseTimeout = .seconds(30)
        // The tests read what the stand-in gateways kept (MessageChannelTests turn it off).
        configuration.simulatedMessages = true
        return configuration
    }
}

extension WebFixture {
    /// How many of Astana's kept messages (`meal_notifications`) contain `text`, or went through
    /// `channel` to `address` (sent by an outbox job, with `fromJob`).
    func keptMessages(
        containing text: String = "",
        channel: String? = nil,
        address: String? = nil,
        fromJob: Bool = false
    ) async throws -> Int64 {
        try await databases.owner.withTenant(astana.id) { connection in
            try await connection.query(
                """
                SELECT count(*) FROM meal_notifications
                WHERE message LIKE \("%" + text + "%") AND (\(channel)::text IS NULL OR channel = \(channel))
                  AND (\(address)::text IS NULL OR address = \(address)) AND (NOT \(fromJob) OR job_id IS NOT NULL)
                """,
                logger: databases.owner.logger
            ).collect().first?.decode(Int64.self) ?? 0
        }
    }

    /// A parent's repair report in Astana, through the engine.
    func reportRepair(_ what: String = "Broken window") async throws -> UUID {
        try await dependencies.workflows.start(
            tenantID: astana.id,
            service: "repair-report",
            actor: StepActor(id: UUID(), roles: [.parent]),
            input: ["school_bin": .string("940140000385"), "what": .string(what)]
        ).instanceID
    }

    /// The akimat takes a report on.
    func acceptRepair(_ id: UUID) async throws {
        _ = try await dependencies.workflows.fire(
            tenantID: astana.id,
            instanceID: id,
            event: "accept",
            actor: StepActor(id: UUID(), roles: [.akimatAdmin]),
            input: [:]
        )
    }
}

extension TestClientProtocol {
    /// A JSON API request, with a bearer token and an idempotency key when given.
    func api(
        _ method: HTTPRequest.Method,
        _ uri: String,
        token: String? = nil,
        json: String? = nil,
        key: String? = nil,
        language: String? = nil
    ) async throws -> TestResponse {
        var headers = HTTPFields()
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let language { headers[.acceptLanguage] = language }
        if json != nil { headers[.contentType] = "application/json" }
        if let key { headers[WorkflowAPIController.idempotencyKey] = key }
        return try await execute(uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }
}

extension WebFixture {
    /// An account in Astana with one role (password `WebFixture.password`), and an API token for it.
    func account(
        _ login: String,
        name: String,
        role: Role,
        iin: String? = nil
    ) async throws -> (user: User, token: String) {
        // Through the server's own account service, so the account can sign in to pages too.
        let user = try await dependencies.accounts.createUser(
            NewUser(
                login: login,
                displayName: name,
                iin: try iin.map { try NationalIdentifier.iin($0) },
                roles: [role]
            ),
            password: WebFixture.password,
            tenantID: astana.id
        )
        let token = try await dependencies.accounts.issueToken(
            login: login,
            name: "t",
            roles: [role],
            tenantID: astana.id
        ).0.text
        return (user, token)
    }

}
