import Core

/// A service's workflow as loaded from `workflows/<service>.yaml`: states, events, roles,
/// parameters and timers. Immutable once loaded; identified by key, version and the SHA-256 of
/// the file's bytes (see docs/workflows.md).
public struct WorkflowDefinition: Sendable {
    public let key: String
    public let version: Int
    /// Lower-case hex SHA-256 of the source file.
    public let sha256: String
    public let title: LocalizedText
    public let roles: [Role]
    public let parameters: [ParameterDefinition]
    public let states: [StateDefinition]
    /// Creates an instance in the initial state: who may, with what input.
    public let start: EventDefinition
    public let events: [EventDefinition]

    public init(
        key: String,
        version: Int,
        sha256: String,
        title: LocalizedText,
        roles: [Role],
        parameters: [ParameterDefinition],
        states: [StateDefinition],
        start: EventDefinition,
        events: [EventDefinition]
    ) {
        self.key = key
        self.version = version
        self.sha256 = sha256
        self.title = title
        self.roles = roles
        self.parameters = parameters
        self.states = states
        self.start = start
        self.events = events
    }

    /// The one state an instance starts in.
    public var initialState: StateDefinition {
        // The validator guarantees exactly one.
        states.first { $0.isInitial }!
    }

    public func state(_ name: String) -> StateDefinition? {
        states.first { $0.name == name }
    }

    public func parameter(_ name: String) -> ParameterDefinition? {
        parameters.first { $0.name == name }
    }

    /// The event called `name` that may fire from `state`, if any.
    public func event(_ name: String, from state: String) -> EventDefinition? {
        events.first { $0.name == name && $0.from.contains(state) }
    }

    /// Events that may fire from `state`, in file order.
    public func events(from state: String) -> [EventDefinition] {
        events.filter { $0.from.contains(state) }
    }

    /// "key@version", how logs and pages name a definition.
    public var reference: String { "\(key)@\(version)" }
}

/// One state of a workflow.
public struct StateDefinition: Sendable {
    public enum Kind: String, Sendable {
        case initial
        case normal
        case terminal
    }

    public let name: String
    public let title: LocalizedText
    public let kind: Kind
    /// Set when the state waits on a person: the role that must act and by when.
    public let task: HumanTask?
    /// Timers started on entering the state and cancelled on leaving it.
    public let timers: [TimerDefinition]
    public let location: SourceLocation

    public init(
        name: String,
        title: LocalizedText,
        kind: Kind,
        task: HumanTask?,
        timers: [TimerDefinition],
        location: SourceLocation
    ) {
        self.name = name
        self.title = title
        self.kind = kind
        self.task = task
        self.timers = timers
        self.location = location
    }

    public var isInitial: Bool { kind == .initial }
    public var isTerminal: Bool { kind == .terminal }
}

/// A state waiting on a role: shown in the inbox of everyone holding it, due after `due`.
public struct HumanTask: Sendable {
    public let role: Role
    public let due: DurationSource
    /// Fired as the system actor when the task is overdue; without it, overdue tasks are marked
    /// and reported to administrators only.
    public let escalateEvent: String?

    public init(role: Role, due: DurationSource, escalateEvent: String?) {
        self.role = role
        self.due = due
        self.escalateEvent = escalateEvent
    }
}

/// A timer started on entering a state: after `after`, `event` fires as the system actor.
public struct TimerDefinition: Sendable {
    public let after: DurationSource
    public let event: String
    public let location: SourceLocation

    public init(after: DurationSource, event: String, location: SourceLocation) {
        self.after = after
        self.event = event
        self.location = location
    }
}

/// A duration written in the file or taken from a per-city parameter.
public enum DurationSource: Sendable, Equatable {
    case fixed(WorkflowDuration)
    case parameter(String)
}

/// A transition: from one or several states to one, fired by a role with typed input.
public struct EventDefinition: Sendable {
    /// The name of every instance's first step.
    public static let startName = "start"
    /// The name of the step that moves an instance to another version.
    public static let migrateName = "migrate"

    public let name: String
    public let title: LocalizedText
    public let from: [String]
    /// The state the event moves to; empty when it ``stays``.
    public let to: String
    /// An event that records a step without moving the instance (a commission member's marks, a
    /// delivery report): the state is not left, so its timers keep running and its task keeps
    /// its due date.
    public let stays: Bool
    /// Roles allowed to fire it; `system` fires timers and escalations.
    public let actors: [Actor]
    public let input: [FieldDefinition]
    public let guards: [String]
    public let actions: [String]
    public let location: SourceLocation

    public init(
        name: String,
        title: LocalizedText,
        from: [String],
        to: String,
        actors: [Actor],
        input: [FieldDefinition],
        guards: [String],
        actions: [String],
        location: SourceLocation,
        stays: Bool = false
    ) {
        self.name = name
        self.title = title
        self.from = from
        self.to = to
        self.stays = stays
        self.actors = actors
        self.input = input
        self.guards = guards
        self.actions = actions
        self.location = location
    }
}

extension EventDefinition {
    /// The state the event leads to when taken in `state`.
    public func target(from state: String) -> String {
        stays ? state : to
    }
}

/// Who fires an event: a person or token holding a role, or the engine itself.
public enum Actor: Hashable, Sendable, CustomStringConvertible {
    case role(Role)
    case system

    public static let systemName = "system"

    public init?(name: String) {
        if name == Self.systemName {
            self = .system
        } else if let role = Role(rawValue: name) {
            self = .role(role)
        } else {
            return nil
        }
    }

    public var description: String {
        switch self {
        case .role(let role): role.rawValue
        case .system: Self.systemName
        }
    }
}

/// A typed field of an event's input.
public struct FieldDefinition: Sendable {
    public let name: String
    public let type: FieldType
    public let required: Bool
    public let location: SourceLocation

    public init(name: String, type: FieldType, required: Bool, location: SourceLocation) {
        self.name = name
        self.type = type
        self.required = required
        self.location = location
    }
}

/// The types an input field may have.
public enum FieldType: Sendable, Equatable {
    /// Text up to `maximumLength` characters.
    case string(maximumLength: Int)
    case int(minimum: Int64, maximum: Int64)
    /// An amount in tiyn (1 tenge = 100 tiyn).
    case money(minimum: Int64, maximum: Int64)
    /// A calendar date, `YYYY-MM-DD`.
    case date
    case iin
    case bin
    case enumeration([String])
    /// The id (UUID) of another instance, of `service` when given.
    case reference(service: String?)
    /// A file described by name, media type, size and SHA-256, limited in type and size.
    case file(mediaTypes: [String], maximumBytes: Int)

    public var name: String {
        switch self {
        case .string: "string"
        case .int: "int"
        case .money: "money"
        case .date: "date"
        case .iin: "iin"
        case .bin: "bin"
        case .enumeration: "enum"
        case .reference: "reference"
        case .file: "file"
        }
    }
}

/// A per-city setting of a service, with a default and bounds the akimat cannot exceed.
public struct ParameterDefinition: Sendable {
    public let name: String
    public let title: LocalizedText
    public let type: ParameterType
    public let defaultValue: ParameterValue
    public let location: SourceLocation

    public init(
        name: String,
        title: LocalizedText,
        type: ParameterType,
        defaultValue: ParameterValue,
        location: SourceLocation
    ) {
        self.name = name
        self.title = title
        self.type = type
        self.defaultValue = defaultValue
        self.location = location
    }
}

/// The types a per-city parameter may have, with their bounds.
public enum ParameterType: Sendable, Equatable {
    case int(minimum: Int64, maximum: Int64)
    case money(minimum: Int64, maximum: Int64)
    /// Percent with two decimals, in hundredths (250 = 2.50 %).
    case basisPoints(minimum: Int64, maximum: Int64)
    case duration(minimum: WorkflowDuration, maximum: WorkflowDuration)
    case bool
    case enumeration([String])

    public var name: String {
        switch self {
        case .int: "int"
        case .money: "money"
        case .basisPoints: "percent"
        case .duration: "duration"
        case .bool: "bool"
        case .enumeration: "enum"
        }
    }
}

/// A parameter's value: a default in the file, or a city's setting.
public enum ParameterValue: Sendable, Equatable, CustomStringConvertible {
    case int(Int64)
    case duration(WorkflowDuration)
    case bool(Bool)
    case text(String)

    public var description: String {
        switch self {
        case .int(let value): String(value)
        case .duration(let value): value.description
        case .bool(let value): String(value)
        case .text(let value): value
        }
    }
}
