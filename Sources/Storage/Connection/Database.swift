import Core
import Foundation
import Logging
import PostgresNIO

/// The application's handle on PostgreSQL: a connection pool plus the one way to touch tenant
/// data, ``withTenant(_:_:)``, which sets the tenant for exactly one transaction.
public struct Database: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    /// How long a caller waits for a pooled connection before the database counts as unavailable.
    public let leaseTimeout: Duration
    /// The settings `client` was made with, when the maker gave them: for a connection apart
    /// from the pool (the server's ``PrincipalListener``).
    public let configuration: PostgresClient.Configuration?

    public init(
        client: PostgresClient,
        logger: Logger,
        leaseTimeout: Duration = .seconds(5),
        configuration: PostgresClient.Configuration? = nil
    ) {
        self.client = client
        self.logger = logger
        self.leaseTimeout = leaseTimeout
        self.configuration = configuration
    }

    /// Runs `body` in one transaction in which row-level security shows only `tenantID`'s rows;
    /// `repeatableRead` gives every statement of it the same snapshot.
    /// The setting is transaction-local (`set_config(…, true)`), so a pooled connection never
    /// carries one request's tenant into the next.
    ///
    /// `genericPlans` runs the transaction's prepared statements on their generic plans
    /// (`plan_cache_mode = force_generic_plan`, for this transaction only). A workflow step's
    /// statements bind lists (a batch's instances, steps and charges): PostgreSQL's custom plans
    /// take their lengths into account and look cheaper, so it kept planning those statements
    /// again on every run, which cost more than running them (`adal bench meals`).
    @discardableResult
    public func withTenant<Result: Sendable>(
        _ tenantID: UUID,
        repeatableRead: Bool = false,
        genericPlans: Bool = false,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = logger
        return try await withTransaction { connection in
            if repeatableRead {
                try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", logger: logger)
            }
            let setting = SetTenant(tenantID: tenantID, genericPlans: genericPlans)
            for try await _ in try await connection.execute(setting, logger: logger) {}
            return try await body(connection)
        }
    }

    /// Runs `body` in a transaction with no tenant set: only tables without tenant rows are visible.
    @discardableResult
    public func withoutTenant<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withTransaction(body)
    }

    /// BEGIN, `body`, COMMIT — or ROLLBACK when `body` throws — on a connection leased within
    /// ``leaseTimeout``.
    ///
    /// No statement is sent on a connection already closed: PostgresNIO 1.33 never answers a
    /// query written to a closed channel, so a ROLLBACK after the server died would wait forever.
    /// When the connection is lost the server has discarded the transaction anyway.
    private func withTransaction<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let logger = logger
        return try await withConnection { connection in
            try Self.requireOpen(connection)
            try await connection.query("BEGIN", logger: logger)
            let result: Result
            do {
                result = try await body(connection)
            } catch {
                let lost = (error as? PSQLError).map(Self.isOutage) ?? false
                if !lost && !connection.isClosed {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                }
                throw error
            }
            try Self.requireOpen(connection)
            try await connection.query("COMMIT", logger: logger)
            return result
        }
    }

    /// Checks that the database answers; used by `/health`.
    public func ping() async throws {
        try await withConnection { try await $0.run("SELECT 1", logger: logger) }
    }
}

extension PSQLError {
    /// The SQLSTATE code the server sent, such as `23505` for a unique violation.
    public var sqlState: String? { serverInfo?[.sqlState] }
}

/// SQLSTATE codes Adal reacts to; errors are mapped by code, never by message text.
public enum SQLState {
    public static let uniqueViolation = "23505"
    public static let foreignKeyViolation = "23503"
    public static let checkViolation = "23514"
    public static let insufficientPrivilege = "42501"
}

/// `set_config('app.tenant_id', …, true)`, and for a transaction that asks for them generic
/// plans, prepared once per connection: every tenant transaction starts with it.
struct SetTenant: PostgresPreparedStatement {
    typealias Row = (String, String?)
    static let name = "adal_set_tenant"
    static let sql = """
        SELECT set_config('app.tenant_id', $1::text, true),
               CASE WHEN $2::boolean THEN set_config('plan_cache_mode', 'force_generic_plan', true) END
        """
    static let bindingDataTypes: [PostgresDataType] = [.text, .bool]

    let tenantID: UUID
    let genericPlans: Bool

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(tenantID.uuidString)
        bindings.append(genericPlans)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Row {
        try row.decode(Row.self)
    }
}

extension PostgresConnection {
    /// Runs a statement and reads its rows to the end. A statement that returns rows reports a
    /// failure (a unique violation in a data-modifying `WITH`, say) only while its rows are
    /// read; left unread, the error is lost, and the transaction's COMMIT quietly rolls back.
    public func run(_ query: PostgresQuery, logger: Logger, file: String = #fileID, line: Int = #line) async throws {
        for try await _ in try await self.query(query, logger: logger, file: file, line: line) {}
    }

    /// The first row of a prepared statement, or nil when it returns none.
    public func first<Statement: PostgresPreparedStatement>(
        _ statement: Statement,
        logger: Logger
    ) async throws -> Statement.Row? {
        for try await row in try await execute(statement, logger: logger) { return row }
        return nil
    }
}
