import Core
import Foundation

/// Every user-facing string, per language, loaded from `Resources/locales/<language>.json`.
/// Templates reach them as `{{t.key}}`; no text is written into a template.
public struct LocaleTables: Sendable {
    public let strings: [Language: [String: String]]

    public init(directory: String) throws {
        var strings: [Language: [String: String]] = [:]
        for language in Language.allCases {
            let path = "\(directory)/\(language.rawValue).json"
            guard let data = FileManager.default.contents(atPath: path) else {
                throw LocaleError.missingTable(path)
            }
            strings[language] = try JSONDecoder().decode([String: String].self, from: data)
        }
        let reference = Set(strings[.default]!.keys)
        for (language, table) in strings where Set(table.keys) != reference {
            let difference = reference.symmetricDifference(table.keys).sorted().joined(separator: ", ")
            throw LocaleError.keysDiffer(language: language.rawValue, keys: difference)
        }
        self.strings = strings
    }

    /// The string for `key` in `language`; the key itself if missing, so a gap is visible, never blank.
    public func text(_ key: String, _ language: Language) -> String {
        strings[language]?[key] ?? key
    }

    /// The text of `key` with `{1}`, `{2}`, … replaced by `figures` in order.
    public func text(_ key: String, _ language: Language, figures: [String]) -> String {
        var text = text(key, language)
        for (index, figure) in figures.enumerated() {
            text = text.replacingOccurrences(of: "{\(index + 1)}", with: figure)
        }
        return text
    }

    /// A role's name in `language`.
    public func name(of role: Role, _ language: Language) -> String {
        text("role_" + role.rawValue, language)
    }

    /// A service's title in `language`.
    public func title(of service: ServiceKey, _ language: Language) -> String {
        text("service_" + service.rawValue.replacingOccurrences(of: "-", with: "_"), language)
    }
}

enum LocaleError: Error, CustomStringConvertible {
    case missingTable(String)
    case keysDiffer(language: String, keys: String)

    var description: String {
        switch self {
        case .missingTable(let path): "locale table \(path) is missing"
        case .keysDiffer(let language, let keys): "locale table '\(language)' differs from Kazakh in: \(keys)"
        }
    }
}
