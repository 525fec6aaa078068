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
        if case .till = reader {
            throw AdalError.forbidden(reason: "a till reads its school's menu; the office sets it")
        }
        return try await withSchool(schoolBIN, by: reader, tenantID: tenantID) { school, connection, logger in
            var items: [Item] = []
            if let lines {
                guard let contractPrice = school.price else {
                    throw AdalError.invalidField(field: "school", reason: MealReason.noContract)
                }
                items = try Self.checked(lines.items, contractPrice: contractPrice)
            }
            try await connection.run(
                "DELETE FROM meal_menu_items WHERE tenant_id = \(tenantID) AND school_id = \(school.id) AND day = \(day)::date",
                logger: logger
            )
            if let lines {
                let positions = items.indices.map { Int16($0 + 1) }
                let allergens = items.map { InputValue.array($0.allergens.map(InputValue.string)).canonicalJSON }
                try await connection.run(
                    """
                    INSERT INTO meal_menu_items (tenant_id, school_id, day, position, name, price, allergens, set_by,
                        set_at)
                    SELECT \(tenantID), \(school.id), \(day)::date, l.position, l.name, l.price,
                        ARRAY(SELECT jsonb_array_elements_text(l.allergens::jsonb)), \(lines.user), \(now)
                    FROM unnest(\(positions)::smallint[], \(items.map(\.name))::text[], \(items.map(\.price))::bigint[],
                        \(allergens)::text[]) AS l (position, name, price, allergens)
                    """,
                    logger: logger
                )
            }
            return Menu(school: schoolBIN, schoolName: school.name, day: day, items: items)
        }
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

    /// The menu for `day` at the pupil's school, and which of each item's allergens are flagged
    /// for the pupil: for the pupil's own page, whose reader the page has already checked.
    public func pupilMenu(pupil: UUID, day: String, tenantID: UUID) async throws -> [(item: Item, flagged: [String])] {
        let day = try Day(checking: day, field: "day").description
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var school: UUID?
            var flags: [String] = []
            let rows = try await connection.query(
                "SELECT school_id, array_to_json(allergens)::text FROM pupils WHERE tenant_id = \(tenantID) AND id = \(pupil)",
                logger: logger
            )
            for try await (id, allergens) in rows.decode((UUID, String).self) {
                school = id
                flags = Self.texts(allergens)
            }
            guard let school else { return [] }
            return try await Self.items(school: school, day: day, tenantID: tenantID, on: connection, logger: logger)
                .map { item in (item, item.allergens.filter(flags.contains)) }
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
    private func withSchool<Result: Sendable>(
        _ bin: String,
        by reader: Reader,
        tenantID: UUID,
        _ body:
            @escaping @Sendable ((id: UUID, name: String, price: Int64?), PostgresConnection, Logger) async throws
            -> Result
    ) async throws -> Result {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            let school = try await Self.school(bin, reader: reader, tenantID: tenantID, on: connection, logger: logger)
            return try await body(school, connection, logger)
        }
    }

    /// The school with `bin` if `reader` may see its menus: not found when the city has no such
    /// school, forbidden when the office or till is not at it.
    static func school(
        _ bin: String,
        reader: Reader,
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
            """,
            logger: logger
        )
        for try await (id, name, price, allowed) in rows.decode((UUID, String, Int64?, Bool).self) {
            guard allowed else { throw AdalError.forbidden(reason: "this account does not work at school \(bin)") }
            return (id, name, price)
        }
        throw AdalError.notFound(what: "school \(bin)")
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
