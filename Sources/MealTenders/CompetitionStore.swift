import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// Reads competitions. Every query is scoped to the city by `tenant_id` as well as by row-level
/// security, so an id from another city finds nothing.
public enum CompetitionStore {
    /// The most competitions one list shows.
    public static let pageSize = 100

    public static func load(
        _ instanceID: UUID,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Competition? {
        var found: Competition?
        let rows = try await connection.query(
            """
            SELECT c.ocid, c.title, c.buyer_bin, c.buyer_name, c.ceiling_price, c.school_days, c.meals_per_day,
                   c.period_start::text, c.period_end::text, c.created_at, c.round, c.announced_at, c.bid_deadline,
                   c.opened_at, c.winner_bid, c.award_supplier_bin, c.award_price, c.awarded_at, c.complaints_until,
                   c.withdrawn_awards, c.supplier_signed_at, c.contract_signed_at, c.contract_number, c.closed_at,
                   c.outcome, coalesce(i.state, ''), coalesce(i.parameters::text, '{}')
            FROM meal_competitions c
            -- No instance row yet during the step that starts it.
            LEFT JOIN workflow_instances i ON i.tenant_id = c.tenant_id AND i.id = c.instance_id
            WHERE c.tenant_id = \(tenantID) AND c.instance_id = \(instanceID)
            """,
            logger: logger
        )
        for try await row in rows {
            let r = row.makeRandomAccess()
            found = Competition(
                instanceID: instanceID,
                ocid: try r[0].decode(String.self),
                title: try r[1].decode(String.self),
                buyerBIN: try r[2].decode(String.self),
                buyerName: try r[3].decode(String.self),
                ceilingPrice: try r[4].decode(Int64.self),
                schoolDays: Int(try r[5].decode(Int32.self)),
                mealsPerDay: Int(try r[6].decode(Int32.self)),
                periodStart: try r[7].decode(String.self),
                periodEnd: try r[8].decode(String.self),
                createdAt: try r[9].decode(Date.self),
                round: Int(try r[10].decode(Int32.self)),
                announcedAt: try r[11].decode(Date?.self),
                bidDeadline: try r[12].decode(Date?.self),
                openedAt: try r[13].decode(Date?.self),
                winnerBid: try r[14].decode(Int32?.self).map(Int.init),
                awardSupplierBIN: try r[15].decode(String?.self),
                awardPrice: try r[16].decode(Int64?.self),
                awardedAt: try r[17].decode(Date?.self),
                complaintsUntil: try r[18].decode(Date?.self),
                withdrawnAwards: try r[19].decode([Int32].self).map(Int.init),
                supplierSignedAt: try r[20].decode(Date?.self),
                contractSignedAt: try r[21].decode(Date?.self),
                contractNumber: try r[22].decode(String?.self),
                closedAt: try r[23].decode(Date?.self),
                outcome: try r[24].decode(String?.self),
                state: try r[25].decode(String.self),
                parameters: Self.integers(try r[26].decode(String.self))
            )
        }
        guard var competition = found else { return nil }
        for try await (bin, name, a, b, c) in try await connection.query(
            """
            SELECT school_bin, school_name, pupils_1_4, pupils_5_9, pupils_10_11 FROM meal_competition_schools
            WHERE tenant_id = \(tenantID) AND instance_id = \(instanceID) ORDER BY school_name, school_bin
            """,
            logger: logger
        ).decode((String, String, Int32, Int32, Int32).self) {
            competition.schools.append(
                .init(bin: bin, name: name, pupils: (Int(a), Int(b), Int(c)))
            )
        }
        for try await (user, iin, name, seat) in try await connection.query(
            """
            SELECT user_id, iin, name, seat FROM meal_commission_members
            WHERE tenant_id = \(tenantID) AND instance_id = \(instanceID) ORDER BY seat, name
            """,
            logger: logger
        ).decode((UUID, String, String, String).self) {
            competition.members.append(.init(userID: user, iin: iin, name: name, seat: seat))
        }
        var documents: [Int: [(Int, String, String, Int, String)]] = [:]
        for try await (bid, position, name, type, size, hash) in try await connection.query(
            """
            SELECT bid_number, position, name, media_type, size, sha256 FROM meal_bid_documents
            WHERE tenant_id = \(tenantID) AND instance_id = \(instanceID) ORDER BY bid_number, position
            """,
            logger: logger
        ).decode((Int32, Int32, String, String, Int32, Data).self) {
            documents[Int(bid), default: []].append((Int(position), name, type, Int(size), BidContent.hex(Array(hash))))
        }
        for try await row in try await connection.query(
            """
            SELECT b.number, b.round, b.supplier_bin, s.name, b.commitment, b.submitted_at, b.step_sequence, b.opened_at,
                   b.matches_commitment, b.price_per_meal, b.claims::text
            FROM meal_bids b JOIN meal_suppliers s ON s.tenant_id = b.tenant_id AND s.bin = b.supplier_bin
            WHERE b.tenant_id = \(tenantID) AND b.instance_id = \(instanceID) ORDER BY b.number
            """,
            logger: logger
        ) {
            let r = row.makeRandomAccess()
            let number = Int(try r[0].decode(Int32.self))
            let claims = try r[10].decode(String?.self).flatMap {
                try? JSONDecoder().decode(InputValue.self, from: Data($0.utf8))
            }
            competition.bids.append(
                .init(
                    number: number,
                    round: Int(try r[1].decode(Int32.self)),
                    supplierBIN: try r[2].decode(String.self),
                    supplierName: try r[3].decode(String.self),
                    commitment: BidContent.hex(Array(try r[4].decode(Data.self))),
                    submittedAt: try r[5].decode(Date.self),
                    sequence: try r[6].decode(Int64.self),
                    openedAt: try r[7].decode(Date?.self),
                    matchesCommitment: try r[8].decode(Bool?.self),
                    pricePerMeal: try r[9].decode(Int64?.self),
                    claims: claims.flatMap(BidClaims.init(json:)),
                    documents: (documents[number] ?? []).map {
                        (position: $0.0, name: $0.1, mediaType: $0.2, size: $0.3, sha256: $0.4)
                    }
                )
            )
            competition.supplierNames[try r[2].decode(String.self)] = try r[3].decode(String.self)
        }
        for try await (bid, member, values) in try await connection.query(
            """
            SELECT bid_number, member_id, marks FROM meal_scores
            WHERE tenant_id = \(tenantID) AND instance_id = \(instanceID) ORDER BY bid_number, member_id
            """,
            logger: logger
        ).decode((Int32, UUID, [Int16]).self) {
            competition.marks.append(Marks(bid: Int(bid), member: member, values: values.map(Int.init)))
        }
        for try await (month, meals, amount, at) in try await connection.query(
            """
            SELECT month::text, meals, amount, reported_at FROM meal_deliveries
            WHERE tenant_id = \(tenantID) AND instance_id = \(instanceID) ORDER BY month
            """,
            logger: logger
        ).decode((String, Int32, Int64, Date).self) {
            competition.deliveries.append(.init(month: month, meals: Int(meals), amount: amount, reportedAt: at))
        }
        if let bin = competition.awardSupplierBIN, competition.supplierNames[bin] == nil {
            for try await name in try await connection.query(
                "SELECT name FROM meal_suppliers WHERE tenant_id = \(tenantID) AND bin = \(bin)",
                logger: logger
            ).decode(String.self) {
                competition.supplierNames[bin] = name
            }
        }
        return competition
    }

    static func integers(_ json: String) -> [String: Int64] {
        guard case .object(let values)? = try? JSONDecoder().decode(InputValue.self, from: Data(json.utf8)) else {
            return [:]
        }
        return values.compactMapValues { value in
            if case .integer(let number) = value { return number }
            return nil
        }
    }

    /// Every competition of the city, newest first (at most ``pageSize``).
    public static func list(tenantID: UUID, on connection: PostgresConnection, logger: Logger) async throws -> [UUID] {
        var ids: [UUID] = []
        for try await id in try await connection.query(
            """
            SELECT instance_id FROM meal_competitions WHERE tenant_id = \(tenantID)
            ORDER BY created_at DESC LIMIT \(pageSize)
            """,
            logger: logger
        ).decode(UUID.self) {
            ids.append(id)
        }
        return ids
    }

    /// Lots awarded in the city per supplier (for the "one supplier wins most lots" flag).
    public static func awardsBySupplier(
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for try await (bin, count) in try await connection.query(
            """
            SELECT award_supplier_bin, count(*)::int FROM meal_competitions
            WHERE tenant_id = \(tenantID) AND award_supplier_bin IS NOT NULL AND outcome IS NULL
            GROUP BY award_supplier_bin
            """,
            logger: logger
        ).decode((String, Int32).self) {
            counts[bin] = Int(count)
        }
        return counts
    }
}
