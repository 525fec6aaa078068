import Core
import Crypto
import Yams

/// Turns the text of `workflows/<service>.yaml` into a ``WorkflowDefinition``, refusing anything
/// malformed with the file, line and column of the first problem. Cross-references (states,
/// events, guards, reachability) are checked afterwards by ``DefinitionValidator``.
public enum DefinitionLoader {
    /// The largest definition file read.
    public static let maximumBytes = 256 * 1024
    public static let maximumStates = 64
    public static let maximumEvents = 256
    public static let maximumParameters = 64
    public static let maximumFields = 64
    public static let maximumRoles = 16
    public static let maximumNamesInList = 16
    public static let maximumEnumValues = 100
    public static let maximumTitleLength = 200
    public static let maximumStringField = 100_000
    public static let maximumFileField = 50 * 1024 * 1024

    /// Loads and validates a definition; `hooks` names the guards and actions the service
    /// implements in Swift.
    public static func load(
        bytes: [UInt8],
        file: String,
        hooks: ServiceHooks
    ) throws(DefinitionError) -> WorkflowDefinition {
        let definition = try parse(bytes: bytes, file: file)
        let name = file.split(separator: "/").last.map(String.init) ?? file
        let expectedKey = name.hasSuffix(".yaml") ? String(name.dropLast(5)) : nil
        try DefinitionValidator.validate(definition, hooks: hooks, file: file, expectedKey: expectedKey)
        return definition
    }

    /// Reads the file's structure without the cross-reference checks.
    public static func parse(bytes: [UInt8], file: String) throws(DefinitionError) -> WorkflowDefinition {
        let start = SourceLocation(file: file, line: 1, column: 1)
        guard bytes.count <= maximumBytes else {
            throw DefinitionError(.tooLarge, "the file has \(bytes.count) bytes; at most \(maximumBytes)", at: start)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw DefinitionError(.syntax, "the file is not UTF-8 text", at: start)
        }
        guard !text.contains("\0") else {
            throw DefinitionError(.syntax, "the file contains a NUL character", at: start)
        }
        try DefinitionPreScan.check(text, file: file)
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                throw DefinitionError(.syntax, "the file is empty", at: start)
            }
            root = composed
        } catch let error as DefinitionError {
            throw error
        } catch let error as YamlError {
            throw syntaxError(error, file: file)
        } catch {
            throw DefinitionError(.syntax, "cannot read YAML: \(error)", at: start)
        }
        let sha256 = SHA256.hash(data: bytes).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
        return try read(YAMLValue(node: root, file: file, path: "definition"), sha256: sha256)
    }

    private static func syntaxError(_ error: YamlError, file: String) -> DefinitionError {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return DefinitionError(
                .syntax,
                "YAML: \(problem)",
                at: SourceLocation(file: file, line: mark.line, column: mark.column)
            )
        case .duplicatedKeysInMapping(let duplicates, let context):
            return DefinitionError(
                .syntax,
                "duplicate key '\(duplicates.joined(separator: "', '"))'",
                at: SourceLocation(file: file, line: context.mark.line, column: context.mark.column)
            )
        default:
            return DefinitionError(.syntax, "YAML: \(error)", at: SourceLocation(file: file, line: 1, column: 1))
        }
    }

    private static func read(_ root: YAMLValue, sha256: String) throws(DefinitionError) -> WorkflowDefinition {
        let top = try root.mapping(allowed: [
            "key", "version", "title", "roles", "parameters", "states", "start", "events",
        ])
        let keyValue = try top.required("key")
        let key = try keyValue.string()
        guard key.wholeMatch(of: /[a-z][a-z0-9-]{1,62}/) != nil else {
            throw keyValue.fail(.badName, "key '\(key)' must be 2–63 lower-case letters, digits and hyphens")
        }
        let versionValue = try top.required("version")
        let version = try versionValue.integer()
        guard (1...1_000_000).contains(version) else {
            throw versionValue.fail(.wrongType, "version must be a whole number from 1 to 1000000")
        }
        let title = try readTitle(try top.required("title"))

        var roles: [Role] = []
        for value in try top.required("roles").list(maximum: maximumRoles) {
            let name = try value.string()
            guard let role = Role(rawValue: name) else {
                let known = Role.allCases.map(\.rawValue).joined(separator: ", ")
                throw value.fail(.unknownRole, "unknown role '\(name)'; known roles: \(known)")
            }
            roles.append(role)
        }

        var parameters: [ParameterDefinition] = []
        if let value = top.optional("parameters") {
            for (name, location, body) in try value.anyMapping(maximum: maximumParameters).named {
                try checkName(name, at: location, what: "parameter")
                parameters.append(try readParameter(name: name, body, location: location))
            }
        }

        var states: [StateDefinition] = []
        for (name, location, body) in try top.required("states").anyMapping(maximum: maximumStates).named {
            try checkName(name, at: location, what: "state")
            states.append(try readState(name: name, body, location: location, roles: roles))
        }

        let initialName = states.first(where: \.isInitial)?.name ?? ""
        let start = try readEvent(try top.required("start"), roles: roles, startingIn: initialName)
        var events: [EventDefinition] = []
        for value in try top.required("events").list(maximum: maximumEvents) {
            events.append(try readEvent(value, roles: roles, startingIn: nil))
        }
        return WorkflowDefinition(
            key: key,
            version: Int(version),
            sha256: sha256,
            title: title,
            roles: roles,
            parameters: parameters,
            states: states,
            start: start,
            events: events
        )
    }

    private static func checkName(_ name: String, at location: SourceLocation, what: String) throws(DefinitionError) {
        guard name.wholeMatch(of: /[a-z][a-z0-9_]{0,63}/) != nil else {
            throw DefinitionError(
                .badName,
                "\(what) name '\(name)' must be 1–64 lower-case letters, digits and underscores, starting with a letter",
                at: location
            )
        }
    }

    private static func readName(_ value: YAMLValue, what: String) throws(DefinitionError) -> String {
        let name = try value.string()
        try checkName(name, at: value.location, what: what)
        return name
    }

    private static func readTitle(_ value: YAMLValue) throws(DefinitionError) -> LocalizedText {
        let mapping = try value.mapping(allowed: ["kk", "ru", "en"])
        func text(_ language: String) throws(DefinitionError) -> String {
            let entry = try mapping.required(language)
            let text = try entry.string()
            guard (1...maximumTitleLength).contains(text.count) else {
                throw entry.fail(.tooLarge, "\(entry.path) must be 1 to \(maximumTitleLength) characters")
            }
            return text
        }
        return LocalizedText(kk: try text("kk"), ru: try text("ru"), en: try text("en"))
    }

    private static func readRole(_ value: YAMLValue, declared: [Role]) throws(DefinitionError) -> Role {
        let name = try value.string()
        guard let role = Role(rawValue: name), declared.contains(role) else {
            let known = declared.map(\.rawValue).joined(separator: ", ")
            throw value.fail(.unknownRole, "unknown role '\(name)'; this definition declares: \(known)")
        }
        return role
    }

    private static func readDuration(_ value: YAMLValue) throws(DefinitionError) -> WorkflowDuration {
        let text = try value.string()
        do {
            return try WorkflowDuration(parsing: text)
        } catch {
            throw value.fail(.badDuration, "\(value.path): \(error.description)")
        }
    }

    private static func readDurationSource(_ value: YAMLValue) throws(DefinitionError) -> DurationSource {
        if case .mapping = value.node {
            let mapping = try value.mapping(allowed: ["parameter"])
            return .parameter(try readName(try mapping.required("parameter"), what: "parameter"))
        }
        return .fixed(try readDuration(value))
    }

    private static func readState(
        name: String,
        _ value: YAMLValue,
        location: SourceLocation,
        roles: [Role]
    ) throws(DefinitionError) -> StateDefinition {
        let mapping = try value.mapping(allowed: ["title", "initial", "terminal", "task", "timers"])
        let initial = try mapping.optional("initial")?.bool() ?? false
        let terminal = try mapping.optional("terminal")?.bool() ?? false
        guard !(initial && terminal) else {
            throw value.fail(.initialState, "state '\(name)' cannot be both initial and terminal")
        }
        var task: HumanTask? = nil
        if let taskValue = mapping.optional("task") {
            let taskMapping = try taskValue.mapping(allowed: ["role", "due", "escalate"])
            var escalate: String? = nil
            if let value = taskMapping.optional("escalate") { escalate = try readName(value, what: "event") }
            task = HumanTask(
                role: try readRole(try taskMapping.required("role"), declared: roles),
                due: try readDurationSource(try taskMapping.required("due")),
                escalateEvent: escalate
            )
        }
        var timers: [TimerDefinition] = []
        for timerValue in try mapping.optional("timers")?.list(maximum: maximumNamesInList) ?? [] {
            let timer = try timerValue.mapping(allowed: ["after", "event"])
            timers.append(
                TimerDefinition(
                    after: try readDurationSource(try timer.required("after")),
                    event: try readName(try timer.required("event"), what: "event"),
                    location: timerValue.location
                )
            )
        }
        return StateDefinition(
            name: name,
            title: try readTitle(try mapping.required("title")),
            kind: initial ? .initial : terminal ? .terminal : .normal,
            task: task,
            timers: timers,
            location: location
        )
    }

    /// Reads an event; with `startingIn`, the `start` block, which creates an instance in the
    /// initial state and has no name, `from` or `to` of its own.
    private static func readEvent(
        _ value: YAMLValue,
        roles: [Role],
        startingIn initial: String?
    ) throws(DefinitionError) -> EventDefinition {
        var keys: Set<String> = ["title", "roles", "input", "guards", "actions"]
        if initial == nil { keys.formUnion(["name", "from", "to", "stays"]) }
        let mapping = try value.mapping(allowed: keys)
        let name =
            try initial == nil ? readName(try mapping.required("name"), what: "event") : EventDefinition.startName
        var from: [String] = []
        for item in try initial == nil ? mapping.required("from").list(maximum: maximumStates) : [] {
            from.append(try readName(item, what: "state"))
        }
        var actors: [Actor] = []
        for item in try mapping.required("roles").list(maximum: maximumRoles + 1) {
            if try item.string() == Actor.systemName {
                actors.append(.system)
            } else {
                actors.append(.role(try readRole(item, declared: roles)))
            }
        }
        var target = initial ?? ""
        let stays = try mapping.optional("stays")?.bool() ?? false
        if initial == nil && !stays { target = try readName(try mapping.required("to"), what: "state") }
        if stays, let to = mapping.optional("to") {
            throw DefinitionError(.unknownKey, "an event that stays has no 'to'", at: to.location)
        }
        var fields: [FieldDefinition] = []
        if let input = mapping.optional("input") {
            for (fieldName, location, body) in try input.anyMapping(maximum: maximumFields).named {
                try checkName(fieldName, at: location, what: "input field")
                fields.append(try readField(name: fieldName, body, location: location))
            }
        }
        func names(_ key: String, what: String) throws(DefinitionError) -> [String] {
            var result: [String] = []
            for item in try mapping.optional(key)?.list(maximum: maximumNamesInList) ?? [] {
                result.append(try readName(item, what: what))
            }
            return result
        }
        return EventDefinition(
            name: name,
            title: try readTitle(try mapping.required("title")),
            from: from,
            to: target,
            actors: actors,
            input: fields,
            guards: try names("guards", what: "guard"),
            actions: try names("actions", what: "action"),
            location: value.location,
            stays: stays
        )
    }

    private static func readField(
        name: String,
        _ value: YAMLValue,
        location: SourceLocation
    ) throws(DefinitionError) -> FieldDefinition {
        let mapping = try value.mapping(allowed: [
            "type", "optional", "min", "max", "max_length", "values", "service", "media_types", "max_size",
        ])
        let typeValue = try mapping.required("type")
        let typeName = try typeValue.string()
        let allowedKeys: Set<String>
        let type: FieldType
        func bounds(_ low: Int64, _ high: Int64) throws(DefinitionError) -> (Int64, Int64) {
            let minimum = try mapping.optional("min")?.integer() ?? low
            let maximum = try mapping.optional("max")?.integer() ?? high
            guard minimum <= maximum else {
                throw (mapping.optional("min") ?? value).fail(.badBounds, "\(value.path): min is above max")
            }
            return (minimum, maximum)
        }
        switch typeName {
        case "string":
            allowedKeys = ["max_length"]
            let length = try mapping.optional("max_length")?.integer() ?? 1_000
            guard (1...Int64(maximumStringField)).contains(length) else {
                throw value.fail(.badBounds, "\(value.path).max_length must be 1 to \(maximumStringField)")
            }
            type = .string(maximumLength: Int(length))
        case "int":
            allowedKeys = ["min", "max"]
            let (low, high) = try bounds(-(1 << 53), 1 << 53)
            type = .int(minimum: low, maximum: high)
        case "money":
            allowedKeys = ["min", "max"]
            let (low, high) = try bounds(0, 1_000_000_000_000_000)
            type = .money(minimum: low, maximum: high)
        case "date":
            allowedKeys = []
            type = .date
        case "iin":
            allowedKeys = []
            type = .iin
        case "bin":
            allowedKeys = []
            type = .bin
        case "enum":
            allowedKeys = ["values"]
            type = .enumeration(try enumValues(try mapping.required("values")))
        case "reference":
            allowedKeys = ["service"]
            type = .reference(service: try mapping.optional("service")?.string())
        case "file":
            allowedKeys = ["media_types", "max_size"]
            var mediaTypes: [String] = []
            for item in try mapping.required("media_types").list(maximum: maximumNamesInList) {
                let mediaType = try item.string()
                guard mediaType.wholeMatch(of: /[a-z]+\/[a-z0-9.+-]+/) != nil else {
                    throw item.fail(.wrongType, "'\(mediaType)' is not a media type such as application/pdf")
                }
                mediaTypes.append(mediaType)
            }
            let size = try mapping.optional("max_size")?.integer() ?? 10 * 1024 * 1024
            guard (1...Int64(maximumFileField)).contains(size) else {
                throw value.fail(.badBounds, "\(value.path).max_size must be 1 to \(maximumFileField) bytes")
            }
            type = .file(mediaTypes: mediaTypes, maximumBytes: Int(size))
        default:
            throw typeValue.fail(
                .wrongType,
                "unknown field type '\(typeName)'; expected string, int, money, date, iin, bin, enum, reference or file"
            )
        }
        for (key, entry) in mapping.entries where key != "type" && key != "optional" && !allowedKeys.contains(key) {
            throw YAMLValue(node: entry.keyNode, file: value.file, path: value.path)
                .fail(.unknownKey, "'\(key)' does not apply to a \(typeName) field")
        }
        let optional = try mapping.optional("optional")?.bool() ?? false
        return FieldDefinition(name: name, type: type, required: !optional, location: location)
    }

    private static func enumValues(_ value: YAMLValue) throws(DefinitionError) -> [String] {
        var values: [String] = []
        for item in try value.list(maximum: maximumEnumValues) {
            let text = try readName(item, what: "enum value")
            guard !values.contains(text) else { throw item.fail(.badName, "'\(text)' is listed twice") }
            values.append(text)
        }
        guard !values.isEmpty else { throw value.fail(.missingKey, "\(value.path) needs at least one value") }
        return values
    }

    private static func readParameter(
        name: String,
        _ value: YAMLValue,
        location: SourceLocation
    ) throws(DefinitionError) -> ParameterDefinition {
        let mapping = try value.mapping(allowed: ["type", "title", "default", "min", "max", "values"])
        let typeValue = try mapping.required("type")
        let typeName = try typeValue.string()
        let defaultEntry = try mapping.required("default")
        let type: ParameterType
        let defaultValue: ParameterValue
        switch typeName {
        case "int", "money", "percent":
            let read: (YAMLValue) throws(DefinitionError) -> Int64 =
                typeName == "percent"
                ? { value throws(DefinitionError) in try readPercent(value) }
                : { value throws(DefinitionError) in try value.integer() }
            let minEntry = try mapping.required("min")
            let low = try read(minEntry)
            let high = try read(try mapping.required("max"))
            guard low <= high else { throw minEntry.fail(.badBounds, "parameter '\(name)': min is above max") }
            let initial = try read(defaultEntry)
            guard (low...high).contains(initial) else {
                throw defaultEntry.fail(
                    .parameterOutOfBounds,
                    "default of parameter '\(name)' is outside its min and max"
                )
            }
            type =
                typeName == "int"
                ? .int(minimum: low, maximum: high)
                : typeName == "money" ? .money(minimum: low, maximum: high) : .basisPoints(minimum: low, maximum: high)
            defaultValue = .int(initial)
        case "duration":
            let minEntry = try mapping.required("min")
            let low = try readDuration(minEntry)
            let high = try readDuration(try mapping.required("max"))
            let initial = try readDuration(defaultEntry)
            guard low.isSameKind(as: high), low.isSameKind(as: initial) else {
                throw value.fail(
                    .badBounds,
                    "parameter '\(name)': default, min and max must all be calendar time or all working days"
                )
            }
            guard low <= high else { throw minEntry.fail(.badBounds, "parameter '\(name)': min is above max") }
            guard low <= initial, initial <= high else {
                throw defaultEntry.fail(
                    .parameterOutOfBounds,
                    "default of parameter '\(name)' is outside its min and max"
                )
            }
            type = .duration(minimum: low, maximum: high)
            defaultValue = .duration(initial)
        case "bool":
            type = .bool
            defaultValue = .bool(try defaultEntry.bool())
        case "enum":
            let values = try enumValues(try mapping.required("values"))
            let initial = try defaultEntry.string()
            guard values.contains(initial) else {
                throw defaultEntry.fail(
                    .parameterOutOfBounds,
                    "default '\(initial)' of parameter '\(name)' is not one of its values"
                )
            }
            type = .enumeration(values)
            defaultValue = .text(initial)
        default:
            throw typeValue.fail(
                .wrongType,
                "unknown parameter type '\(typeName)'; expected int, money, percent, duration, bool or enum"
            )
        }
        return ParameterDefinition(
            name: name,
            title: try readTitle(try mapping.required("title")),
            type: type,
            defaultValue: defaultValue,
            location: location
        )
    }

    /// A percentage with at most two decimals (`2.5`), in hundredths of a percent.
    static func readPercent(_ value: YAMLValue) throws(DefinitionError) -> Int64 {
        guard let hundredths = ParameterValue.percentHundredths(try value.string()) else {
            throw value.fail(.wrongType, "\(value.path) must be a percentage such as 5 or 2.5, at most two decimals")
        }
        return hundredths
    }
}

extension ParameterValue {
    /// Parses `5`, `2.5` or `12.25` into hundredths of a percent; nil for anything else.
    public static func percentHundredths(_ text: String) -> Int64? {
        guard text.wholeMatch(of: /-?[0-9]{1,6}(\.[0-9]{1,2})?/) != nil else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        let negative = text.hasPrefix("-")
        guard let whole = Int64(parts[0].drop { $0 == "-" }) else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = String(parts[1])
            fraction = Int64(digits.count == 1 ? digits + "0" : digits) ?? 0
        }
        let value = whole * 100 + fraction
        return negative ? -value : value
    }
}
