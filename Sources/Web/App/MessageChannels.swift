import Core
import Logging
import MealPayments
import Messaging
import Storage

/// The channels a server reaches users through: for each kind of address, the real gateway the
/// configuration names (email: ``MailGateway``; SMS: `SMSGateway`), else the recorded stand-in when
/// ``AppConfiguration/simulatedMessages`` is on, else none — and then the account page does not
/// offer that kind, so nobody waits for a code that never leaves the server. Each choice is
/// logged at start.
public func messageChannels(
    configuration: AppConfiguration,
    database: Database,
    logger: Logger
) throws -> [any NotificationChannel] {
    var channels: [any NotificationChannel] = []
    if let mail = try MailGateway.configured(configuration) {
        channels.append(mail.channel(database: database))
        logger.info("email goes through the SMTP server", metadata: ["from": "\(mail.from)"])
    }
    if let sms = try SMSGateway.configured(configuration) {
        channels.append(sms.channel(database: database))
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

    /// The SMS channel: this gateway behind the record that keeps each message once. A code
    /// lives 15 minutes, so the gateway tries it for the shortest it allows, an hour; an alert
    /// for a day.
    public func channel(database: Database) -> RecordedChannel {
        RecordedChannel(kind: .sms, database: database) { message in
            try await send(message.text, to: message.address.text, validity: .seconds(message.kept ? 86_400 : 3_600))
        }
    }
}
