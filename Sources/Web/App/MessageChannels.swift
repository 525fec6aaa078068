import Core
import Logging
import MealPayments
import Storage

/// The channels a server reaches users through: for each kind of address, the real gateway the
/// configuration names (email: ``MailGateway``), else the recorded stand-in when
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
