import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// The Swift half of `workflows/meal-direct-award.yaml`: a supplier feeds a running
/// competition's schools for at most two months, counted from the first direct award for that
/// competition, at no more than its ceiling price.
public struct DirectAwardService: Sendable {
    public static let key = "meal-direct-award"
    /// Calendar months a competition's direct awards may cover together.
    public static let maximumMonths = 2

    let ocds: OCDSRelease

    public init(ocds: OCDSRelease) {
        self.ocds = ocds
    }

    public var implementation: ServiceImplementation {
        ServiceImplementation(
            key: Self.key,
            guards: ["direct_award_allowed": { try await allowed($0) }],
            actions: ["record_direct_award": { try await record($0) }]
        )
    }

    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()

    static func day(_ text: String) -> Date? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        return utc.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2]))
    }

    static func text(_ date: Date) -> String {
        let c = utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0)
    }

    func competition(_ context: StepContext) async throws -> Competition? {
        guard let id = context.input.string("competition").flatMap(UUID.init(uuidString:)) else { return nil }
        return try await CompetitionStore.load(
            id,
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
    }

    func allowed(_ context: StepContext) async throws -> GuardVerdict {
        guard let competition = try await competition(context) else {
            return .refuse("no such competition in this city")
        }
        guard !["in_delivery", "closed", "cancelled"].contains(competition.state) else {
            return .refuse("the competition is no longer running (\(competition.state))")
        }
        let bin = context.input.string("supplier_bin") ?? ""
        guard try await Suppliers.isRegistered(bin, context) else {
            return .refuse("supplier \(bin) is not registered in this city")
        }
        guard (context.input.integer("price_per_meal") ?? 0) <= competition.ceilingPrice else {
            return .refuse(
                "the price is above the competition's ceiling of \(JSONText.tenge(competition.ceilingPrice).text) ₸"
            )
        }
        guard let starts = context.input.string("starts_on").flatMap(Self.day),
            let ends = context.input.string("ends_on").flatMap(Self.day), starts <= ends
        else { return .refuse("the award must end on or after the day it starts") }
        var first = starts
        for try await earlier in try await context.connection.query(
            """
            SELECT min(starts_on)::text FROM meal_direct_awards
            WHERE tenant_id = \(context.tenantID) AND competition_id = \(competition.instanceID)
            """,
            logger: context.logger
        ).decode(String?.self) {
            if let earlier = earlier.flatMap(Self.day), earlier < first { first = earlier }
        }
        let limit = Self.utc.date(byAdding: .month, value: Self.maximumMonths, to: first)!.addingTimeInterval(-86_400)
        guard ends <= limit else {
            return .refuse(
                "direct awards for one competition cover at most \(Self.maximumMonths) months: from \(Self.text(first)) "
                    + "until \(Self.text(limit)) at the latest"
            )
        }
        return .pass
    }

    func record(_ context: StepContext) async throws -> StepEffects {
        guard let competition = try await competition(context) else {
            throw WorkflowError.refused(reason: "no such competition in this city")
        }
        let input = context.input
        let (bin, price) = (input.string("supplier_bin") ?? "", input.integer("price_per_meal") ?? 0)
        let ocid = ocds.ocid(for: context.instanceID)
        try await context.connection.run(
            """
            INSERT INTO meal_direct_awards (
                tenant_id, instance_id, ocid, competition_id, supplier_bin, price_per_meal, starts_on, ends_on, reason,
                awarded_at)
            VALUES (\(context.tenantID), \(context.instanceID), \(ocid), \(competition.instanceID), \(bin), \(price),
                \(input.string("starts_on") ?? "")::date, \(input.string("ends_on") ?? "")::date,
                \(input.string("reason") ?? ""), \(context.now))
            """,
            logger: context.logger
        )
        var name = bin
        for try await found in try await context.connection.query(
            "SELECT name FROM meal_suppliers WHERE tenant_id = \(context.tenantID) AND bin = \(bin)",
            logger: context.logger
        ).decode(String.self) {
            name = found
        }
        let award = DirectAward(
            ocid: ocid,
            supplierBIN: bin,
            supplierName: name,
            pricePerMeal: price,
            startsOn: input.string("starts_on") ?? "",
            endsOn: input.string("ends_on") ?? "",
            reason: input.string("reason") ?? ""
        )
        try await OCDSRelease.publish(
            ocds.release(award, competition: competition, sequence: context.sequence, at: context.now),
            id: "\(ocid)-\(context.sequence)",
            ocid: ocid,
            instanceID: context.instanceID,
            sequence: context.sequence,
            at: context.now,
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
        return StepEffects(
            identifiers: [bin],
            outbox: competition.schools.map {
                CompetitionService.contractMessage(school: $0, supplierBIN: bin, price: price)
            },
            subject: "\(competition.title) — \(name)"
        )
    }
}

/// A direct award as its release describes it.
public struct DirectAward: Sendable {
    public let ocid: String
    public let supplierBIN: String
    public let supplierName: String
    public let pricePerMeal: Int64
    public let startsOn: String
    public let endsOn: String
    public let reason: String
}
