import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// Top-ups through a payment provider: a guardian's top-up is held as a pending transfer, then
/// the provider's webhook posts it (a step of the pupil's meal account) or voids it. Webhooks
/// are signed with HMAC-SHA256 over `timestamp.body`, refused when older than
/// ``signatureTolerance``, recognised when delivered twice (their event id), and harmless in
/// any order: only a pending top-up can be posted or voided, once.
public struct TopUps: Sendable {
    public static let simulatedProvider = "simulated"
    public static let signatureHeader = "Adal-Signature"
    public static let signatureTolerance: TimeInterval = 300
    /// The outbox topic that tells a guardian their top-up was declined or cancelled.
    public static let declinedTopic = "meals.top_up_declined"
    /// Largest single top-up, in tiyn (100,000 tenge).
    public static let maximumAmount: Int64 = 10_000_000

    /// A provider's event ids are remembered 90 days, well past any provider's redeliveries (days):
    /// later, a delivery again finds its top-up or refund no longer pending and changes nothing
    /// (`ignored` where it was `duplicate`), so forgetting the id moves no money.
    public static let retentionRules = [
        RetentionRule(
            name: "payment providers' events",
            table: "provider_events",
            condition: "received_at < $2",
            keep: .seconds(90 * 86_400)
        )
    ]

    let database: Database
    let engine: WorkflowEngine
    let secret: SymmetricKey

    public init(database: Database, engine: WorkflowEngine, webhookSecret: [UInt8]) {
        self.database = database
        self.engine = engine
        secret = SymmetricKey(data: webhookSecret)
    }

    public struct Hold: Sendable, Codable, Equatable {
        public var transfer: UUID
        public var status: String
        public var amount: Int64
        public var provider: String
    }

    /// Holds a top-up for the guardian's pupil. The same id with the same amount returns the
    /// first hold; with another amount or pupil it is refused.
    public func hold(id: UUID, pupilID: UUID, amount: Int64, guardian: UUID?, tenantID: UUID) async throws -> Hold {
        guard (1...Self.maximumAmount).contains(amount) else {
            throw AdalError.invalidField(
                field: "amount",
                reason: "a whole number of tiyn from 1 to \(Self.maximumAmount)"
            )
        }
        let request = Data(SHA256.hash(data: Data("top_up \(pupilID) \(amount)".utf8)))
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            if let guardian {
                var allowed = false
                for try await _ in try await connection.query(
                    """
                    SELECT 1 FROM guardians WHERE tenant_id = \(tenantID) AND user_id = \(guardian) AND pupil_id = \(pupilID)
                    """,
                    logger: logger
                ) {
                    allowed = true
                }
                guard allowed else { throw AdalError.notFound(what: "pupil") }
            }
            for try await (status, stored, hash) in try await connection.query(
                "SELECT status, amount, request_hash FROM transfers WHERE tenant_id = \(tenantID) AND id = \(id)",
                logger: logger
            ).decode((String, Int64, Data).self) {
                guard hash == request else {
                    throw AdalError.conflict(reason: "transfer \(id) exists with another request")
                }
                return Hold(transfer: id, status: status, amount: stored, provider: Self.simulatedProvider)
            }
            var school: UUID?
            for try await value in try await connection.query(
                "SELECT school_id FROM pupils WHERE tenant_id = \(tenantID) AND id = \(pupilID)",
                logger: logger
            ).decode(UUID.self) {
                school = value
            }
            guard let school else { throw AdalError.notFound(what: "pupil") }
            try await connection.run(
                """
                INSERT INTO transfers (tenant_id, id, kind, status, amount, pupil_id, school_id, request_hash,
                    provider_reference, paid_by, local_day)
                VALUES (\(tenantID), \(id), 'top_up', 'pending', \(amount), \(pupilID), \(school), \(request),
                    \(Self.simulatedProvider), \(guardian), \(Day.today().description)::date)
                """,
                logger: logger
            )
            return Hold(transfer: id, status: "pending", amount: amount, provider: Self.simulatedProvider)
        }
    }

    /// What a provider's webhook says.
    public struct Event: Codable, Sendable, Equatable {
        public var eventID: String
        /// `payment.captured` or `payment.failed` for a top-up; `payment.refunded` or
        /// `payment.refund_failed` for a part of a balance return (``BalanceReturns``).
        public var type: String
        public var transferID: UUID
        public var amount: Int64
        /// Why a refund failed (`payment.refund_failed` only): `refund_window_expired` or
        /// `card_closed` last (``BalanceReturns/lastingFailures``), `declined` may pass; any other
        /// code is kept as `other`.
        public var reason: String?

        public init(eventID: String, type: String, transferID: UUID, amount: Int64, reason: String? = nil) {
            (self.eventID, self.type, self.transferID, self.amount) = (eventID, type, transferID, amount)
            self.reason = reason
        }
    }

    /// The reasons the meal account's `balance_return_failed` step names; another code a provider
    /// sends is recorded as `other`.
    static let refundFailures: Set<String> = BalanceReturns.lastingFailures.union(["declined"])

    /// `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
    public static func signature(body: [UInt8], at time: Date, secret: [UInt8]) -> String {
        let stamp = String(Int64(time.timeIntervalSince1970))
        let mac = HMAC<SHA256>.authenticationCode(
            for: Array((stamp + ".").utf8) + body,
            using: SymmetricKey(data: secret)
        )
        return "t=\(stamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// The webhook's verdict: what was done, for the provider's log.
    public enum Outcome: String, Sendable, Codable {
        case posted
        case voided
        case duplicate
        /// A part of a balance return reached its card.
        case settled
        /// A part of a balance return could not be paid: it came back to the pupil's account.
        case returned
        /// The top-up was no longer pending (already posted or voided), or the return's part
        /// already settled or came back: nothing changed.
        case ignored
    }

    /// Checks the signature and the timestamp, then applies the event once.
    public func receive(body: [UInt8], signature: String?, tenantID: UUID, now: Date = Date()) async throws -> Outcome {
        guard let signature, let (stamp, mac) = Self.parse(signature) else {
            throw AdalError.forbidden(reason: "missing or malformed \(Self.signatureHeader)")
        }
        guard abs(now.timeIntervalSince1970 - Double(stamp)) <= Self.signatureTolerance else {
            throw AdalError.forbidden(reason: "the signature's timestamp is too old or in the future (replayed?)")
        }
        guard
            HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array(("\(stamp).").utf8) + body, using: secret)
        else { throw AdalError.forbidden(reason: "the signature does not match") }
        guard let event = try? JSONDecoder().decode(Event.self, from: Data(body)),
            (1...100).contains(event.eventID.count), (event.reason?.count ?? 0) <= 100
        else { throw AdalError.invalidField(field: "body", reason: "{eventID, type, transferID, amount, reason?}") }
        let logger = database.logger
        // Seen before? Then nothing to do.
        let seen = try await database.withTenant(tenantID) { connection in
            var seen = false
            for try await _ in try await connection.query(
                """
                SELECT 1 FROM provider_events
                WHERE tenant_id = \(tenantID) AND provider = \(Self.simulatedProvider) AND event_id = \(event.eventID)
                """,
                logger: logger
            ) {
                seen = true
            }
            return seen
        }
        if seen { return .duplicate }
        let outcome: Outcome
        switch event.type {
        case "payment.captured": outcome = try await capture(event, tenantID: tenantID)
        case "payment.failed", "payment.voided": outcome = try await void(event, tenantID: tenantID)
        case "payment.refunded": outcome = try await settle(event, failed: false, tenantID: tenantID)
        case "payment.refund_failed": outcome = try await settle(event, failed: true, tenantID: tenantID)
        default:
            throw AdalError.invalidField(
                field: "type",
                reason: "payment.captured, payment.failed, payment.refunded or payment.refund_failed"
            )
        }
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                """
                INSERT INTO provider_events (tenant_id, provider, event_id, outcome)
                VALUES (\(tenantID), \(Self.simulatedProvider), \(event.eventID), \(outcome.rawValue))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
        return outcome
    }

    /// Posts the top-up as a step of the pupil's meal account, keyed by the transfer, so two
    /// deliveries of a capture post it once.
    private func capture(_ event: Event, tenantID: UUID) async throws -> Outcome {
        guard let (instance, status, amount) = try await pending(event.transferID, tenantID: tenantID) else {
            throw AdalError.notFound(what: "top-up \(event.transferID)")
        }
        guard amount == event.amount else {
            throw AdalError.invalidField(field: "amount", reason: "the top-up was for \(amount) tiyn")
        }
        guard status == "pending" else { return .ignored }
        do {
            _ = try await engine.fire(
                tenantID: tenantID,
                instanceID: instance,
                event: "top_up",
                actor: .system,
                input: ["transfer_id": .string(event.transferID.uuidString)],
                idempotencyKey: "top-up-\(event.transferID.uuidString.lowercased())"
            )
        } catch AdalError.conflict {
            return .ignored
        }
        return .posted
    }

    /// A part of a balance return paid to its card, or failed: a step of the pupil's meal account
    /// keyed by the part, so two deliveries make one; a part already settled or failed is left
    /// as it is.
    private func settle(_ event: Event, failed: Bool, tenantID: UUID) async throws -> Outcome {
        let logger = database.logger
        let found = try await database.withTenant(tenantID) { connection in
            var found: (UUID, Int64, Int)?
            for try await row in try await connection.query(
                """
                SELECT p.instance_id, t.amount, i.definition_version FROM transfers t
                JOIN pupils p ON p.tenant_id = t.tenant_id AND p.id = t.pupil_id
                JOIN workflow_instances i ON i.tenant_id = p.tenant_id AND i.id = p.instance_id
                WHERE t.tenant_id = \(tenantID) AND t.id = \(event.transferID) AND t.kind = 'balance_return'
                """,
                logger: logger
            ).decode((UUID, Int64, Int).self) {
                found = row
            }
            return found
        }
        guard let (instance, amount, version) = found else {
            throw AdalError.notFound(what: "balance return \(event.transferID)")
        }
        guard amount == event.amount else {
            throw AdalError.invalidField(field: "amount", reason: "the return's part was for \(amount) tiyn")
        }
        let step = failed ? "balance_return_failed" : "balance_return_settled"
        var input: [String: InputValue] = ["transfer_id": .string(event.transferID.uuidString.lowercased())]
        // The reason, where the pupil's version of the account takes one (from version 4).
        if failed, let reason = event.reason,
            engine.registry.definition(MealAccountService.key, version: version)?.events
                .first(where: { $0.name == step })?.input.contains(where: { $0.name == "reason" }) == true
        {
            input["reason"] = .string(Self.refundFailures.contains(reason) ? reason : "other")
        }
        do {
            let result = try await engine.fire(
                tenantID: tenantID,
                instanceID: instance,
                event: step,
                actor: .system,
                input: input,
                idempotencyKey: "\(step)-\(event.transferID.uuidString.lowercased())"
            )
            if result.replayed { return .ignored }
        } catch AdalError.conflict {
            return .ignored
        }
        return failed ? .returned : .settled
    }

    /// Voids a pending top-up and, in the same transaction, queues word to the guardian who paid
    /// it (``declinedTopic``): an automatic top-up is declined with nobody at the page, and the
    /// child's balance stays under the threshold that asked for it.
    private func void(_ event: Event, tenantID: UUID) async throws -> Outcome {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var (changed, told) = (false, false)
            for try await guardian in try await connection.query(
                """
                WITH voided AS (
                    UPDATE transfers SET status = 'voided'
                    WHERE tenant_id = \(tenantID) AND id = \(event.transferID) AND kind = 'top_up' AND status = 'pending'
                    RETURNING paid_by, pupil_id, amount
                ), told AS (
                    INSERT INTO jobs (tenant_id, kind, topic, payload, run_at)
                    SELECT \(tenantID), 'outbox', \(Self.declinedTopic),
                        jsonb_build_object('user', v.paid_by, 'pupil', p.name, 'pupilID', p.id, 'amount', v.amount,
                            'balance', a.balance),
                        now()
                    FROM voided v
                    JOIN pupils p ON p.tenant_id = \(tenantID) AND p.id = v.pupil_id
                    JOIN ledger_accounts a ON a.tenant_id = \(tenantID) AND a.id = p.account_id
                    JOIN guardians g ON g.tenant_id = \(tenantID) AND g.user_id = v.paid_by AND g.pupil_id = v.pupil_id
                    RETURNING 1
                )
                SELECT EXISTS (SELECT FROM told) FROM voided
                """,
                logger: logger
            ).decode(Bool.self) {
                changed = true
                told = guardian
            }
            if told {
                try await connection.run(
                    "SELECT pg_notify(\(WorkflowEngine.jobsChannel)::text, \(tenantID.uuidString)::text)",
                    logger: logger
                )
            }
            return changed ? .voided : .ignored
        }
    }

    private func pending(_ id: UUID, tenantID: UUID) async throws -> (UUID, String, Int64)? {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var found: (UUID, String, Int64)?
            for try await row in try await connection.query(
                """
                SELECT p.instance_id, t.status, t.amount FROM transfers t
                JOIN pupils p ON p.tenant_id = t.tenant_id AND p.id = t.pupil_id
                WHERE t.tenant_id = \(tenantID) AND t.id = \(id) AND t.kind = 'top_up'
                """,
                logger: logger
            ).decode((UUID, String, Int64).self) {
                found = row
            }
            return found
        }
    }

    static func parse(_ header: String) -> (Int64, [UInt8])? {
        var stamp: Int64?
        var mac: [UInt8]?
        for part in header.split(separator: ",") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { return nil }
            switch pair[0] {
            case "t": stamp = Int64(pair[1])
            case "v1":
                let hex = Array(pair[1].utf8)
                guard hex.count == 64 else { return nil }
                mac = stride(from: 0, to: 64, by: 2).compactMap {
                    UInt8(String(decoding: hex[$0...$0 + 1], as: UTF8.self), radix: 16)
                }
            default: continue
            }
        }
        guard let stamp, let mac, mac.count == 32 else { return nil }
        return (stamp, mac)
    }
}
