import Core
import Logging
import MealPayments
import Messaging
import Prometheus
import Storage

/// The channels a server reaches users through: for each kind of address, the real gateway the
/// configuration names (email: ``MailGateway``; SMS: `SMSGateway`), else the recorded stand-in when
/// ``AppConfiguration/simulatedMessages`` is on, else none — and then the account page does not
/// offer that kind, so nobody waits for a code that never leaves the server. Each choice is
/// logged at start. What the real gateways are handed is counted in `metrics`.
public func messageChannels(
    configuration: AppConfiguration,
    database: Database,
    metrics: PrometheusCollectorRegistry,
    logger: Logger
) throws -> [any NotificationChannel] {
    var channels: [any NotificationChannel] = []
    if let mail = try MailGateway.configured(configuration) {
        channels.append(mail.channel(database: database, metrics: metrics))
        logger.info("email goes through the SMTP server", metadata: ["from": "\(mail.from)"])
    }
    if let sms = try SMSGateway.configured(configuration) {
        channels.append(sms.channel(database: database, metrics: metrics))
        logger.info("SMS goes through the aggregator's API", metadata: ["host": "\(sms.host)"])
    }
    for kind in ContactAddress.Kind.allCases where !channels.contains(where: { $0.kind == kind }) {
        if configuration.simulatedMessages {
            channels.append(RecordedChannel(kind: kind, database: database))
            logger.warning(
                "messages of this kind are simulated: kept in a table, never sent (ADAL_SIMULATED_MESSAGES)",
                metadata: ["channel": .string(kind.rawValue)]
            )
        } else {
            logger.notice(
                "no gateway for messages of this kind: users are not offered such an address",
                metadata: ["channel": .string(kind.rawValue)]
            )
        }
    }
    return channels
}

/// `gateway`, each hand-over counted for the operators (`/metrics`):
/// `adal_messages_total{channel, outcome}` — `sent`, `refused` (the address, for good:
/// `GatewayRefusal`) or `failed` (away, busy, too slow: retried) — and the time each took,
/// `adal_message_gateway_duration_seconds{channel}`. A gateway's outage shows as `failed` rising.
func countedGateway(
    _ kind: ContactAddress.Kind,
    metrics: PrometheusCollectorRegistry,
    _ gateway: @escaping RecordedChannel.Gateway
) -> RecordedChannel.Gateway {
    { message in
        let start = ContinuousClock.now
        var outcome = "failed"
        defer {
            metrics.makeCounter(
                name: "adal_messages_total",
                labels: [("channel", kind.rawValue), ("outcome", outcome)]
            ).increment()
            metrics.makeDurationHistogram(
                name: "adal_message_gateway_duration_seconds",
                labels: [("channel", kind.rawValue)],
                buckets: [
                    .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5),
                    .seconds(5), .seconds(10), .seconds(30),
                ]
            ).recordNanoseconds(Int64((ContinuousClock.now - start) / .nanoseconds(1)))
        }
        do {
            let id = try await gateway(message)
            outcome = "sent"
            return id
        } catch let refusal as any GatewayRefusal where refusal.refusesAddress {
            outcome = "refused"
            throw refusal
        }
    }
}

extension SMSGateway {
    /// The gateway the configuration describes, or nil when it names none; a wrong address, key
    /// or sender's name is refused here, at start, naming what is wrong.
    public static func configured(_ configuration: AppConfiguration) throws -> SMSGateway? {
        guard let url = configuration.smsURL else { return nil }
        guard let key = configuration.smsAPIKey else {
            throw SMSError.configuration("ADAL_SMS_API_KEY must be set with ADAL_SMS_URL")
        }
        return try SMSGateway(
            url: url,
            apiKey: key,
            sender: configuration.smsSender,
            trustedCertificates: configuration.smsTrustedCertificates
        )
    }

    /// The SMS channel: this gateway behind the record that keeps each message once with the
    /// gateway's id for it, each hand-over counted in `metrics`; its delivery reports asked for
    /// by ``DeliveryReports``. A code lives 15 minutes, so the gateway tries it for the shortest
    /// it allows, an hour; an alert for a day.
    public func channel(database: Database, metrics: PrometheusCollectorRegistry) -> RecordedChannel {
        RecordedChannel(
            kind: .sms,
            database: database,
            gateway: countedGateway(.sms, metrics: metrics) { message in
                try await send(
                    message.text,
                    to: message.address.text,
                    validity: .seconds(message.kept ? 86_400 : 3_600)
                )
            },
            reports: { ids in try await deliveries(of: ids) }
        )
    }
}

/// The server's ``DeliveryReports``, each report kept counted for the operators (`/metrics`):
/// `adal_message_deliveries_total{channel, outcome}` — `delivered`, `partial`, `undelivered`,
/// `expired`, `rejected`. Undelivered rising against delivered is a gateway, an operator or a
/// sender's name in trouble before any guardian says so.
public func deliveryReports(dependencies: AppDependencies) -> DeliveryReports {
    let metrics = dependencies.metrics
    return DeliveryReports(database: dependencies.database, channels: dependencies.notificationChannels) {
        kind,
        delivery in
        metrics.makeCounter(
            name: "adal_message_deliveries_total",
            labels: [("channel", kind.rawValue), ("outcome", delivery.rawValue)]
        ).increment()
    }
}
