import Audit
import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage

/// Runs service instances: starts them and fires their events. One step is one transaction —
/// lock the instance, check event, role, input and guards, run the actions, write the step,
/// move the instance, schedule and cancel timers, queue outbox messages and the audit leaf —
/// so either all of it happens or none (docs/workflows.md).
public struct WorkflowEngine: Sendable {
    public let database: Database
    public let registry: WorkflowRegistry
    let subjectKeys: SubjectKeys
    let clock: @Sendable () -> Date
    /// Where this engine's batches spent their time (``BatchPhaseTimes``).
    public let batchPhases = BatchPhases()

    /// The channel the job runner listens on; a step notifies it when it queues work due now.
    public static let jobsChannel = "adal_jobs"

    public init(database: Database, registry: WorkflowRegistry, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.registry = registry
        self.subjectKeys = SubjectKeys()
        self.clock = clock
    }

    var logger: Logger { database.logger }

    // MARK: Starting

    /// Starts an instance of `service` in the city's pinned version with the city's parameters;
    /// an `attachment` reaches the start's actions as in ``fire(tenantID:instanceID:event:actor:input:idempotencyKey:attachment:)``.
    public func start(
        tenantID: UUID,
        service: String,
        actor: StepActor,
        input: [String: InputValue],
        idempotencyKey: String? = nil,
        attachment: [UInt8]? = nil
    ) async throws -> StepResult {
        try Self.checkKey(idempotencyKey)
        let request = Self.requestHash(
            instanceID: nil,
            service: service,
            event: EventDefinition.startName,
            input: input
        )
        return try await withIdempotencyRace(
            tenantID: tenantID,
            key: idempotencyKey,
            {
                try await database.withTenant(tenantID, genericPlans: true) { connection in
                    if let key = idempotencyKey,
                        let earlier = try await storedResult(connection, tenantID: tenantID, key: key, request: request)
                    {
                        return earlier
                    }
                    let (definition, parameters) = try await pinnedDefinition(
                        connection,
                        tenantID: tenantID,
                        service: service
                    )
                    let instanceID = UUID()
                    let step = try await prepared(
                        try await check(
                            connection,
                            tenantID: tenantID,
                            instanceID: instanceID,
                            definition: definition,
                            event: definition.start,
                            fromState: nil,
                            actor: actor,
                            input: input,
                            parameters: parameters,
                            sequence: 1,
                            attachment: attachment
                        )
                    )
                    try await write(step, on: connection, start: true, key: idempotencyKey, request: request)
                    return step.result
                }
            },
            replay: { connection, key in
                try await storedResult(connection, tenantID: tenantID, key: key, request: request)
            }
        )
    }

    // MARK: Firing

    /// Fires `event` on an instance as `actor`, with `input`; a retry with the same
    /// `idempotencyKey` and request returns the first result.
    public func fire(
        tenantID: UUID,
        instanceID: UUID,
        event: String,
        actor: StepActor,
        input: [String: InputValue],
        idempotencyKey: String? = nil,
        attachment: [UInt8]? = nil
    ) async throws -> StepResult {
        try await fire(
            tenantID: tenantID,
            locate: { _ in instanceID },
            event: event,
            actor: actor,
            input: input,
            idempotencyKey: idempotencyKey,
            attachment: attachment,
            answer: { _, result in result }
        )
    }

    /// Fires `event` as ``fire(tenantID:instanceID:event:actor:input:idempotencyKey:attachment:)``
    /// does, with the caller's reads in the step's own transaction: `locate` finds the instance
    /// (a pupil's account by the card a till read), and `answer` reads what the caller reports
    /// once the step is written or replayed (the charge it made). A request that needs both is
    /// then one transaction instead of three — the canteen till's path.
    public func fire<Answer: Sendable>(
        tenantID: UUID,
        locate: @escaping @Sendable (PostgresConnection) async throws -> UUID,
        event: String,
        actor: StepActor,
        input: [String: InputValue],
        idempotencyKey: String? = nil,
        attachment: [UInt8]? = nil,
        answer: @escaping @Sendable (PostgresConnection, StepResult) async throws -> Answer
    ) async throws -> Answer {
        try Self.checkKey(idempotencyKey)
        let request = { @Sendable (instanceID: UUID) in
            Self.requestHash(instanceID: instanceID, service: nil, event: event, input: input)
        }
        return try await withIdempotencyRace(
            tenantID: tenantID,
            key: idempotencyKey,
            {
                try await database.withTenant(tenantID, genericPlans: true) { connection in
                    let instanceID = try await locate(connection)
                    let result = try await fire(
                        on: connection,
                        tenantID: tenantID,
                        instanceID: instanceID,
                        event: event,
                        actor: actor,
                        input: input,
                        idempotencyKey: idempotencyKey,
                        request: request(instanceID),
                        expectedStateSequence: nil,
                        attachment: attachment
                    )!
                    return try await answer(connection, result)
                }
            },
            replay: { connection, key in
                let request = request(try await locate(connection))
                guard let earlier = try await storedResult(connection, tenantID: tenantID, key: key, request: request)
                else { return nil }
                return try await answer(connection, earlier)
            }
        )
    }

    /// The step inside a caller's transaction (the job runner's, for timers).
    /// `expectedStateSequence` turns it into a no-op (nil) when the instance has left the state
    /// the timer belonged to.
    func fire(
        on connection: PostgresConnection,
        tenantID: UUID,
        instanceID: UUID,
        event eventName: String,
        actor: StepActor,
        input: [String: InputValue],
        idempotencyKey: String?,
        request: [UInt8],
        expectedStateSequence: Int64?,
        attachment: [UInt8]? = nil
    ) async throws -> StepResult? {
        guard
            let locked = try await connection.first(
                PreparedInstanceLock(tenantID: tenantID, instanceID: instanceID, idempotencyKey: idempotencyKey),
                logger: logger
            )
        else { throw AdalError.notFound(what: "instance") }
        switch try await begin(
            locked,
            on: connection,
            tenantID: tenantID,
            instanceID: instanceID,
            event: eventName,
            actor: actor,
            input: input,
            request: request,
            expectedStateSequence: expectedStateSequence,
            attachment: attachment
        ) {
        case .replayed(let earlier): return earlier
        case .stale: return nil
        case .checked(let context):
            let step = try await prepared(context)
            try await write(step, on: connection, start: false, key: idempotencyKey, request: request)
            return step.result
        }
    }

    /// What a request makes of its locked instance, before anything is written.
    enum Begun {
        /// The key was used before for the same request: its stored result.
        case replayed(StepResult)
        /// The instance has left the state a timer was set in.
        case stale
        /// The step checked; its actions are the caller's to run (a batch runs them together).
        case checked(StepContext)
    }

    /// Checks a request against its locked instance: the stored step when the key was used
    /// before (a conflict when for another request), or the step's context once the event's
    /// checks and guards have passed.
    func begin(
        _ locked: LockedInstance,
        on connection: PostgresConnection,
        tenantID: UUID,
        instanceID: UUID,
        event eventName: String,
        actor: StepActor,
        input: [String: InputValue],
        request: [UInt8],
        expectedStateSequence: Int64? = nil,
        attachment: [UInt8]? = nil,
        now: Date? = nil
    ) async throws -> Begun {
        if let stored = locked.stored {
            guard stored.requestSHA256 == request else {
                throw Self.keyReused
            }
            return .replayed(stored.result)
        }
        if let expected = expectedStateSequence, expected != locked.stateSequence { return .stale }
        let (service, version) = (locked.service, locked.definitionVersion)
        guard let definition = registry.definition(service, version: version) else {
            throw AdalError.unavailable(reason: "definition \(service)@\(version) is not loaded")
        }
        guard definition.sha256 == locked.definitionSHA256 else {
            throw AdalError.unavailable(reason: "definition \(definition.reference) changed since the instance started")
        }
        guard let event = definition.event(eventName, from: locked.state) else {
            if definition.events.contains(where: { $0.name == eventName }) {
                throw AdalError.conflict(reason: "event '\(eventName)' is not allowed in state '\(locked.state)'")
            }
            throw AdalError.invalidField(field: "event", reason: "\(definition.key) has no event '\(eventName)'")
        }
        guard case .object(let stored) = try InputValue(json: locked.parametersJSON.utf8) else {
            throw AdalError.unavailable(reason: "instance \(instanceID)'s parameters are not a JSON object")
        }
        let parameters = try ParameterSet(definition: definition, settings: stored)
        let context = try await check(
            connection,
            tenantID: tenantID,
            instanceID: instanceID,
            definition: definition,
            event: event,
            fromState: locked.state,
            actor: actor,
            input: input,
            parameters: parameters,
            sequence: locked.lastSequence + 1,
            attachment: attachment,
            now: now
        )
        return .checked(context)
    }

    // MARK: The step

    /// Everything one step writes, decided before anything is written.
    struct PreparedStep {
        let tenantID: UUID
        let instanceID: UUID
        let definition: WorkflowDefinition
        let event: EventDefinition
        let fromState: String?
        let toState: StateDefinition
        let actor: StepActor
        let actingRole: Actor
        let input: CheckedInput
        let parameters: ParameterSet
        let effects: StepEffects
        let sequence: Int64
        let at: Date
        let leaf: AuditEntry

        var result: StepResult {
            StepResult(
                instanceID: instanceID,
                sequence: sequence,
                event: event.name,
                fromState: fromState,
                toState: toState.name,
                at: at,
                replayed: false
            )
        }
    }

    /// The step of a checked context, with its actions run: ready to be written.
    func prepared(_ context: StepContext) async throws -> PreparedStep {
        try await finish(context, effects: try await runActions(context))
    }

    /// The step's context once the actor's role, the input and the guards have passed; its time
    /// is `now`, or the clock's.
    func check(
        _ connection: PostgresConnection,
        tenantID: UUID,
        instanceID: UUID,
        definition: WorkflowDefinition,
        event: EventDefinition,
        fromState: String?,
        actor: StepActor,
        input: [String: InputValue],
        parameters: ParameterSet,
        sequence: Int64,
        attachment: [UInt8]? = nil,
        now: Date? = nil
    ) async throws -> StepContext {
        guard let actingRole = actor.acting(in: event) else {
            let allowed = event.actors.map(\.description).joined(separator: ", ")
            throw AdalError.forbidden(reason: "'\(event.name)' may be taken by: \(allowed)")
        }
        let checked = try InputChecker.check(input, against: event.input)
        let context = StepContext(
            tenantID: tenantID,
            instanceID: instanceID,
            definition: definition,
            event: event,
            fromState: fromState,
            actor: actor,
            actingRole: actingRole,
            input: checked,
            parameters: parameters,
            now: now ?? clock(),
            sequence: sequence,
            attachment: attachment,
            registry: registry,
            connection: connection,
            logger: logger
        )
        let implementation = registry.implementation(definition.key)
        for name in event.guards {
            guard let check = implementation.guards[name] else {
                throw AdalError.unavailable(reason: "guard '\(name)' of \(definition.key) is not implemented")
            }
            if case .refuse(let reason) = try await check(context) { throw WorkflowError.refused(reason: reason) }
        }
        return context
    }

    /// The event's actions for one step, in the definition's order.
    func runActions(_ context: StepContext) async throws -> StepEffects {
        let implementation = registry.implementation(context.definition.key)
        var effects = StepEffects.none
        for name in context.event.actions {
            guard let action = implementation.actions[name] else {
                throw AdalError.unavailable(reason: "action '\(name)' of \(context.definition.key) is not implemented")
            }
            effects.merge(try await action(context))
        }
        return effects
    }

    /// The step as it will be written, once its actions have run: its target state and its
    /// audit leaf.
    func finish(_ context: StepContext, effects: StepEffects) async throws -> PreparedStep {
        let (definition, event, fromState, checked) = (
            context.definition, context.event, context.fromState, context.input
        )
        let targetName = fromState.map { event.target(from: $0) } ?? event.to
        guard let target = definition.state(targetName) else {
            throw AdalError.unavailable(reason: "state '\(targetName)' is missing from \(definition.reference)")
        }
        let key = try await subjectKeys.key(for: context.tenantID, on: context.connection, logger: logger)
        var subjects: [[UInt8]] = []
        for identifier in checked.identifiers + effects.identifiers {
            let hash = Array(HMAC<SHA256>.authenticationCode(for: Array(identifier.utf8), using: key))
            if !subjects.contains(hash) { subjects.append(hash) }
        }
        let amounts = checked.amounts + effects.amounts
        guard amounts.count <= AuditEntry.maximumAmounts, subjects.count <= AuditEntry.maximumSubjects else {
            throw AdalError.invalidField(field: "input", reason: "a step records at most 16 amounts and 16 identifiers")
        }
        let leaf = AuditEntry(
            tenantID: context.tenantID,
            service: definition.key,
            instanceID: context.instanceID,
            sequence: UInt64(context.sequence),
            event: event.name,
            actorRole: context.actingRole.description,
            time: context.now,
            amounts: amounts,
            inputHash: Array(SHA256.hash(data: Array(checked.json.utf8))),
            subjects: subjects,
            // The sequencer links the instance's previous leaf when it integrates this one.
            previousLeafIndex: AuditEntry.noPreviousLeaf
        )
        return PreparedStep(
            tenantID: context.tenantID,
            instanceID: context.instanceID,
            definition: definition,
            event: event,
            fromState: fromState,
            toState: target,
            actor: context.actor,
            actingRole: context.actingRole,
            input: checked,
            parameters: context.parameters,
            effects: effects,
            sequence: context.sequence,
            at: context.now,
            leaf: leaf
        )
    }

    /// Writes the step in one statement: the step row, the instance, the jobs of the new state
    /// (the old state's pending timers cancelled), outbox messages and the audit leaf.
    func write(
        _ step: PreparedStep,
        on connection: PostgresConnection,
        start: Bool,
        key: String?,
        request: [UInt8],
        cancelAllTimers: Bool = false
    ) async throws {
        try await write(
            [stepWrite(step, start: start, key: key, request: request, cancelAllTimers: cancelAllTimers)],
            on: connection
        )
    }

    /// Writes steps of one city, on different instances, in one statement (``StepWrite/query(_:)``).
    func write(_ steps: [StepWrite], on connection: PostgresConnection) async throws {
        guard !steps.isEmpty else { return }
        // Read to the end: a failure of a statement that returns rows arrives with its rows.
        for try await _ in try await connection.execute(
            PreparedStepWrite(query: try StepWrite.query(steps)),
            logger: logger
        ) {}
    }

    /// What the statement writes for `step`.
    func stepWrite(
        _ step: PreparedStep,
        start: Bool,
        key: String?,
        request: [UInt8],
        cancelAllTimers: Bool = false
    ) throws -> StepWrite {
        let jobs = StateJobs(step: step)
        let target = step.toState
        let stays = step.event.stays
        return StepWrite(
            start: start,
            tenantID: step.tenantID,
            instanceID: step.instanceID,
            service: step.definition.key,
            definitionVersion: step.definition.version,
            definitionSHA256: step.definition.sha256,
            // Only a new instance's row stores them; a moved instance keeps its own.
            parametersJSON: start ? step.parameters.json.canonicalJSON : "{}",
            sequence: step.sequence,
            event: step.event.name,
            fromState: step.fromState,
            toState: target.name,
            actorID: step.actor.id,
            actorRole: step.actingRole.description,
            inputJSON: step.input.json,
            inputSHA256: step.leaf.inputHash,
            idempotencyKey: key,
            requestSHA256: key == nil ? nil : request,
            at: step.at,
            subject: step.effects.subject,
            taskRole: target.task?.role.rawValue,
            taskDueAt: target.task.map { step.parameters.resolve($0.due).added(to: step.at) },
            closes: target.isTerminal,
            stays: stays,
            cancelsTimers: cancelAllTimers
                || (!stays
                    && (step.fromState.flatMap { step.definition.state($0) }.map {
                        !$0.timers.isEmpty || $0.task != nil
                    }
                        ?? false)),
            jobs: jobs,
            auditEntry: try step.leaf.encoded()
        )
    }

    // MARK: Helpers

    /// The city's pinned definition of `service` and its parameters; the latest loaded version
    /// when the city has not pinned one.
    private func pinnedDefinition(
        _ connection: PostgresConnection,
        tenantID: UUID,
        service: String
    ) async throws -> (WorkflowDefinition, ParameterSet) {
        let rows = try await connection.query(
            """
            SELECT definition_version, parameters::text FROM tenant_services
            WHERE tenant_id = \(tenantID) AND service_key = \(service)
            """,
            logger: logger
        )
        for try await (version, settingsJSON) in rows.decode((Int32?, String).self) {
            let definition: WorkflowDefinition
            do {
                definition = try registry.resolve(service, pinned: version.map(Int.init))
            } catch {
                guard case .invalidField(_, let reason) = error else { throw error }
                // The city pinned a version this server does not have: an operator's problem.
                throw AdalError.unavailable(reason: reason)
            }
            let settings = try JSONDecoder().decode([String: InputValue].self, from: Data(settingsJSON.utf8))
            return (definition, try ParameterSet(definition: definition, settings: settings))
        }
        throw AdalError.notFound(what: "service \(service) in this city")
    }

    /// The stored result of the step that used `key`, if any; a different request is refused.
    private func storedResult(
        _ connection: PostgresConnection,
        tenantID: UUID,
        key: String,
        request: [UInt8]
    ) async throws -> StepResult? {
        let rows = try await connection.query(
            """
            SELECT instance_id, sequence, event, from_state, to_state, at, request_sha256 FROM workflow_steps
            WHERE tenant_id = \(tenantID) AND idempotency_key = \(key)
            """,
            logger: logger
        )
        for try await (instance, sequence, event, from, to, at, stored) in rows.decode(
            (UUID, Int64, String, String?, String, Date, Data?).self
        ) {
            guard let stored, Array(stored) == request else {
                throw Self.keyReused
            }
            return StepResult(
                instanceID: instance,
                sequence: sequence,
                event: event,
                fromState: from,
                toState: to,
                at: at,
                replayed: true
            )
        }
        return nil
    }

    /// Two requests with one new key can race past the lookup; the unique index stops the
    /// second, which then answers with what `replay` makes of the first one's step (or with a
    /// conflict) in a transaction of its own.
    private func withIdempotencyRace<Answer: Sendable>(
        tenantID: UUID,
        key: String?,
        _ body: () async throws -> Answer,
        replay: @escaping @Sendable (PostgresConnection, String) async throws -> Answer?
    ) async throws -> Answer {
        do {
            return try await body()
        } catch let error as PSQLError where error.sqlState == SQLState.uniqueViolation {
            guard let key else { throw error }
            let earlier = try await database.withTenant(tenantID) { connection in try await replay(connection, key) }
            guard let earlier else { throw error }
            return earlier
        }
    }

    static let maximumKeyLength = 200

    /// The answer to a key sent again with another request.
    static let keyReused = AdalError.conflict(reason: "idempotency key already used with a different request")

    static func checkKey(_ key: String?) throws(AdalError) {
        guard let key else { return }
        guard (1...maximumKeyLength).contains(key.utf8.count), !key.contains(where: \.isNewline) else {
            throw .invalidField(field: "idempotency_key", reason: "1 to \(maximumKeyLength) bytes on one line")
        }
    }

    /// What identifies a request for idempotency: where it goes, which event, which input.
    static func requestHash(instanceID: UUID?, service: String?, event: String, input: [String: InputValue]) -> [UInt8]
    {
        let document = InputValue.object([
            "instance": instanceID.map { .string($0.lowercasedText) } ?? .null,
            "service": service.map(InputValue.string) ?? .null,
            "event": .string(event),
            "input": .object(input),
        ])
        return Array(SHA256.hash(data: Array(document.canonicalJSON.utf8)))
    }
}

/// Refusals that belong to the workflow itself.
public enum WorkflowError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A guard said no; the reason is for the person who tried.
    case refused(reason: String)

    public var description: String {
        switch self {
        case .refused(let reason): "refused: \(reason)"
        }
    }
}

extension ParameterSet {
    /// A fixed duration, or the value of the duration parameter it names (the validator has
    /// checked that the parameter exists and is a duration).
    func resolve(_ source: DurationSource) -> WorkflowDuration {
        switch source {
        case .fixed(let duration): duration
        case .parameter(let name): duration(name) ?? .calendar(seconds: 86_400)
        }
    }
}
