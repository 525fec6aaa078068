import Core
import Foundation
import MealTenders
import Storage
import Workflow

/// School-meal competitions for the demo cities, run through the real engine and service: one
/// finished (bids sealed and opened, five members' marks, award, complaint window, both
/// signatures, deliveries, closed), one running (announced, sealed bids waiting for the
/// deadline), and in Shymkent a failed one awarded to a single source. Demo time is compressed:
/// the bids are opened and the complaint window closed at once instead of days later.
enum DemoCompetitions {
    struct People {
        let officer: StepActor
        let members: [(actor: StepActor, iin: String, seat: String)]
        let suppliers: [(actor: StepActor, bin: String)]
    }

    static func seed(_ city: DemoCity) async throws {
        let (tenant, cityNumber, accounts, database, configuration) = city.parts
        let logger = database.logger
        let existing = try await database.withTenant(tenant.id) { connection in
            for try await count in try await connection.query(
                "SELECT count(*)::int FROM meal_competitions WHERE tenant_id = \(tenant.id)",
                logger: logger
            ).decode(Int32.self) {
                return Int(count)
            }
            return 0
        }
        guard existing == 0 else { return }
        let sealer = try AuditKeys.keySealer(configuration: configuration, logger: logger)
        let registry = try ServiceImplementations.registry(configuration: configuration, sealer: sealer)
        let engine = WorkflowEngine(database: database, registry: registry)
        let people = try await people(tenant: tenant, cityNumber: cityNumber, accounts: accounts, database: database)
        let run = Run(tenant: tenant, engine: engine, people: people, sealer: sealer, database: database)
        let district = cityNumber == 0 ? ["Есіл", "Сарыарқа"] : ["Әл-Фараби", "Қаратау"]
        let finished = try await run.draft(title: "Ыстық тамақ: \(district[0]) ауданы, 1-лот", autumn: true, first: 0)
        try await run.finish(finished)
        let running = try await run.draft(title: "Ыстық тамақ: \(district[1]) ауданы, 2-лот", autumn: false, first: 3)
        try await run.fire(running, "announce", as: people.officer)
        for (index, price) in [(0, Int64(88_400)), (1, Int64(86_900))] {
            try await run.bid(running, supplier: index, price: price)
        }
        if cityNumber == 1 {
            let failed = try await run.draft(title: "Ыстық тамақ: Тұран ауданы, 3-лот", autumn: false, first: 6)
            try await run.fire(failed, "announce", as: people.officer)
            try await run.bid(failed, supplier: 2, price: 94_600)
            try await run.open(failed)
            try await run.fire(
                failed,
                "award_single_source",
                as: people.officer,
                ["supplier_bin": .string(people.suppliers[2].bin), "price_per_meal": .integer(94_600)]
            )
        }
    }

    /// The demo officer, a commission of five (the demo member and four more) and three
    /// registered suppliers (the demo supplier and two more).
    static func people(
        tenant: Tenant,
        cityNumber: Int,
        accounts: AccountService,
        database: Database
    ) async throws
        -> People
    {
        func account(_ login: String, _ name: String, _ role: Role, iin: NationalIdentifier?) async throws -> User {
            if let user = try await accounts.store.user(login: login, tenantID: tenant.id) { return user }
            return try await accounts.createUser(
                NewUser(login: login, displayName: name, iin: iin, roles: [role]),
                password: DemoData.password,
                tenantID: tenant.id
            )
        }
        guard let officer = try await accounts.store.user(login: "procurement-officer", tenantID: tenant.id) else {
            throw AdalError.notFound(what: "demo officer")
        }
        let seats = ["official", "parent", "ngo", "official", "parent"]
        var members: [(StepActor, String, String)] = []
        for number in 0..<5 {
            let login = number == 0 ? "commission-member" : "commission-\(number + 1)"
            let iin = DemoData.demoIIN(seed: 700 + cityNumber * 10 + number)
            var user = try await account(login, "Demo commission member \(number + 1)", .commissionMember, iin: iin)
            if user.iin == nil, let iin {
                // The demo member made before commissions existed has no IIN: give it one.
                let userID = user.id
                try await database.withTenant(tenant.id) { connection in
                    try await connection.run(
                        "UPDATE users SET iin = \(iin.digits) WHERE tenant_id = \(tenant.id) AND id = \(userID)",
                        logger: database.logger
                    )
                }
                user.iin = iin
            }
            members.append((StepActor(id: user.id, roles: [.commissionMember]), user.iin?.digits ?? "", seats[number]))
        }
        let names = ["Дәмді ас", "Балапан тағам", "Ақ дастархан"]
        var suppliers: [(StepActor, String)] = []
        for number in 0..<3 {
            let login = number == 0 ? "supplier" : "supplier-\(number + 1)"
            let iin = DemoData.demoIIN(seed: 750 + cityNumber * 10 + number)
            let user = try await account(login, "Demo supplier \(number + 1)", .supplier, iin: iin)
            let bin = try bin(seed: cityNumber * 10 + number)
            try await Suppliers(database: database).register(
                tenantID: tenant.id,
                userID: user.id,
                bin: bin,
                name: "\(names[number]) ЖШС",
                documents: [(kind: "sanitary_permit", document: try permit(names[number]))]
            )
            suppliers.append((StepActor(id: user.id, roles: [.supplier]), bin))
        }
        return People(
            officer: StepActor(id: officer.id, roles: [.procurementOfficer]),
            members: members.map { (actor: $0.0, iin: $0.1, seat: $0.2) },
            suppliers: suppliers.map { (actor: $0.0, bin: $0.1) }
        )
    }

    /// A generated supplier BIN (registered in 2009, a legal entity).
    static func bin(seed: Int) throws -> String {
        for serial in 0..<10_000 {
            if let digits = NationalIdentifier.completing(String(format: "090440%05d", 100 * seed + serial)) {
                return digits
            }
        }
        throw AdalError.unavailable(reason: "no demo BIN")
    }

    /// A one-page PDF that says what it is.
    static func permit(_ name: String) throws -> Document {
        let text = "%PDF-1.4\n% Demo sanitary permit of \(name), generated for the demo\n%%EOF\n"
        return try Document.checked(
            name: "permit.pdf",
            claimedType: "application/pdf",
            content: Array(text.utf8),
            field: "demo"
        )
    }

    /// The steps of one city's demo competitions.
    struct Run {
        let tenant: Tenant
        let engine: WorkflowEngine
        let people: People
        let sealer: KeySealer
        let database: Database

        func fire(_ id: UUID, _ event: String, as actor: StepActor, _ input: [String: InputValue] = [:]) async throws {
            _ = try await engine.fire(tenantID: tenant.id, instanceID: id, event: event, actor: actor, input: input)
        }

        /// A lot of three schools with its commission, still a draft.
        func draft(title: String, autumn: Bool, first: Int) async throws -> UUID {
            let id = try await engine.start(
                tenantID: tenant.id,
                service: CompetitionService.key,
                actor: people.officer,
                input: [
                    "title": .string(title), "buyer_bin": .string("940140000385"),
                    "buyer_name": .string("Білім басқармасы"), "ceiling_price": .integer(95_000),
                    "school_days": .integer(autumn ? 80 : 95), "meals_per_day": .integer(1),
                    "period_start": .string(autumn ? "2026-09-01" : "2027-01-09"),
                    "period_end": .string(autumn ? "2026-12-25" : "2027-05-25"),
                ]
            ).instanceID
            for number in first..<first + 3 {
                let bin = NationalIdentifier.completing(String(format: "0%02d%08d", 90 + number % 10, 40_000 + number))
                try await fire(
                    id,
                    "add_school",
                    as: people.officer,
                    [
                        "school_bin": .string(bin ?? ""), "school_name": .string("№\(number + 1) мектеп-лицей"),
                        "pupils_1_4": .integer(Int64(420 + 37 * number)), "pupils_5_9": .integer(0),
                        "pupils_10_11": .integer(0),
                    ]
                )
            }
            for member in people.members {
                try await fire(
                    id,
                    "appoint_member",
                    as: people.officer,
                    ["member_iin": .string(member.iin), "seat": .string(member.seat)]
                )
            }
            return id
        }

        func bid(_ id: UUID, supplier: Int, price: Int64) async throws {
            let (actor, bin) = people.suppliers[supplier]
            let content = try BidContent(
                supplierBIN: bin,
                pricePerMeal: price,
                claims: BidClaims(
                    experienceYears: 3 + supplier * 2,
                    qualifiedCooks: 6 + supplier,
                    nutritionists: 1,
                    references: 2 + supplier,
                    ownProduction: supplier != 1,
                    energySavingEquipment: supplier == 0,
                    domesticSharePercent: 60 + 10 * supplier
                ),
                documents: [try permit("bid \(supplier + 1)")]
            )
            _ = try await Bidding.submit(
                content,
                competition: id,
                tenantID: tenant.id,
                actor: actor,
                idempotencyKey: nil,
                engine: engine
            )
        }

        /// Opens the bids now, as the deadline's timer would, and moves on as its handler would.
        func open(_ id: UUID) async throws {
            try await fire(id, "open_bids", as: .system)
            do {
                try await fire(id, "begin_scoring", as: .system)
            } catch WorkflowError.refused {
                try await fire(id, "declare_failed", as: .system)
            }
        }

        /// Runs a drafted lot to a closed contract.
        func finish(_ id: UUID) async throws {
            try await fire(id, "announce", as: people.officer)
            for (index, price) in [(0, Int64(89_500)), (1, Int64(87_200)), (2, Int64(91_300))] {
                try await bid(id, supplier: index, price: price)
            }
            try await open(id)
            for (memberNumber, member) in people.members.enumerated() {
                for bid in 1...3 {
                    let base = [7, 5, 8][bid - 1] + (memberNumber % 2)
                    var marks: [String: InputValue] = ["bid": .integer(Int64(bid))]
                    for (index, criterion) in Criterion.allCases.enumerated() {
                        marks[criterion.rawValue] = .integer(Int64(min(10, base + index % 2)))
                    }
                    try await fire(id, "score", as: member.actor, marks)
                }
            }
            try await fire(id, "propose_award", as: people.officer)
            try await fire(id, "complaint_window_closed", as: .system)
            try await database.withTenant(tenant.id) { connection in
                try await connection.run(
                    "UPDATE meal_competitions SET complaints_until = now() WHERE tenant_id = \(tenant.id) AND instance_id = \(id)",
                    logger: database.logger
                )
            }
            let winner = try await database.withTenant(tenant.id) { connection -> String? in
                for try await bin in try await connection.query(
                    "SELECT award_supplier_bin FROM meal_competitions WHERE tenant_id = \(tenant.id) AND instance_id = \(id)",
                    logger: database.logger
                ).decode(String?.self) {
                    return bin
                }
                return nil
            }
            guard let supplier = people.suppliers.first(where: { $0.bin == winner }) else { return }
            try await fire(id, "sign_as_supplier", as: supplier.actor)
            try await fire(id, "sign_as_buyer", as: people.officer, ["contract_number": .string("ДШ-2026/17")])
            for (month, meals) in [("2026-09-01", 28_000), ("2026-10-01", 26_500)] {
                try await fire(
                    id,
                    "report_delivery",
                    as: people.officer,
                    [
                        "month": .string(month), "meals": .integer(Int64(meals)),
                        "amount": .integer(Int64(meals) * 85_000),
                    ]
                )
            }
            try await fire(id, "close", as: people.officer)
        }
    }
}
