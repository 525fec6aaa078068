import Core
import Foundation
import MealPayments
import MealTenders
import Prometheus
import SickLeave
import Storage
import Workflow

/// The services the routes use, built once in ``buildApplication(configuration:database:logger:)``
/// (or by a test) and passed down.
public struct AppDependencies: Sendable {
    public var database: Database
    public var tenants: any TenantStore
    public var auditLog: PostgresAuditLog
    public var notary: AuditNotary
    public var accounts: AccountService
    /// Starts instances and fires events for every service.
    public var workflows: WorkflowEngine
    public var pages: PageRenderer
    public var metrics: PrometheusCollectorRegistry
    public var maximumBodyBytes: Int
    public var secureCookies: Bool
    /// Each city's signed sick-leave trust and status lists.
    public var sickLeaveLists: CityLists
    /// Batches the record of who checked which certificate.
    public var certificateChecks: CheckRecorder
    /// Checks sick-leave tokens (recording the checks through ``certificateChecks``).
    public var certificates: CertificateVerifier
    /// The server's public address, which certificate QR codes link to.
    public var publicBase: String
    /// Makes clinics' next signing keys ahead of time (runs as a service of the server).
    public var keyRotation: KeyRotation
    /// Reads QR codes in uploaded pictures.
    public var qrReader = QRReader()
    /// Bounds concurrent photo and video uploads and anonymous reports per address.
    var mediaGate = MediaUploadGate()
    /// School-meal top-ups and the payment provider's webhooks.
    public var topUps: TopUps
    /// The built-in simulated payment provider.
    public var paymentProvider: SimulatedProvider
    /// How users are reached at their confirmed addresses (the outbox's alerts and news, and
    /// the codes that confirm an address): a real gateway's adapter for each kind the server is
    /// set up for, or the recorded stand-in where messages are simulated
    /// (``messageChannels(configuration:database:logger:)``). A kind without one is not offered.
    public var notificationChannels: [any NotificationChannel]
    /// Users' email addresses and mobile numbers, each confirmed by a code.
    public var contacts: ContactBook
    /// Canteens, their contracts and tills.
    public var mealSchools: MealSchools
    /// The tills' charges, in batches.
    var mealCharges: MealCharges
    /// The tills' charges served so far, and the batches (transactions) they took.
    public var mealChargeBatches: BatchesServed { mealCharges.served }
    /// School-meal suppliers and their documents.
    public var suppliers: Suppliers
    /// Seals clinics' keys and bids; also derives a retried bid's nonce.
    public var keySealer: KeySealer
    /// Builds the open-contracting releases of competitions.
    public var ocds: OCDSRelease
    /// Largest body of a request carrying documents (``UploadRoutes``).
    public var maximumUploadBodyBytes: Int
    /// Keeps the API tokens' principals between requests live (run it as a service of the
    /// server); nil when the client's settings were not given, and then tokens are looked up on
    /// every request.
    public var principalListener: PrincipalListener?

    public init(
        database: Database,
        tenants: any TenantStore,
        auditLog: PostgresAuditLog,
        notary: AuditNotary,
        accounts: AccountService,
        workflows: WorkflowEngine,
        pages: PageRenderer,
        metrics: PrometheusCollectorRegistry,
        maximumBodyBytes: Int,
        secureCookies: Bool,
        sickLeaveLists: CityLists,
        certificateChecks: CheckRecorder,
        keySealer: KeySealer,
        webhookSecret: [UInt8],
        publicBase: String,
        ocdsPrefix: String = AppConfiguration.defaultOCDSPrefix,
        maximumUploadBodyBytes: Int = 16 << 20
    ) {
        self.database = database
        self.tenants = tenants
        self.auditLog = auditLog
        self.notary = notary
        self.accounts = accounts
        self.workflows = workflows
        self.pages = pages
        self.metrics = metrics
        self.maximumBodyBytes = maximumBodyBytes
        self.secureCookies = secureCookies
        self.sickLeaveLists = sickLeaveLists
        self.certificateChecks = certificateChecks
        self.certificates = CertificateVerifier(database: database, recorder: certificateChecks, keyCities: KeyCities())
        self.publicBase = publicBase
        self.keyRotation = KeyRotation(database: database, sealer: keySealer)
        topUps = TopUps(database: database, engine: workflows, webhookSecret: webhookSecret)
        paymentProvider = SimulatedProvider(topUps: topUps, webhookSecret: webhookSecret)
        notificationChannels = []
        contacts = ContactBook(database: database)
        mealSchools = MealSchools(database: database)
        mealCharges = MealCharges(engine: workflows)
        suppliers = Suppliers(database: database)
        self.keySealer = keySealer
        ocds = OCDSRelease(prefix: ocdsPrefix)
        self.maximumUploadBodyBytes = maximumUploadBodyBytes
    }
}

extension AppDependencies {
    /// The channel messages of `kind` go through; nil when the server has no gateway for it.
    func channel(_ kind: ContactAddress.Kind) -> (any NotificationChannel)? {
        notificationChannels.first { $0.kind == kind }
    }

    /// The id of the city's account `login`, which must hold `role` (a till, a school's office):
    /// "not found" naming the role otherwise.
    func account(_ login: String, tenant: Tenant, role: Role) async throws -> UUID {
        guard let user = try await accounts.store.user(login: login, tenantID: tenant.id), user.roles.contains(role)
        else { throw AdalError.notFound(what: "\(role.rawValue) account '\(login)'") }
        return user.id
    }
}
