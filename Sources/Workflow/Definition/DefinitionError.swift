/// A place in a definition file: 1-based line and column.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    public var description: String { "\(file):\(line):\(column)" }
}

/// What is wrong with a definition file: one or more problems, each with its place.
public struct DefinitionError: Error, Sendable, CustomStringConvertible {
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        public let location: SourceLocation
        public let kind: Kind
        public let message: String

        public init(_ kind: Kind, _ message: String, at location: SourceLocation) {
            self.kind = kind
            self.message = message
            self.location = location
        }

        public var description: String { "\(location): \(message)" }
    }

    /// The kinds of problem, so tests and tools can tell them apart without reading prose.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case syntax
        case tooLarge
        case unknownKey
        case missingKey
        case wrongType
        case badName
        case badDuration
        case unknownState
        case unknownRole
        case unknownGuard
        case unknownAction
        case unknownEvent
        case unknownParameter
        case initialState
        case unreachableState
        case noWayOut
        case terminalWithEvents
        case duplicateEvent
        case parameterOutOfBounds
        case badBounds
        case timerEvent
        case keyMismatch
    }

    public let problems: [Problem]

    public init(_ problems: [Problem]) {
        self.problems = problems
    }

    public init(_ kind: Kind, _ message: String, at location: SourceLocation) {
        self.problems = [Problem(kind, message, at: location)]
    }

    public var description: String {
        problems.map(\.description).joined(separator: "\n")
    }
}
