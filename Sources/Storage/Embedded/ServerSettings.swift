import Foundation

/// PostgreSQL settings as `name = value` lines: the ones `deploy/postgresql.conf` recommends
/// for a server that holds Adal's database, which the benchmarks' clusters run with so that
/// they measure a server set up as deployed, and one-off `name=value` settings a benchmark is
/// asked to measure.
public struct ServerSettings: Sendable, Equatable {
    public struct Setting: Sendable, Equatable {
        public let name: String
        public let value: String
    }

    public var settings: [Setting]

    public init(_ settings: [Setting] = []) {
        self.settings = settings
    }

    /// Where the recommended settings are kept, relative to the checkout.
    public static let deployedPath = "deploy/postgresql.conf"

    /// Reads a file of settings: one `name = value` per line, `#` starting a comment, blank
    /// lines skipped; the value may be quoted with single quotes. A line that is not a setting
    /// is refused with its number.
    public static func read(path: String) throws -> ServerSettings {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ServerSettingsError(reason: "\(path): cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ServerSettingsError(reason: "\(path): not UTF-8 text")
        }
        return try parse(file: text, named: path)
    }

    /// The settings of a file's text (``read(path:)``); `named` is how errors name it.
    public static func parse(file text: String, named name: String) throws -> ServerSettings {
        var settings: [Setting] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let content = line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = content.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { continue }
            do {
                settings.append(try parse(setting: trimmed))
            } catch let error as ServerSettingsError {
                throw ServerSettingsError(reason: "\(name), line \(index + 1): \(error.reason)")
            }
        }
        return ServerSettings(settings)
    }

    /// One setting, `name=value` or `name = value`: a lower-case name (an extension's setting
    /// after the extension's name and a dot, such as `auto_explain.log_min_duration`) and a
    /// value of letters, digits and `_ . : -`, optionally in single quotes — plain words, so
    /// that both can stand in `ALTER SYSTEM` text.
    public static func parse(setting: String) throws -> Setting {
        let parts = setting.split(separator: "=", maxSplits: 1).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard parts.count == 2 else {
            throw ServerSettingsError(reason: "\(setting): give name=value, such as wal_compression=lz4")
        }
        var value = parts[1]
        if value.count >= 2, value.hasPrefix("'"), value.hasSuffix("'") {
            value = String(value.dropFirst().dropLast())
        }
        guard parts[0].count <= 63, parts[0].wholeMatch(of: /[a-z_]+(\.[a-z_]+)?/) != nil else {
            throw ServerSettingsError(
                reason:
                    "\(parts[0]): a setting's name is lower-case letters and _, with one . after an extension's name"
            )
        }
        guard value.wholeMatch(of: /[A-Za-z0-9_.:-]{1,63}/) != nil else {
            throw ServerSettingsError(
                reason: "\(parts[0]): the value \(parts[1]) may hold only letters, digits and _ . : -"
            )
        }
        return Setting(name: parts[0], value: value)
    }

    /// These settings, then `later` (a name given again takes the later value).
    public func overridden(by later: ServerSettings) -> ServerSettings {
        let names = Set(later.settings.map(\.name))
        return ServerSettings(settings.filter { !names.contains($0.name) } + later.settings)
    }
}

/// A file or argument of settings that is not one; `reason` names the line and the mistake.
public struct ServerSettingsError: Error, Equatable, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}
