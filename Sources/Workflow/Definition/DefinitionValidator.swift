/// The names of the guards and actions a service implements in Swift; a definition may only
/// name these.
public struct ServiceHooks: Sendable {
    public let guards: Set<String>
    public let actions: Set<String>

    public init(guards: Set<String>, actions: Set<String>) {
        self.guards = guards
        self.actions = actions
    }

    /// A service with no Swift code of its own.
    public static let none = ServiceHooks(guards: [], actions: [])
}

/// Checks what the loader cannot see one value at a time: that states, events, parameters,
/// guards and actions named anywhere exist, that every state can be reached and left, and that
/// timers fire events the system may fire. Reports every problem, not only the first.
public enum DefinitionValidator {
    /// `expectedKey` is the file's name without `.yaml` for a current definition, whose key must
    /// match it; nil for archived versions.
    public static func validate(
        _ definition: WorkflowDefinition,
        hooks: ServiceHooks,
        file: String,
        expectedKey: String?
    ) throws(DefinitionError) {
        var problems: [DefinitionError.Problem] = []
        func report(_ kind: DefinitionError.Kind, _ message: String, _ location: SourceLocation) {
            problems.append(.init(kind, message, at: location))
        }
        let top = SourceLocation(file: file, line: 1, column: 1)
        let stateNames = Set(definition.states.map(\.name))
        if let expected = expectedKey, expected != definition.key {
            report(.keyMismatch, "key '\(definition.key)' must match the file name '\(expected).yaml'", top)
        }

        let initial = definition.states.filter(\.isInitial)
        if initial.isEmpty { report(.initialState, "no state is marked initial: true", top) }
        for extra in initial.dropFirst() {
            report(.initialState, "a second initial state '\(extra.name)'; exactly one is allowed", extra.location)
        }

        for event in [definition.start] + definition.events {
            for state in event.from + [event.to] where !stateNames.contains(state) && !state.isEmpty {
                report(.unknownState, "event '\(event.name)' names unknown state '\(state)'", event.location)
            }
            for name in event.guards where !hooks.guards.contains(name) {
                report(
                    .unknownGuard,
                    "event '\(event.name)' names guard '\(name)', which the service does not implement",
                    event.location
                )
            }
            for name in event.actions where !hooks.actions.contains(name) {
                report(
                    .unknownAction,
                    "event '\(event.name)' names action '\(name)', which the service does not implement",
                    event.location
                )
            }
            if event.actors.isEmpty { report(.unknownRole, "event '\(event.name)' lists no roles", event.location) }
        }

        let reserved = [EventDefinition.startName, EventDefinition.migrateName]
        for clash in definition.events where reserved.contains(clash.name) {
            report(
                .duplicateEvent,
                "'\(clash.name)' is the engine's own step; choose another event name",
                clash.location
            )
        }
        // One event name leaves a state at most once, or firing it would be ambiguous.
        var seen: Set<String> = []
        for event in definition.events {
            for state in event.from where !seen.insert("\(state)\u{0}\(event.name)").inserted {
                report(.duplicateEvent, "event '\(event.name)' leaves state '\(state)' twice", event.location)
            }
        }

        for state in definition.states {
            let leaving = definition.events(from: state.name)
            if state.isTerminal, !leaving.isEmpty {
                report(.terminalWithEvents, "terminal state '\(state.name)' has events leaving it", state.location)
            }
            if !state.isTerminal, leaving.allSatisfy(\.stays) {
                report(.noWayOut, "state '\(state.name)' has no event leaving it and is not terminal", state.location)
            }
            var systemEvents: [(String, SourceLocation, DurationSource)] = state.timers.map {
                ($0.event, $0.location, $0.after)
            }
            if let task = state.task {
                systemEvents.append(("", state.location, task.due))
                if let escalate = task.escalateEvent { systemEvents.append((escalate, state.location, task.due)) }
            }
            for (eventName, location, duration) in systemEvents {
                if case .parameter(let name) = duration {
                    switch definition.parameter(name)?.type {
                    case .duration: break
                    case nil: report(.unknownParameter, "unknown parameter '\(name)'", location)
                    default: report(.unknownParameter, "parameter '\(name)' is not a duration", location)
                    }
                }
                guard !eventName.isEmpty else { continue }
                guard let event = definition.event(eventName, from: state.name) else {
                    report(
                        .unknownEvent,
                        "state '\(state.name)' fires event '\(eventName)', which does not leave it",
                        location
                    )
                    continue
                }
                if !event.actors.contains(.system) {
                    report(
                        .timerEvent,
                        "event '\(eventName)' is fired by the system here but does not list role 'system'",
                        location
                    )
                }
                if event.input.contains(where: \.required) {
                    report(.timerEvent, "event '\(eventName)' is fired by the system here but needs input", location)
                }
            }
        }

        if let start = initial.first {
            var reached: Set<String> = [start.name]
            var frontier = [start.name]
            while let state = frontier.popLast() {
                for event in definition.events(from: state) where !event.stays && reached.insert(event.to).inserted {
                    frontier.append(event.to)
                }
            }
            for state in definition.states where !reached.contains(state.name) {
                report(
                    .unreachableState,
                    "state '\(state.name)' cannot be reached from '\(start.name)'",
                    state.location
                )
            }
        }

        if !problems.isEmpty {
            throw DefinitionError(
                problems.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
            )
        }
    }
}
