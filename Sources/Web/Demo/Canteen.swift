import Core
import Foundation
import MealPayments
import Storage

/// A city's canteen made ready to charge, on the owner's database: the meal service on, a
/// school's contract recorded, and a till account bound to it with an API token. What the meal
/// benchmark and the crash test start from.
public enum Canteen {
    public static let schoolBIN = "940140000385"
    public static let supplierBIN = "070941024691"

    /// The till's API token.
    public static func open(
        tenantID: UUID,
        pricePerMeal: Int64,
        tillLogin: String = "till",
        database: Database
    ) async throws -> String {
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                """
                INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(tenantID), \(MealAccountService.key))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
        let schools = MealSchools(database: database)
        try await schools.contractInForce(
            tenantID: tenantID,
            schoolBIN: schoolBIN,
            schoolName: "Мектеп-гимназия №1",
            supplierBIN: supplierBIN,
            pricePerMeal: pricePerMeal
        )
        let accounts = AccountService(store: PostgresAccountStore(database: database), hasher: BcryptHasher(cost: 4))
        let till = try await accounts.createUser(
            NewUser(login: tillLogin, displayName: "Canteen till", iin: nil, roles: [.canteenTill]),
            password: SecretToken.generate().text,
            tenantID: tenantID
        )
        try await schools.assignTill(userID: till.id, schoolBIN: schoolBIN, tenantID: tenantID)
        return try await accounts.issueToken(login: tillLogin, name: "till", roles: [.canteenTill], tenantID: tenantID)
            .0
            .text
    }
}
