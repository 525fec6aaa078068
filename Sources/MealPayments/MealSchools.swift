import Core
import Foundation
import Storage

/// The schools whose canteens charge through Adal, with their supplier and contract price.
public struct MealSchools: MealContracts {
    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func contractInForce(
        tenantID: UUID,
        schoolBIN: String,
        schoolName: String,
        supplierBIN: String,
        pricePerMeal: Int64
    ) async throws {
        let school = try NationalIdentifier.bin(schoolBIN).digits
        let supplier = try NationalIdentifier.bin(supplierBIN).digits
        let name = schoolName.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...300).contains(name.count) else {
            throw AdalError.invalidField(field: "schoolName", reason: "1 to 300 characters")
        }
        guard (1...10_000_000).contains(pricePerMeal) else {
            throw AdalError.invalidField(field: "pricePerMeal", reason: "a whole number of tiyn from 1 to 10000000")
        }
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                """
                INSERT INTO meal_schools (tenant_id, id, bin, name, supplier_bin, price_per_meal)
                VALUES (\(tenantID), \(UUID()), \(school), \(name), \(supplier), \(pricePerMeal))
                ON CONFLICT (tenant_id, bin) DO UPDATE
                SET name = EXCLUDED.name, supplier_bin = EXCLUDED.supplier_bin, price_per_meal = EXCLUDED.price_per_meal
                """,
                logger: logger
            )
        }
    }

    /// Lets a school administrator work at the school with `schoolBIN` (several schools may be added).
    public func assignStaff(userID: UUID, schoolBIN: String, tenantID: UUID) async throws {
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            var found = false
            for try await _ in try await connection.query(
                """
                INSERT INTO meal_school_staff (tenant_id, user_id, school_id)
                SELECT \(tenantID), \(userID), id FROM meal_schools WHERE tenant_id = \(tenantID) AND bin = \(schoolBIN)
                ON CONFLICT DO NOTHING
                RETURNING 1
                """,
                logger: logger
            ) {
                found = true
            }
            if !found {
                // Either already listed, or no such school: tell the second apart.
                for try await _ in try await connection.query(
                    "SELECT 1 FROM meal_schools WHERE tenant_id = \(tenantID) AND bin = \(schoolBIN)",
                    logger: logger
                ) {
                    found = true
                }
            }
            guard found else { throw AdalError.notFound(what: "school \(schoolBIN)") }
        }
    }

    /// Lets a till account charge for the school with `schoolBIN`.
    public func assignTill(userID: UUID, schoolBIN: String, tenantID: UUID) async throws {
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            var found = false
            for try await _ in try await connection.query(
                """
                INSERT INTO meal_tills (tenant_id, user_id, school_id)
                SELECT \(tenantID), \(userID), id FROM meal_schools WHERE tenant_id = \(tenantID) AND bin = \(schoolBIN)
                ON CONFLICT (tenant_id, user_id) DO UPDATE SET school_id = EXCLUDED.school_id
                RETURNING 1
                """,
                logger: logger
            ) {
                found = true
            }
            guard found else { throw AdalError.notFound(what: "school \(schoolBIN)") }
        }
    }

    /// A guardian's alerts for one of their children: a low-balance alert and an automatic
    /// top-up (threshold and amount), each nil to turn it off. 404 for anyone not the pupil's
    /// guardian.
    public func guardianSettings(
        userID: UUID,
        pupilID: UUID,
        lowBalanceAlert: Int64?,
        autoThreshold: Int64?,
        autoAmount: Int64?,
        language: Language? = nil,
        tenantID: UUID
    ) async throws {
        for (field, value) in [
            ("lowBalanceAlert", lowBalanceAlert), ("autoThreshold", autoThreshold), ("autoAmount", autoAmount),
        ] {
            if let value, !(1...TopUps.maximumAmount).contains(value) {
                throw AdalError.invalidField(
                    field: field,
                    reason: "a whole number of tiyn from 1 to \(TopUps.maximumAmount)"
                )
            }
        }
        guard (autoThreshold == nil) == (autoAmount == nil) else {
            throw AdalError.invalidField(
                field: "autoAmount",
                reason: MealReason.bothOrNeither
            )
        }
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            var found = false
            for try await _ in try await connection.query(
                """
                UPDATE guardians SET low_balance_alert = \(lowBalanceAlert), auto_threshold = \(autoThreshold),
                    auto_amount = \(autoAmount), alert_language = \(language?.rawValue)
                WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND pupil_id = \(pupilID) RETURNING 1
                """,
                logger: logger
            ) {
                found = true
            }
            guard found else { throw AdalError.notFound(what: "pupil") }
        }
    }

    /// The language `userID` reads the pupil's alerts in (migration 0024); nil: not chosen.
    public func alertLanguage(userID: UUID, pupilID: UUID, tenantID: UUID) async throws -> Language? {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            for try await language in try await connection.query(
                """
                SELECT alert_language FROM guardians
                WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND pupil_id = \(pupilID)
                """,
                logger: logger
            ).decode(String?.self) {
                return language.flatMap(Language.init(rawValue:))
            }
            return nil
        }
    }

    /// The pupil's guardians, each with the language they read alerts in (nil: none chosen).
    public func guardians(of pupilID: UUID, tenantID: UUID) async throws -> [(user: UUID, language: Language?)] {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            var found: [(user: UUID, language: Language?)] = []
            for try await (user, language) in try await connection.query(
                """
                SELECT user_id, alert_language FROM guardians WHERE tenant_id = \(tenantID) AND pupil_id = \(pupilID)
                ORDER BY user_id LIMIT 20
                """,
                logger: logger
            ).decode((UUID, String?).self) {
                found.append((user, language.flatMap(Language.init(rawValue:))))
            }
            return found
        }
    }

    /// Lists `userID` among the pupil's guardians.
    public func addGuardian(userID: UUID, pupilID: UUID, tenantID: UUID) async throws {
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                """
                INSERT INTO guardians (tenant_id, user_id, pupil_id) VALUES (\(tenantID), \(userID), \(pupilID))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
    }
}
