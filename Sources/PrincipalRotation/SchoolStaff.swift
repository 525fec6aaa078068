import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// Which schools of the registry each school administrator works at (migration 0029). A
/// `school_admin` reads the rotations of their own schools and confirms the handover there,
/// nowhere else: the rotation's steps name the outgoing principal, the candidates and the chosen
/// one by IIN, and the handover moves the registry's appointments. Akimat administrators, the
/// commission and auditors are not bound to a school.
public struct SchoolStaff: Sendable {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Lets the account work at the school with `schoolBIN` (an account may work at several).
    public func assign(userID: UUID, schoolBIN: String, tenantID: UUID) async throws {
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            let school = try await Self.school(schoolBIN, tenantID: tenantID, on: connection, logger: logger)
            try await connection.run(
                """
                INSERT INTO school_staff (tenant_id, user_id, school_id) VALUES (\(tenantID), \(userID), \(school.id))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
    }

    /// Takes the school with `schoolBIN` from the account's list; false when it was not there.
    public func remove(userID: UUID, schoolBIN: String, tenantID: UUID) async throws -> Bool {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            let school = try await Self.school(
                schoolBIN,
                field: "bin",
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
            for try await _ in try await connection.query(
                """
                DELETE FROM school_staff WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND school_id = \(school.id)
                RETURNING 1
                """,
                logger: logger
            ) {
                return true
            }
            return false
        }
    }

    /// The BINs of the schools the account works at, in order.
    public func schools(of userID: UUID, tenantID: UUID) async throws -> [String] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var bins: [String] = []
            for try await bin in try await connection.query(
                """
                SELECT s.bin FROM school_staff w JOIN schools s ON s.tenant_id = w.tenant_id AND s.id = w.school_id
                WHERE w.tenant_id = \(tenantID) AND w.user_id = \(userID) ORDER BY s.bin
                """,
                logger: logger
            ).decode(String.self) {
                bins.append(bin)
            }
            return bins
        }
    }

    /// Whether the account works at the school of the rotation `instance`.
    public func worksAt(rotation instance: UUID, userID: UUID, tenantID: UUID) async throws -> Bool {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            try await Self.worksAt(
                rotation: instance,
                userID: userID,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
        }
    }

    static func worksAt(
        rotation instance: UUID,
        userID: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Bool {
        for try await _ in try await connection.query(
            """
            SELECT 1 FROM rotations r
            JOIN school_staff w ON w.tenant_id = r.tenant_id AND w.school_id = r.school_id
            WHERE r.tenant_id = \(tenantID) AND r.instance_id = \(instance) AND w.user_id = \(userID)
            """,
            logger: logger
        ) {
            return true
        }
        return false
    }

    /// Refuses a step a school administrator takes at a school they do not work at (an akimat
    /// administrator who is also a school's administrator acts for the whole city).
    static func requireStaff(_ context: StepContext) async throws {
        guard context.actingRole == .role(.schoolAdmin), !context.actor.roles.contains(.akimatAdmin) else { return }
        if let user = context.actor.id,
            try await worksAt(
                rotation: context.instanceID,
                userID: user,
                tenantID: context.tenantID,
                on: context.connection,
                logger: context.logger
            )
        {
            return
        }
        throw AdalError.forbidden(reason: "this account does not work at the school of this rotation")
    }

    /// The registry's school with `bin`; a BIN that is not one, or names no school of the
    /// registry, is refused naming `field`.
    static func school(
        _ bin: String,
        field: String = "schoolBIN",
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> School {
        let digits = try NationalIdentifier.bin(bin, field: field).digits
        guard
            let school = try await RegistryStore.school(bin: digits, tenantID: tenantID, on: connection, logger: logger)
        else { throw AdalError.invalidField(field: field, reason: "no school \(digits) in the registry") }
        return school
    }
}
