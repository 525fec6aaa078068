import Core
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

/// Asks each gateway that reports delivery (``NotificationChannel/reports``: the SMS
/// aggregator) what became of the messages it took, and keeps the final word with each message:
/// delivered, partly, undelivered, expired or rejected. A guardian's account page then says when
/// the last message to their address did not reach it, and the operators count the outcomes.
///
/// Every ``interval`` (and at start), city by city, the messages of the last two days without a
/// report are asked about, at most ``asked`` a question and ``rounds`` questions a city a pass;
/// each message is asked again after a quarter of its age — every pass at first, hourly after
/// four hours — so a phone that stays off for a day costs a question an hour, not one every
/// pass. A message is marked asked before the question goes, so two servers do not ask the same
/// one at once; a gateway that fails is logged (its error, never a number), left alone for the
/// rest of the pass, and its messages asked again when they are next due.
public struct DeliveryReports: Service {
    public static let interval: Duration = .seconds(300)
    /// Most messages asked about in one question (the aggregator's limit).
    public static let asked = 100
    /// Most questions a city gets in a pass.
    public static let rounds = 10
    /// How long after it was sent a message is asked about: a message lives a day at most at
    /// the gateway (`validity`), and a report may follow it by hours.
    public static let window: TimeInterval = 2 * 86_400

    let database: Database
    let channels: [any NotificationChannel]
    let counted: @Sendable (ContactAddress.Kind, MessageDelivery) -> Void
    public let interval: Duration

    public init(
        database: Database,
        channels: [any NotificationChannel],
        interval: Duration = Self.interval,
        counted: @escaping @Sendable (ContactAddress.Kind, MessageDelivery) -> Void = { _, _ in }
    ) {
        self.database = database
        self.channels = channels
        self.interval = interval
        self.counted = counted
    }

    /// One pass over every city: the reports kept, by outcome. A gateway that fails is logged
    /// and left alone until the next pass.
    @discardableResult
    public func pass(at now: Date = Date()) async throws -> [MessageDelivery: Int] {
        let logger = database.logger
        let inbox = MealInbox(database: database)
        var kept: [MessageDelivery: Int] = [:]
        let reporting = channels.compactMap { channel in channel.reports.map { (channel.kind, $0) } }
        guard !reporting.isEmpty else { return kept }
        var failing = Set<ContactAddress.Kind>()
        for city in try await database.cityIDs() {
            for (kind, reports) in reporting where !failing.contains(kind) {
                for _ in 0..<Self.rounds {
                    let ids = try await inbox.awaitingReport(
                        channel: kind,
                        now: now,
                        spacing: interval,
                        limit: Self.asked,
                        tenantID: city
                    )
                    if ids.isEmpty { break }
                    let deliveries: [String: MessageDelivery]
                    do {
                        deliveries = try await reports(ids)
                    } catch {
                        logger.error(
                            "delivery reports failed",
                            metadata: ["channel": "\(kind.rawValue)", "error": "\(error)"]
                        )
                        failing.insert(kind)
                        break
                    }
                    for delivery in try await inbox.report(deliveries, channel: kind, now: now, tenantID: city) {
                        kept[delivery, default: 0] += 1
                        counted(kind, delivery)
                    }
                    if ids.count < Self.asked || Task.isCancelled { break }
                }
            }
        }
        if !kept.isEmpty {
            logger.info(
                "delivery reports",
                metadata: Dictionary(uniqueKeysWithValues: kept.map { ($0.rawValue, "\($1)") })
            )
        }
        return kept
    }

    /// Passes at once and every ``interval`` until the server stops.
    public func run() async throws {
        await everyInterval(interval, logger: database.logger, failure: "delivery reports failed") { try await pass() }
    }
}

/// What a city's gateways took of one kind in a period, and what became of it.
public struct MessageCounts: Sendable, Equatable {
    public let kind: ContactAddress.Kind
    /// Messages the gateway took (or the simulated one stood in for).
    public let taken: Int
    /// The final reports, by outcome.
    public let reports: [MessageDelivery: Int]
    /// Messages the gateway gave an id for that have no final report (on their way, or never
    /// reported within two days).
    public let unreported: Int
    /// The city's addresses of this kind the gateway refused for good, now.
    public let refusedAddresses: Int
}

/// A message to one of a user's addresses and the report on it.
public struct LastDelivery: Sendable, Equatable {
    public let address: ContactAddress
    public let delivery: MessageDelivery
    public let sentAt: Date
}

extension MealInbox {
    /// The gateway's ids of up to `limit` messages of `channel` due a question (sent within
    /// ``DeliveryReports/window``, no report yet, not asked within a quarter of their age —
    /// at least `spacing`, at most an hour), oldest first, marked asked at `now`.
    func awaitingReport(
        channel: ContactAddress.Kind,
        now: Date,
        spacing: Duration,
        limit: Int,
        tenantID: UUID
    ) async throws -> [String] {
        let logger = database.logger
        let since = now.addingTimeInterval(-DeliveryReports.window)
        let seconds = Double(spacing.components.seconds)
        return try await database.withTenant(tenantID) { connection in
            var ids: [String] = []
            let rows = try await connection.query(
                """
                UPDATE meal_notifications SET delivery_asked_at = \(now)
                WHERE tenant_id = \(tenantID) AND id IN (
                    SELECT id FROM meal_notifications
                    WHERE tenant_id = \(tenantID) AND channel = \(channel.rawValue) AND gateway_id IS NOT NULL
                        AND delivery IS NULL AND sent_at > \(since)
                        AND (delivery_asked_at IS NULL OR delivery_asked_at <= \(now)::timestamptz
                            - LEAST(interval '1 hour', GREATEST(make_interval(secs => \(seconds)),
                                (\(now)::timestamptz - sent_at) / 4)))
                    ORDER BY sent_at
                    LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED)
                RETURNING gateway_id
                """,
                logger: logger
            )
            for try await id in rows.decode(String.self) { ids.append(id) }
            return ids
        }
    }

    /// Keeps each report with the message of that id that has none yet; the reports kept.
    func report(
        _ deliveries: [String: MessageDelivery],
        channel: ContactAddress.Kind,
        now: Date,
        tenantID: UUID
    ) async throws -> [MessageDelivery] {
        guard !deliveries.isEmpty else { return [] }
        let logger = database.logger
        let ids = Array(deliveries.keys)
        let outcomes = ids.map { deliveries[$0]!.rawValue }
        return try await database.withTenant(tenantID) { connection in
            var kept: [MessageDelivery] = []
            let rows = try await connection.query(
                """
                UPDATE meal_notifications m SET delivery = r.delivery, delivery_at = \(now)
                FROM unnest(\(ids)::text[], \(outcomes)::text[]) AS r (gateway_id, delivery)
                WHERE m.tenant_id = \(tenantID) AND m.channel = \(channel.rawValue) AND m.gateway_id = r.gateway_id
                    AND m.delivery IS NULL
                RETURNING m.delivery
                """,
                logger: logger
            )
            for try await outcome in rows.decode(String.self) {
                if let delivery = MessageDelivery(rawValue: outcome) { kept.append(delivery) }
            }
            return kept
        }
    }

    /// For each kind of address, what the gateways took from `from` to `to` (Kazakhstan days,
    /// `YYYY-MM-DD`), the reports on it, and the addresses refused now: whether alerts reach the
    /// city's guardians, without naming any of them.
    public func counts(from: String, to: String, tenantID: UUID) async throws -> [MessageCounts] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var counts: [MessageCounts] = []
            let rows = try await connection.query(
                """
                SELECT k.kind,
                    (SELECT count(*) FROM meal_notifications m WHERE m.tenant_id = \(tenantID) AND m.channel = k.kind
                        AND m.address IS NOT NULL AND m.sent_at >= (\(from) || ' 00:00+05')::timestamptz
                        AND m.sent_at < ((\(to)::date + 1)::text || ' 00:00+05')::timestamptz)::int,
                    (SELECT coalesce(jsonb_object_agg(r.delivery, r.count), '{}')::text FROM (
                        SELECT coalesce(m.delivery, '') AS delivery, count(*) AS count FROM meal_notifications m
                        WHERE m.tenant_id = \(tenantID) AND m.channel = k.kind AND m.address IS NOT NULL
                            AND m.gateway_id IS NOT NULL
                            AND m.sent_at >= (\(from) || ' 00:00+05')::timestamptz
                            AND m.sent_at < ((\(to)::date + 1)::text || ' 00:00+05')::timestamptz
                        GROUP BY 1) r),
                    (SELECT count(*) FROM user_contacts c WHERE c.tenant_id = \(tenantID) AND c.channel = k.kind
                        AND c.refused_at IS NOT NULL)::int
                FROM unnest(\(ContactAddress.Kind.allCases.map(\.rawValue))::text[]) AS k (kind)
                """,
                logger: logger
            )
            for try await (kind, taken, reported, refused) in rows.decode((String, Int, String, Int).self) {
                guard let kind = ContactAddress.Kind(rawValue: kind) else { continue }
                let byOutcome = (try? JSONSerialization.jsonObject(with: Data(reported.utf8)) as? [String: Int]) ?? [:]
                var reports: [MessageDelivery: Int] = [:]
                for (outcome, count) in byOutcome {
                    if let delivery = MessageDelivery(rawValue: outcome) { reports[delivery] = count }
                }
                counts.append(
                    MessageCounts(
                        kind: kind,
                        taken: taken,
                        reports: reports,
                        unreported: byOutcome[""] ?? 0,
                        refusedAddresses: refused
                    )
                )
            }
            return counts
        }
    }

    /// Each of `user`'s confirmed addresses (not refused) whose last message with a report since
    /// it was confirmed did not reach it.
    public func undelivered(user: UUID, tenantID: UUID) async throws -> [LastDelivery] {
        let logger = database.logger
        let failed = MessageDelivery.allCases.filter(\.failed).map(\.rawValue)
        return try await database.withTenant(tenantID) { connection in
            var last: [LastDelivery] = []
            let rows = try await connection.query(
                """
                SELECT c.channel, c.address, m.delivery, m.sent_at FROM user_contacts c
                CROSS JOIN LATERAL (
                    SELECT delivery, sent_at FROM meal_notifications m
                    WHERE m.tenant_id = c.tenant_id AND m.user_id = c.user_id AND m.channel = c.channel
                        AND m.address = c.address AND m.delivery IS NOT NULL AND m.sent_at >= c.confirmed_at
                    ORDER BY m.sent_at DESC
                    LIMIT 1
                ) m
                WHERE c.tenant_id = \(tenantID) AND c.user_id = \(user) AND c.address IS NOT NULL
                    AND c.refused_at IS NULL AND m.delivery = ANY(\(failed))
                """,
                logger: logger
            )
            for try await (channel, address, delivery, sentAt) in rows.decode((String, String, String, Date).self) {
                guard let kind = ContactAddress.Kind(rawValue: channel),
                    let delivery = MessageDelivery(rawValue: delivery)
                else { continue }
                last.append(
                    LastDelivery(
                        address: ContactAddress(stored: address, kind: kind),
                        delivery: delivery,
                        sentAt: sentAt
                    )
                )
            }
            return last
        }
    }
}
