import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// Reads and writes a city's registry; every call runs in the city's own transaction.
public struct RegistryStore: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func load(tenantID: UUID) async throws -> Registry {
        let logger = database.logger
        return try await database.withTenant(tenantID, repeatableRead: true) { connection in
            try await Self.load(tenantID: tenantID, on: connection, logger: logger)
        }
    }

    static func load(tenantID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> Registry {
        let schools = try await schools(bin: nil, tenantID: tenantID, on: connection, logger: logger)
        let principals = try await principals(iin: nil, tenantID: tenantID, on: connection, logger: logger)
        var appointments: [Appointment] = []
        for try await (id, school, principal, starts, ends, reason) in try await connection.query(
            """
            SELECT id, school_id, principal_id, starts_on::text, ends_on::text, reason FROM appointments
            WHERE tenant_id = \(tenantID) ORDER BY starts_on, id
            """,
            logger: logger
        ).decode((UUID, UUID, UUID, String, String?, String).self) {
            guard let startsOn = Day(starts) else { continue }
            appointments.append(
                Appointment(
                    id: id,
                    schoolID: school,
                    principalID: principal,
                    startsOn: startsOn,
                    endsOn: ends.flatMap { Day($0) },
                    reason: reason
                )
            )
        }
        return Registry(schools: schools, principals: principals, appointments: appointments)
    }

    /// The school with `bin`, in the transaction's city.
    static func school(
        bin: String,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> School?
    {
        try await schools(bin: bin, tenantID: tenantID, on: connection, logger: logger).first
    }

    /// The principal with `iin`, in the transaction's city.
    static func principal(
        iin: String,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> PrincipalRecord?
    {
        try await principals(iin: iin, tenantID: tenantID, on: connection, logger: logger).first
    }

    /// The city's schools, or the one with `bin`.
    static func schools(
        bin: String?,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> [School]
    {
        var schools: [School] = []
        for try await row in try await connection.query(
            """
            SELECT id, bin, name, district, locality, rural, address FROM schools
            WHERE tenant_id = \(tenantID) AND (\(bin == nil) OR bin = \(bin ?? "")) ORDER BY bin
            """,
            logger: logger
        ).decode((UUID, String, String, String, String, Bool, String).self) {
            schools.append(
                School(
                    id: row.0,
                    bin: row.1,
                    name: row.2,
                    district: row.3,
                    locality: row.4,
                    rural: row.5,
                    address: row.6
                )
            )
        }
        return schools
    }

    /// The city's principals, or the one with `iin`.
    static func principals(
        iin: String?,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws
        -> [PrincipalRecord]
    {
        var principals: [PrincipalRecord] = []
        for try await (id, iin, name, attested) in try await connection.query(
            """
            SELECT id, iin, name, attested_on::text FROM principals
            WHERE tenant_id = \(tenantID) AND (\(iin == nil) OR iin = \(iin ?? "")) ORDER BY iin
            """,
            logger: logger
        ).decode((UUID, String, String, String?).self) {
            principals.append(PrincipalRecord(id: id, iin: iin, name: name, attestedOn: attested.flatMap { Day($0) }))
        }
        return principals
    }
}
