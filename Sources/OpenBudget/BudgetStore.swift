import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// Reads and writes the open budget. Every query names the city by `tenant_id` as well as
/// through row-level security, so a code from another city finds nothing.
public struct BudgetStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Which objects a map or list shows; nil matches everything.
    public struct Filter: Sendable, Equatable {
        public var kind: ObjectKind?
        public var district: String?
        public var year: Int?

        public init(kind: ObjectKind? = nil, district: String? = nil, year: Int? = nil) {
            self.kind = kind
            self.district = district
            self.year = year
        }
    }

    /// An object with its planned and spent totals (for the filter's year, or all years).
    public struct ObjectTotals: Sendable, Codable, Equatable {
        public var object: BudgetObject
        public var planned: Int64
        public var spent: Int64
        public var openReports: Int

        public init(object: BudgetObject, planned: Int64, spent: Int64, openReports: Int) {
            self.object = object
            self.planned = planned
            self.spent = spent
            self.openReports = openReports
        }
    }

    /// One object's page: its lines, the entries behind "spent", its reports.
    public struct ObjectDetail: Sendable {
        public var object: BudgetObject
        public var lines: [BudgetLine]
        public var spending: [SpendingEntry]
    }

    static func districtNames(on connection: PostgresConnection, logger: Logger) async throws -> [String] {
        var names: [String] = []
        for try await name in try await connection.query(
            "SELECT name FROM budget_districts ORDER BY name",
            logger: logger
        ).decode(String.self) { names.append(name) }
        return names
    }

    /// The city's districts with their outlines (nil where none was uploaded).
    public func districts(tenantID: UUID) async throws -> [District] {
        try await database.withTenant(tenantID) { connection in
            var districts: [District] = []
            for try await (name, outline) in try await connection.query(
                """
                SELECT name, outline::text FROM budget_districts WHERE tenant_id = \(tenantID) ORDER BY name
                """,
                logger: database.logger
            ).decode((String, String?).self) {
                districts.append(
                    District(name: name, polygons: outline.flatMap { try? District.polygons(json: $0) } ?? [])
                )
            }
            return districts
        }
    }

    /// Adds the named districts and replaces their outlines; districts not named are kept
    /// (their objects still stand in them).
    public func saveDistricts(_ districts: [District], tenantID: UUID) async throws {
        try await database.withTenant(tenantID) { connection in
            for district in districts {
                let outline = district.polygons.isEmpty ? nil : district.geometryJSON
                try await connection.run(
                    """
                    INSERT INTO budget_districts (tenant_id, name, outline)
                    VALUES (\(tenantID), \(district.name), \(outline)::jsonb)
                    ON CONFLICT (tenant_id, name) DO UPDATE SET outline = coalesce(EXCLUDED.outline, budget_districts.outline)
                    """,
                    logger: database.logger
                )
            }
        }
    }

    public func objects(_ filter: Filter, tenantID: UUID) async throws -> [ObjectTotals] {
        try await database.withTenant(tenantID) { connection in
            try await Self.objects(filter, tenantID: tenantID, on: connection, logger: database.logger)
        }
    }

    static func objects(
        _ filter: Filter,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [ObjectTotals] {
        let year = filter.year.map(Int32.init)
        var found: [ObjectTotals] = []
        for try await row in try await connection.query(
            """
            SELECT o.code, o.organisation_bin, g.name, o.kind, o.name, o.district, o.address, o.latitude, o.longitude,
                coalesce((SELECT sum(planned) FROM budget_lines l WHERE l.tenant_id = o.tenant_id
                    AND l.object_code = o.code AND (\(year)::int IS NULL OR l.year = \(year)::int)), 0)::int8,
                coalesce((SELECT sum(amount) FROM budget_spending s JOIN workflow_instances i
                    ON i.tenant_id = s.tenant_id AND i.id = s.instance_id
                    WHERE s.tenant_id = o.tenant_id AND s.object_code = o.code
                    AND NOT (i.service_key = 'open-budget' AND i.state = 'withdrawn')
                    AND (\(year)::int IS NULL OR s.year = \(year)::int)), 0)::int8,
                (SELECT count(*) FROM citizen_reports r JOIN workflow_instances i
                    ON i.tenant_id = r.tenant_id AND i.id = r.instance_id
                    WHERE r.tenant_id = o.tenant_id AND r.object_code = o.code AND i.closed_at IS NULL)::int8
            FROM budget_objects o
            JOIN budget_organisations g ON g.tenant_id = o.tenant_id AND g.bin = o.organisation_bin
            WHERE o.tenant_id = \(tenantID)
                AND (\(filter.kind?.rawValue)::text IS NULL OR o.kind = \(filter.kind?.rawValue)::text)
                AND (\(filter.district)::text IS NULL OR o.district = \(filter.district)::text)
            ORDER BY o.district, o.kind, o.name, o.code
            """,
            logger: logger
        ) {
            let r = row.makeRandomAccess()
            found.append(
                ObjectTotals(
                    object: try Self.object(r),
                    planned: try r[9].decode(Int64.self),
                    spent: try r[10].decode(Int64.self),
                    openReports: Int(try r[11].decode(Int64.self))
                )
            )
        }
        return found
    }

    static func object(_ r: PostgresRandomAccessRow) throws -> BudgetObject {
        BudgetObject(
            code: try r[0].decode(String.self),
            organisationBIN: try r[1].decode(String.self),
            organisationName: try r[2].decode(String.self),
            kind: ObjectKind(rawValue: try r[3].decode(String.self)) ?? .school,
            name: try r[4].decode(String.self),
            district: try r[5].decode(String.self),
            address: try r[6].decode(String.self),
            latitude: try r[7].decode(Double.self),
            longitude: try r[8].decode(Double.self)
        )
    }

    /// The object, its lines with what was spent on each, and every spending entry.
    public func object(_ code: String, tenantID: UUID) async throws -> ObjectDetail? {
        try await database.withTenant(tenantID, repeatableRead: true) { connection in
            try await Self.object(code, tenantID: tenantID, on: connection, logger: database.logger)
        }
    }

    /// The object alone (no lines, no spending): what a step checks an input against.
    public static func find(
        _ code: String,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> BudgetObject? {
        var object: BudgetObject?
        for try await row in try await connection.query(
            """
            SELECT o.code, o.organisation_bin, g.name, o.kind, o.name, o.district, o.address, o.latitude, o.longitude
            FROM budget_objects o
            JOIN budget_organisations g ON g.tenant_id = o.tenant_id AND g.bin = o.organisation_bin
            WHERE o.tenant_id = \(tenantID) AND o.code = \(code)
            """,
            logger: logger
        ) { object = try Self.object(row.makeRandomAccess()) }
        return object
    }

    /// The object alone, or nil (another city's code included).
    public func find(_ code: String, tenantID: UUID) async throws -> BudgetObject? {
        try await database.withTenant(tenantID) { connection in
            try await Self.find(code, tenantID: tenantID, on: connection, logger: database.logger)
        }
    }

    /// The object, its lines with what was spent on each, and every spending entry.
    public static func object(
        _ code: String,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> ObjectDetail? {
        guard let object = try await find(code, tenantID: tenantID, on: connection, logger: logger) else { return nil }
        let spending = try await Self.spending(objectCode: code, tenantID: tenantID, on: connection, logger: logger)
        let counted = spending.filter { !$0.withdrawn }
        var lines: [BudgetLine] = []
        for try await (year, category, planned) in try await connection.query(
            """
            SELECT year, category, planned FROM budget_lines
            WHERE tenant_id = \(tenantID) AND object_code = \(code) ORDER BY year DESC, category
            """,
            logger: logger
        ).decode((Int32, String, Int64).self) {
            guard let category = BudgetCategory(rawValue: category) else { continue }
            let spent = counted.filter { $0.year == Int(year) && $0.category == category }.reduce(0) { $0 + $1.amount }
            lines.append(
                BudgetLine(objectCode: code, year: Int(year), category: category, planned: planned, spent: spent)
            )
        }
        // Spent with no line planned for it is shown too: money without a plan is worth a look.
        for entry in counted where !lines.contains(where: { $0.year == entry.year && $0.category == entry.category }) {
            let spent = counted.filter { $0.year == entry.year && $0.category == entry.category }.reduce(0) {
                $0 + $1.amount
            }
            lines.append(
                BudgetLine(objectCode: code, year: entry.year, category: entry.category, planned: 0, spent: spent)
            )
        }
        lines.sort { ($0.year, $1.category.rawValue) > ($1.year, $0.category.rawValue) }
        return ObjectDetail(object: object, lines: lines, spending: spending)
    }

    static func spending(
        objectCode: String?,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [SpendingEntry] {
        var entries: [SpendingEntry] = []
        for try await row in try await connection.query(
            """
            SELECT s.instance_id, s.sequence, s.object_code, s.year, s.category, s.amount, s.source, s.description,
                s.document_sha256, s.recorded_at, i.service_key, i.service_key = 'open-budget' AND i.state = 'withdrawn',
                l.leaf_index
            FROM budget_spending s JOIN workflow_instances i ON i.tenant_id = s.tenant_id AND i.id = s.instance_id
            LEFT JOIN audit_leaves l
                ON l.tenant_id = s.tenant_id AND l.instance_id = s.instance_id AND l.sequence = s.sequence
            WHERE s.tenant_id = \(tenantID) AND (\(objectCode)::text IS NULL OR s.object_code = \(objectCode)::text)
            ORDER BY s.recorded_at DESC, s.sequence DESC
            """,
            logger: logger
        ) {
            let r = row.makeRandomAccess()
            entries.append(
                SpendingEntry(
                    instanceID: try r[0].decode(UUID.self),
                    sequence: try r[1].decode(Int64.self),
                    objectCode: try r[2].decode(String.self),
                    year: Int(try r[3].decode(Int32.self)),
                    category: BudgetCategory(rawValue: try r[4].decode(String.self)) ?? .maintenance,
                    amount: try r[5].decode(Int64.self),
                    source: SpendingEntry.Source(rawValue: try r[6].decode(String.self)) ?? .manual,
                    description: try r[7].decode(String.self),
                    document: try r[8].decode(Data?.self).map { MediaFile.hex(Array($0)) },
                    recordedAt: try r[9].decode(Date.self),
                    service: try r[10].decode(String.self),
                    withdrawn: try r[11].decode(Bool.self),
                    leafIndex: try r[12].decode(Int64?.self)
                )
            )
        }
        return entries
    }

    /// Every object with every line, for the open-data export.
    public func lines(tenantID: UUID) async throws -> [(object: BudgetObject, line: BudgetLine)] {
        try await database.withTenant(tenantID, repeatableRead: true) { connection in
            let logger = database.logger
            let objects = try await Self.objects(Filter(), tenantID: tenantID, on: connection, logger: logger)
            let byCode = Dictionary(uniqueKeysWithValues: objects.map { ($0.object.code, $0.object) })
            var spent: [String: Int64] = [:]
            for try await (code, year, category, amount) in try await connection.query(
                """
                SELECT s.object_code, s.year, s.category, sum(s.amount)::int8 FROM budget_spending s
                JOIN workflow_instances i ON i.tenant_id = s.tenant_id AND i.id = s.instance_id
                WHERE s.tenant_id = \(tenantID) AND NOT (i.service_key = 'open-budget' AND i.state = 'withdrawn')
                GROUP BY s.object_code, s.year, s.category
                """,
                logger: logger
            ).decode((String, Int32, String, Int64).self) { spent["\(code)|\(year)|\(category)"] = amount }
            var result: [(object: BudgetObject, line: BudgetLine)] = []
            for try await (code, year, category, planned) in try await connection.query(
                """
                SELECT object_code, year, category, planned FROM budget_lines
                WHERE tenant_id = \(tenantID) ORDER BY object_code, year, category
                """,
                logger: logger
            ).decode((String, Int32, String, Int64).self) {
                guard let object = byCode[code], let kind = BudgetCategory(rawValue: category) else { continue }
                let line = BudgetLine(
                    objectCode: code,
                    year: Int(year),
                    category: kind,
                    planned: planned,
                    spent: spent["\(code)|\(year)|\(category)"] ?? 0
                )
                result.append((object, line))
            }
            return result
        }
    }

    /// Records an amount spent on an object, inside the step that proves it. A second delivery
    /// of the same step's message records nothing new.
    public static func recordSpending(
        _ entry: SpendingEntry,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        let document = try entry.document.map { hex -> Data in
            guard let bytes = MediaFile.bytes(hex: hex) else {
                throw AdalError.invalidField(field: "document", reason: "not a SHA-256")
            }
            return Data(bytes)
        }
        try await connection.run(
            """
            INSERT INTO budget_spending (tenant_id, instance_id, sequence, object_code, year, category, amount, source,
                description, document_sha256, recorded_at)
            VALUES (\(tenantID), \(entry.instanceID), \(entry.sequence), \(entry.objectCode), \(Int32(entry.year)),
                \(entry.category.rawValue), \(entry.amount), \(entry.source.rawValue), \(entry.description), \(document),
                \(entry.recordedAt))
            ON CONFLICT DO NOTHING
            """,
            logger: logger
        )
    }

    /// The codes of the objects of `kind` run by the organisation with `bin`.
    public static func objects(
        run bin: String,
        kind: ObjectKind,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [String] {
        var codes: [String] = []
        for try await code in try await connection.query(
            """
            SELECT code FROM budget_objects
            WHERE tenant_id = \(tenantID) AND organisation_bin = \(bin) AND kind = \(kind.rawValue) ORDER BY code
            """,
            logger: logger
        ).decode(String.self) { codes.append(code) }
        return codes
    }
}
