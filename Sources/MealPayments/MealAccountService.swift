import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// The Swift half of `workflows/meal-account.yaml`: opening a pupil's account, charging a meal
/// at the till, posting a confirmed top-up and refunding a charge — each in its step's own
/// transaction, which the engine holds with the pupil's instance locked, so a pupil's steps
/// never interleave.
public enum MealAccountService {
    public static let key = "meal-account"
    /// Most items on one charge.
    public static let maximumItems = 20

    public static var implementation: ServiceImplementation {
        ServiceImplementation(
            key: key,
            guards: ["balance_is_zero": { try await balanceIsZero($0) }],
            actions: [
                "open_account": { try await open($0) },
                "charge": { try await charges([$0])[0] },
                "post_top_up": { try await postTopUp($0) },
                "refund": { try await refund($0) },
                "return_balance": { try await BalanceReturns.request($0) },
                "balance_return_settled": { try await BalanceReturns.settled($0) },
                "balance_return_failed": { try await BalanceReturns.failed($0) },
                "pay_out": { try await BankPayouts.request($0) },
                "payout_paid": { try await BankPayouts.paid($0) },
                "payout_returned": { try await BankPayouts.returned($0) },
            ],
            batchActions: ["charge": { try await charges($0) }]
        )
    }

    // MARK: - Opening

    static func open(_ context: StepContext) async throws -> StepEffects {
        let input = context.input
        let (connection, logger, tenantID) = (context.connection, context.logger, context.tenantID)
        let bin = input.string("school_bin") ?? ""
        var school: UUID?
        for try await id in try await connection.query(
            "SELECT id FROM meal_schools WHERE tenant_id = \(tenantID) AND bin = \(bin)",
            logger: logger
        ).decode(UUID.self) {
            school = id
        }
        guard let school else { throw WorkflowError.refused(reason: "school \(bin) has no canteen registered") }
        try await requireStaff(of: school, named: "school \(bin)", context)
        let card = (input.string("card") ?? "").trimmingCharacters(in: .whitespaces)
        guard card.count >= 4, card.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }) else {
            throw AdalError.invalidField(field: "card", reason: "4 to 64 Latin letters, digits or hyphens")
        }
        let allergens = (input.string("allergens") ?? "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        let pupil = UUID()
        let account = try await Ledger.openPupilAccount(
            tenantID: tenantID,
            pupil: pupil,
            on: connection,
            logger: logger
        )
        do {
            try await connection.run(
                """
                INSERT INTO pupils (tenant_id, id, school_id, name, grade, card, free_meal_category, allergens,
                    daily_limit, account_id, instance_id)
                VALUES (\(tenantID), \(pupil), \(school), \(input.string("pupil_name") ?? ""),
                    \(Int16(input.integer("grade") ?? 0)), \(card), \(input.string("free_meal_category")),
                    \(allergens)::text[], \(input.integer("daily_limit") ?? 1), \(account), \(context.instanceID))
                """,
                logger: logger
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw AdalError.conflict(reason: "card \(card) belongs to another pupil")
        }
        return StepEffects(subject: input.string("pupil_name") ?? "")
    }

    /// A school administrator acts only at the schools they work at; akimat administrators
    /// anywhere in the city.
    static func requireStaff(of school: UUID, named name: String, _ context: StepContext) async throws {
        guard context.actingRole == .role(.schoolAdmin) else { return }
        if let user = context.actor.id {
            for try await _ in try await context.connection.query(
                """
                SELECT 1 FROM meal_school_staff
                WHERE tenant_id = \(context.tenantID) AND user_id = \(user) AND school_id = \(school)
                """,
                logger: context.logger
            ) {
                return
            }
        }
        throw AdalError.forbidden(reason: "this account does not work at \(name)")
    }

    // MARK: - Charging

    /// One item of a meal as the till sends it: a whole number of tiyn.
    public struct Item: Codable, Equatable, Sendable {
        public var name: String
        public var price: Int64
        public var allergens: [String]?

        public init(name: String, price: Int64, allergens: [String]? = nil) {
            self.name = name
            self.price = price
            self.allergens = allergens
        }

        /// The items a JSON list gives, or nil unless it is a list of objects, each with a
        /// `name` (text), a `price` (a whole number) and perhaps `allergens` (a list of text);
        /// other keys are left out. What `JSONDecoder` read as `[Item]`.
        public static func list(_ value: InputValue) -> [Item]? {
            guard case .array(let elements) = value else { return nil }
            var items: [Item] = []
            items.reserveCapacity(elements.count)
            for element in elements {
                guard case .object(let members) = element, case .string(let name)? = members["name"],
                    case .integer(let price)? = members["price"]
                else { return nil }
                var allergens: [String]?
                switch members["allergens"] {
                case nil, .null?: allergens = nil
                case .array(let list)?:
                    allergens = []
                    for entry in list {
                        guard case .string(let allergen) = entry else { return nil }
                        allergens?.append(allergen)
                    }
                default: return nil
                }
                items.append(Item(name: name, price: price, allergens: allergens))
            }
            return items
        }

        /// `items` as JSON, byte for byte what `JSONEncoder` with sorted keys writes for them
        /// (`/` as `\/`, `allergens` left out when nil): a step's input holds this text, and a
        /// till's retry is matched by its bytes, also across versions of the server. Written
        /// directly: `JSONEncoder` was nearly 4 % of the server's CPU per charge.
        public static func json(_ items: [Item]) -> String {
            var out = "["
            for (index, item) in items.enumerated() {
                out += index == 0 ? "{" : ",{"
                if let allergens = item.allergens {
                    out += "\"allergens\":["
                    for (position, allergen) in allergens.enumerated() {
                        if position > 0 { out += "," }
                        InputValue.writeString(allergen, to: &out, escapingSlashes: true)
                    }
                    out += "],"
                }
                out += "\"name\":"
                InputValue.writeString(item.name, to: &out, escapingSlashes: true)
                out += ",\"price\":"
                out += String(item.price)
                out += "}"
            }
            return out + "]"
        }
    }

    /// Tills' charges, one or a batch: each charge's items' total checked against the contract
    /// price, the allergens, the daily limit and the balance, then the pupil's (or the subsidy's)
    /// debit and the supplier's credit — for all of them in one prepared statement
    /// (`adal_meal_charges`, migrations 0020 and 0023), so a batch of charges is one round trip,
    /// charges a till kept while offline (each at its own time) included.
    static func charges(_ contexts: [StepContext]) async throws -> [StepEffects] {
        guard let first = contexts.first else { return [] }
        var charges: [PreparedCharges.Charge] = []
        for context in contexts {
            // When the meal was served: now, or earlier for a charge a till kept while offline.
            let served = try servedAt(context.input.string("served_at"), now: context.now)
            let itemsJSON = context.input.string("items") ?? ""
            let items = try Self.items(itemsJSON)
            var amount: Int64 = 0
            for item in items {
                let (sum, overflow) = amount.addingReportingOverflow(item.price)
                guard !overflow else { throw AdalError.invalidField(field: "items", reason: "the total is too large") }
                amount = sum
            }
            guard let userID = context.actor.id else {
                throw AdalError.forbidden(reason: MealReason.notATill)
            }
            charges.append(
                PreparedCharges.Charge(
                    instanceID: context.instanceID,
                    transfer: try transferID(context),
                    requestHash: requestHash(context),
                    till: userID,
                    items: itemsJSON,
                    amount: amount,
                    allergens: items.flatMap { $0.allergens ?? [] },
                    override: context.input.string("allergen_override") == "confirmed_by_staff",
                    servedAt: served == contexts[0].now ? nil : served
                )
            )
        }
        var rows: [Int: PreparedCharges.Row] = [:]
        do {
            let statement = try PreparedCharges(
                tenantID: first.tenantID,
                charges: charges,
                now: first.now,
                shard: Int16.random(in: 0..<Int16(Ledger.shards))
            )
            for try await row in try await first.connection.execute(statement, logger: first.logger)
            where charges.indices.contains(Int(row.0) - 1) {
                rows[Int(row.0) - 1] = row
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            // A twin request inserted the same transfer id at the same moment.
            let which = charges.count == 1 ? "transfer \(charges[0].transfer)" : "a transfer of the batch"
            throw AdalError.conflict(reason: "\(which) already exists with another request")
        }
        var effects: [StepEffects] = []
        for (index, (context, charge)) in zip(contexts, charges).enumerated() {
            guard let row = rows[index] else { throw AdalError.unavailable(reason: "the charge returned nothing") }
            let (_, outcome, reason, balance, pupilID, pupilName, guardians) = (
                row.0, row.1, row.2, row.3, row.4, row.5, row.6
            )
            let id = charge.transfer
            switch outcome {
            case "made": break
            case "already_made": throw AlreadyMade(transfer: id)
            case "conflict": throw AdalError.conflict(reason: "transfer \(id) already exists with another request")
            case "no_pupil": throw AdalError.notFound(what: "pupil")
            case "not_a_till": throw AdalError.forbidden(reason: MealReason.notATill)
            case "wrong_school": throw WorkflowError.refused(reason: MealReason.wrongSchool)
            case "no_contract": throw WorkflowError.refused(reason: MealReason.noContract)
            default: throw WorkflowError.refused(reason: reason ?? outcome)
            }
            var outbox: [OutboxMessage] = []
            if let balance, let pupilID, let pupilName, let guardians {
                // A pupil is charged once in a batch, so the balance before is the one after
                // and this charge's amount.
                outbox = BalanceWatch.messages(
                    guardians: try BalanceWatch.settings(guardians),
                    pupil: (pupilID, pupilName),
                    before: balance + charge.amount,
                    balance: balance,
                    context: context
                )
            }
            // The transfer as the till's answer shows it, so the answer needs no read of its own.
            var booked: MealQueries.Found?
            if let kind = row.7, let status = row.8, let at = row.9, let items = row.11, let pupilID, let pupilName,
                let after = row.12
            {
                booked = MealQueries.found(
                    (id, kind, status, charge.amount, at, row.10, items, reason, nil, pupilID, after, pupilName)
                )
            }
            effects.append(
                StepEffects(amounts: reason == nil ? [("meal", charge.amount)] : [], outbox: outbox, reply: booked)
            )
        }
        return effects
    }

    /// Longest a till may keep a charge it could not send: 72 hours, a long weekend's outage.
    public static let keptChargeLimit: Duration = .seconds(72 * 3600)
    /// How far a till's clock may run ahead of the server's.
    public static let tillClockSkew: Duration = .seconds(300)
    /// How a kept charge's time is written, as a refusal says it.
    public static let servedAtShape = "a time with its UTC offset, such as 2026-11-23T12:30:00+05:00"
    /// Why a kept charge's time is refused: later than now, or kept too long.
    public static let servedAtFuture = "later than now; check the till's clock"
    public static let servedAtTooOld = "more than 72 hours ago; a till must send the charges it kept within 72 hours"

    /// The time in a charge's `served_at`: an ISO 8601 time with its offset (fractions of a
    /// second allowed); nil when it is not one.
    public static func parseServedAt(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions.insert(.withFractionalSeconds)
        return formatter.date(from: text)
    }

    /// When a charge's meal was served: `served_at` for a charge a till kept while it could not
    /// reach the server, else `now`. Refused when it is not a time with its offset, later than
    /// now (beyond a till's clock running ``tillClockSkew`` fast; a time within it counts as
    /// now), or more than ``keptChargeLimit`` ago.
    public static func servedAt(_ text: String?, now: Date) throws -> Date {
        guard let text else { return now }
        guard let date = parseServedAt(text) else {
            throw AdalError.invalidField(field: "served_at", reason: servedAtShape)
        }
        guard date.timeIntervalSince(now) <= Double(tillClockSkew.components.seconds) else {
            throw AdalError.invalidField(field: "served_at", reason: servedAtFuture)
        }
        guard now.timeIntervalSince(date) <= Double(keptChargeLimit.components.seconds) else {
            throw AdalError.invalidField(field: "served_at", reason: servedAtTooOld)
        }
        return min(date, now)
    }

    /// What a charge's items must be, as a refusal says it.
    public static let itemsShape = "a list of {\"name\", \"price\"} with prices in whole tiyn (no decimals)"

    static func items(_ json: String) throws -> [Item] {
        guard let items = (try? InputValue(json: json.utf8)).flatMap(Item.list) else {
            throw AdalError.invalidField(field: "items", reason: itemsShape)
        }
        guard (1...maximumItems).contains(items.count) else {
            throw AdalError.invalidField(field: "items", reason: "1 to \(maximumItems) items")
        }
        for item in items {
            guard item.price > 0 else {
                throw AdalError.invalidField(field: "items", reason: "prices must be above zero")
            }
            guard (1...100).contains(item.name.count), (item.allergens ?? []).count <= 20 else {
                throw AdalError.invalidField(
                    field: "items",
                    reason: "names of 1 to 100 characters, at most 20 allergens"
                )
            }
        }
        return items
    }

    // MARK: - Top-ups and refunds

    /// Posts a top-up the provider confirmed: from the provider's clearing account to the
    /// pupil's. Only a pending top-up of this pupil is posted; anything else changes nothing.
    static func postTopUp(_ context: StepContext) async throws -> StepEffects {
        let (connection, logger, tenantID) = (context.connection, context.logger, context.tenantID)
        let id = try transferID(context)
        guard let pupil = try await Pupil.load(context) else { throw AdalError.notFound(what: "pupil") }
        var found: (String, Int64, String?)?
        for try await row in try await connection.query(
            """
            SELECT status, amount, provider_reference FROM transfers
            WHERE tenant_id = \(tenantID) AND id = \(id) AND pupil_id = \(pupil.id) AND kind = 'top_up' FOR UPDATE
            """,
            logger: logger
        ).decode((String, Int64, String?).self) {
            found = row
        }
        guard let (status, amount, provider) = found else { throw AdalError.notFound(what: "top-up \(id)") }
        guard status == "pending" else { throw AdalError.conflict(reason: "the top-up is already \(status)") }
        let clearing = try await Ledger.moveShared(
            .clearing,
            owner: provider ?? TopUps.simulatedProvider,
            amount: -amount,
            tenantID: tenantID,
            on: connection,
            logger: logger
        )
        _ = try await Ledger.creditPupil(
            account: pupil.accountID,
            amount: amount,
            tenantID: tenantID,
            on: connection,
            logger: logger
        )
        try await connection.run(
            """
            UPDATE transfers SET status = 'posted', debit_account = \(clearing), credit_account = \(pupil.accountID)
            WHERE tenant_id = \(tenantID) AND id = \(id)
            """,
            logger: logger
        )
        return StepEffects(amounts: [("top_up", amount)])
    }

    /// Returns up to the charged amount (less earlier refunds of it) to the pupil's account, from
    /// the supplier's payable. A subsidised meal's refund goes back to the subsidy.
    static func refund(_ context: StepContext) async throws -> StepEffects {
        let (connection, logger, tenantID) = (context.connection, context.logger, context.tenantID)
        let id = try transferID(context)
        guard let chargeID = UUID(uuidString: context.input.string("charge_id") ?? "") else {
            throw AdalError.invalidField(field: "charge_id", reason: "the id of the charge to refund")
        }
        let amount = context.input.integer("amount") ?? 0
        try await requireNew(id, context)
        guard let pupil = try await Pupil.load(context) else { throw AdalError.notFound(what: "pupil") }
        try await requireStaff(of: pupil.schoolID, named: "this pupil's school", context)
        var charge: (String, Int64, UUID)?
        for try await row in try await connection.query(
            """
            SELECT kind, amount, credit_account FROM transfers
            WHERE tenant_id = \(tenantID) AND id = \(chargeID) AND pupil_id = \(pupil.id) AND status = 'posted'
              AND kind IN ('charge', 'subsidised_charge')
            FOR UPDATE
            """,
            logger: logger
        ).decode((String, Int64, UUID).self) {
            charge = row
        }
        guard let (kind, charged, supplierShard) = charge else {
            throw AdalError.notFound(what: "posted charge \(chargeID) of this pupil")
        }
        var refunded: Int64 = 0
        for try await value in try await connection.query(
            """
            SELECT coalesce(sum(amount), 0)::bigint FROM transfers
            WHERE tenant_id = \(tenantID) AND refers_to = \(chargeID) AND status = 'posted'
            """,
            logger: logger
        ).decode(Int64.self) {
            refunded = value
        }
        guard amount <= charged - refunded else {
            throw WorkflowError.refused(
                reason: "a refund of \(amount) tiyn exceeds what is left of the charge (\(charged - refunded))"
            )
        }
        try await connection.run(
            """
            UPDATE ledger_accounts SET balance = balance - \(amount) WHERE tenant_id = \(tenantID) AND id = \(supplierShard)
            """,
            logger: logger
        )
        let credit: UUID
        if kind == "subsidised_charge" {
            credit = try await Ledger.moveShared(
                .subsidy,
                owner: "",
                amount: amount,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
        } else {
            _ = try await Ledger.creditPupil(
                account: pupil.accountID,
                amount: amount,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            credit = pupil.accountID
        }
        try await insertTransfer(
            id: id,
            kind: "refund",
            status: "posted",
            debit: supplierShard,
            credit: credit,
            amount: amount,
            pupil: pupil,
            items: "[]",
            reason: context.input.string("reason"),
            refersTo: chargeID,
            context: context
        )
        return StepEffects(amounts: [("refund", amount)])
    }

    static func balanceIsZero(_ context: StepContext) async throws -> GuardVerdict {
        guard let pupil = try await Pupil.load(context) else { return .refuse("no pupil") }
        guard pupil.balance == 0 else {
            return .refuse(
                "the account still holds \(pupil.balance) tiyn; return it to the payments it came from first"
            )
        }
        let waiting = try await BalanceReturns.unsettled(pupil, context)
        return waiting == 0
            ? .pass
            : .refuse(
                "a return of \(waiting) tiyn still waits for the payment provider or a bank transfer; close it once paid"
            )
    }

    // MARK: - Shared

    static func transferID(_ context: StepContext) throws -> UUID {
        guard let id = UUID(hyphenated: context.input.string("transfer_id") ?? "") else {
            throw AdalError.invalidField(field: "transfer_id", reason: "a UUID the client chooses")
        }
        return id
    }

    /// The same request made while its twin held the pupil's lock: the twin's answer stands.
    public struct AlreadyMade: Error {
        public let transfer: UUID
    }

    /// Refuses a transfer id already used: the same request again is ``AlreadyMade`` (the first
    /// answer is returned), another request with it is a conflict. Run under the pupil's lock,
    /// after any twin request has committed.
    static func requireNew(_ id: UUID, _ context: StepContext) async throws {
        for try await hash in try await context.connection.query(
            "SELECT request_hash FROM transfers WHERE tenant_id = \(context.tenantID) AND id = \(id)",
            logger: context.logger
        ).decode(Data.self) {
            guard hash == requestHash(context) else {
                throw AdalError.conflict(reason: "transfer \(id) already exists with another request")
            }
            throw AlreadyMade(transfer: id)
        }
    }

    static func requestHash(_ context: StepContext) -> Data {
        Data(SHA256.hash(data: Data(context.input.json.utf8)))
    }

    static func insertTransfer(
        id: UUID,
        kind: String,
        status: String,
        debit: UUID?,
        credit: UUID?,
        amount: Int64,
        pupil: Pupil,
        items: String,
        reason: String?,
        refersTo: UUID?,
        provider: String? = nil,
        context: StepContext
    ) async throws {
        let hash = requestHash(context)
        do {
            try await context.connection.run(
                """
                INSERT INTO transfers (tenant_id, id, kind, status, debit_account, credit_account, amount, pupil_id,
                    school_id, items, reason, refers_to, request_hash, provider_reference, created_at, local_day)
                VALUES (\(context.tenantID), \(id), \(kind), \(status), \(debit), \(credit), \(amount), \(pupil.id),
                    \(pupil.schoolID), \(items)::jsonb, \(reason), \(refersTo), \(hash), \(provider), \(context.now),
                    \(Day.today(context.now).description)::date)
                """,
                logger: context.logger
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw AdalError.conflict(reason: "transfer \(id) already exists with another request")
        }
    }
}

/// `adal_meal_charges` as a named prepared statement (docs/meal-payments.md): the charges of a
/// batch in one round trip; public for the benchmark, which runs it without the engine.
public struct PreparedCharges: PreparedSQL {
    /// One charge as the till sent it, its total counted.
    public struct Charge: Sendable {
        public var instanceID: UUID
        public var transfer: UUID
        public var requestHash: Data
        public var till: UUID
        public var items: String
        public var amount: Int64
        public var allergens: [String]
        public var override: Bool
        /// When the meal was served, for a charge a till kept while offline; nil: now.
        public var servedAt: Date?

        public init(
            instanceID: UUID,
            transfer: UUID,
            requestHash: Data,
            till: UUID,
            items: String,
            amount: Int64,
            allergens: [String],
            override: Bool,
            servedAt: Date? = nil
        ) {
            self.instanceID = instanceID
            self.transfer = transfer
            self.requestHash = requestHash
            self.till = till
            self.items = items
            self.amount = amount
            self.allergens = allergens
            self.override = override
            self.servedAt = servedAt
        }
    }

    /// position (from 1), outcome, reason, balance after a debit of the pupil's own money, pupil
    /// id, pupil name, guardians' settings (JSON); for a charge made, the transfer's kind, status,
    /// time, school and items, and the pupil's balance after the batch (migration 0021).
    public typealias Row = (
        Int32, String, String?, Int64?, UUID?, String?, String?, String?, String?, Date?, String?, String?, Int64?
    )
    public static let name = "adal_meal_charges"
    public static let sql =
        (try? PreparedCharges(tenantID: UUID(), charges: [], now: Date(timeIntervalSince1970: 0), shard: 0))?.query.sql
        ?? ""

    public let query: PostgresQuery

    /// The charges of a batch; each is booked at its ``Charge/servedAt``, or at `now`.
    public init(tenantID: UUID, charges: [Charge], now: Date, shard: Int16) throws {
        // The daily limit counts the day in Kazakhstan of each charge's time.
        let today = Day.today(now).description
        let times = charges.map { $0.servedAt ?? now }
        let days = charges.map { $0.servedAt.map { Day.today($0).description } ?? today }
        let allergens = charges.map { InputValue.array($0.allergens.map(InputValue.string)).canonicalJSON }
        let (instances, transfers) = (charges.map(\.instanceID), charges.map(\.transfer))
        let hashes = charges.map { ByteBuffer(bytes: $0.requestHash) }
        let (tills, items, amounts) = (charges.map(\.till), charges.map(\.items), charges.map(\.amount))
        let overrides = charges.map(\.override)
        query = try """
        SELECT n, outcome, reason, balance, pupil_id, pupil_name, guardians::text, kind, status, created_at, school,
            items, account_balance
        FROM adal_meal_charges(\(tenantID)::uuid, \(instances)::uuid[], \(transfers)::uuid[], \(hashes)::bytea[],
            \(tills)::uuid[], \(items)::text[], \(amounts)::bigint[], \(allergens)::text[], \(overrides)::boolean[],
            \(times)::timestamptz[], \(days)::date[], \(today)::date, \(shard)::smallint, \(Int16(Ledger.shards))::smallint)
        """
    }

    public func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
