import Core
import Foundation
import Logging
import PostgresNIO

/// The Swift half of a service: the guards and actions its definition names. Guards decide
/// whether a step may happen; actions do the service's own work. Both run inside the step's
/// transaction, so an action's writes commit or roll back with the step.
public struct ServiceImplementation: Sendable {
    public typealias Guard = @Sendable (StepContext) async throws -> GuardVerdict
    public typealias Action = @Sendable (StepContext) async throws -> StepEffects
    /// An action for many steps of one event at once (a batch of steps,
    /// ``WorkflowEngine/fire(tenantID:batch:missing:repeats:locate:answer:)``): each step's effects, in
    /// the steps' order. It must do for each step what the action of the same name does alone.
    public typealias BatchAction = @Sendable ([StepContext]) async throws -> [StepEffects]

    public let key: String
    public let guards: [String: Guard]
    public let actions: [String: Action]
    /// Actions that also run for a whole batch of steps in one go.
    public let batchActions: [String: BatchAction]

    public init(
        key: String,
        guards: [String: Guard] = [:],
        actions: [String: Action] = [:],
        batchActions: [String: BatchAction] = [:]
    ) {
        self.key = key
        self.guards = guards
        self.actions = actions
        self.batchActions = batchActions
    }

    /// The names a definition may use.
    public var hooks: ServiceHooks {
        ServiceHooks(guards: Set(guards.keys), actions: Set(actions.keys))
    }
}

/// A guard's answer: the step may go on, or is refused with a reason shown to the person.
public enum GuardVerdict: Sendable, Equatable {
    case pass
    case refuse(String)
}

/// Who takes a step: a signed-in principal with their roles in the city, or the engine itself.
public struct StepActor: Sendable, Equatable {
    /// The user or API token; nil for the system.
    public let id: UUID?
    public let roles: Set<Role>
    public let isSystem: Bool

    public init(id: UUID, roles: Set<Role>) {
        self.id = id
        self.roles = roles
        self.isSystem = false
    }

    private init() {
        id = nil
        roles = []
        isSystem = true
    }

    /// Timers and escalations act as the system.
    public static let system = StepActor()

    /// The role this actor fires `event` as: `system`, or the first of the event's roles it holds.
    func acting(in event: EventDefinition) -> Actor? {
        if isSystem { return event.actors.contains(.system) ? .system : nil }
        return event.actors.first { actor in
            if case .role(let role) = actor { return roles.contains(role) }
            return false
        }
    }
}

/// What a guard or an action sees of the step being taken.
public struct StepContext: Sendable {
    public let tenantID: UUID
    public let instanceID: UUID
    public let definition: WorkflowDefinition
    public let event: EventDefinition
    /// nil for the step that starts the instance.
    public let fromState: String?
    public let actor: StepActor
    public let actingRole: Actor
    public let input: CheckedInput
    public let parameters: ParameterSet
    public let now: Date
    /// The step's number in the instance (1 for the start).
    public let sequence: Int64
    /// Bytes the caller hands to the actions beside the input, never stored or shown by the
    /// engine (a bid before its opening): the actions store what they must, sealed, and the input
    /// commits to the bytes by a hash, so the recorded step still proves what was handed over.
    public let attachment: [UInt8]?
    /// Every loaded definition, for actions that concern another service.
    public let registry: WorkflowRegistry
    /// The step's own transaction, with the tenant set.
    public let connection: PostgresConnection
    public let logger: Logger
}

/// What an action adds to its step.
public struct StepEffects: Sendable {
    /// Amounts in tiyn the audit leaf records beside the input's money fields.
    public var amounts: [(label: String, tiyn: Int64)]
    /// Identifiers (IIN, BIN) of people and organisations the step concerns; recorded only as
    /// keyed hashes.
    public var identifiers: [String]
    /// Messages delivered after the step commits, at least once, by the job runner.
    public var outbox: [OutboxMessage]
    /// A new label for the instance in lists and search.
    public var subject: String?
    /// What the actions read or wrote that the caller answers with (a transfer as booked), handed
    /// to a batch's `answer` (``WorkflowEngine/fire(tenantID:take:missing:repeats:locate:answer:)``)
    /// so it need not read it again; never stored.
    public var reply: (any Sendable)?

    public init(
        amounts: [(label: String, tiyn: Int64)] = [],
        identifiers: [String] = [],
        outbox: [OutboxMessage] = [],
        subject: String? = nil,
        reply: (any Sendable)? = nil
    ) {
        self.amounts = amounts
        self.identifiers = identifiers
        self.outbox = outbox
        self.subject = subject
        self.reply = reply
    }

    public static let none = StepEffects()

    mutating func merge(_ other: StepEffects) {
        amounts += other.amounts
        identifiers += other.identifiers
        outbox += other.outbox
        subject = other.subject ?? subject
        reply = other.reply ?? reply
    }
}

/// A message for a handler outside the step's transaction (a notification, a call to another
/// system), delivered by the job runner with retries.
public struct OutboxMessage: Sendable, Equatable {
    public let topic: String
    public let payload: InputValue
    /// The job that delivers it, the same on every attempt (nil before it is queued): a handler
    /// makes its effects idempotent by it — a gateway's message reference, a row's key.
    public let jobID: Int64?

    public init(topic: String, payload: InputValue, jobID: Int64? = nil) {
        self.topic = topic
        self.payload = payload
        self.jobID = jobID
    }
}

/// What a step did: returned to the caller, and again, unchanged, to a retry with the same key.
public struct StepResult: Sendable, Equatable, Codable {
    public let instanceID: UUID
    public let sequence: Int64
    public let event: String
    public let fromState: String?
    public let toState: String
    public let at: Date
    /// True when this is the stored result of an earlier request with the same key.
    public let replayed: Bool

    public init(
        instanceID: UUID,
        sequence: Int64,
        event: String,
        fromState: String?,
        toState: String,
        at: Date,
        replayed: Bool
    ) {
        self.instanceID = instanceID
        self.sequence = sequence
        self.event = event
        self.fromState = fromState
        self.toState = toState
        self.at = at
        self.replayed = replayed
    }

    /// This result as a later request with the same key gets it.
    var replay: StepResult {
        StepResult(
            instanceID: instanceID,
            sequence: sequence,
            event: event,
            fromState: fromState,
            toState: toState,
            at: at,
            replayed: true
        )
    }
}
