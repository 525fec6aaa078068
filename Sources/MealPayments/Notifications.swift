import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// A way to reach a user outside the pages: an email or SMS gateway. A message goes to the
/// user's confirmed address of the channel's kind (`ContactBook`), never to an unconfirmed one,
/// except the code that confirms it. ``RecordedChannel`` hands messages to a real gateway (the
/// SMTP server, for email) or, without one, stands in for it.
public protocol NotificationChannel: Sendable {
    var kind: ContactAddress.Kind { get }
    /// True when nothing leaves the server: the channel only stands in for a gateway.
    var simulated: Bool { get }
    /// How to ask the channel's gateway what became of the messages it took, when it reports
    /// delivery (``DeliveryReports``).
    var reports: RecordedChannel.Reports? { get }
    func send(_ message: OutgoingMessage, tenantID: UUID) async throws
}

extension NotificationChannel {
    public var simulated: Bool { false }
    public var reports: RecordedChannel.Reports? { nil }
}

/// A message for one user at one of their confirmed addresses.
public struct OutgoingMessage: Sendable {
    public let text: String
    public let user: UUID
    public let address: ContactAddress
    /// The message's own id, the same when an outbox job sends it again after a failure
    /// (``MealInbox/reference(jobID:user:channel:tenantID:)``): a gateway that takes a client's
    /// message id sends it once, and the recorded channels keep it once.
    public let reference: UUID
    /// False for a message no table may hold, a confirmation code: a real gateway's channel
    /// then sends it without keeping it (nor checking it was sent before: it is sent once,
    /// outside any job).
    public let kept: Bool
    /// The outbox job sending it, nil outside one: kept with the message, so that what a dead
    /// job sent stays findable for as long as the job may be sent again.
    public let job: Int64?

    public init(
        text: String,
        user: UUID,
        address: ContactAddress,
        reference: UUID,
        kept: Bool = true,
        job: Int64? = nil
    ) {
        self.text = text
        self.user = user
        self.address = address
        self.reference = reference
        self.kept = kept
        self.job = job
    }
}

/// A channel that keeps each message it hands over in `meal_notifications`, with the address it
/// went to, once by its reference. With a `gateway` (a real adapter, `SMTPClient` for email) it
/// hands a kept message over only when its reference is not there yet and keeps it once the
/// gateway took it, so a job sent again after another channel failed does not repeat it (a
/// crash between the two sends it again: at least once). Without one it stands in for the
/// gateway and keeps every message, codes included, which the tests and the demo read.
public struct RecordedChannel: NotificationChannel {
    /// Hands a message to the gateway; returns the gateway's id for it when the gateway gives
    /// one that its delivery report can be asked for by.
    public typealias Gateway = @Sendable (OutgoingMessage) async throws -> String?
    /// The delivery reports of messages the gateway took, by its ids for them (at most
    /// ``DeliveryReports/asked`` at once): the final word on each that has one.
    public typealias Reports = @Sendable ([String]) async throws -> [String: MessageDelivery]

    public let kind: ContactAddress.Kind
    let database: Database
    let gateway: Gateway?
    public let reports: Reports?

    public init(kind: ContactAddress.Kind, database: Database, gateway: Gateway? = nil, reports: Reports? = nil) {
        self.kind = kind
        self.database = database
        self.gateway = gateway
        self.reports = reports
    }

    public var simulated: Bool { gateway == nil }

    public func send(_ message: OutgoingMessage, tenantID: UUID) async throws {
        let inbox = MealInbox(database: database)
        var gatewayID: String?
        if let gateway {
            guard message.kept else {
                _ = try await gateway(message)
                return
            }
            if try await inbox.has(message.reference, tenantID: tenantID) { return }
            gatewayID = try await gateway(message)
        }
        try await inbox.record(
            message.text,
            to: message.user,
            channel: kind.rawValue,
            address: message.address.text,
            reference: message.reference,
            job: message.job,
            gatewayID: gatewayID,
            tenantID: tenantID
        )
    }
}

/// Every message to a guardian as their page lists it (channel `page`), kept whether or not
/// any of their addresses is confirmed; and, through
/// ``record(_:to:channel:address:reference:job:tenantID:)``, what the simulated gateways sent. A
/// message is kept once by its reference, however often its job is sent again.
public struct MealInbox: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func record(
        _ message: String,
        to user: UUID,
        channel: String = "page",
        address: String? = nil,
        reference: UUID,
        job: Int64? = nil,
        gatewayID: String? = nil,
        tenantID: UUID
    ) async throws {
        let logger = database.logger
        // An id the table cannot hold is not asked about: the message is kept without it.
        let gatewayID = gatewayID.flatMap { (1...64).contains($0.count) ? $0 : nil }
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                """
                INSERT INTO meal_notifications (tenant_id, id, user_id, channel, address, message, job_id, gateway_id)
                VALUES (\(tenantID), \(reference), \(user), \(channel), \(address), \(String(message.prefix(500))), \(job),
                    \(gatewayID))
                ON CONFLICT (tenant_id, id) DO NOTHING
                """,
                logger: logger
            )
        }
    }

    /// Whether a message with this reference is kept already.
    public func has(_ reference: UUID, tenantID: UUID) async throws -> Bool {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            try await connection.query(
                "SELECT 1 FROM meal_notifications WHERE tenant_id = \(tenantID) AND id = \(reference)",
                logger: logger
            ).collect().isEmpty == false
        }
    }

    /// The id of the message an outbox job `jobID` sends `user` through `channel` (`page`,
    /// `email`, `sms`): the same on every attempt of the job, another for each user and channel
    /// (the first 16 bytes of a SHA-256, marked as an RFC 9562 version 8 UUID). A message sent
    /// outside a job gets a random one.
    public static func reference(jobID: Int64?, user: UUID, channel: String, tenantID: UUID) -> UUID {
        guard let jobID else { return UUID() }
        let text = "adal-message\n\(tenantID.lowercasedText)\n\(jobID)\n\(user.lowercasedText)\n\(channel)"
        var bytes = Array(SHA256.hash(data: Data(text.utf8)).prefix(16))
        bytes[6] = (bytes[6] & 0x0f) | 0x80
        bytes[8] = (bytes[8] & 0x3f) | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            )
        )
    }
}

extension MealInbox {
    /// A guardian's page lists their messages for `pages` after each was sent (the email rows
    /// from before migration 0036 count as the page's); what a gateway took (or the simulated
    /// one stood in for), with the address it went to, is kept for `sent` — long enough that a
    /// job sent again after a failure finds what it already sent. Either stays while the job that
    /// sent it waits or is dead, which an administrator may send again at any time.
    public static func retentionRules(pages: Duration, sent: Duration) -> [RetentionRule] {
        let jobFinished = """
            NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.tenant_id = $1 AND jobs.id = meal_notifications.job_id
                AND jobs.status IN ('pending', 'dead'))
            """
        return [
            RetentionRule(
                name: "guardians' messages",
                table: "meal_notifications",
                condition: "(channel = 'page' OR (channel = 'email' AND address IS NULL)) AND sent_at < $2 AND "
                    + jobFinished,
                keep: pages
            ),
            RetentionRule(
                name: "messages sent to addresses",
                table: "meal_notifications",
                condition: "channel <> 'page' AND address IS NOT NULL AND sent_at < $2 AND " + jobFinished,
                keep: sent
            ),
        ]
    }
}

/// The built-in simulated payment provider: it confirms an automatic top-up at once by
/// delivering a signed capture webhook through the same check as any provider's.
public struct SimulatedProvider: Sendable {
    let topUps: TopUps
    let secret: [UInt8]

    public init(topUps: TopUps, webhookSecret: [UInt8]) {
        self.topUps = topUps
        secret = webhookSecret
    }

    public func capture(transfer: UUID, amount: Int64, tenantID: UUID) async throws -> TopUps.Outcome {
        try await deliver("payment.captured", id: "sim-capture", transfer: transfer, amount: amount, tenantID: tenantID)
    }

    /// How long after a payment it can be refunded to its card, as acquirers limit it (180 days
    /// is a common limit); after that a refund fails with `refund_window_expired`.
    public static let refundWindow: TimeInterval = 180 * 86_400

    /// Pays a part of a balance return back to its top-up's card at once — a signed refund
    /// webhook — or, when the top-up was paid (`paidAt`) longer than ``refundWindow`` ago, says
    /// that it cannot, as a real acquirer would.
    public func refund(
        transfer: UUID,
        amount: Int64,
        paidAt: Date? = nil,
        now: Date = Date(),
        tenantID: UUID
    ) async throws -> TopUps.Outcome {
        if let paidAt, now.timeIntervalSince(paidAt) > Self.refundWindow {
            return try await deliver(
                "payment.refund_failed",
                id: "sim-refund",
                transfer: transfer,
                amount: amount,
                reason: "refund_window_expired",
                tenantID: tenantID
            )
        }
        return try await deliver(
            "payment.refunded",
            id: "sim-refund",
            transfer: transfer,
            amount: amount,
            tenantID: tenantID
        )
    }

    /// Delivers an event of `type` about `transfer`, its id `<id>-<transfer>` (the same for a
    /// second delivery, which is then a duplicate).
    private func deliver(
        _ type: String,
        id: String,
        transfer: UUID,
        amount: Int64,
        reason: String? = nil,
        tenantID: UUID
    ) async throws -> TopUps.Outcome {
        let event = TopUps.Event(
            eventID: "\(id)-\(transfer.uuidString.lowercased())",
            type: type,
            transferID: transfer,
            amount: amount,
            reason: reason
        )
        let body = Array(try JSONEncoder().encode(event))
        return try await topUps.receive(
            body: body,
            signature: TopUps.signature(body: body, at: Date(), secret: secret),
            tenantID: tenantID
        )
    }
}

/// The outbox handlers of the meal service: low-balance alerts, automatic top-ups and the parts
/// of balance returns, each
/// delivered at least once (and harmless when delivered twice).
public enum MealOutbox {
    /// `say` words a message in a language from a locale key and its figures (a low-balance
    /// alert: the pupil's name and the balance in tenge; news of a balance return: the pupil's
    /// name and the part's amount); `schools` knows each guardian's language for it (in Kazakh
    /// and Russian both when the guardian chose none).
    public static func handlers(
        channels: [any NotificationChannel],
        contacts: ContactBook,
        topUps: TopUps,
        provider: SimulatedProvider,
        schools: MealSchools,
        say: @escaping @Sendable (_ key: String, _ language: Language, _ figures: [String]) -> String
    ) -> [String: JobRunner.Handler] {
        let inbox = MealInbox(database: contacts.database)
        /// Tells a guardian in their language, or in Kazakh and Russian: on their page, and at
        /// each address they confirmed.
        /// A job sent again after a failure sends each of its messages with the same reference.
        let tell = {
            @Sendable (
                message: OutboxMessage,
                user: UUID,
                language: Language?,
                key: String,
                figures: [String],
                tenantID: UUID
            ) in
            let text = (language.map { [$0] } ?? [.kk, .ru]).map { say(key, $0, figures) }.joined(separator: "\n")
            let addresses = try await contacts.confirmed(userID: user, tenantID: tenantID)
            let reference = { @Sendable (channel: String) in
                MealInbox.reference(jobID: message.jobID, user: user, channel: channel, tenantID: tenantID)
            }
            // Through every channel at once: each is a gateway's call, and one after another an
            // alert took their sum (docs/meal-payments.md, "A gateway that takes its time").
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    try await inbox.record(
                        text,
                        to: user,
                        reference: reference("page"),
                        job: message.jobID,
                        tenantID: tenantID
                    )
                }
                for channel in channels {
                    guard let address = addresses[channel.kind] else { continue }
                    group.addTask {
                        let message = OutgoingMessage(
                            text: text,
                            user: user,
                            address: address,
                            reference: reference(channel.kind.rawValue),
                            job: message.jobID
                        )
                        do {
                            try await channel.send(message, tenantID: tenantID)
                        } catch let refusal as any GatewayRefusal where refusal.refusesAddress {
                            // Refused for good: sending again cannot help. Nothing more goes there
                            // until its owner confirms it again, their account page says why, and
                            // the job's other messages are not held up by it.
                            try await contacts.refuse(address, userID: user, tenantID: tenantID)
                            contacts.database.logger.warning(
                                "a gateway refused an address for good: messages to it stop until it is confirmed again",
                                metadata: ["channel": .string(channel.kind.rawValue), "error": .string("\(refusal)")]
                            )
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
        /// Tells the guardian a message names (`user`, about `pupil` by name and `pupilID`) in the
        /// language of their alerts, with the message's `figures` (amounts in tenge).
        let tellGuardian = { @Sendable (message: OutboxMessage, key: String, figures: [String], tenantID: UUID) in
            guard case .object(let payload) = message.payload, case .string(let user)? = payload["user"],
                let userID = UUID(uuidString: user), case .string(let pupil)? = payload["pupil"]
            else { return }
            var amounts: [String] = []
            for figure in figures {
                guard case .integer(let tiyn)? = payload[figure] else { return }
                amounts.append(Money.shown(tiyn))
            }
            var language: Language?
            if case .string(let pupilID)? = payload["pupilID"], let id = UUID(uuidString: pupilID) {
                language = try await schools.alertLanguage(userID: userID, pupilID: id, tenantID: tenantID)
            }
            try await tell(message, userID, language, key, [pupil] + amounts, tenantID)
        }
        return [
            BalanceWatch.lowBalanceTopic: { message, tenantID in
                try await tellGuardian(message, "meals_alert_message", ["balance"], tenantID)
            },
            // A top-up declined or cancelled by the provider — an automatic one above all, which
            // nobody watched go through.
            TopUps.declinedTopic: { message, tenantID in
                try await tellGuardian(message, "meals_top_up_declined_message", ["amount", "balance"], tenantID)
            },
            // Every guardian of the pupil hears what became of a part of a balance return or a payout.
            BalanceReturns.newsTopic: { message, tenantID in
                guard case .object(let payload) = message.payload, case .string(let id)? = payload["pupilID"],
                    let pupilID = UUID(uuidString: id), case .string(let pupil)? = payload["pupil"],
                    case .integer(let amount)? = payload["amount"], case .string(let outcome)? = payload["outcome"],
                    BalanceReturns.newsOutcomes.contains(outcome)
                else { return }
                var account = ""
                if case .string(let text)? = payload["account"] { account = text }
                for (user, language) in try await schools.guardians(of: pupilID, tenantID: tenantID) {
                    try await tell(
                        message,
                        user,
                        language,
                        "meals_return_message_" + outcome,
                        [pupil, Money.shown(amount), account],
                        tenantID
                    )
                }
            },
            BalanceWatch.autoTopUpTopic: { message, tenantID in
                guard case .object(let payload) = message.payload, case .string(let user)? = payload["user"],
                    let userID = UUID(uuidString: user), case .string(let pupil)? = payload["pupil"],
                    let pupilID = UUID(uuidString: pupil), case .integer(let amount)? = payload["amount"],
                    case .string(let transfer)? = payload["transfer"], let transferID = UUID(uuidString: transfer)
                else { return }
                let hold = try await topUps.hold(
                    id: transferID,
                    pupilID: pupilID,
                    amount: amount,
                    guardian: userID,
                    tenantID: tenantID
                )
                if hold.status == "pending" {
                    _ = try await provider.capture(transfer: transferID, amount: amount, tenantID: tenantID)
                }
            },
            // The provider pays a part of a balance return to the card of its top-up. The
            // built-in provider is the simulated one; a real provider's adapter would ask it
            // to refund the top-up's payment here and confirm through the webhook later.
            BalanceReturns.providerTopic: { message, tenantID in
                guard case .object(let payload) = message.payload, case .string(let transfer)? = payload["transfer"],
                    let transferID = UUID(uuidString: transfer), case .integer(let amount)? = payload["amount"]
                else { return }
                var paidAt: Date?
                if case .integer(let seconds)? = payload["paidAt"] {
                    paidAt = Date(timeIntervalSince1970: Double(seconds))
                }
                _ = try await provider.refund(transfer: transferID, amount: amount, paidAt: paidAt, tenantID: tenantID)
            },
        ]
    }
}

/// Amounts for people: tiyn as tenge with two decimals, `1250.50` (the form a page's input and
/// the CSV statement take; `1250,50` in the statement for Russian and Kazakh); ``shown(_:)`` as a page shows it, `1 250,50`.
public enum Money {
    public static func tenge(_ tiyn: Int64) -> String { Tenge.decimal(tiyn) }
    public static func tenge(_ tiyn: Int64, decimalMark: Character) -> String {
        Tenge.decimal(tiyn, decimalMark: decimalMark)
    }
    public static func shown(_ tiyn: Int64) -> String { Tenge.shown(tiyn) }
}
