import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// Reads for the meal API and pages, each in the city's own transaction.
public struct MealQueries: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public struct PupilRef: Sendable, Codable, Equatable {
        public var id: UUID
        public var instance: UUID
        public var name: String
        public var schoolBIN: String
        public var schoolName: String
        public var balance: Int64
        public var freeMealCategory: String?
        public var dailyLimit: Int64
    }

    /// Whether the account works at the pupil's school (``MealSchools/assignStaff(userID:schoolBIN:tenantID:)``).
    public func isStaff(_ userID: UUID, of pupilID: UUID, tenantID: UUID) async throws -> Bool {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            for try await _ in try await connection.query(
                """
                SELECT 1 FROM meal_school_staff s JOIN pupils p ON p.tenant_id = s.tenant_id AND p.school_id = s.school_id
                WHERE s.tenant_id = \(tenantID) AND s.user_id = \(userID) AND p.id = \(pupilID)
                """,
                logger: logger
            ) {
                return true
            }
            return false
        }
    }

    /// The query that finds the pupils' meal-account instances by the cards the tills read, inside
    /// the engine's lock statement (an ``InstanceLocator``'s): rows `(n, instance_id)`, a card no
    /// pupil has without a row. A LATERAL probe with LIMIT per card, so the cached generic plan
    /// stays index probes.
    public static func instancesByCard(_ cards: [String], tenantID: UUID) -> PostgresQuery {
        """
        SELECT r.n::integer, q.instance_id
        FROM unnest(\(cards)::text[]) WITH ORDINALITY AS r (card, n)
        JOIN LATERAL (
            SELECT instance_id FROM pupils WHERE tenant_id = \(tenantID)::uuid AND card = r.card LIMIT 1
        ) q ON true
        """
    }

    public func pupil(id: UUID, tenantID: UUID) async throws -> PupilRef? {
        try await pupils(tenantID) { "SELECT * FROM meal_pupil_refs WHERE tenant_id = \(tenantID) AND id = \(id)" }
            .first
    }

    public func pupil(instance: UUID, tenantID: UUID) async throws -> PupilRef? {
        try await pupils(tenantID) {
            "SELECT * FROM meal_pupil_refs WHERE tenant_id = \(tenantID) AND instance_id = \(instance)"
        }.first
    }

    /// The pupils whose guardian `userID` is: only their own children.
    public func children(of userID: UUID, tenantID: UUID) async throws -> [PupilRef] {
        try await pupils(tenantID) {
            """
            SELECT * FROM meal_pupil_refs WHERE tenant_id = \(tenantID) AND id IN
                (SELECT pupil_id FROM guardians WHERE tenant_id = \(tenantID) AND user_id = \(userID))
            ORDER BY name LIMIT 50
            """
        }
    }

    /// Whether `userID` is one of the pupil's guardians.
    public func isGuardian(_ userID: UUID, of pupil: UUID, tenantID: UUID) async throws -> Bool {
        try await children(of: userID, tenantID: tenantID).contains { $0.id == pupil }
    }

    /// A row of `meal_pupil_refs` (every column, in its order).
    typealias PupilRow = (UUID, UUID, UUID, String, String, String, String, Int64, String?, Int64)

    static func pupilRef(_ row: PupilRow) -> PupilRef {
        PupilRef(
            id: row.1,
            instance: row.2,
            name: row.4,
            schoolBIN: row.5,
            schoolName: row.6,
            balance: row.7,
            freeMealCategory: row.8,
            dailyLimit: row.9
        )
    }

    /// Rows of `meal_pupil_refs` (every column, in its order).
    private func pupils(_ tenantID: UUID, _ query: @escaping @Sendable () -> PostgresQuery) async throws -> [PupilRef] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var found: [PupilRef] = []
            for try await row in try await connection.query(query(), logger: logger).decode(PupilRow.self) {
                found.append(Self.pupilRef(row))
            }
            return found
        }
    }

    /// One line of a statement.
    public struct Line: Sendable, Codable, Equatable {
        public var id: UUID
        public var kind: String
        public var status: String
        public var amount: Int64
        public var at: Date
        public var school: String?
        public var items: [String]
        /// `parent`, `subsidy`, or nil for what is not a meal.
        public var paidBy: String?
        public var reason: String?
        public var refersTo: UUID?

        /// Who paid, as a statement for people says it: nobody for a declined meal (``paidBy``
        /// names the account it was charged to either way).
        public var paid: String? { status == "posted" ? paidBy : nil }
    }

    /// The pupil's transfers, newest first, at most `limit`.
    public func statement(pupil: UUID, tenantID: UUID, limit: Int = 500) async throws -> [Line] {
        let limit = Int32(clamping: max(1, min(limit, 5_000)))
        return try await lines(tenantID) {
            "WHERE t.tenant_id = \(tenantID) AND t.pupil_id = \(pupil) ORDER BY t.created_at DESC, t.id LIMIT \(limit)"
        }.map(\.line)
    }

    /// A transfer with its pupil and the pupil's balance now.
    public struct Found: Sendable {
        public var line: Line
        public var pupil: UUID
        public var balance: Int64
        public var pupilName: String
    }

    /// Transfers with their school, pupil and the pupil's balance: the columns of ``LineRow``.
    static let linesSelect = """
        SELECT t.id, t.kind, t.status, t.amount, t.created_at, s.name, t.items::text, t.reason, t.refers_to,
            t.pupil_id, a.balance, p.name
        FROM transfers t LEFT JOIN meal_schools s ON s.tenant_id = t.tenant_id AND s.id = t.school_id
        JOIN pupils p ON p.tenant_id = t.tenant_id AND p.id = t.pupil_id
        JOIN ledger_accounts a ON a.tenant_id = p.tenant_id AND a.id = p.account_id
        """

    typealias LineRow = (UUID, String, String, Int64, Date, String?, String, String?, UUID?, UUID, Int64, String)

    static func found(_ row: LineRow) -> Found {
        let items = (try? InputValue(json: row.6.utf8)).flatMap(MealAccountService.Item.list)?.map(\.name) ?? []
        return Found(
            line: Line(
                id: row.0,
                kind: row.1,
                status: row.2,
                amount: row.3,
                at: row.4,
                school: row.5,
                items: items,
                paidBy: row.1 == "charge" ? "parent" : row.1 == "subsidised_charge" ? "subsidy" : nil,
                reason: row.7,
                refersTo: row.8
            ),
            pupil: row.9,
            balance: row.10,
            pupilName: row.11
        )
    }

    /// Transfers with their school, after `condition` (a WHERE clause and what follows).
    private func lines(
        _ tenantID: UUID,
        _ condition: @escaping @Sendable () -> PostgresQuery
    ) async throws
        -> [Found]
    {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var query = PostgresQuery(unsafeSQL: Self.linesSelect)
            let tail = condition()
            query.sql += " " + tail.sql
            query.binds = tail.binds
            var lines: [Found] = []
            for try await row in try await connection.query(query, logger: logger).decode(LineRow.self) {
                lines.append(Self.found(row))
            }
            return lines
        }
    }

    /// Today's meals (posted and declined) at the school the till account charges for, newest
    /// first, at most `limit`.
    public func tillDay(till userID: UUID, day: String, tenantID: UUID, limit: Int = 50) async throws -> [Found] {
        let limit = Int32(clamping: max(1, min(limit, 500)))
        return try await lines(tenantID) {
            """
            WHERE t.tenant_id = \(tenantID) AND t.local_day = \(day)::date AND t.kind IN ('charge', 'subsidised_charge')
              AND t.school_id = (SELECT school_id FROM meal_tills WHERE tenant_id = \(tenantID) AND user_id = \(userID))
            ORDER BY t.created_at DESC, t.id LIMIT \(limit)
            """
        }
    }

    /// The transfer with `id`, its pupil and the pupil's balance now: one statement, which is
    /// all the till's answer needs after a step.
    public func transfer(_ id: UUID, tenantID: UUID) async throws -> Found? {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            try await Self.transfers([id], tenantID: tenantID, on: connection, logger: logger)[id]
        }
    }

    /// Transfers by id as ``transfer(_:tenantID:)`` reads them, in the caller's transaction for
    /// `tenantID` (it sees what the transaction's steps just wrote); an unknown id is left out.
    public static func transfers(
        _ ids: [UUID],
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [UUID: Found] {
        var found: [UUID: Found] = [:]
        for try await row in try await connection.execute(TransfersByID(tenantID: tenantID, ids: ids), logger: logger) {
            found[row.0] = Self.found(row)
        }
        return found
    }

    /// The pupil's balance returns with their parts, newest first, at most 50.
    public func balanceReturns(pupil: UUID, tenantID: UUID) async throws -> [BalanceReturns.Return] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            try await BalanceReturns.returns(
                "WHERE tenant_id = \(tenantID) AND pupil_id = \(pupil) ORDER BY created_at DESC, id LIMIT 50",
                on: connection,
                logger: logger
            )
        }
    }

    /// How much of the pupil's balance may go back to cards and by bank transfer now
    /// (``BalanceReturns/returnable(pupil:guardian:tenantID:on:logger:)``).
    public func returnable(pupil: UUID, guardian: UUID?, tenantID: UUID) async throws -> BalanceReturns.Returnable {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            try await BalanceReturns.returnable(
                pupil: pupil,
                guardian: guardian,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
        }
    }

    /// The pupil's payouts by bank transfer with their parts, newest first, at most 50; `whole`
    /// shows the whole IBAN (for the office), else it is masked.
    public func payouts(pupil: UUID, whole: Bool, tenantID: UUID) async throws -> [BankPayouts.Payout] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            try await BankPayouts.payouts(
                "WHERE tenant_id = \(tenantID) AND pupil_id = \(pupil) ORDER BY created_at DESC, id LIMIT 50",
                whole: whole,
                on: connection,
                logger: logger
            )
        }
    }

    /// The most payouts one page of the office's list holds.
    public static let payoutPage = 200

    /// The payouts the office still has to make, oldest first, or (`done`) those paid or sent
    /// back, newest first: at the schools where `staff` works, or in the whole city when `staff`
    /// is nil (the akimat, auditors). At most `limit` (1…``payoutPage``), continuing `after` the
    /// payout with that id in the list's order. Whole IBANs; `checked` adds each one's
    /// ``BankPayouts/Check``. An `after` that names no payout of the city is refused naming it.
    public func officePayouts(
        done: Bool,
        staff: UUID?,
        checked: Bool,
        after: UUID? = nil,
        limit: Int = MealQueries.payoutPage,
        tenantID: UUID
    ) async throws -> [BankPayouts.Payout] {
        guard (1...Self.payoutPage).contains(limit) else {
            throw AdalError.invalidField(field: "limit", reason: "from 1 to \(Self.payoutPage)")
        }
        return try await payouts(
            done: done,
            staff: staff,
            checked: checked,
            after: after,
            month: nil,
            limit: limit,
            tenantID: tenantID
        )
    }

    /// The most payouts a month's file holds; a city that settles more is told to ask for less.
    public static let payoutMonth = 5_000

    /// The payouts paid or sent back in `month` (`YYYY-MM`, by when that was recorded, in
    /// Kazakhstan), in the order they were recorded: what an auditor reconciles with the bank's
    /// statement of the month. Readers as ``officePayouts(done:staff:checked:after:limit:tenantID:)``.
    /// A month not written `YYYY-MM`, or one with more than ``payoutMonth`` payouts, is refused
    /// naming `month`.
    public func settledPayouts(
        month: String,
        staff: UUID?,
        checked: Bool,
        tenantID: UUID
    ) async throws -> [BankPayouts.Payout] {
        guard month.wholeMatch(of: /20[0-9]{2}-(0[1-9]|1[0-2])/) != nil else {
            throw AdalError.invalidField(field: "month", reason: "a month as YYYY-MM, such as 2026-11")
        }
        let found = try await payouts(
            done: true,
            staff: staff,
            checked: checked,
            after: nil,
            month: month,
            limit: Self.payoutMonth + 1,
            tenantID: tenantID
        )
        guard found.count <= Self.payoutMonth else {
            throw AdalError.invalidField(
                field: "month",
                reason:
                    "more than \(Self.payoutMonth) payouts were settled in \(month), more than one file holds: read them page by page from GET …/meals/payouts?status=done"
            )
        }
        return found.sorted { ($0.settledAt ?? $0.at, $0.id.uuidString) < ($1.settledAt ?? $1.at, $1.id.uuidString) }
    }

    /// The office's lists: by page (`after`, newest or oldest first) or by the month they were settled in.
    private func payouts(
        done: Bool,
        staff: UUID?,
        checked: Bool,
        after: UUID?,
        month: String?,
        limit: Int,
        tenantID: UUID
    ) async throws -> [BankPayouts.Payout] {
        let logger = database.logger
        let (order, before) = done ? ("DESC", "<") : ("ASC", ">")
        return try await database.withTenant(tenantID) { connection in
            if let after {
                let known = try await connection.query(
                    "SELECT 1 FROM meal_payouts WHERE tenant_id = \(tenantID) AND id = \(after)",
                    logger: logger
                ).collect()
                guard !known.isEmpty else {
                    throw AdalError.invalidField(field: "after", reason: "no payout of this city has this id")
                }
            }
            // In (time, id) order both ways, so that a page continues exactly where the last ended.
            let found = try await BankPayouts.payouts(
                """
                WHERE tenant_id = \(tenantID) AND (paid_at IS NOT NULL OR returned_at IS NOT NULL) = \(done)
                    AND (\(staff)::uuid IS NULL OR pupil_id IN (
                        SELECT p.id FROM pupils p JOIN meal_school_staff s ON s.tenant_id = p.tenant_id
                            AND s.school_id = p.school_id
                        WHERE p.tenant_id = \(tenantID) AND s.user_id = \(staff)::uuid))
                    AND (\(after)::uuid IS NULL OR (created_at, id) \(unescaped: before) (
                        SELECT m.created_at, m.id FROM meal_payouts m
                        WHERE m.tenant_id = \(tenantID) AND m.id = \(after)::uuid))
                    AND (\(month)::text IS NULL OR coalesce(paid_at, returned_at) >= (\(month)::text || '-01 00:00+05')::timestamptz
                        AND coalesce(paid_at, returned_at) < (\(month)::text || '-01 00:00+05')::timestamptz
                            + interval '1 month')
                ORDER BY created_at \(unescaped: order), id \(unescaped: order) LIMIT \(limit)
                """,
                whole: true,
                checked: checked,
                on: connection,
                logger: logger
            )
            return done ? found : found.reversed()
        }
    }

    /// How the CSV statement names its columns and values.
    public struct CSVWords: Sendable {
        /// The nine columns' names: date, time, kind, status, school, items, amount in tenge,
        /// who paid, reason.
        public var header: [String]
        public var kind: @Sendable (String) -> String
        public var status: @Sendable (String) -> String
        public var paidBy: @Sendable (String) -> String
        public var reason: @Sendable (String) -> String
        /// How the file is written: the API's in RFC 4180, the pages' for a spreadsheet in the
        /// page's language.
        public var dialect: CSVDialect

        public init(
            header: [String],
            kind: @escaping @Sendable (String) -> String,
            status: @escaping @Sendable (String) -> String,
            paidBy: @escaping @Sendable (String) -> String,
            reason: @escaping @Sendable (String) -> String,
            dialect: CSVDialect
        ) {
            precondition(header.count == Self.codes.header.count, "a statement has nine columns")
            self.header = header
            self.kind = kind
            self.status = status
            self.paidBy = paidBy
            self.reason = reason
            self.dialect = dialect
        }

        private init(codes header: [String]) {
            self.header = header
            (kind, status, paidBy, reason) = ({ $0 }, { $0 }, { $0 }, { $0 })
            dialect = .rfc4180
        }

        /// The API's: column names and values as codes (`charge`, `posted`, `parent`), reasons as
        /// the ledger stores them, for programs.
        public static let codes = CSVWords(
            codes: ["date", "time", "kind", "status", "school", "items", "amount_tenge", "paid_by", "reason"]
        )
    }

    /// A moment's date (`2026-11-24`) and time (`08:15`) in Kazakhstan, as the CSV files write them.
    public static func dateAndTime(_ moment: Date) -> (date: String, time: String) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 5 * 3_600)!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: moment)
        return (
            String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0),
            String(format: "%02d:%02d", c.hour ?? 0, c.minute ?? 0)
        )
    }

    /// The statement as CSV in `words`'s dialect, amounts in tenge (`1250.50`, or `1250,50`).
    public static func csv(_ lines: [Line], words: CSVWords = .codes) -> String {
        let rows = lines.map { line in
            let (date, time) = dateAndTime(line.at)
            return [
                date, time, words.kind(line.kind),
                words.status(line.status), line.school ?? "", line.items.joined(separator: "; "),
                Money.tenge(line.amount, decimalMark: words.dialect.decimalMark), line.paid.map(words.paidBy) ?? "",
                line.reason.map(words.reason) ?? "",
            ]
        }
        return words.dialect.text([words.header] + rows)
    }

    /// Settled payouts as CSV in `dialect` (RFC 4180 for programs; amounts in tenge), one per line in the order given: when
    /// it was recorded paid or sent back (date, time in Kazakhstan), when it was asked for, the
    /// pupil, the amount, the account and its holder, the outcome with the bank's reference or
    /// the reason it came back; with `checked`, the commitment the guardian's step recorded, its
    /// audit leaf and whether the account matches it (``BankPayouts/Check``).
    public static func payoutsCSV(
        _ payouts: [BankPayouts.Payout],
        checked: Bool,
        dialect: CSVDialect = .rfc4180
    ) -> String {
        var header = [
            "settled_date", "settled_time", "asked_date", "pupil", "amount_tenge", "iban", "holder", "status",
            "bank_reference", "returned_reason",
        ]
        if checked { header += ["payee", "leaf_index", "matches"] }
        let rows = payouts.map { payout in
            let settled = payout.settledAt.map(dateAndTime)
            var row = [
                settled?.date ?? "", settled?.time ?? "", dateAndTime(payout.at).date, payout.pupilName,
                Money.tenge(payout.amount, decimalMark: dialect.decimalMark), payout.iban, payout.holder, payout.status,
                payout.bankReference ?? "", payout.returnedReason ?? "",
            ]
            if checked {
                row += [
                    payout.check?.payee ?? "", payout.check?.leafIndex.map(String.init) ?? "",
                    payout.check.map { $0.matches ? "yes" : "no" } ?? "",
                ]
            }
            return row
        }
        return dialect.text([header] + rows)
    }

    /// Meal spending per month in Kazakhstan (posted charges less their refunds), oldest first,
    /// the last `months` months that have any.
    public func monthly(pupil: UUID, tenantID: UUID, months: Int = 12) async throws -> [(month: String, tiyn: Int64)] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var rows: [(String, Int64)] = []
            for try await row in try await connection.query(
                """
                SELECT to_char(local_day, 'YYYY-MM') AS month,
                    sum(CASE WHEN kind = 'refund' THEN -amount ELSE amount END)::bigint
                FROM transfers
                WHERE tenant_id = \(tenantID) AND pupil_id = \(pupil) AND status = 'posted'
                  AND kind IN ('charge', 'subsidised_charge', 'refund')
                GROUP BY month ORDER BY month DESC LIMIT \(Int32(clamping: months))
                """,
                logger: logger
            ).decode((String, Int64).self) {
                rows.append(row)
            }
            return rows.reversed().map { (month: $0.0, tiyn: $0.1) }
        }
    }

    /// One school's canteen on one day, as the city sees it.
    public struct SchoolDay: Sendable, Codable, Equatable {
        public var day: String
        public var schoolBIN: String
        public var school: String
        public var supplierBIN: String?
        public var meals: Int
        public var pupils: Int
        public var amount: Int64
        public var pricePerMeal: Int64?
        /// Why the day deserves a look.
        public var flags: [Flag]
    }

    /// A reason a school's day deserves a look, with how many of the day's charges it counts.
    public struct Flag: Sendable, Codable, Equatable {
        public enum Kind: String, Sendable, Codable, CaseIterable {
            /// More meals charged than pupils enrolled at the school (the count: meals).
            case moreMealsThanPupils = "more_meals_than_pupils"
            /// Items charged at more than one price in the day (the count: items).
            case severalPrices = "several_prices"
            /// Charges before 07:00 or from 19:00 in Kazakhstan (the count: charges).
            case outsideSchoolHours = "outside_school_hours"
            /// Meals above the contract's price per meal (the count: meals).
            case aboveContract = "above_contract"
        }

        public var kind: Kind
        public var count: Int

        public init(_ kind: Kind, count: Int) {
            self.kind = kind
            self.count = count
        }
    }

    /// Every school's canteen per day from `from` to `to` (Kazakhstan days), newest first. A
    /// price change is an item (by name, in any case) charged at more than one price that day: a
    /// day's charges differ by the items each pupil takes, which is no anomaly. The
    /// hour a meal was served is read on Kazakhstan's clock, `INTERVAL '+05:00'` (east of UTC): a
    /// zone written as the text `'+05'` would be read as POSIX's, five hours *west*.
    public func schoolDays(from: String, to: String, tenantID: UUID) async throws -> [SchoolDay] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var days: [SchoolDay] = []
            for try await row in try await connection.query(
                """
                SELECT t.local_day::text, s.bin, s.name, s.supplier_bin, count(*)::int,
                    (SELECT count(*)::int FROM pupils p WHERE p.tenant_id = s.tenant_id AND p.school_id = s.id),
                    sum(t.amount)::bigint, s.price_per_meal,
                    (SELECT count(*)::int FROM (
                        SELECT 1 FROM transfers d CROSS JOIN LATERAL jsonb_array_elements(d.items) i
                        WHERE d.tenant_id = s.tenant_id AND d.local_day = t.local_day AND d.school_id = s.id
                            AND d.status = 'posted' AND d.kind IN ('charge', 'subsidised_charge')
                        GROUP BY lower(i->>'name')
                        HAVING count(DISTINCT i->'price') > 1) priced),
                    count(*) FILTER (WHERE extract(hour FROM t.created_at AT TIME ZONE INTERVAL '+05:00') NOT BETWEEN 7 AND 18)::int,
                    count(*) FILTER (WHERE t.amount > s.price_per_meal)::int
                FROM transfers t JOIN meal_schools s ON s.tenant_id = t.tenant_id AND s.id = t.school_id
                WHERE t.tenant_id = \(tenantID) AND t.status = 'posted' AND t.kind IN ('charge', 'subsidised_charge')
                  AND t.local_day BETWEEN \(from)::date AND \(to)::date
                GROUP BY t.local_day, s.tenant_id, s.id
                ORDER BY t.local_day DESC, s.bin LIMIT 2000
                """,
                logger: logger
            ).decode((String, String, String, String?, Int, Int, Int64, Int64?, Int, Int, Int).self) {
                var flags: [Flag] = []
                if row.4 > row.5 { flags.append(Flag(.moreMealsThanPupils, count: row.4)) }
                if row.8 > 0 { flags.append(Flag(.severalPrices, count: row.8)) }
                if row.9 > 0 { flags.append(Flag(.outsideSchoolHours, count: row.9)) }
                if row.10 > 0 { flags.append(Flag(.aboveContract, count: row.10)) }
                days.append(
                    SchoolDay(
                        day: row.0,
                        schoolBIN: row.1,
                        school: row.2,
                        supplierBIN: row.3,
                        meals: row.4,
                        pupils: row.5,
                        amount: row.6,
                        pricePerMeal: row.7,
                        flags: flags
                    )
                )
            }
            return days
        }
    }

    /// The guardian's latest messages (alerts), newest first: the page's copies, and before
    /// migration 0036 the email channel's.
    public func notifications(
        of user: UUID,
        tenantID: UUID,
        limit: Int = 20
    ) async throws -> [(at: Date, message: String)] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var found: [(Date, String)] = []
            for try await row in try await connection.query(
                """
                SELECT sent_at, message FROM meal_notifications
                WHERE tenant_id = \(tenantID) AND user_id = \(user)
                    AND (channel = 'page' OR (channel = 'email' AND address IS NULL))
                ORDER BY sent_at DESC LIMIT \(Int32(clamping: limit))
                """,
                logger: logger
            ).decode((Date, String).self) {
                found.append(row)
            }
            return found.map { (at: $0.0, message: $0.1) }
        }
    }

    public struct Alerts: Sendable, Equatable {
        public var lowBalanceAlert: Int64?
        public var autoThreshold: Int64?
        public var autoAmount: Int64?
    }

    /// The guardian's alerts for one child; nil when `user` is not the child's guardian.
    public func alerts(of user: UUID, pupil: UUID, tenantID: UUID) async throws -> Alerts? {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var found: Alerts?
            for try await row in try await connection.query(
                """
                SELECT low_balance_alert, auto_threshold, auto_amount FROM guardians
                WHERE tenant_id = \(tenantID) AND user_id = \(user) AND pupil_id = \(pupil)
                """,
                logger: logger
            ).decode((Int64?, Int64?, Int64?).self) {
                found = Alerts(lowBalanceAlert: row.0, autoThreshold: row.1, autoAmount: row.2)
            }
            return found
        }
    }
}

/// Transfers with their pupils' balances, as a named prepared statement: the till's answer.
struct TransfersByID: PreparedSQL {
    typealias Row = MealQueries.LineRow
    static let name = "adal_meal_transfers_by_id"
    static let sql = TransfersByID(tenantID: UUID(), ids: []).query.sql

    let query: PostgresQuery

    init(tenantID: UUID, ids: [UUID]) {
        var query = PostgresQuery(unsafeSQL: MealQueries.linesSelect)
        let tail: PostgresQuery = "WHERE t.tenant_id = \(tenantID)::uuid AND t.id = ANY(\(ids)::uuid[])"
        query.sql += " " + tail.sql
        query.binds = tail.binds
        self.query = query
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}
