import struct Foundation.UUID

/// Where two services meet without importing each other: the school-meal competition service
/// tells whoever runs the canteen payments which supplier now feeds a school at what price per
/// meal; the payments service refuses any charge above that price. Until the competition
/// service lands, an administrator records the contract through the same protocol.
public protocol MealContracts: Sendable {
    /// Records the supplier and the contract's price per meal (tiyn) for the school with
    /// `schoolBIN`, registering the school under `schoolName` if it is new.
    func contractInForce(
        tenantID: UUID,
        schoolBIN: String,
        schoolName: String,
        supplierBIN: String,
        pricePerMeal: Int64
    )
        async throws
}
