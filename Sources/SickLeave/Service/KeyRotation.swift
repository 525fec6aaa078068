import Core
import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Storage

/// Runs ``ClinicKeys/rotate(tenantID:at:sealer:database:)`` for every city at start and then
/// every ``interval``, so clinics' next keys are made and published well before they sign.
public struct KeyRotation: Service {
    public static let interval: Duration = .seconds(3_600)

    let database: Database
    let sealer: KeySealer

    public init(database: Database, sealer: KeySealer) {
        self.database = database
        self.sealer = sealer
    }

    /// One pass over every city; a city that fails is logged and the others still rotate.
    @discardableResult
    public func rotateAll(at now: Date = Date()) async throws -> Int {
        let logger = database.logger
        let cities = try await database.cityIDs()
        var made = 0
        for city in cities {
            do {
                made += try await ClinicKeys.rotate(tenantID: city, at: now, sealer: sealer, database: database)
            } catch {
                logger.error(
                    "clinic key rotation failed",
                    metadata: ["tenant": "\(city)", "error": "\(type(of: error))"]
                )
            }
        }
        return made
    }

    public func run() async throws {
        await everyInterval(Self.interval, logger: database.logger, failure: "clinic key rotation failed") {
            try await rotateAll()
        }
    }
}
