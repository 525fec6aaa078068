import Core
import Foundation
import Logging
import PostgresNIO
import Storage
import Workflow

/// The Swift half of `workflows/principal-rotation.yaml`: the policy checks on every choice of
/// principal, and the registry changes a rotation makes — in the step's own transaction, so the
/// registry and the recorded steps never disagree.
public enum PrincipalRotationService {
    public static let key = "principal-rotation"

    public static var implementation: ServiceImplementation {
        ServiceImplementation(
            key: key,
            guards: [
                "outgoing_holds_school": { try await outgoingHoldsSchool($0) },
                "candidate_allowed": { try await candidateAllowed($0) },
                "effective_date_allowed": { try await effectiveDateAllowed($0) },
            ],
            actions: [
                "describe_rotation": { try await describe($0) },
                "record_candidate": { try await recordCandidate($0) },
                "record_decision": { try await recordDecision($0) },
                "record_order": { try await recordOrder($0) },
                "move_appointments": { try await moveAppointments($0) },
                "close_rotation": { try await close($0) },
            ]
        )
    }

    // MARK: - Guards

    static func outgoingHoldsSchool(_ context: StepContext) async throws -> GuardVerdict {
        let (bin, iin) = (context.input.string("school_bin") ?? "", context.input.string("outgoing_iin") ?? "")
        let registry = try await RegistryStore.load(
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
        guard let school = registry.schools.values.first(where: { $0.bin == bin }) else {
            return .refuse("school \(bin) is not in the registry")
        }
        guard let outgoing = registry.principals.values.first(where: { $0.iin == iin }),
            registry.currentAppointment(ofSchool: school.id)?.principalID == outgoing.id
        else { return .refuse("\(iin) is not the current principal of school \(bin)") }
        if try await openRotation(school: school.id, context) {
            return .refuse("school \(bin) already has a rotation under way")
        }
        if let proposed = context.input.string("proposed_iin") {
            return verdict(candidate: proposed, school: school, registry: registry, context)
        }
        return .pass
    }

    static func candidateAllowed(_ context: StepContext) async throws -> GuardVerdict {
        let field = context.event.name == "decide" ? "chosen_iin" : "candidate_iin"
        let iin = context.input.string(field) ?? ""
        guard let rotation = try await Rotation.load(context) else { return .refuse("this instance has no rotation") }
        let registry = try await RegistryStore.load(
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
        guard let school = registry.schools[rotation.schoolID] else { return .refuse("the school is gone") }
        if context.event.name == "decide" {
            guard let chosen = registry.principals.values.first(where: { $0.iin == iin }),
                rotation.candidates.contains(chosen.id)
            else { return .refuse("\(iin) is not a registered candidate") }
        } else if registry.principals.values.first(where: { $0.iin == iin }) == nil,
            context.input.string("candidate_name") == nil
        {
            return .refuse("\(iin) is not in the registry: give the candidate's name to add them")
        }
        if registry.principals[rotation.outgoingID]?.iin == iin {
            return .refuse("the outgoing principal cannot succeed themselves")
        }
        return verdict(candidate: iin, school: school, registry: registry, context)
    }

    static func verdict(
        candidate iin: String,
        school: School,
        registry: Registry,
        _ context: StepContext
    ) -> GuardVerdict {
        guard let principal = registry.principals.values.first(where: { $0.iin == iin }) else { return .pass }
        let policy = RotationPolicy(parameters: context.parameters)
        let objections = policy.objections(
            principal: principal.id,
            to: school,
            on: Day.today(context.now),
            in: registry
        )
        guard objections.isEmpty else {
            return .refuse(
                "the policy does not allow \(iin) at school \(school.bin): "
                    + objections.map(\.description).joined(separator: "; ")
            )
        }
        return .pass
    }

    static func effectiveDateAllowed(_ context: StepContext) async throws -> GuardVerdict {
        let policy = RotationPolicy(parameters: context.parameters)
        let today = Day.today(context.now)
        guard let day = context.input.string("effective_on").flatMap({ Day($0) }) else { return .refuse("a date") }
        guard day >= today else { return .refuse("the order cannot take effect in the past") }
        let horizon = today.adding(months: policy.warningMonths)
        guard day <= horizon else { return .refuse("the order takes effect after the planning horizon (\(horizon))") }
        return .pass
    }

    // MARK: - Actions

    static func describe(_ context: StepContext) async throws -> StepEffects {
        let (bin, iin) = (context.input.string("school_bin") ?? "", context.input.string("outgoing_iin") ?? "")
        let (connection, logger, tenantID) = (context.connection, context.logger, context.tenantID)
        guard let school = try await RegistryStore.school(bin: bin, tenantID: tenantID, on: connection, logger: logger),
            let outgoing = try await RegistryStore.principal(
                iin: iin,
                tenantID: tenantID,
                on: connection,
                logger: logger
            )
        else { throw WorkflowError.refused(reason: "school or principal not in the registry") }
        var proposed: PrincipalRecord?
        if let iin = context.input.string("proposed_iin") {
            proposed = try await RegistryStore.principal(iin: iin, tenantID: tenantID, on: connection, logger: logger)
        }
        try await connection.run(
            """
            INSERT INTO rotations (tenant_id, instance_id, school_id, outgoing_id, proposed_id)
            VALUES (\(tenantID), \(context.instanceID), \(school.id), \(outgoing.id), \(proposed?.id))
            """,
            logger: logger
        )
        if let proposed {
            try await addCandidate(proposed.id, context)
        }
        return StepEffects(
            identifiers: [school.bin, outgoing.iin] + (proposed.map { [$0.iin] } ?? []),
            subject: "\(school.name) — \(outgoing.name)"
        )
    }

    static func recordCandidate(_ context: StepContext) async throws -> StepEffects {
        let iin = context.input.string("candidate_iin") ?? ""
        var principal = try await RegistryStore.principal(
            iin: iin,
            tenantID: context.tenantID,
            on: context.connection,
            logger: context.logger
        )
        if principal == nil, let name = context.input.string("candidate_name") {
            let added = PrincipalRecord(id: UUID(), iin: iin, name: name, attestedOn: nil)
            try await context.connection.run(
                """
                INSERT INTO principals (tenant_id, id, iin, name) VALUES (\(context.tenantID), \(added.id), \(iin), \(name))
                """,
                logger: context.logger
            )
            principal = added
        }
        guard let principal else { throw WorkflowError.refused(reason: "\(iin) is not in the registry") }
        try await addCandidate(principal.id, context)
        return StepEffects(identifiers: [iin])
    }

    static func addCandidate(_ principal: UUID, _ context: StepContext) async throws {
        try await context.connection.run(
            """
            INSERT INTO rotation_candidates (tenant_id, instance_id, principal_id)
            VALUES (\(context.tenantID), \(context.instanceID), \(principal)) ON CONFLICT DO NOTHING
            """,
            logger: context.logger
        )
    }

    static func recordDecision(_ context: StepContext) async throws -> StepEffects {
        let iin = context.input.string("chosen_iin") ?? ""
        try await context.connection.run(
            """
            UPDATE rotations SET chosen_id = p.id FROM principals p
            WHERE rotations.tenant_id = \(context.tenantID) AND rotations.instance_id = \(context.instanceID)
              AND p.tenant_id = rotations.tenant_id AND p.iin = \(iin)
            """,
            logger: context.logger
        )
        return StepEffects(identifiers: [iin])
    }

    static func recordOrder(_ context: StepContext) async throws -> StepEffects {
        try await context.connection.run(
            """
            UPDATE rotations SET effective_on = \(context.input.string("effective_on") ?? "")::date
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """,
            logger: context.logger
        )
        return .none
    }

    /// Completes the rotation in the registry: the outgoing principal's appointment and the
    /// chosen one's current appointment elsewhere end on the order's date, and the chosen one's
    /// appointment at this school begins on it.
    ///
    /// A school administrator confirms the handover only at a school they work at (``SchoolStaff``).
    static func moveAppointments(_ context: StepContext) async throws -> StepEffects {
        try await SchoolStaff.requireStaff(context)
        guard let rotation = try await Rotation.load(context), let chosen = rotation.chosenID,
            let effective = rotation.effectiveOn
        else { throw WorkflowError.refused(reason: "the rotation has no decision or order") }
        let (connection, logger, tenantID) = (context.connection, context.logger, context.tenantID)
        for principal in [rotation.outgoingID, chosen] {
            let ended = try await connection.query(
                """
                UPDATE appointments SET ends_on = \(effective.description)::date
                WHERE tenant_id = \(tenantID) AND principal_id = \(principal) AND ends_on IS NULL
                  AND starts_on < \(effective.description)::date
                RETURNING school_id
                """,
                logger: logger
            )
            for try await _ in ended {}
        }
        do {
            try await connection.run(
                """
                INSERT INTO appointments (tenant_id, id, school_id, principal_id, starts_on, reason)
                VALUES (\(tenantID), \(UUID()), \(rotation.schoolID), \(chosen), \(effective.description)::date,
                    'rotation')
                """,
                logger: logger
            )
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23P01" {
            throw WorkflowError.refused(reason: "the new appointment would overlap another in the registry")
        }
        try await connection.run(
            "UPDATE rotations SET open = false WHERE tenant_id = \(tenantID) AND instance_id = \(context.instanceID)",
            logger: logger
        )
        return .none
    }

    static func close(_ context: StepContext) async throws -> StepEffects {
        try await context.connection.run(
            """
            UPDATE rotations SET open = false WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """,
            logger: context.logger
        )
        return .none
    }

    static func openRotation(school: UUID, _ context: StepContext) async throws -> Bool {
        let rows = try await context.connection.query(
            "SELECT 1 FROM rotations WHERE tenant_id = \(context.tenantID) AND school_id = \(school) AND open",
            logger: context.logger
        )
        for try await _ in rows { return true }
        return false
    }
}

/// The row behind one rotation instance.
struct Rotation {
    var schoolID: UUID
    var outgoingID: UUID
    var chosenID: UUID?
    var effectiveOn: Day?
    var candidates: Set<UUID>

    static func load(_ context: StepContext) async throws -> Rotation? {
        var found: Rotation?
        for try await (school, outgoing, chosen, effective) in try await context.connection.query(
            """
            SELECT school_id, outgoing_id, chosen_id, effective_on::text FROM rotations
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID) FOR UPDATE
            """,
            logger: context.logger
        ).decode((UUID, UUID, UUID?, String?).self) {
            found = Rotation(
                schoolID: school,
                outgoingID: outgoing,
                chosenID: chosen,
                effectiveOn: effective.flatMap { Day($0) },
                candidates: []
            )
        }
        guard var rotation = found else { return nil }
        for try await id in try await context.connection.query(
            """
            SELECT principal_id FROM rotation_candidates
            WHERE tenant_id = \(context.tenantID) AND instance_id = \(context.instanceID)
            """,
            logger: context.logger
        ).decode(UUID.self) {
            rotation.candidates.insert(id)
        }
        return rotation
    }
}
