import Foundation

/// Everything the server can be told, as one typed value filled by the CLI or by a test.
public struct AppConfiguration: Sendable {
    /// Address and port the HTTP server listens on.
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Adal's data folder; the embedded PostgreSQL lives under it when no database URL is set.
    public var dataDirectory: String = ".adal"
    /// The application role's connection (`DATABASE_URL`); nil starts the embedded cluster.
    public var databaseURL: String?
    /// The owner role's connection (`MIGRATION_DATABASE_URL`), used for migrations.
    public var migrationDatabaseURL: String?
    /// Folder of the numbered SQL migrations.
    public var migrationsDirectory: String = "migrations"
    /// Folder of the workflow definitions (`<service>.yaml`, earlier versions in `archive/`).
    public var workflowsDirectory: String = "workflows"
    /// How often the job runner looks for timers that came due (steps that queue work due at
    /// once wake it sooner).
    public var jobPollInterval: Duration = .seconds(1)
    /// Apply pending migrations at start when the owner role is available.
    public var migrateOnStart: Bool = true
    /// bcrypt cost; each step doubles the work. Production keeps at least 12.
    public var bcryptCost: UInt8 = 12
    /// Longest wait for a pooled database connection before a request is answered 503.
    public var databaseLeaseTimeout: Duration = .seconds(5)
    /// The application role's pool: this many connections, opened at start and kept open
    /// (`PostgresClient.Configuration.steadyPool(connections:)`; `ADAL_DATABASE_CONNECTIONS`).
    public var databaseConnections: Int = 16
    /// Largest request body accepted; larger bodies get 413.
    public var maximumBodyBytes: Int = 1 << 20
    /// Mark cookies Secure (set when served over HTTPS behind a proxy).
    public var secureCookies: Bool = false
    /// How long a browser session lasts.
    public var sessionLifetime: TimeInterval = 12 * 3600

    /// How long a finished job (a timer, an escalation, a message sent) is kept
    /// (`ADAL_KEEP_JOBS_DAYS`); dead jobs stay until sent again. README, "What is kept and for
    /// how long".
    public var keepFinishedJobs: Duration = .seconds(30 * 86_400)
    /// How long the messages to guardians stay on their pages (`ADAL_KEEP_MESSAGES_DAYS`).
    public var keepMessages: Duration = .seconds(400 * 86_400)

    /// The SMTP server email goes through (`ADAL_SMTP_URL`: `smtps://user:password@host:465`, or
    /// `smtp://127.0.0.1:25` for a relay on this machine); nil keeps email simulated.
    public var smtpURL: String?
    /// The address email is sent from (`ADAL_MAIL_FROM`).
    public var mailFrom: String?
    /// PEM certificates the SMTP server's is checked against instead of the system's
    /// (`ADAL_SMTP_CA_FILE`).
    public var smtpTrustedCertificates: String?
    /// The SMS aggregator's API (`ADAL_SMS_URL`, Mobizon's: `https://api.mobizon.kz`); nil
    /// sends no SMS.
    public var smsURL: String?
    /// The API key (`ADAL_SMS_API_KEY`), never logged.
    public var smsAPIKey: String?
    /// The sender's name registered with the aggregator (`ADAL_SMS_SENDER`); nil uses the
    /// account's default.
    public var smsSender: String?
    /// PEM certificates the gateway's is checked against instead of the system's
    /// (`ADAL_SMS_CA_FILE`).
    public var smsTrustedCertificates: String?
    /// Stand in for the email and SMS gateways the configuration does not name: each message,
    /// confirmation codes included, is kept in a table and never leaves the server
    /// (`ADAL_SIMULATED_MESSAGES=1`; `adal demo`, the tests and the benchmarks). Off, a kind of
    /// address without a real gateway is not offered on the account page.
    public var simulatedMessages = false

    /// The audit log's signing key (`PRIVATE+KEY+…`); nil reads or creates `audit-signer.key`
    /// in the data folder.
    public var auditSignerKey: String?
    /// The host part of each audit log's origin (`<host>/audit/<city>`); nil uses host:port.
    public var auditOriginHost: String?
    /// Longest wait before a queued audit leaf is integrated into its tree.
    public var auditMergeDelay: Duration = .seconds(1)
    /// The secret (base64, 32 bytes) that seals clinics' signing keys in the database; nil reads
    /// or creates `key-sealing.secret` in the data folder.
    public var keySealingSecret: String?
    /// The secret (base64, 32 bytes) payment providers sign webhooks with; nil reads or creates
    /// `payment-webhook.secret` in the data folder.
    public var paymentWebhookSecret: String?
    /// The address people reach the server at (`https://adal.example.kz`), which certificate QR
    /// codes link to; nil uses http://host:port.
    public var publicURL: String?

    /// The prefix of every open-contracting id (`ocds-` and the six characters the Open
    /// Contracting Partnership assigns to the publisher; `ADAL_OCDS_PREFIX`).
    public var ocdsPrefix: String = AppConfiguration.defaultOCDSPrefix
    /// Until a prefix is registered for a deployment.
    public static let defaultOCDSPrefix = "ocds-adal00"
    /// Largest body of a request that carries documents (a bid, a supplier's registration).
    public var maximumUploadBodyBytes: Int = 16 << 20

    /// ``publicURL``, or the listening address.
    public var publicBase: String { publicURL ?? "http://\(host):\(port)" }

    public init() {}
}
