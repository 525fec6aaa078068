import Core
import Foundation
import MealPayments
import Storage
import Workflow

/// A canteen for each demo city, run through the real engine and ledger: the first school of the
/// finished competition's lot with its contract, the demo till and school office bound to it, and
/// two pupils whose guardian is the demo parent — one who pays (topped up through the simulated
/// provider's signed webhook, then today's lunch and a bun) and one whose meals the city pays. So the parent's page has a balance, a chart and a history to show,
/// and a balance to return.
enum DemoMeals {
    /// The school's contract price per meal in the demo, in tiyn (850 ₸).
    static let pricePerMeal: Int64 = 85_000

    static func seed(_ city: DemoCity) async throws {
        let (tenant, cityNumber, accounts, database, configuration) = city.parts
        let logger = database.logger
        let existing = try await database.withTenant(tenant.id) { connection in
            try await connection.query(
                "SELECT count(*)::int FROM pupils WHERE tenant_id = \(tenant.id)",
                logger: logger
            )
            .collect().first?.decode(Int.self) ?? 0
        }
        guard existing == 0 else { return }
        guard let till = try await accounts.store.user(login: "canteen-till", tenantID: tenant.id),
            let office = try await accounts.store.user(login: "school-admin", tenantID: tenant.id),
            let parent = try await accounts.store.user(login: "parent", tenantID: tenant.id)
        else { return }
        try await database.withTenant(tenant.id) { connection in
            try await connection.run(
                """
                INSERT INTO tenant_services (tenant_id, service_key) VALUES (\(tenant.id), \(MealAccountService.key))
                ON CONFLICT DO NOTHING
                """,
                logger: logger
            )
        }
        // The first school of the finished competition's lot, its winner's contract.
        let school = DemoData.firstSchoolBIN
        let schools = MealSchools(database: database)
        try await schools.contractInForce(
            tenantID: tenant.id,
            schoolBIN: school,
            schoolName: "№1 мектеп-лицей",
            supplierBIN: try DemoCompetitions.bin(seed: cityNumber * 10),
            pricePerMeal: pricePerMeal
        )
        try await schools.assignTill(userID: till.id, schoolBIN: school, tenantID: tenant.id)
        try await schools.assignStaff(userID: office.id, schoolBIN: school, tenantID: tenant.id)

        let sealer = try AuditKeys.keySealer(configuration: configuration, logger: logger)
        let engine = WorkflowEngine(
            database: database,
            registry: try ServiceImplementations.registry(configuration: configuration, sealer: sealer)
        )
        let secret = try AuditKeys.webhookSecret(configuration: configuration, logger: logger)
        let topUps = TopUps(database: database, engine: engine, webhookSecret: secret)
        let provider = SimulatedProvider(topUps: topUps, webhookSecret: secret)
        let queries = MealQueries(database: database)
        let tillActor = StepActor(id: till.id, roles: [.canteenTill])
        let pupils: [(name: String, grade: Int64, category: String?)] = [
            (cityNumber == 0 ? "Айдана Серікқызы" : "Дана Асқарқызы", 3, nil),
            (cityNumber == 0 ? "Ерлан Серікұлы" : "Әли Асқарұлы", 6, "көп балалы отбасы"),
        ]
        for (number, pupil) in pupils.enumerated() {
            var input: [String: InputValue] = [
                "school_bin": .string(school), "pupil_name": .string(pupil.name), "grade": .integer(pupil.grade),
                "card": .string(String(format: "DEMO-%d%03d", cityNumber + 1, number + 1)),
                "daily_limit": .integer(200_000), "allergens": .string("peanut"),
            ]
            if let category = pupil.category { input["free_meal_category"] = .string(category) }
            let started = try await engine.start(
                tenantID: tenant.id,
                service: MealAccountService.key,
                actor: StepActor(id: office.id, roles: [.schoolAdmin]),
                input: input
            )
            guard let ref = try await queries.pupil(instance: started.instanceID, tenantID: tenant.id) else { continue }
            try await schools.addGuardian(userID: parent.id, pupilID: ref.id, tenantID: tenant.id)
            if pupil.category == nil {
                for amount: Int64 in [300_000, 200_000] {
                    let id = UUID()
                    _ = try await topUps.hold(
                        id: id,
                        pupilID: ref.id,
                        amount: amount,
                        guardian: parent.id,
                        tenantID: tenant.id
                    )
                    _ = try await provider.capture(transfer: id, amount: amount, tenantID: tenant.id)
                }
            }
            // Today's lunch and a bun: charged after the top-ups, as a till would (the seed
            // cannot date a top-up back, so no meal is dated back before it either).
            let meals = [
                #"[{"name":"Палау","price":60000},{"name":"Шырын","price":15000}]"#,
                #"[{"name":"Бәліш","price":25000}]"#,
            ]
            for items in meals {
                _ = try await engine.fire(
                    tenantID: tenant.id,
                    instanceID: started.instanceID,
                    event: "charge",
                    actor: tillActor,
                    input: ["transfer_id": .string(UUID().uuidString.lowercased()), "items": .string(items)]
                )
            }
        }
    }
}
