import PostgresNIO

/// A query whose SQL text never depends on its values, run as a named prepared statement: each
/// connection parses it once, and PostgreSQL soon keeps a generic plan, so a hot query pays no
/// parsing or planning. Write the SQL with PostgresNIO's interpolation, with every value cast to
/// its type (`\(id)::uuid`), and derive `sql` from one sample instance.
public protocol PreparedSQL: PostgresPreparedStatement {
    /// This run's query: the statement's text and the values bound to it.
    var query: PostgresQuery { get }
}

extension PreparedSQL {
    public func makeBindings() throws -> PostgresBindings {
        guard query.sql == Self.sql else { throw StatementShapeChanged(name: Self.name) }
        return query.binds
    }
}

/// A prepared statement's SQL came out different from the text it was prepared with: a
/// programming error (a query whose text depends on its values), caught before it runs.
public struct StatementShapeChanged: Error, CustomStringConvertible {
    public let name: String
    public var description: String { "the SQL of prepared statement \(name) depends on its values" }
}
