import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// A school's menu for a day (migration 0031, docs/meal-payments.md "Today's menu"): the items
/// its canteen serves, each with its price and allergens. On a day with a menu a till charges
/// only for its items (by name in any case, at the menu's price), and the menu's allergens of
/// the items count against a pupil's flags whether or not the till names them.
///
/// The akimat sets any school's menu, a school's office its own schools'; a till reads its
/// school's, auditors any. A day's menu is set whole (the lines replace the day's lines), from
/// today (in Kazakhstan) up to ``daysAhead`` days on; a past day's stays as it was, since its
/// charges were checked against it.
public struct MealMenus: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// One line of a menu. `allergens` are lower case, as pupils' flags are stored.
    public struct Item: Codable, Equatable, Sendable {
        public var name: String
        public var price: Int64
        public var allergens: [String]

        public init(name: String, price: Int64, allergens: [String] = []) {
            self.name = name
            self.price = price
            self.allergens = allergens
        }
    }

    /// A school's menu for a day; no items when none was set.
    public struct Menu: Codable, Equatable, Sendable {
        public var school: String
        public var schoolName: String
        public var day: String
        public var items: [Item]

        public init(school: String, schoolName: String, day: String, items: [Item]) {
            self.school = school
            self.schoolName = schoolName
            self.day = day
            self.items = items
        }
    }

    /// Who reads or sets a menu, as far as menus go.
    public enum Reader: Sendable {
        /// The akimat or an auditor: every school of the city.
        case city
        /// A school's office: the schools it works at (`meal_school_staff`).
        case office(UUID)
        /// A till: the school it charges for (`meal_tills`).
        case till(UUID)
    }

    public static let maximumItems = 20
    /// How far ahead a menu may be set: about two months.
    public static let daysAhead = 62
    public static let pastDay = "today or later in Kazakhstan: a past day's menu stays as its charges saw it"
    public static let farDay = "at most \(daysAhead) days ahead"
    /// Why a menu's lines are refused, as a refusal says it (``MealReason`` says each in the
    /// page's language).
    public static let itemCount = "1 to \(maximumItems) items"
    public static let nameShape = "names of 1 to 100 characters on one line"
    public static func listedTwice(_ name: String) -> String { "\(name) is listed twice" }
    public static func priceRange(_ name: String, _ contractPrice: String) -> String {
        "\(name): a price of 1 to \(contractPrice) tiyn, the contract price per meal"
    }
    public static func allergenShape(_ name: String) -> String { "\(name): allergens of 1 to 40 characters" }
    public static func allergenCount(_ name: String) -> String { "\(name): at most 20 allergens" }

    /// The lines a menu is set with, checked: 1 to ``maximumItems``, names of 1 to 100
    /// characters that differ in more than case, prices from 1 tiyn to `contractPrice` (a meal
    /// above it could not be charged), up to 20 allergens of 1 to 40 characters each.
    public static func checked(_ items: [Item], contractPrice: Int64) throws -> [Item] {
        guard (1...maximumItems).contains(items.count) else {
            throw AdalError.invalidField(field: "items", reason: itemCount)
        }
        var seen: Set<String> = []
        return try items.map { item in
            let name = item.name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (1...100).contains(name.count), !name.contains(where: \.isNewline) else {
                throw AdalError.invalidField(field: "items", reason: nameShape)
            }
            guard seen.insert(name.lowercased()).inserted else {
                throw AdalError.invalidField(field: "items", reason: listedTwice(name))
            }
            guard (1...contractPrice).contains(item.price) else {
                throw AdalError.invalidField(
                    field: "items",
                    reason: priceRange(name, String(contractPrice))
                )
            }
            var allergens: [String] = []
            for allergen in item.allergens {
                let flag = allergen.trimmingCharacters(in: .whitespaces).lowercased()
                guard (1...40).contains(flag.count) else {
                    throw AdalError.invalidField(field: "items", reason: allergenShape(name))
                }
                if !allergens.contains(flag) { allergens.append(flag) }
            }
            guard allergens.count <= 20 else {
                throw AdalError.invalidField(field: "items", reason: allergenCount(name))
            }
            return Item(name: name, price: item.price, allergens: allergens)
        }
    }

    /// `text` as a day whose menu may be set (`setting`) or removed at `now`: today in Kazakhstan
    /// or later, and at most ``daysAhead`` days on for one set; refused naming `field` otherwise.
    static func settable(_ text: String, field: String = "day", setting: Bool, now: Date) throws -> Day {
        let day = try Day(checking: text, field: field)
        let today = Day.today(now)
        guard day >= today else { throw AdalError.invalidField(field: field, reason: pastDay) }
        if setting, day > today.adding(days: daysAhead) {
            throw AdalError.invalidField(field: field, reason: farDay)
        }
        return day
    }

    /// Sets the menu of the school with `schoolBIN` for `day`, replacing the day's lines; `now`
    /// decides which days may be set.
    public func set(
        schoolBIN: String,
        day: String,
        items: [Item],
        by reader: Reader,
        user: UUID,
        now: Date = Date(),
        tenantID: UUID
    ) async throws -> Menu {
        try await replace(schoolBIN: schoolBIN, day: day, with: (items, user), by: reader, now: now, tenantID: tenantID)
    }

    /// Removes the school's menu for `day` (today or later): its tills charge any items again.
    public func remove(
        schoolBIN: String,
        day: String,
        by reader: Reader,
        now: Date = Date(),
        tenantID: UUID
    )
        async throws
    {
        _ = try await replace(schoolBIN: schoolBIN, day: day, with: nil, by: reader, now: now, tenantID: tenantID)
    }

    /// The day's lines of the school replaced by `lines` and who set them, or removed (nil), in
    /// one transaction; the menu as it now stands.
    private func replace(
        schoolBIN: String,
        day: String,
        with lines: (items: [Item], user: UUID)?,
        by reader: Reader,
        now: Date,
        tenantID: UUID
    ) async throws -> Menu {
        let day = try Self.settable(day, setting: lines != nil, now: now).description
        return try await withSchool(schoolBIN, by: reader, writing: true, tenantID: tenantID) {
            school,
            connection,
            logger in
            var items: [Item] = []
            if let lines {
                items = try Self.checked(lines.items, contractPrice: try Self.contractPrice(school))
            }
            try await Self.write(
                days: [day],
                menus: items.isEmpty ? [] : [(day, items)],
                school: school.id,
                user: lines?.user,
                now: now,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            return Menu(school: schoolBIN, schoolName: school.name, day: day, items: items)
        }
    }

    /// How many days one copy may take: a month, long enough for a canteen's cycle of menus.
    public static let maximumCopyDays = 31
    /// Why a copy is refused, as a refusal says it (``MealReason`` says each in the page's
    /// language).
    public static let copySpan = "a day on or after from, at most \(maximumCopyDays) days in all"
    public static let copyOverlap =
        "a day after through, or early enough before from, that the days copied to are not those copied"
    public static func nothingToCopy(_ from: String, _ through: String) -> String {
        "no menu is set at this school from \(from) through \(through)"
    }
    public static func copyTaken(_ days: String) -> String {
        "these days already have a menu: \(days); copy with replace to replace them"
    }
    public static func copyPrice(_ day: String, _ name: String, _ contractPrice: String) -> String {
        "on \(day), \(name) costs more than the contract price of \(contractPrice) tiyn per meal"
    }

    /// What a copy made: each day with a menu from `from` through `through`, set on the day as
    /// far after it as `to` is after `from`.
    public struct Copy: Codable, Equatable, Sendable {
        public struct CopiedDay: Codable, Equatable, Sendable {
            /// The day copied, the day set, and how many items.
            public var from: String
            public var to: String
            public var items: Int
        }

        public var school: String
        public var schoolName: String
        public var days: [CopiedDay]
        /// The days set whose menu was replaced.
        public var replaced: [String]
    }

    /// Copies the school's menus of the days `from` through `through` (at most
    /// ``maximumCopyDays``) to the days that start at `to`, each day to the day as far on: a
    /// canteen's cycle of one or two weeks set once and repeated. The days copied to must be
    /// days a menu may be set on and not overlap those copied; a day without a menu copies
    /// nothing (the day it would be copied to keeps what it has). A day copied to that already
    /// has a menu is refused, naming the days, unless `replace`. Each item's price must still be
    /// within the contract's price per meal. One transaction: all of it or nothing.
    public func copy(
        schoolBIN: String,
        from: String,
        through: String,
        to: String,
        replace: Bool,
        by reader: Reader,
        user: UUID,
        now: Date = Date(),
        tenantID: UUID
    ) async throws -> Copy {
        let first = try Day(checking: from, field: "from")
        let last = try Day(checking: through, field: "through")
        let span = first.days(until: last) + 1
        guard (1...Self.maximumCopyDays).contains(span) else {
            throw AdalError.invalidField(field: "through", reason: Self.copySpan)
        }
        let start = try Self.settable(to, field: "to", setting: true, now: now)
        let offset = first.days(until: start)
        _ = try Self.settable(start.adding(days: span - 1).description, field: "to", setting: true, now: now)
        guard offset >= span || offset <= -span else {
            throw AdalError.invalidField(field: "to", reason: Self.copyOverlap)
        }
        return try await withSchool(schoolBIN, by: reader, writing: true, tenantID: tenantID) {
            school,
            connection,
            logger in
            let contractPrice = try Self.contractPrice(school)
            let rows = try await connection.query(
                """
                SELECT day::text, name, price, array_to_json(allergens)::text FROM meal_menu_items
                WHERE tenant_id = \(tenantID) AND school_id = \(school.id)
                  AND day BETWEEN \(first.description)::date AND \(last.description)::date
                ORDER BY day, position
                """,
                logger: logger
            )
            // Read to the end before anything is refused or asked on the same connection.
            var lines: [(day: String, name: String, price: Int64, allergens: String)] = []
            for try await line in rows.decode((String, String, Int64, String).self) { lines.append(line) }
            var menus: [(day: String, items: [Item])] = []
            var copied: [Copy.CopiedDay] = []
            for (day, name, price, allergens) in lines {
                guard price <= contractPrice else {
                    throw AdalError.invalidField(
                        field: "from",
                        reason: Self.copyPrice(day, name, String(contractPrice))
                    )
                }
                let target = try Day(checking: day, field: "from").adding(days: offset).description
                if menus.last?.day != target {
                    menus.append((target, []))
                    copied.append(Copy.CopiedDay(from: day, to: target, items: 0))
                }
                menus[menus.count - 1].items.append(Item(name: name, price: price, allergens: Self.texts(allergens)))
                copied[copied.count - 1].items += 1
            }
            guard !menus.isEmpty else {
                throw AdalError.invalidField(field: "from", reason: Self.nothingToCopy(from, through))
            }
            let targets = menus.map(\.day)
            let taken = try await Self.withMenus(
                targets,
                school: school.id,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            guard taken.isEmpty || replace else {
                throw AdalError.invalidField(field: "replace", reason: Self.copyTaken(taken.joined(separator: ", ")))
            }
            try await Self.write(
                days: targets,
                menus: menus,
                school: school.id,
                user: user,
                now: now,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            return Copy(school: schoolBIN, schoolName: school.name, days: copied, replaced: taken)
        }
    }

    /// Those of `days` that have a menu at the school, in order.
    static func withMenus(
        _ days: [String],
        school: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [String] {
        let rows = try await connection.query(
            """
            SELECT DISTINCT day::text FROM meal_menu_items
            WHERE tenant_id = \(tenantID) AND school_id = \(school) AND day = ANY (\(days)::date[])
            ORDER BY 1
            """,
            logger: logger
        )
        var found: [String] = []
        for try await day in rows.decode(String.self) { found.append(day) }
        return found
    }

    /// The school's contract price per meal; refused when it has none (no item could be charged).
    static func contractPrice(_ school: (id: UUID, name: String, price: Int64?)) throws -> Int64 {
        guard let price = school.price else {
            throw AdalError.invalidField(field: "school", reason: MealReason.noContract)
        }
        return price
    }

    /// The lines of `days` removed and `menus` written in their place (positions from 1, in
    /// order), set by `user` at `now`.
    static func write(
        days: [String],
        menus: [(day: String, items: [Item])],
        school: UUID,
        user: UUID?,
        now: Date,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.run(
            """
            DELETE FROM meal_menu_items
            WHERE tenant_id = \(tenantID) AND school_id = \(school) AND day = ANY (\(days)::date[])
            """,
            logger: logger
        )
        guard let user, !menus.isEmpty else { return }
        let lines = menus.flatMap { menu in menu.items.enumerated().map { (menu.day, Int16($0 + 1), $1) } }
        let allergens = lines.map { InputValue.array($0.2.allergens.map(InputValue.string)).canonicalJSON }
        try await connection.run(
            """
            INSERT INTO meal_menu_items (tenant_id, school_id, day, position, name, price, allergens, set_by, set_at)
            SELECT \(tenantID), \(school), l.day, l.position, l.name, l.price,
                ARRAY(SELECT jsonb_array_elements_text(l.allergens::jsonb)), \(user), \(now)
            FROM unnest(\(lines.map(\.0))::date[], \(lines.map(\.1))::smallint[], \(lines.map(\.2.name))::text[],
                \(lines.map(\.2.price))::bigint[], \(allergens)::text[]) AS l (day, position, name, price, allergens)
            """,
            logger: logger
        )
    }

    /// The school's menu for `day`, in the order it was set.
    public func menu(schoolBIN: String, day: String, by reader: Reader, tenantID: UUID) async throws -> Menu {
        let day = try Day(checking: day, field: "day").description
        return try await withSchool(schoolBIN, by: reader, tenantID: tenantID) { school, connection, logger in
            Menu(
                school: schoolBIN,
                schoolName: school.name,
                day: day,
                items: try await Self.items(
                    school: school.id,
                    day: day,
                    tenantID: tenantID,
                    on: connection,
                    logger: logger
                )
            )
        }
    }

    /// The menu for `day` of the school `till` charges for; nil when the till has no school.
    public func tillMenu(till: UUID, day: String, tenantID: UUID) async throws -> Menu? {
        let day = try Day(checking: day, field: "day").description
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT s.id, s.bin, s.name FROM meal_tills t
                JOIN meal_schools s ON s.tenant_id = t.tenant_id AND s.id = t.school_id
                WHERE t.tenant_id = \(tenantID) AND t.user_id = \(till)
                """,
                logger: logger
            )
            // The school read to its end before its items are asked for on the same connection.
            var found: (id: UUID, bin: String, name: String)?
            for try await school in rows.decode((UUID, String, String).self) { found = school }
            guard let found else { return nil }
            let items = try await Self.items(
                school: found.id,
                day: day,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            return Menu(school: found.bin, schoolName: found.name, day: day, items: items)
        }
    }

    /// The menus at the pupil's school of the `days` days from `first` that have one, in order,
    /// and which of each item's allergens are flagged for the pupil: for the pupil's own page,
    /// whose reader the page has already checked.
    public func pupilMenus(
        pupil: UUID,
        from first: Day,
        days: Int,
        tenantID: UUID
    ) async throws -> [(day: String, items: [(item: Item, flagged: [String])])] {
        let logger = database.logger
        let last = first.adding(days: max(days, 1) - 1)
        return try await database.withTenant(tenantID) { connection in
            let rows = try await connection.query(
                """
                SELECT m.day::text, m.name, m.price, array_to_json(m.allergens)::text,
                    array_to_json(p.allergens)::text
                FROM pupils p
                JOIN meal_menu_items m ON m.tenant_id = p.tenant_id AND m.school_id = p.school_id
                WHERE p.tenant_id = \(tenantID) AND p.id = \(pupil)
                  AND m.day BETWEEN \(first.description)::date AND \(last.description)::date
                ORDER BY m.day, m.position
                """,
                logger: logger
            )
            var menus: [(day: String, items: [(item: Item, flagged: [String])])] = []
            for try await (day, name, price, allergens, flags) in rows.decode(
                (String, String, Int64, String, String).self
            ) {
                let item = Item(name: name, price: price, allergens: Self.texts(allergens))
                if menus.last?.day != day { menus.append((day, [])) }
                menus[menus.count - 1].items.append((item, item.allergens.filter(Self.texts(flags).contains)))
            }
            return menus
        }
    }

    /// The schools `reader` may see menus of, by name: BIN and name.
    public func schools(for reader: Reader, tenantID: UUID) async throws -> [(bin: String, name: String)] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            let query: PostgresQuery
            switch reader {
            case .city:
                query = "SELECT bin, name FROM meal_schools WHERE tenant_id = \(tenantID) ORDER BY name, bin"
            case .office(let user):
                query = """
                    SELECT s.bin, s.name FROM meal_school_staff f
                    JOIN meal_schools s ON s.tenant_id = f.tenant_id AND s.id = f.school_id
                    WHERE f.tenant_id = \(tenantID) AND f.user_id = \(user) ORDER BY s.name, s.bin
                    """
            case .till(let user):
                query = """
                    SELECT s.bin, s.name FROM meal_tills t
                    JOIN meal_schools s ON s.tenant_id = t.tenant_id AND s.id = t.school_id
                    WHERE t.tenant_id = \(tenantID) AND t.user_id = \(user)
                    """
            }
            var schools: [(bin: String, name: String)] = []
            for try await (bin, name) in try await connection.query(query, logger: logger).decode((String, String).self)
            {
                schools.append((bin, name))
            }
            return schools
        }
    }

    /// `body` in a transaction of the city with the school that has `bin`, if `reader` may see
    /// its menus (``school(_:reader:tenantID:on:logger:)``).
    func withSchool<Result: Sendable>(
        _ bin: String,
        by reader: Reader,
        writing: Bool = false,
        tenantID: UUID,
        _ body:
            @escaping @Sendable ((id: UUID, name: String, price: Int64?), PostgresConnection, Logger) async throws
            -> Result
    ) async throws -> Result {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            if writing, case .till = reader {
                throw AdalError.forbidden(reason: "a till reads its school's menu; the office sets it")
            }
            let school = try await Self.school(
                bin,
                reader: reader,
                locking: writing,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            return try await body(school, connection, logger)
        }
    }

    /// The school with `bin` if `reader` may see its menus: not found when the city has no such
    /// school, forbidden when the office or till is not at it. `locking` holds the school's row
    /// until the transaction ends, so two writers of its menus take turns (a charge's reads and
    /// its references to the school are not held up: `FOR NO KEY UPDATE`).
    static func school(
        _ bin: String,
        reader: Reader,
        locking: Bool = false,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> (id: UUID, name: String, price: Int64?) {
        let (kind, user): (String, UUID?) =
            switch reader {
            case .city: ("city", nil)
            case .office(let id): ("office", id)
            case .till(let id): ("till", id)
            }
        let rows = try await connection.query(
            """
            SELECT s.id, s.name, s.price_per_meal,
                CASE \(kind)::text
                    WHEN 'city' THEN true
                    WHEN 'office' THEN EXISTS (
                        SELECT FROM meal_school_staff f
                        WHERE f.tenant_id = s.tenant_id AND f.school_id = s.id AND f.user_id = \(user))
                    ELSE EXISTS (
                        SELECT FROM meal_tills t
                        WHERE t.tenant_id = s.tenant_id AND t.school_id = s.id AND t.user_id = \(user))
                END
            FROM meal_schools s WHERE s.tenant_id = \(tenantID) AND s.bin = \(bin)
            \(unescaped: locking ? "FOR NO KEY UPDATE OF s" : "")
            """,
            logger: logger
        )
        // Read to the end before the caller asks anything more on the same connection.
        var found: (id: UUID, name: String, price: Int64?, allowed: Bool)?
        for try await row in rows.decode((UUID, String, Int64?, Bool).self) { found = row }
        guard let found else { throw AdalError.notFound(what: "school \(bin)") }
        guard found.allowed else { throw AdalError.forbidden(reason: "this account does not work at school \(bin)") }
        return (found.id, found.name, found.price)
    }

    /// The day's lines of a school's menu, in order.
    static func items(
        school: UUID,
        day: String,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [Item] {
        let rows = try await connection.query(
            """
            SELECT name, price, array_to_json(allergens)::text FROM meal_menu_items
            WHERE tenant_id = \(tenantID) AND school_id = \(school) AND day = \(day)::date ORDER BY position
            """,
            logger: logger
        )
        var items: [Item] = []
        for try await (name, price, allergens) in rows.decode((String, Int64, String).self) {
            items.append(Item(name: name, price: price, allergens: texts(allergens)))
        }
        return items
    }

    /// The texts of a JSON array of texts (PostgreSQL's `array_to_json` of a `text[]`).
    static func texts(_ json: String) -> [String] {
        guard case .array(let values)? = try? InputValue(json: json.utf8) else { return [] }
        return values.compactMap { if case .string(let text) = $0 { text } else { nil } }
    }
}
