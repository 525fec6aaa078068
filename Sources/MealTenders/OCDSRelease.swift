import Foundation
import Logging
import PostgresNIO

/// The stage of a competition a release publishes, which decides its tag and the statuses in it.
public enum OCDSStage: String, Sendable {
    case planning, tender, opened, failed, awardPending, awardActive, awardWithdrawn, contract, implementation
    case closed, cancelled

    var tag: String {
        switch self {
        case .planning: "planning"
        case .tender: "tender"
        case .opened, .failed: "tenderUpdate"
        case .awardPending: "award"
        case .awardActive, .awardWithdrawn: "awardUpdate"
        case .contract: "contract"
        case .implementation: "implementation"
        case .closed: "contractTermination"
        case .cancelled: "tenderCancellation"
        }
    }
}

/// Builds Open Contracting Data Standard 1.1 releases of a competition. Each release is a full
/// picture of the contracting process at its stage (so the latest one is also the compiled
/// release), with parties identified as `KZ-BIN-<BIN>` and amounts in tenge.
public struct OCDSRelease: Sendable {
    /// The prefix every ocid starts with (`ocds-` and six characters).
    public let prefix: String

    public init(prefix: String) {
        self.prefix = prefix
    }

    public func ocid(for instanceID: UUID) -> String {
        "\(prefix)-\(instanceID.uuidString.lowercased())"
    }

    static let orderDetails =
        "Competition under Order No. 598 of the Minister of Education and Science (31 October 2018)"

    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    static func party(_ bin: String) -> String { "KZ-BIN-\(bin)" }

    static func reference(_ bin: String, _ name: String) -> JSONText {
        .object([("id", .string(party(bin))), ("name", .string(name))])
    }

    static func organisation(_ bin: String, _ name: String, roles: [String]) -> JSONText {
        .object([
            ("id", .string(party(bin))), ("name", .string(name)),
            (
                "identifier",
                .object([("scheme", .string("KZ-BIN")), ("id", .string(bin)), ("legalName", .string(name))])
            ),
            ("roles", .array(roles.map(JSONText.string))),
        ])
    }

    /// A day of the lot's period as a date-time in Kazakhstan's time.
    static func day(_ text: String, end: Bool) -> JSONText {
        .string(text + (end ? "T23:59:59+05:00" : "T00:00:00+05:00"))
    }

    public func release(_ c: Competition, stage: OCDSStage, sequence: Int64, at date: Date) -> JSONText {
        let money = { (tiyn: Int64) -> JSONText in .object([("amount", .tenge(tiyn)), ("currency", .string("KZT"))]) }
        let opened = c.bidsAreOpen
        let bidders = opened ? c.currentBids.filter(\.isValid) : []
        var roles: [String: [String]] = [:]
        for bid in bidders { roles[bid.supplierBIN, default: []].append("tenderer") }
        let hasContract = [.contract, .implementation, .closed].contains(stage) || c.contractSignedAt != nil
        if let winner = c.awardSupplierBIN, stage != .awardWithdrawn, !roles[winner, default: []].contains("supplier") {
            roles[winner, default: []].append("supplier")
        }
        var parties = [Self.organisation(c.buyerBIN, c.buyerName, roles: ["buyer", "procuringEntity"])]
        for bin in roles.keys.sorted() {
            parties.append(Self.organisation(bin, c.supplierNames[bin] ?? bin, roles: roles[bin]!))
        }
        let tenderStatus: String =
            switch stage {
            case .planning: "planning"
            case .tender, .opened, .awardPending, .awardWithdrawn: "active"
            case .failed: "unsuccessful"
            case .cancelled: "cancelled"
            case .awardActive, .contract, .implementation, .closed: "complete"
            }
        let pupils = c.schools.map(\.total).reduce(0, +)
        let items: [JSONText] = c.schools.map { school in
            .object([
                ("id", .string(school.bin)),
                (
                    "description",
                    .string(
                        "Hot meals for \(school.total) pupils of \(school.name) (BIN \(school.bin)): "
                            + "\(school.pupils.grades1to4) in grades 1–4, \(school.pupils.grades5to9) in grades 5–9, "
                            + "\(school.pupils.grades10to11) in grades 10–11"
                    )
                ),
                ("quantity", .integer(Int64(school.total) * Int64(c.schoolDays) * Int64(c.mealsPerDay))),
                ("unit", .object([("name", .string("meal")), ("value", money(c.ceilingPrice))])),
            ])
        }
        let contractPeriod = JSONText.object([
            ("startDate", Self.day(c.periodStart, end: false)), ("endDate", Self.day(c.periodEnd, end: true)),
        ])
        var tender: [(String, JSONText?)] = [
            ("id", .string("\(ocid(for: c.instanceID))-tender")), ("title", .string(c.title)),
            (
                "description",
                .string(
                    "School meals for \(pupils) pupils in \(c.schools.count) schools: \(c.schoolDays) school days, "
                        + "\(c.mealsPerDay) meal(s) a day, ceiling \(JSONText.tenge(c.ceilingPrice).text) KZT per meal"
                )
            ),
            ("status", .string(tenderStatus)), ("procuringEntity", Self.reference(c.buyerBIN, c.buyerName)),
            ("items", .array(items)), ("value", money(c.ceilingValue)), ("procurementMethod", .string("open")),
            ("procurementMethodDetails", .string(Self.orderDetails)), ("mainProcurementCategory", .string("services")),
            ("awardCriteria", .string("ratedCriteria")),
            (
                "awardCriteriaDetails",
                .string(
                    "Lowest conditional price: each of six criteria (experience, qualified cooks and nutritionists, "
                        + "references, own food production, energy-saving equipment, domestic produce) gives a "
                        + "discount on the bid price scaled by the commission's marks; ties go to the lower price, "
                        + "then to the earlier bid"
                )
            ),
            ("contractPeriod", contractPeriod),
        ]
        if let announced = c.announcedAt, let deadline = c.bidDeadline {
            tender.append(
                (
                    "tenderPeriod",
                    .object([
                        ("startDate", .string(Self.timestamp(announced))),
                        ("endDate", .string(Self.timestamp(deadline))),
                    ])
                )
            )
        }
        if opened {
            tender.append(("numberOfTenderers", .integer(bidders.count)))
            tender.append(("tenderers", .array(bidders.map { Self.reference($0.supplierBIN, $0.supplierName) })))
        }
        var awards: [JSONText] = []
        for withdrawn in c.withdrawnAwards {
            guard let bid = c.bids.first(where: { $0.number == withdrawn }) else { continue }
            awards.append(
                .object([
                    ("id", .string("award-\(withdrawn)")), ("status", .string("cancelled")),
                    ("suppliers", .array([Self.reference(bid.supplierBIN, bid.supplierName)])),
                ])
            )
        }
        let awardID = c.winnerBid.map { "award-\($0)" } ?? "award-single-source-\(c.round)"
        if let winner = c.awardSupplierBIN, let price = c.awardPrice, let awardedAt = c.awardedAt,
            stage != .awardWithdrawn
        {
            let status =
                switch stage {
                case .awardPending: "pending"
                case .cancelled: "cancelled"
                default: "active"
                }
            awards.append(
                JSONText.members([
                    ("id", .string(awardID)), ("title", .string(c.title)), ("status", .string(status)),
                    ("date", .string(Self.timestamp(awardedAt))), ("value", money(price * c.totalMeals)),
                    ("suppliers", .array([Self.reference(winner, c.supplierNames[winner] ?? winner)])),
                    ("contractPeriod", contractPeriod),
                    (
                        "description",
                        c.winnerBid == nil
                            ? .string(
                                "Single-source award after a failed competition, at \(JSONText.tenge(price).text) KZT per meal"
                            )
                            : .string("Awarded at \(JSONText.tenge(price).text) KZT per meal")
                    ),
                ])
            )
        }
        var contracts: [JSONText] = []
        if hasContract, let winner = c.awardSupplierBIN, let price = c.awardPrice, let signed = c.contractSignedAt {
            let transactions: [JSONText] = c.deliveries.map { delivery in
                .object([
                    ("id", .string("delivery-\(delivery.month)")),
                    ("date", Self.day(delivery.month, end: false)), ("value", money(delivery.amount)),
                    ("payer", Self.reference(c.buyerBIN, c.buyerName)),
                    ("payee", Self.reference(winner, c.supplierNames[winner] ?? winner)),
                ])
            }
            let status = stage == .closed ? "terminated" : stage == .cancelled ? "cancelled" : "active"
            contracts.append(
                JSONText.members([
                    ("id", .string("contract-\(c.contractNumber ?? "1")")), ("awardID", .string(awardID)),
                    ("title", .string(c.title)), ("status", .string(status)),
                    ("dateSigned", .string(Self.timestamp(signed))), ("value", money(price * c.totalMeals)),
                    ("period", contractPeriod),
                    ("implementation", transactions.isEmpty ? nil : .object([("transactions", .array(transactions))])),
                ])
            )
        }
        let ocid = ocid(for: c.instanceID)
        return JSONText.members([
            ("ocid", .string(ocid)), ("id", .string("\(ocid)-\(sequence)")), ("date", .string(Self.timestamp(date))),
            ("tag", .array([.string(stage.tag)])), ("initiationType", .string("tender")),
            ("parties", .array(parties)), ("buyer", Self.reference(c.buyerBIN, c.buyerName)),
            (
                "planning",
                .object([
                    (
                        "budget",
                        .object([
                            ("description", .string("School-meal budget for the lot")),
                            ("amount", money(c.ceilingValue)),
                        ])
                    ),
                    ("rationale", .string("Free and paid hot meals for pupils of the schools in the lot")),
                ])
            ),
            ("tender", JSONText.members(tender)),
            ("awards", awards.isEmpty ? nil : .array(awards)),
            ("contracts", contracts.isEmpty ? nil : .array(contracts)),
        ])
    }

    /// Stores a release as published; it is never changed afterwards.
    public static func publish(
        _ release: JSONText,
        id: String,
        ocid: String,
        instanceID: UUID,
        sequence: Int64,
        at date: Date,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.run(
            """
            INSERT INTO ocds_releases (tenant_id, release_id, ocid, instance_id, step_sequence, published_at, release)
            VALUES (\(tenantID), \(id), \(ocid), \(instanceID), \(sequence), \(date), \(release.text)::jsonb)
            """,
            logger: logger
        )
    }
}

extension OCDSRelease {
    /// The one release of a direct award: tender, award and contract at once, method `direct`,
    /// linked to the competition it bridges.
    public func release(_ award: DirectAward, competition c: Competition, sequence: Int64, at date: Date) -> JSONText {
        let money = { (tiyn: Int64) -> JSONText in .object([("amount", .tenge(tiyn)), ("currency", .string("KZT"))]) }
        let days = max(
            1,
            Int(
                ((DirectAwardService.day(award.endsOn) ?? date).timeIntervalSince(
                    DirectAwardService.day(award.startsOn) ?? date
                ))
                    / 86_400
            ) + 1
        )
        let share = min(days, c.schoolDays)
        let meals = Int64(c.schools.map(\.total).reduce(0, +)) * Int64(share) * Int64(c.mealsPerDay)
        let period = JSONText.object([
            ("startDate", Self.day(award.startsOn, end: false)), ("endDate", Self.day(award.endsOn, end: true)),
        ])
        let supplier = Self.reference(award.supplierBIN, award.supplierName)
        let timestamp = JSONText.string(Self.timestamp(date))
        return .object([
            ("ocid", .string(award.ocid)), ("id", .string("\(award.ocid)-\(sequence)")), ("date", timestamp),
            ("tag", .array([.string("tender"), .string("award"), .string("contract")])),
            ("initiationType", .string("tender")),
            (
                "parties",
                .array([
                    Self.organisation(c.buyerBIN, c.buyerName, roles: ["buyer", "procuringEntity"]),
                    Self.organisation(award.supplierBIN, award.supplierName, roles: ["supplier"]),
                ])
            ),
            ("buyer", Self.reference(c.buyerBIN, c.buyerName)),
            (
                "tender",
                .object([
                    ("id", .string("\(award.ocid)-tender")), ("title", .string("Direct award: \(c.title)")),
                    ("status", .string("complete")), ("procurementMethod", .string("direct")),
                    ("procurementMethodRationale", .string(award.reason)),
                    ("mainProcurementCategory", .string("services")),
                    ("procuringEntity", Self.reference(c.buyerBIN, c.buyerName)),
                ])
            ),
            (
                "awards",
                .array([
                    .object([
                        ("id", .string("award-1")), ("status", .string("active")), ("date", timestamp),
                        ("value", money(meals * award.pricePerMeal)), ("suppliers", .array([supplier])),
                        ("contractPeriod", period),
                    ])
                ])
            ),
            (
                "contracts",
                .array([
                    .object([
                        ("id", .string("contract-1")), ("awardID", .string("award-1")), ("status", .string("active")),
                        ("dateSigned", timestamp), ("value", money(meals * award.pricePerMeal)), ("period", period),
                    ])
                ])
            ),
            (
                "relatedProcesses",
                .array([
                    .object([
                        ("id", .string("competition")), ("relationship", .array([.string("parent")])),
                        ("title", .string(c.title)), ("scheme", .string("ocid")), ("identifier", .string(c.ocid)),
                    ])
                ])
            ),
        ])
    }
}
