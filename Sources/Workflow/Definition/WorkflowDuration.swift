import Foundation

/// A span of time in a workflow: calendar time written as an ISO-8601 duration (`P15D`,
/// `PT36H`, `P2W`), or working days (`10 working days`), counted on ``WorkingCalendar``.
///
/// Months and years are refused: they vary in length, and a deadline in a public procedure must
/// mean the same number of days to everyone.
public enum WorkflowDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    case calendar(seconds: Int64)
    case workingDays(Int)

    /// The longest duration a definition or a city may set: ten years.
    public static let maximumSeconds: Int64 = 3_650 * 86_400
    public static let maximumWorkingDays = 2_500

    /// Parses `P…` ISO-8601 durations (weeks, days, hours, minutes, seconds) and
    /// `N working day(s)`; the error says what is wrong with the text.
    public init(parsing text: String) throws(DurationError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let days = Self.workingDays(trimmed) {
            guard (1...Self.maximumWorkingDays).contains(days) else {
                throw DurationError(text: text, reason: "working days must be 1 to \(Self.maximumWorkingDays)")
            }
            self = .workingDays(days)
            return
        }
        self = .calendar(seconds: try Self.isoSeconds(trimmed, original: text))
    }

    public var description: String {
        switch self {
        case .workingDays(let days): days == 1 ? "1 working day" : "\(days) working days"
        case .calendar(let seconds): Self.isoText(seconds)
        }
    }

    /// The moment this long after `start`.
    public func added(to start: Date, calendar: WorkingCalendar = .kazakhstan) -> Date {
        switch self {
        case .calendar(let seconds): start.addingTimeInterval(TimeInterval(seconds))
        case .workingDays(let days): calendar.adding(workingDays: days, to: start)
        }
    }

    /// Orders durations of one kind; a calendar duration sorts before any working-day one so
    /// that bounds of mixed kinds are refused by the validator rather than compared.
    public static func < (lhs: WorkflowDuration, rhs: WorkflowDuration) -> Bool {
        switch (lhs, rhs) {
        case (.calendar(let a), .calendar(let b)): a < b
        case (.workingDays(let a), .workingDays(let b)): a < b
        case (.calendar, .workingDays): true
        case (.workingDays, .calendar): false
        }
    }

    /// True when both are calendar time or both are working days.
    public func isSameKind(as other: WorkflowDuration) -> Bool {
        switch (self, other) {
        case (.calendar, .calendar), (.workingDays, .workingDays): true
        default: false
        }
    }

    private static func workingDays(_ text: String) -> Int? {
        let words = text.split(separator: " ", omittingEmptySubsequences: true)
        guard words.count == 3, words[1] == "working", words[2] == "days" || words[2] == "day" else { return nil }
        return Int(words[0])
    }

    private static func isoSeconds(_ text: String, original: String) throws(DurationError) -> Int64 {
        var characters = Substring(text)
        guard characters.first == "P", characters.count > 1 else {
            throw DurationError(
                text: original,
                reason: "expected an ISO-8601 duration such as P15D or PT12H, or 'N working days'"
            )
        }
        characters = characters.dropFirst()
        var total: Int64 = 0
        var inTime = false
        var number = ""
        var seenUnit = false
        for character in characters {
            if character == "T" {
                guard !inTime, number.isEmpty else { throw DurationError(text: original, reason: "misplaced 'T'") }
                inTime = true
                continue
            }
            if character.isASCII, character.isNumber {
                number.append(character)
                guard number.count <= 9 else { throw DurationError(text: original, reason: "number too large") }
                continue
            }
            guard let value = Int64(number) else {
                throw DurationError(text: original, reason: "'\(character)' must follow a number")
            }
            number = ""
            let unit: Int64
            switch (character, inTime) {
            case ("W", false): unit = 7 * 86_400
            case ("D", false): unit = 86_400
            case ("H", true): unit = 3_600
            case ("M", true): unit = 60
            case ("S", true): unit = 1
            case ("Y", false), ("M", false):
                throw DurationError(
                    text: original,
                    reason: "years and months vary in length; write days (P60D)"
                )
            default:
                throw DurationError(text: original, reason: "unknown unit '\(character)'")
            }
            total += value * unit
            seenUnit = true
            guard total <= maximumSeconds else {
                throw DurationError(text: original, reason: "longer than ten years")
            }
        }
        guard number.isEmpty, seenUnit else {
            throw DurationError(text: original, reason: "a number without a unit")
        }
        guard total > 0 else { throw DurationError(text: original, reason: "must be longer than zero") }
        return total
    }

    private static func isoText(_ seconds: Int64) -> String {
        let days = seconds / 86_400
        let rest = seconds % 86_400
        var text = "P"
        if days > 0 { text += "\(days)D" }
        if rest > 0 {
            text += "T"
            if rest / 3_600 > 0 { text += "\(rest / 3_600)H" }
            if rest % 3_600 / 60 > 0 { text += "\(rest % 3_600 / 60)M" }
            if rest % 60 > 0 { text += "\(rest % 60)S" }
        }
        return text
    }
}

/// A duration that could not be read.
public struct DurationError: Error, Equatable, CustomStringConvertible {
    public let text: String
    public let reason: String

    public var description: String { "bad duration '\(text)': \(reason)" }
}
