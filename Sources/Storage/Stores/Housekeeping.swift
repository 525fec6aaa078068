import Core
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle

/// Rows of one kind that a city keeps only for a while: expired sessions, finished jobs, the
/// messages sent to guardians. Each service that writes such rows states its rule; the
/// ``Housekeeping`` service applies them all, city by city.
public struct RetentionRule: Sendable {
    /// What happens to a row past its time.
    public enum Action: Sendable {
        /// The row is deleted.
        case delete
        /// The row stays and these columns are emptied (`SET` clause, fixed SQL).
        case clear(String)
    }

    /// Named in the log and in ``Housekeeping/pass(at:)``'s counts.
    public let name: String
    let table: String
    /// The rows past their time, as fixed SQL over the table's columns, in which `$2` is the
    /// cut-off (now minus ``keep``); `$1` is the city.
    let condition: String
    public let keep: Duration
    let action: Action

    /// `table` and `condition` are written by the service that owns the table, never taken
    /// from input: they go into the statement as they are.
    public init(name: String, table: String, condition: String, keep: Duration, action: Action = .delete) {
        self.name = name
        self.table = table
        self.condition = condition
        self.keep = keep
        self.action = action
    }

    /// One round of the rule for one city: at most `limit` rows, found and changed in one
    /// statement. The condition is checked again on the row the statement changes, so a row
    /// updated meanwhile (a contact confirmed at that moment) is left as it now is.
    func statement(tenantID: UUID, cutoff: Date, limit: Int) -> PostgresQuery {
        let change =
            switch action {
            case .delete: "DELETE FROM \(table)"
            case .clear(let assignments): "UPDATE \(table) SET \(assignments)"
            }
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(tenantID)
        bindings.append(cutoff)
        return PostgresQuery(
            unsafeSQL: """
                WITH changed AS (
                    \(change)
                    WHERE tenant_id = $1 AND (\(condition)) AND ctid = ANY (ARRAY(
                        SELECT ctid FROM \(table) WHERE tenant_id = $1 AND (\(condition)) LIMIT \(limit)))
                    RETURNING 1
                )
                SELECT count(*) FROM changed
                """,
            binds: bindings
        )
    }
}

/// Applies every ``RetentionRule`` to every city once an hour (and at start), each round of at
/// most ``batch`` rows in a short transaction of its own, so a city's first pass over years of
/// rows never holds locks or a connection for long. Any number of server processes may run
/// one: two passes at once change each row once.
public struct Housekeeping: Service {
    public static let interval: Duration = .seconds(3_600)
    public static let batch = 2_000

    let database: Database
    let rules: [RetentionRule]
    let interval: Duration

    public init(database: Database, rules: [RetentionRule], interval: Duration = Self.interval) {
        self.database = database
        self.rules = rules
        self.interval = interval
    }

    /// One pass over every city: the rows each rule changed, by the rule's name. A city or rule
    /// that fails is logged and the others still run.
    @discardableResult
    public func pass(at now: Date = Date()) async throws -> [String: Int] {
        let logger = database.logger
        var changed: [String: Int] = [:]
        for city in try await database.cityIDs() {
            for rule in rules {
                do {
                    let count = try await apply(rule, tenantID: city, now: now)
                    changed[rule.name, default: 0] += count
                    if count > 0 {
                        logger.info(
                            "retention",
                            metadata: ["tenant": "\(city)", "rule": "\(rule.name)", "rows": "\(count)"]
                        )
                    }
                } catch {
                    logger.error(
                        "retention failed",
                        metadata: ["tenant": "\(city)", "rule": "\(rule.name)", "error": "\(type(of: error))"]
                    )
                }
            }
        }
        return changed
    }

    /// Rounds of the rule for one city until one changes fewer than ``batch`` rows.
    func apply(_ rule: RetentionRule, tenantID: UUID, now: Date) async throws -> Int {
        let logger = database.logger
        let cutoff = now.addingTimeInterval(-TimeInterval(rule.keep.components.seconds))
        var total = 0
        while true {
            let statement = rule.statement(tenantID: tenantID, cutoff: cutoff, limit: Self.batch)
            let count = try await database.withTenant(tenantID) { connection in
                var count = 0
                for try await value in try await connection.query(statement, logger: logger).decode(Int64.self) {
                    count = Int(value)
                }
                return count
            }
            total += count
            if count < Self.batch || Task.isCancelled { return total }
        }
    }

    public func run() async throws {
        await everyInterval(interval, logger: database.logger, failure: "retention failed") { try await pass() }
    }
}

extension Database {
    /// Every city's id, in id order.
    public func cityIDs() async throws -> [UUID] {
        let logger = logger
        return try await withoutTenant { connection in
            var cities: [UUID] = []
            for try await id in try await connection.query("SELECT id FROM tenants ORDER BY id", logger: logger)
                .decode(UUID.self)
            {
                cities.append(id)
            }
            return cities
        }
    }
}
