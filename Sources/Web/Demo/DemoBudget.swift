import Core
import Foundation
import OpenBudget
import Storage
import Workflow

/// The open budget of the demo cities: five districts each (outlines generated around the
/// city's centre, not surveyed), 160 objects with two years of budget lines imported through
/// the real CSV import, spending entries with their documents and citizens' reports run through
/// the engine, and the city's catalogue of public services (Astana's matches its reported 158
/// services, 97.5 % automated). Generated with a fixed seed, so every run draws the same city.
enum DemoBudget {
    struct Geography {
        var code: String
        var latitude: Double
        var longitude: Double
        var districts: [String]
    }

    static let geographies = [
        Geography(
            code: "AST",
            latitude: 51.1282,
            longitude: 71.4304,
            districts: ["Алматы", "Байқоңыр", "Есіл", "Сарыарқа", "Нұра"]
        ),
        Geography(
            code: "SHY",
            latitude: 42.3155,
            longitude: 69.5869,
            districts: ["Абай", "Әл-Фараби", "Еңбекші", "Қаратау", "Тұран"]
        ),
    ]

    /// Objects of each kind in every district.
    static let perDistrict: [(ObjectKind, Int)] = [
        (.school, 14), (.kindergarten, 8), (.clinic, 4), (.sports, 3), (.culture, 3),
    ]

    /// A small deterministic generator (SplitMix64), so the demo city is the same on every run.
    struct Dice {
        var state: UInt64

        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }

        mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
    }

    /// How far the city reaches from its centre at `angle` (radians), in degrees of latitude.
    static func reach(_ angle: Double) -> Double { 0.11 * (1 + 0.14 * sin(3 * angle) + 0.08 * cos(5 * angle)) }

    static func districts(_ geography: Geography) -> [District] {
        let squeeze = cos(geography.latitude * .pi / 180)
        let count = geography.districts.count
        return geography.districts.enumerated().map { index, name in
            let centre = District.Point(longitude: geography.longitude, latitude: geography.latitude)
            var ring = [centre]
            let (from, to) = (Double(index) / Double(count) * 2 * .pi, Double(index + 1) / Double(count) * 2 * .pi)
            for step in 0...12 {
                let angle = from + (to - from) * Double(step) / 12
                let r = reach(angle)
                let point = District.Point(
                    longitude: ((geography.longitude + r * sin(angle) / squeeze) * 1e5).rounded() / 1e5,
                    latitude: ((geography.latitude + r * cos(angle)) * 1e5).rounded() / 1e5
                )
                ring.append(point)
            }
            ring.append(centre)
            return District(name: name, polygons: [[ring]])
        }
    }

    /// A generated, valid BIN for a demo organisation.
    static func bin(_ prefix: Int, _ number: Int) -> String {
        for serial in 0..<1_000 {
            if let digits = NationalIdentifier.completing(String(format: "0%02d%08d", prefix, number * 10 + serial)) {
                return digits
            }
        }
        return ""
    }

    static func name(_ kind: ObjectKind, _ number: Int) -> String {
        switch kind {
        case .school: "№\(number + 1) мектеп-лицей"
        case .kindergarten: "№\(number + 1) «Балдәурен» балабақшасы"
        case .clinic: "№\(number + 1) қалалық емхана"
        case .sports: "№\(number + 1) спорт кешені"
        case .culture: "№\(number + 1) мәдениет үйі"
        }
    }

    /// The import file: every object with its lines for last year and this year.
    static func csv(_ geography: Geography, year: Int) -> String {
        var dice = Dice(state: UInt64(geography.code.unicodeScalars.reduce(0) { $0 * 31 + Int($1.value) }))
        var rows = [BudgetCSV.header.joined(separator: ",")]
        var numbers: [ObjectKind: Int] = [:]
        let count = geography.districts.count
        for (index, district) in geography.districts.enumerated() {
            for (kind, amount) in perDistrict {
                for _ in 0..<amount {
                    let number = numbers[kind, default: 0]
                    numbers[kind] = number + 1
                    // Schools share the BINs of the demo competitions' and the rotation registry's.
                    let organisation =
                        kind == .school
                        ? NationalIdentifier.completing(String(format: "0%02d%08d", 90 + number % 10, 40_000 + number))
                            ?? ""
                        : bin(50 + index, 600 + number + 1_000 * ObjectKind.allCases.firstIndex(of: kind)!)
                    let angle = (Double(index) + 0.1 + 0.8 * dice.unit()) / Double(count) * 2 * .pi
                    let r = reach(angle) * (0.15 + 0.75 * dice.unit())
                    let latitude = ((geography.latitude + r * cos(angle)) * 1e5).rounded() / 1e5
                    let longitude =
                        ((geography.longitude + r * sin(angle) / cos(geography.latitude * .pi / 180)) * 1e5).rounded()
                        / 1e5
                    let code =
                        "\(geography.code)-\(kind.rawValue.prefix(3).uppercased())-\(String(format: "%03d", number + 1))"
                    let objectName = name(kind, number)
                    let object = [
                        code, organisation, objectName, kind.rawValue, objectName, district,
                        "\(district) ауданы, \(dice.int(1...120))-үй", String(latitude), String(longitude),
                    ]
                    for budgetYear in [year - 1, year] {
                        var lines: [(BudgetCategory, Int)] = [(.maintenance, dice.int(8_000...40_000) * 1_000)]
                        if kind == .school { lines.append((.meals, dice.int(300...900) * 180 * 950)) }
                        if dice.int(0...3) == 0 { lines.append((.repair, dice.int(20...150) * 1_000_000)) }
                        if budgetYear == year, kind != .school, dice.int(0...40) == 0 {
                            lines.append((.construction, dice.int(1_500...4_000) * 1_000_000))
                        }
                        for (category, tenge) in lines {
                            rows.append(
                                (object + [String(budgetYear), category.rawValue, String(tenge)]).map(csvField).joined(
                                    separator: ","
                                )
                            )
                        }
                    }
                }
            }
        }
        return rows.joined(separator: "\n") + "\n"
    }

    /// A short PDF that says what it is: the demo's act of completed works.
    static func act(_ text: String) -> [UInt8] {
        Array("%PDF-1.4\n% Demo act of completed works: \(text). Generated for the demo.\n%%EOF\n".utf8)
    }

    /// A photo for a demo report: a plain gradient, not a picture of anything real.
    static func photo(_ seed: Int) -> [UInt8] {
        PNGImage.rgb(width: 96, height: 64) { x, y in
            (UInt8((x * 2 + seed * 40) % 256), UInt8((y * 3 + seed * 70) % 256), UInt8((x + y + seed * 90) % 256))
        }
    }

    static func seed(_ city: DemoCity) async throws {
        let (tenant, cityNumber, accounts, database, configuration) = city.parts
        let store = BudgetStore(database: database)
        guard try await store.objects(BudgetStore.Filter(), tenantID: tenant.id).isEmpty else { return }
        let geography = geographies[cityNumber % geographies.count]
        try await store.saveDistricts(districts(geography), tenantID: tenant.id)
        let year = Calendar(identifier: .gregorian).component(.year, from: Date())
        let report = try await BudgetCSV.importFile(
            Array(csv(geography, year: year).utf8),
            tenantID: tenant.id,
            database: database
        )
        guard report.imported else {
            throw AdalError.invalidField(field: "demo budget", reason: "\(report.problems.prefix(3))")
        }
        let sealer = try AuditKeys.keySealer(configuration: configuration, logger: database.logger)
        let engine = WorkflowEngine(
            database: database,
            registry: try ServiceImplementations.registry(configuration: configuration, sealer: sealer)
        )
        guard let admin = try await accounts.store.user(login: "akimat-admin", tenantID: tenant.id),
            let resident = try await accounts.store.user(login: "resident", tenantID: tenant.id)
        else { return }
        let akimat = StepActor(id: admin.id, roles: [.akimatAdmin])
        try await spending(engine: engine, tenant: tenant, akimat: akimat, year: year, store: store)
        try await reports(
            engine: engine,
            tenant: tenant,
            akimat: akimat,
            resident: StepActor(id: resident.id, roles: [.resident]),
            geography: geography
        )
        try await ServiceCatalogue(database: database).replace(catalogue(cityNumber: cityNumber), tenantID: tenant.id)
        try await participatory(
            engine: engine,
            tenant: tenant,
            akimat: akimat,
            resident: resident,
            accounts: accounts,
            geography: geography,
            database: database,
            year: year
        )
    }

    /// The register of residents (the demo resident and six voters in the first district, more
    /// in the others), last year's round counted and this year's open for voting, in which the
    /// demo resident has not voted yet.
    static func participatory(
        engine: WorkflowEngine,
        tenant: Tenant,
        akimat: StepActor,
        resident: User,
        accounts: AccountService,
        geography: Geography,
        database: Database,
        year: Int
    ) async throws {
        guard let commission = try await accounts.store.user(login: "commission-member", tenantID: tenant.id),
            let residentIIN = resident.iin?.digits
        else { return }
        var voters: [StepActor] = []
        var register = ["iin,district", "\(residentIIN),\(geography.districts[0])"]
        for number in 0..<6 {
            guard let iin = DemoData.demoIIN(seed: 3_000 + number) else { continue }
            let login = "voter-\(number + 1)"
            var user = try await accounts.store.user(login: login, tenantID: tenant.id)
            if user == nil {
                user = try await accounts.createUser(
                    NewUser(login: login, displayName: "Demo voter \(number + 1)", iin: iin, roles: [.resident]),
                    password: DemoData.password,
                    tenantID: tenant.id
                )
            }
            guard let user else { continue }
            voters.append(StepActor(id: user.id, roles: [.resident]))
            register.append("\(iin.digits),\(geography.districts[0])")
        }
        for number in 0..<40 {
            guard let iin = DemoData.demoIIN(seed: 4_000 + number) else { continue }
            register.append("\(iin.digits),\(geography.districts[1 + number % (geography.districts.count - 1)])")
        }
        let imported = try await ParticipatoryStore(database: database).importResidents(
            Array((register.joined(separator: "\n") + "\n").utf8),
            tenantID: tenant.id
        )
        guard imported.problems.isEmpty else {
            throw AdalError.invalidField(field: "demo residents", reason: "\(imported.problems.prefix(3))")
        }
        let member = StepActor(id: commission.id, roles: [.commissionMember])
        let me = StepActor(id: resident.id, roles: [.resident])
        let code = geography.code
        let projects: [(title: String, cost: Int64, object: String?)] = [
            ("Мектеп ауласындағы балалар алаңы", 45_000_000_00, "\(code)-SCH-001"),
            ("Саябақтағы жарық шамдары", 28_000_000_00, nil),
            ("Балабақша жанындағы жаяу жүргіншілер жолы", 36_000_000_00, "\(code)-KIN-001"),
            ("Аулаға орындықтар мен қоқыс жәшіктері", 9_500_000_00, nil),
        ]
        for (roundYear, counted) in [(year - 1, true), (year, false)] {
            let round = try await engine.start(
                tenantID: tenant.id,
                service: ParticipatoryBudgetService.key,
                actor: akimat,
                input: [
                    "district": .string(geography.districts[0]), "year": .integer(Int64(roundYear)),
                    "budget_cap": .integer(80_000_000_00),
                ]
            ).instanceID
            func fire(
                _ event: String,
                _ actor: StepActor,
                _ input: [String: InputValue] = [:],
                attachment: [UInt8]? = nil
            ) async throws {
                _ = try await engine.fire(
                    tenantID: tenant.id,
                    instanceID: round,
                    event: event,
                    actor: actor,
                    input: input,
                    attachment: attachment
                )
            }
            for (index, project) in projects.enumerated() {
                var input: [String: InputValue] = [
                    "title": .string(project.title), "cost": .integer(project.cost),
                    "description": .string("Тұрғындардың ұсынысы \(index + 1): демо деректер."),
                ]
                input["object_code"] = project.object.map(InputValue.string)
                try await fire("propose", index == 0 ? me : voters[index], input)
            }
            try await fire("close_proposals", akimat)
            for number in 1...projects.count {
                try await fire(
                    "review_project",
                    member,
                    ["project": .integer(Int64(number)), "eligible": .string(number == 4 && counted ? "no" : "yes")]
                )
            }
            try await fire("open_voting", member)
            let choices: [[Int]] = [[1], [1, 4], [3], [1, 2], [2, 3], [1]]
            for (voter, choice) in zip(voters, choices).prefix(counted ? 6 : 2) where !(counted && choice.contains(4)) {
                let ballot = Ballot(
                    round: round,
                    choices: choice,
                    nonce: (0..<16).map { _ in UInt8.random(in: 0...255) }
                )
                try await fire("vote", voter, ["receipt": .string(ballot.receipt)], attachment: ballot.canonical)
            }
            if counted { try await fire("close_voting", akimat) }
        }
    }

    /// Last year's repairs and part of the maintenance, each with its act; one entry withdrawn
    /// and entered again, as a correction is made.
    static func spending(
        engine: WorkflowEngine,
        tenant: Tenant,
        akimat: StepActor,
        year: Int,
        store: BudgetStore
    ) async throws {
        var dice = Dice(state: 7)
        var entries: [(code: String, category: BudgetCategory, amount: Int64)] = []
        for (object, line) in try await store.lines(tenantID: tenant.id) where line.year == year - 1 {
            switch line.category {
            case .repair: entries.append((object.code, .repair, line.planned * Int64(dice.int(70...112)) / 100))
            case .maintenance where dice.int(0...4) == 0:
                entries.append((object.code, .maintenance, line.planned * Int64(dice.int(40...100)) / 100))
            default: break
            }
        }
        for (index, entry) in entries.prefix(45).enumerated() {
            let document = act("\(entry.code), \(entry.category.rawValue), \(Tenge.decimal(entry.amount)) KZT")
            let file = try MediaFile.checked(
                document,
                claimedType: nil,
                allowed: MediaFile.documentTypes,
                field: "document"
            )
            let result = try await engine.start(
                tenantID: tenant.id,
                service: OpenBudgetService.key,
                actor: akimat,
                input: [
                    "object_code": .string(entry.code), "year": .integer(Int64(year - 1)),
                    "category": .string(entry.category.rawValue), "amount": .integer(entry.amount),
                    "description": .string("Акт выполненных работ № \(100 + index)"),
                    "document": OpenBudgetController.describe(file, name: "act-\(100 + index).pdf"),
                ],
                attachment: file.content
            )
            if index == 0 {
                _ = try await engine.fire(
                    tenantID: tenant.id,
                    instanceID: result.instanceID,
                    event: "withdraw",
                    actor: akimat,
                    input: ["reason": .string("Сома қате енгізілді; түзетілген жазба бөлек енгізілді")]
                )
            }
        }
    }

    /// Six reports in every stage: new, triaged, referred, answered (confirmed and not), closed.
    static func reports(
        engine: WorkflowEngine,
        tenant: Tenant,
        akimat: StepActor,
        resident: StepActor,
        geography: Geography
    ) async throws {
        let texts: [(String, String, [(String, [String: InputValue])])] = [
            ("SCH-001", "not_done", []),
            ("KIN-002", "poor_quality", [("triage", [:])]),
            ("SCH-004", "meals", [("triage", [:]), ("refer", ["responsible_body": .string("Білім басқармасы")])]),
            (
                "SPO-001", "not_done",
                [
                    ("triage", [:]), ("refer", ["responsible_body": .string("Дене шынықтыру және спорт басқармасы")]),
                    (
                        "answer",
                        [
                            "verdict": .string("confirmed"),
                            "answer": .string(
                                "Мердігерге жұмысты 30 күнде аяқтау туралы талап жіберілді; төлем тоқтатылды."
                            ),
                        ]
                    ),
                ]
            ),
            (
                "CLI-002", "overpriced",
                [
                    ("triage", [:]), ("refer", ["responsible_body": .string("Денсаулық сақтау басқармасы")]),
                    (
                        "answer",
                        [
                            "verdict": .string("not_confirmed"),
                            "answer": .string("Баға сметаға сай; смета мен акт нысан бетінде жарияланған."),
                        ]
                    ),
                ]
            ),
            (
                "CUL-001", "other",
                [("dismiss", ["answer": .string("Хабарлама бюджетке қатысты емес: өтініш тиісті органға жіберілді.")])]
            ),
        ]
        for (index, (suffix, category, steps)) in texts.enumerated() {
            let photo = photo(index)
            let file = try MediaFile.checked(photo, claimedType: nil, allowed: MediaFile.reportTypes, field: "media")
            var input: [String: InputValue] = [
                "object_code": .string("\(geography.code)-\(suffix)"), "category": .string(category),
                "description": .string(
                    "Демо хабарлама: нысандағы жағдай бюджетте жазылғанмен сәйкес келмейді (\(index + 1))."
                ),
            ]
            input["file_1"] = OpenBudgetController.describe(file, name: "photo-\(index + 1).png")
            let anonymous = index % 3 == 2
            let result = try await engine.start(
                tenantID: tenant.id,
                service: CitizenReportService.key,
                actor: anonymous ? .system : resident,
                input: input,
                attachment: AttachmentBundle.encode([Array((anonymous ? "demo@example.kz" : "").utf8), file.content])
            )
            for (event, stepInput) in steps {
                _ = try await engine.fire(
                    tenantID: tenant.id,
                    instanceID: result.instanceID,
                    event: event,
                    actor: akimat,
                    input: stepInput
                )
            }
        }
    }

    /// The catalogue: Astana's 158 services with 154 automated (97.5 %), Shymkent's 142 with 128.
    static func catalogue(cityNumber: Int) -> [ServiceCatalogue.Entry] {
        let agencies = [
            "Білім басқармасы", "Денсаулық сақтау басқармасы", "Жер қатынастары басқармасы", "Тұрғын үй басқармасы",
            "Жұмыспен қамту және әлеуметтік бағдарламалар басқармасы", "Кәсіпкерлік басқармасы",
            "Сәулет және қала құрылысы басқармасы", "Мәдениет басқармасы", "Дене шынықтыру және спорт басқармасы",
            "Жолаушылар көлігі басқармасы",
        ]
        let actions = [
            "Өтінішті қабылдау", "Анықтама беру", "Кезекке қою", "Рұқсат беру", "Тіркеу", "Құжаттың көшірмесін беру",
            "Жәрдемақы тағайындау", "Лицензия беру", "Қорытынды беру", "Келісу", "Мәліметтерді өзгерту",
            "Есептен шығару", "Субсидия беру", "Жолдама беру", "Сертификат беру", "Шағымды қарау",
        ]
        let (total, automated) = cityNumber == 0 ? (158, 154) : (142, 128)
        let workflows: [Int: ServiceKey] = [
            0: .schoolMealCompetition, 1: .mealPayments, 17: .sickLeave, 32: .principalRotation, 64: .openBudget,
            65: .citizenReport,
        ]
        return (0..<total).map { number in
            let agency = agencies[number % agencies.count]
            let action = actions[(number / agencies.count) % actions.count]
            let status: ServiceCatalogue.Status =
                number < automated ? .automated : number % 2 == 0 ? .partly : .paper
            return ServiceCatalogue.Entry(
                code: String(format: "%@-%03d", cityNumber == 0 ? "AST" : "SHY", number + 1),
                title: "\(action) (\(agency.replacingOccurrences(of: " басқармасы", with: "").lowercased()))",
                agency: agency,
                status: status,
                workflow: workflows[number]?.rawValue
            )
        }
    }
}
