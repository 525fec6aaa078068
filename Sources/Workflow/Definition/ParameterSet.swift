import Core

/// A city's values for a definition's parameters: its own settings over the defaults, each
/// checked against the definition's type and bounds.
public struct ParameterSet: Sendable, Equatable {
    public let values: [String: ParameterValue]

    /// The defaults with `settings` applied; an unknown name, a wrong type or a value out of
    /// bounds is refused with the parameter's name.
    public init(definition: WorkflowDefinition, settings: [String: InputValue]) throws(AdalError) {
        for name in settings.keys.sorted() where definition.parameter(name) == nil {
            throw .invalidField(field: "parameters.\(name)", reason: "\(definition.key) has no such parameter")
        }
        var values: [String: ParameterValue] = [:]
        for parameter in definition.parameters {
            guard let setting = settings[parameter.name] else {
                values[parameter.name] = parameter.defaultValue
                continue
            }
            values[parameter.name] = try Self.check(setting, for: parameter)
        }
        self.values = values
    }

    public subscript(name: String) -> ParameterValue? { values[name] }

    public func duration(_ name: String) -> WorkflowDuration? {
        if case .duration(let value) = values[name] { return value }
        return nil
    }

    public func integer(_ name: String) -> Int64? {
        if case .int(let value) = values[name] { return value }
        return nil
    }

    /// How the set is stored with an instance and shown in settings.
    public var json: InputValue {
        .object(
            values.mapValues { value in
                switch value {
                case .int(let number): .integer(number)
                case .duration(let duration): .string(duration.description)
                case .bool(let flag): .bool(flag)
                case .text(let text): .string(text)
                }
            }
        )
    }

    /// Reads a setting given as text (`adal tenant service set --parameter bid_window=P20D`).
    public static func setting(fromText text: String, for parameter: ParameterDefinition) -> InputValue {
        switch parameter.type {
        case .int, .money: Int64(text).map(InputValue.integer) ?? .string(text)
        case .basisPoints: ParameterValue.percentHundredths(text).map(InputValue.integer) ?? .string(text)
        case .bool: text == "true" ? .bool(true) : text == "false" ? .bool(false) : .string(text)
        case .duration, .enumeration: .string(text)
        }
    }

    private static func check(
        _ setting: InputValue,
        for parameter: ParameterDefinition
    ) throws(AdalError) -> ParameterValue {
        let field = "parameters.\(parameter.name)"
        switch (parameter.type, setting) {
        case (.int(let low, let high), .integer(let value)), (.money(let low, let high), .integer(let value)),
            (.basisPoints(let low, let high), .integer(let value)):
            guard (low...high).contains(value) else {
                throw .invalidField(field: field, reason: "must be from \(low) to \(high)")
            }
            return .int(value)
        case (.duration(let low, let high), .string(let text)):
            let duration: WorkflowDuration
            do {
                duration = try WorkflowDuration(parsing: text)
            } catch {
                throw .invalidField(field: field, reason: error.description)
            }
            guard duration.isSameKind(as: low), low <= duration, duration <= high else {
                throw .invalidField(field: field, reason: "must be from \(low) to \(high)")
            }
            return .duration(duration)
        case (.bool, .bool(let flag)):
            return .bool(flag)
        case (.enumeration(let allowed), .string(let text)):
            guard allowed.contains(text) else {
                throw .invalidField(field: field, reason: "must be one of: \(allowed.joined(separator: ", "))")
            }
            return .text(text)
        default:
            throw .invalidField(field: field, reason: "must be a \(parameter.type.name) value")
        }
    }
}
