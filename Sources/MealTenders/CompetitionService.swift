import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// The Swift half of `workflows/school-meal-competition.yaml`: the lot, the commission, sealed
/// bids and their opening, the marks and the award, the contract and its deliveries — each
/// written in the step's own transaction together with the OCDS release of the stage.
public struct CompetitionService: Sendable {
    public static let key = "school-meal-competition"
    /// The outbox topic that moves an opened competition on to scoring or to failure.
    public static let openedTopic = "meal-competition.opened"
    /// The outbox topic that tells the canteen payments which supplier now feeds a school.
    public static let contractTopic = "meal-competition.contract"

    let sealer: KeySealer
    let ocds: OCDSRelease

    public init(sealer: KeySealer, ocds: OCDSRelease) {
        self.sealer = sealer
        self.ocds = ocds
    }

    public var implementation: ServiceImplementation {
        ServiceImplementation(
            key: Self.key,
            guards: [
                "lot_valid": { try await lotValid($0) },
                "member_eligible": { try await memberEligible($0) },
                "ready_to_announce": { try await readyToAnnounce($0) },
                "bid_allowed": { try await bidAllowed($0) },
                "enough_bids": { try await bidCount($0, enough: true) },
                "too_few_bids": { try await bidCount($0, enough: false) },
                "scorer_is_member": { try await scorerIsMember($0) },
                "all_marked": { try await allMarked($0) },
                "complainant_bid": { try await complainantBid($0) },
                "complaint_window_over": { try await complaintWindowOver($0) },
                "signer_is_winner": { try await signerIsWinner($0) },
                "delivery_within_contract": { try await deliveryWithinContract($0) },
                "single_source_allowed": { try await singleSourceAllowed($0) },
            ],
            actions: [
                "create_competition": { try await create($0) },
                "record_school": { try await recordSchool($0) },
                "remove_school": { try await removeSchool($0) },
                "record_member": { try await recordMember($0) },
                "remove_member": { try await removeMember($0) },
                "announce": { try await announce($0) },
                "seal_bid": { try await sealBid($0) },
                "open_bids": { try await openBids($0) },
                "record_failure": { try await publish($0, .failed) },
                "record_marks": { try await recordMarks($0) },
                "propose_award": { try await proposeAward($0) },
                "confirm_award": { try await publish($0, .awardActive) },
                "restart_complaint_window": { try await restartComplaintWindow($0) },
                "withdraw_award": { try await withdrawAward($0) },
                "record_supplier_signature": { try await recordSupplierSignature($0) },
                "sign_contract": { try await signContract($0) },
                "record_delivery": { try await recordDelivery($0) },
                "close_competition": { try await closeCompetition($0) },
                "award_single_source": { try await awardSingleSource($0) },
                "record_cancellation": { try await cancel($0) },
            ]
        )
    }

    /// What a step's input shows while the competition is in `state`: a commission member's
    /// marks stay hidden while the commission is still marking — from everyone, the other members
    /// and the suppliers included — and are public once an award is proposed (the audit leaf
    /// holds their hash all along). Other inputs are shown as given.
    public static func shownInput(event: String, input: InputValue, state: String) -> InputValue {
        guard event == "score", ["scoring", "scoring_overdue"].contains(state), case .object(let fields) = input else {
            return input
        }
        return .object(["bid": fields["bid"] ?? .null, "marks": .string("sealed until the award")])
    }

    // MARK: - Reading

    func competition(_ context: StepContext) async throws -> Competition {
        guard
            let competition = try await CompetitionStore.load(
                context.instanceID,
                tenantID: context.tenantID,
                on: context.connection,
                logger: context.logger
            )
        else { throw WorkflowError.refused(reason: "this instance has no competition") }
        return competition
    }

    /// The supplier the signed-in account bids for.
    static func supplierBIN(of context: StepContext) async throws -> String? {
        guard let user = context.actor.id else { return nil }
        for try await bin in try await context.connection.query(
            "SELECT bin FROM meal_suppliers WHERE tenant_id = \(context.tenantID) AND user_id = \(user)",
            logger: context.logger
        ).decode(String.self) {
            return bin
        }
        return nil
    }

    static func run(_ context: StepContext, _ query: PostgresQuery) async throws {
        try await context.connection.run(query, logger: context.logger)
    }

    func publish(_ context: StepContext, _ stage: OCDSStage) async throws -> StepEffects {
        _ = try await published(context, stage)
        return .none
    }

    /// Publishes the stage's release and returns the competition it was made from (the step's
    /// writes included), so an action that needs it reads it once.
    func published(_ context: StepContext, _ stage: OCDSStage) async throws -> Competition {
        let competition = try await competition(context)
        let release = ocds.release(competition, stage: stage, sequence: context.sequence, at: context.now)
        try await OCDSRelease.publish(
            release,
            id: "\(competition.ocid)-\(context.sequence)",
            ocid: competition.ocid,
            instanceID: context.instanceID,
            sequence: context.sequence,
            at: context.now,
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
        return competition
    }

    // MARK: - Guards

    func lotValid(_ context: StepContext) async throws -> GuardVerdict {
        let (start, end) = (context.input.string("period_start") ?? "", context.input.string("period_end") ?? "")
        guard start < end else { return .refuse("the period must end after it starts (\(start) – \(end))") }
        return .pass
    }

    func memberEligible(_ context: StepContext) async throws -> GuardVerdict {
        let iin = context.input.string("member_iin") ?? ""
        var holds = false
        for try await _ in try await context.connection.query(
            """
            SELECT 1 FROM users u JOIN user_roles r ON r.tenant_id = u.tenant_id AND r.user_id = u.id
            WHERE u.tenant_id = \(context.tenantID) AND u.iin = \(iin) AND u.disabled_at IS NULL
              AND r.role = 'commission_member'
            """,
            logger: context.logger
        ) {
            holds = true
        }
        guard holds else { return .refuse("no commission member of this city has the IIN \(iin)") }
        let competition = try await competition(context)
        if competition.members.contains(where: { $0.iin == iin }) {
            return .refuse("\(iin) is already on the commission")
        }
        return .pass
    }

    func readyToAnnounce(_ context: StepContext) async throws -> GuardVerdict {
        let competition = try await competition(context)
        var missing: [String] = []
        if competition.schools.isEmpty { missing.append("at least one school") }
        if competition.totalMeals == 0 { missing.append("pupils in the lot's schools") }
        let smallest = Int(context.parameters.integer("minimum_commission") ?? 5)
        if competition.members.count < smallest {
            missing.append("a commission of at least \(smallest) (now \(competition.members.count))")
        }
        for seat in ["parent", "ngo"] where !competition.members.contains(where: { $0.seat == seat }) {
            missing.append(seat == "parent" ? "a parents' representative" : "an NGO representative")
        }
        return missing.isEmpty
            ? .pass : .refuse("the lot cannot be announced without " + missing.joined(separator: ", "))
    }

    func bidAllowed(_ context: StepContext) async throws -> GuardVerdict {
        guard let bin = try await Self.supplierBIN(of: context) else {
            return .refuse("this account is not a registered supplier of the city")
        }
        let competition = try await competition(context)
        guard let deadline = competition.bidDeadline, context.now < deadline else {
            return .refuse("bids are not taken after the deadline")
        }
        if competition.currentBids.contains(where: { $0.supplierBIN == bin }) {
            return .refuse("supplier \(bin) has already submitted a bid in this round")
        }
        guard context.attachment != nil else {
            return .refuse("a bid is submitted with its sealed contents (the competition's bid page or API)")
        }
        return .pass
    }

    func bidCount(_ context: StepContext, enough: Bool) async throws -> GuardVerdict {
        let competition = try await competition(context)
        let valid = competition.currentBids.filter(\.isValid).count
        let fewest = Int(context.parameters.integer("minimum_bids") ?? 2)
        if enough, valid < fewest { return .refuse("\(valid) valid bid(s); the competition needs \(fewest)") }
        if !enough, valid >= fewest { return .refuse("\(valid) valid bids are enough to score") }
        return .pass
    }

    func scorerIsMember(_ context: StepContext) async throws -> GuardVerdict {
        let competition = try await competition(context)
        guard let user = context.actor.id, competition.members.contains(where: { $0.userID == user }) else {
            return .refuse("only members of this competition's commission mark its bids")
        }
        let number = Int(context.input.integer("bid") ?? 0)
        guard competition.currentBids.contains(where: { $0.number == number && $0.isValid }) else {
            return .refuse("bid \(number) is not a valid bid of this round")
        }
        return .pass
    }

    func allMarked(_ context: StepContext) async throws -> GuardVerdict {
        let competition = try await competition(context)
        var missing: [String] = []
        for member in competition.members {
            let unmarked = competition.currentBids.filter(\.isValid).filter { bid in
                !competition.marks.contains { $0.bid == bid.number && $0.member == member.userID }
            }
            if !unmarked.isEmpty {
                missing.append("\(member.name) (bids \(unmarked.map { String($0.number) }.joined(separator: ", ")))")
            }
        }
        return missing.isEmpty
            ? .pass : .refuse("not every member has marked every bid: " + missing.joined(separator: "; "))
    }

    func complainantBid(_ context: StepContext) async throws -> GuardVerdict {
        let competition = try await competition(context)
        guard let bin = try await Self.supplierBIN(of: context),
            competition.currentBids.contains(where: { $0.supplierBIN == bin })
        else { return .refuse("only a supplier that bid in this round may complain") }
        return .pass
    }

    func complaintWindowOver(_ context: StepContext) async throws -> GuardVerdict {
        let competition = try await competition(context)
        if let until = competition.complaintsUntil, context.now < until {
            return .refuse("the complaint window is open until \(OCDSRelease.timestamp(until)); the award is not final")
        }
        return .pass
    }

    func signerIsWinner(_ context: StepContext) async throws -> GuardVerdict {
        let competition = try await competition(context)
        guard let bin = try await Self.supplierBIN(of: context), bin == competition.awardSupplierBIN else {
            return .refuse("only the awarded supplier signs the contract")
        }
        return .pass
    }

    func deliveryWithinContract(_ context: StepContext) async throws -> GuardVerdict {
        let competition = try await competition(context)
        let month = String((context.input.string("month") ?? "").prefix(7))
        guard month >= String(competition.periodStart.prefix(7)), month <= String(competition.periodEnd.prefix(7))
        else {
            return .refuse(
                "\(month) is outside the contract's period \(competition.periodStart) – \(competition.periodEnd)"
            )
        }
        let meals = context.input.integer("meals") ?? 0
        let amount = context.input.integer("amount") ?? 0
        if let price = competition.awardPrice, amount > meals * price {
            return .refuse(
                "\(meals) meals at the contract price come to at most \(JSONText.tenge(meals * price).text) ₸"
            )
        }
        return .pass
    }

    func singleSourceAllowed(_ context: StepContext) async throws -> GuardVerdict {
        let competition = try await competition(context)
        let bin = context.input.string("supplier_bin") ?? ""
        guard try await Suppliers.isRegistered(bin, context) else {
            return .refuse("supplier \(bin) is not registered in this city")
        }
        let price = context.input.integer("price_per_meal") ?? 0
        guard price <= competition.ceilingPrice else {
            return .refuse(
                "the price is above the ceiling of \(JSONText.tenge(competition.ceilingPrice).text) ₸ per meal"
            )
        }
        return .pass
    }

    // MARK: - Actions

    func create(_ context: StepContext) async throws -> StepEffects {
        let input = context.input
        let ocid = ocds.ocid(for: context.instanceID)
        try await Self.run(
            context,
            """
            INSERT INTO meal_competitions (
                tenant_id, instance_id, ocid, title, buyer_bin, buyer_name, ceiling_price, school_days, meals_per_day,
                period_start, period_end, created_at)
            VALUES (\(context.tenantID), \(context.instanceID), \(ocid), \(input.string("title") ?? ""),
                \(input.string("buyer_bin") ?? ""), \(input.string("buyer_name") ?? ""),
                \(input.integer("ceiling_price") ?? 0), \(Int32(input.integer("school_days") ?? 0)),
                \(Int32(input.integer("meals_per_day") ?? 0)), \(input.string("period_start") ?? "")::date,
                \(input.string("period_end") ?? "")::date, \(context.now))
            """
        )
        var effects = try await publish(context, .planning)
        effects.subject = input.string("title")
        return effects
    }

    func recordSchool(_ context: StepContext) async throws -> StepEffects {
        let input = context.input
        let pupils = ["pupils_1_4", "pupils_5_9", "pupils_10_11"].map { Int32(input.integer($0) ?? 0) }
        try await Self.run(
            context,
            """
            INSERT INTO meal_competition_schools (
                tenant_id, instance_id, school_bin, school_name, pupils_1_4, pupils_5_9, pupils_10_11)
            VALUES (\(context.tenantID), \(context.instanceID), \(input.string("school_bin") ?? ""),
                \(input.string("school_name") ?? ""), \(pupils[0]), \(pupils[1]), \(pupils[2]))
            ON CONFLICT (tenant_id, instance_id, school_bin) DO UPDATE SET school_name = EXCLUDED.school_name,
                pupils_1_4 = EXCLUDED.pupils_1_4, pupils_5_9 = EXCLUDED.pupils_5_9, pupils_10_11 = EXCLUDED.pupils_10_11
            """
        )
        return .none
    }

    func removeSchool(_ context: StepContext) async throws -> StepEffects {
        let bin = context.input.string("school_bin") ?? ""
        let rows = try await context.connection.query(
            """
            DELETE FROM meal_competition_schools
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID) AND school_bin = \(bin)
            RETURNING 1
            """,
            logger: context.logger
        )
        var removed = false
        for try await _ in rows { removed = true }
        guard removed else { throw WorkflowError.refused(reason: "school \(bin) is not in the lot") }
        return .none
    }

    func recordMember(_ context: StepContext) async throws -> StepEffects {
        let iin = context.input.string("member_iin") ?? ""
        let rows = try await context.connection.query(
            """
            INSERT INTO meal_commission_members (tenant_id, instance_id, user_id, iin, name, seat)
            SELECT \(context.tenantID), \(context.instanceID), u.id, u.iin, u.display_name, \(context.input.string("seat") ?? "")
            FROM users u WHERE u.tenant_id = \(context.tenantID) AND u.iin = \(iin) AND u.disabled_at IS NULL
            LIMIT 1
            RETURNING 1
            """,
            logger: context.logger
        )
        var added = false
        for try await _ in rows { added = true }
        guard added else { throw WorkflowError.refused(reason: "no account with the IIN \(iin)") }
        return .none
    }

    func removeMember(_ context: StepContext) async throws -> StepEffects {
        let iin = context.input.string("member_iin") ?? ""
        let rows = try await context.connection.query(
            """
            DELETE FROM meal_commission_members
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID) AND iin = \(iin)
            RETURNING 1
            """,
            logger: context.logger
        )
        var removed = false
        for try await _ in rows { removed = true }
        guard removed else { throw WorkflowError.refused(reason: "\(iin) is not on the commission") }
        return .none
    }

    /// Opens the bid window (again, after a failed round): the deadline is the timer's, the
    /// city's `bid_window` from now.
    func announce(_ context: StepContext) async throws -> StepEffects {
        let window = context.parameters.duration("bid_window") ?? .calendar(seconds: 15 * 86_400)
        let deadline = window.added(to: context.now)
        let nextRound = context.event.name == "repeat"
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET announced_at = \(context.now), bid_deadline = \(deadline), opened_at = NULL,
                round = round + CASE WHEN \(nextRound) THEN 1 ELSE 0 END
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        return try await publish(context, .tender)
    }

    /// Seals the bid handed over beside the input after checking it against the commitment the
    /// input carries, the supplier's account and the ceiling. Its plain bytes are never written.
    func sealBid(_ context: StepContext) async throws -> StepEffects {
        guard let bytes = context.attachment else {
            throw WorkflowError.refused(reason: "the bid's contents are missing")
        }
        let bid = try BidContent.parse(bytes)
        guard bid.commitment == (context.input.string("commitment") ?? "").lowercased() else {
            throw WorkflowError.refused(reason: "the commitment is not the SHA-256 of the bid")
        }
        guard let bin = try await Self.supplierBIN(of: context), bin == bid.supplierBIN else {
            throw WorkflowError.refused(reason: "the bid names supplier \(bid.supplierBIN), not this account's")
        }
        let competition = try await competition(context)
        guard bid.pricePerMeal <= competition.ceilingPrice else {
            throw WorkflowError.refused(
                reason:
                    "the price is above the ceiling of \(JSONText.tenge(competition.ceilingPrice).text) ₸ per meal"
            )
        }
        let number = (competition.bids.map(\.number).max() ?? 0) + 1
        let sealed = try sealer.seal(bytes, associated: Self.associated(context.instanceID, number))
        try await Self.run(
            context,
            """
            INSERT INTO meal_bids (
                tenant_id, instance_id, number, round, supplier_bin, commitment, sealed, submitted_at, step_sequence)
            VALUES (\(context.tenantID), \(context.instanceID), \(Int32(number)), \(Int32(competition.round)), \(bin),
                \(Data(BidContent.unhex(bid.commitment) ?? [])), \(Data(sealed)), \(context.now), \(context.sequence))
            """
        )
        return StepEffects(identifiers: [bin])
    }

    static func associated(_ instanceID: UUID, _ number: Int) -> [UInt8] {
        Array("meal-bid/\(instanceID.uuidString.lowercased())/\(number)".utf8)
    }

    /// Opens every sealed bid of the round, checks each against its commitment and writes what it
    /// says; then asks for the next step (scoring, or failure with too few bids).
    func openBids(_ context: StepContext) async throws -> StepEffects {
        let competition = try await competition(context)
        var sealedBids: [(Int32, Data, Data)] = []
        for try await row in try await context.connection.query(
            """
            SELECT number, commitment, sealed FROM meal_bids
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
              AND round = \(Int32(competition.round)) AND opened_at IS NULL
            ORDER BY number
            """,
            logger: context.logger
        ).decode((Int32, Data, Data).self) {
            sealedBids.append(row)
        }
        for (number, commitment, sealed) in sealedBids {
            var content: BidContent?
            if let bytes = try? sealer.open(
                Array(sealed),
                associated: Self.associated(context.instanceID, Int(number))
            ),
                let parsed = try? BidContent.parse(bytes),
                BidContent.unhex(parsed.commitment) == Array(commitment)
            {
                content = parsed
            }
            try await Self.run(
                context,
                """
                UPDATE meal_bids SET opened_at = \(context.now), matches_commitment = \(content != nil),
                    price_per_meal = \(content?.pricePerMeal), claims = \(content?.claims.json.canonicalJSON)::jsonb
                WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID) AND number = \(number)
                """
            )
            for (index, document) in (content?.documents ?? []).enumerated() {
                try await Self.run(
                    context,
                    """
                    INSERT INTO meal_bid_documents (
                        tenant_id, instance_id, bid_number, position, name, media_type, size, sha256, content)
                    VALUES (\(context.tenantID), \(context.instanceID), \(number), \(Int32(index + 1)), \(document.name),
                        \(document.mediaType.rawValue), \(Int32(document.content.count)), \(Data(document.sha256)),
                        \(Data(document.content)))
                    """
                )
            }
        }
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET opened_at = \(context.now)
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        var effects = try await publish(context, .opened)
        effects.outbox.append(
            OutboxMessage(
                topic: Self.openedTopic,
                payload: .object([
                    "instance": .string(context.instanceID.uuidString), "round": .integer(Int64(competition.round)),
                ])
            )
        )
        return effects
    }

    func recordMarks(_ context: StepContext) async throws -> StepEffects {
        let marks = Criterion.allCases.map { Int16(context.input.integer($0.rawValue) ?? 0) }
        try await Self.run(
            context,
            """
            INSERT INTO meal_scores (tenant_id, instance_id, bid_number, member_id, marks, scored_at)
            VALUES (\(context.tenantID), \(context.instanceID), \(Int32(context.input.integer("bid") ?? 0)),
                \(context.actor.id), \(marks), \(context.now))
            ON CONFLICT (tenant_id, instance_id, bid_number, member_id)
            DO UPDATE SET marks = EXCLUDED.marks, scored_at = EXCLUDED.scored_at
            """
        )
        return .none
    }

    /// Ranks the valid bids and proposes the winner; the complaint window starts now.
    func proposeAward(_ context: StepContext) async throws -> StepEffects {
        let competition = try await competition(context)
        let ranking = Ranking(
            bids: competition.currentBids.filter(\.isValid).map { ($0.number, $0.pricePerMeal ?? 0, $0.sequence) },
            marks: competition.marks.filter { mark in competition.currentBids.contains { $0.number == mark.bid } },
            members: competition.members.count,
            discounts: Criterion.allCases.map { $0.discount(in: context.parameters) }
        )
        guard let winner = ranking.winner, let bid = competition.bids.first(where: { $0.number == winner.bid }) else {
            throw WorkflowError.refused(reason: "there is no valid bid to award")
        }
        let window = context.parameters.duration("complaint_window") ?? .workingDays(5)
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET winner_bid = \(Int32(winner.bid)), award_supplier_bin = \(bid.supplierBIN),
                award_price = \(winner.price), awarded_at = \(context.now),
                complaints_until = \(window.added(to: context.now))
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        var effects = try await publish(context, .awardPending)
        effects.amounts = [("award_price", winner.price), ("conditional_price", winner.conditionalPrice)]
        effects.identifiers = [bid.supplierBIN]
        return effects
    }

    func restartComplaintWindow(_ context: StepContext) async throws -> StepEffects {
        let window = context.parameters.duration("complaint_window") ?? .workingDays(5)
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET complaints_until = \(window.added(to: context.now))
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        return .none
    }

    func withdrawAward(_ context: StepContext) async throws -> StepEffects {
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET withdrawn_awards = withdrawn_awards || winner_bid, winner_bid = NULL,
                award_supplier_bin = NULL, award_price = NULL, awarded_at = NULL, complaints_until = NULL
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        return try await publish(context, .awardWithdrawn)
    }

    func recordSupplierSignature(_ context: StepContext) async throws -> StepEffects {
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET supplier_signed_at = \(context.now)
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        return .none
    }

    /// The akimat's signature puts the contract in force: the release is published and each of
    /// the lot's schools is told its supplier and price per meal (outbox, to the canteen payments).
    func signContract(_ context: StepContext) async throws -> StepEffects {
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET contract_signed_at = \(context.now),
                contract_number = \(context.input.string("contract_number") ?? "")
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        let competition = try await published(context, .contract)
        guard let supplier = competition.awardSupplierBIN, let price = competition.awardPrice else {
            throw WorkflowError.refused(reason: "the competition has no award")
        }
        return StepEffects(
            amounts: [("contract_value", price * competition.totalMeals)],
            identifiers: [supplier],
            outbox: competition.schools.map { Self.contractMessage(school: $0, supplierBIN: supplier, price: price) }
        )
    }

    static func contractMessage(school: Competition.School, supplierBIN: String, price: Int64) -> OutboxMessage {
        OutboxMessage(
            topic: contractTopic,
            payload: .object([
                "school_bin": .string(school.bin), "school_name": .string(school.name),
                "supplier_bin": .string(supplierBIN), "price_per_meal": .integer(price),
            ])
        )
    }

    func recordDelivery(_ context: StepContext) async throws -> StepEffects {
        let month = String((context.input.string("month") ?? "").prefix(7)) + "-01"
        do {
            try await Self.run(
                context,
                """
                INSERT INTO meal_deliveries (tenant_id, instance_id, month, meals, amount, reported_at, step_sequence)
                VALUES (\(context.tenantID), \(context.instanceID), \(month)::date,
                    \(Int32(context.input.integer("meals") ?? 0)), \(context.input.integer("amount") ?? 0), \(context.now),
                    \(context.sequence))
                """
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            throw WorkflowError.refused(reason: "the delivery of \(month.prefix(7)) is already reported")
        }
        let competition = try await published(context, .implementation)
        // The month's amount is spent on the lot's schools in proportion to their pupils, and
        // booked on each school's object of the open budget.
        let year = Int(month.prefix(4)) ?? 0
        let shares = BudgetSpending.split(
            context.input.integer("amount") ?? 0,
            weights: competition.schools.map(\.total)
        )
        return StepEffects(
            outbox: zip(competition.schools, shares).filter { $0.1 > 0 }.map { school, share in
                OutboxMessage(
                    topic: BudgetSpending.topic,
                    payload: .object(
                        BudgetSpending.payload(
                            bin: school.bin,
                            year: year,
                            category: "meals",
                            amount: share,
                            instanceID: context.instanceID,
                            sequence: context.sequence,
                            description: "\(competition.title): \(month.prefix(7))"
                        ).mapValues(InputValue.string)
                    )
                )
            }
        )
    }

    func closeCompetition(_ context: StepContext) async throws -> StepEffects {
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET closed_at = \(context.now)
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        return try await publish(context, .closed)
    }

    func awardSingleSource(_ context: StepContext) async throws -> StepEffects {
        let bin = context.input.string("supplier_bin") ?? ""
        let price = context.input.integer("price_per_meal") ?? 0
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET winner_bid = NULL, award_supplier_bin = \(bin), award_price = \(price),
                awarded_at = \(context.now), complaints_until = NULL
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        var effects = try await publish(context, .awardActive)
        effects.identifiers = [bin]
        return effects
    }

    func cancel(_ context: StepContext) async throws -> StepEffects {
        try await Self.run(
            context,
            """
            UPDATE meal_competitions SET outcome = 'cancelled', closed_at = \(context.now)
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """
        )
        return try await publish(context, .cancelled)
    }
}
