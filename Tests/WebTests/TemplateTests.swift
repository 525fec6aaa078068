import Core
import Foundation
import TestSupport
import Testing
import Workflow

@testable import Web

/// Every user-facing string must come from the locale tables: a template may hold markup and
/// Mustache tags, but no words of its own.
@Suite("Templates hold no text of their own")
struct TemplateTests {
    static let directory = TestSupport.TestCluster.repositoryRoot + "/Sources/Web/Resources"

    static var templates: [String] {
        (try? FileManager.default.contentsOfDirectory(atPath: directory + "/templates"))?.filter {
            $0.hasSuffix(".mustache")
        }
        .sorted() ?? []
    }

    static func source(_ name: String) throws -> String {
        try String(contentsOfFile: directory + "/templates/" + name, encoding: .utf8)
    }

    @Test("no words stand outside tags", arguments: templates)
    func noLooseText(template: String) throws {
        var text = try Self.source(template)
        text = text.replacingOccurrences(of: #"\{\{\{?[^}]*\}?\}\}"#, with: " ", options: .regularExpression)
        text = text.replacingOccurrences(of: #"<[^>]*>"#, with: " ", options: .regularExpression)
        let words = text.split(whereSeparator: { $0.isWhitespace }).filter { word in word.contains { $0.isLetter } }
        #expect(words.isEmpty, "hard-coded words in \(template): \(words)")
    }

    @Test("attributes people read (title, placeholder, aria-label, alt) come from the tables", arguments: templates)
    func noLooseAttributes(template: String) throws {
        let text = try Self.source(template)
        let pattern = try NSRegularExpression(pattern: #"(title|placeholder|aria-label|alt)="([^"]*)""#)
        for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            let value = String(text[Range(match.range(at: 2), in: text)!])
            let stripped = value.replacingOccurrences(of: #"\{\{[^}]*\}\}"#, with: "", options: .regularExpression)
            let hasLetters = stripped.contains(where: \.isLetter)
            #expect(!hasLetters, "hard-coded attribute in \(template): \(value)")
        }
    }

    @Test("every {{t.key}} used exists in all three tables")
    func keysExist() throws {
        let tables = try LocaleTables(directory: Self.directory + "/locales")
        let pattern = try NSRegularExpression(pattern: #"\{\{\s*t\.([a-z0-9_]+)\s*\}\}"#)
        for template in Self.templates {
            let text = try Self.source(template)
            for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                let key = String(text[Range(match.range(at: 1), in: text)!])
                for (language, table) in tables.strings {
                    #expect(table[key] != nil, "\(template) uses t.\(key), missing in \(language)")
                }
            }
        }
    }

    @Test("every role and service has a name in every language")
    func namesComplete() throws {
        let tables = try LocaleTables(directory: Self.directory + "/locales")
        for language in Core.Language.allCases {
            for role in Core.Role.allCases {
                #expect(tables.strings[language]?["role_" + role.rawValue] != nil)
            }
            for service in Core.ServiceKey.allCases {
                #expect(
                    tables.title(of: service, language) != "service_"
                        + service.rawValue.replacingOccurrences(of: "-", with: "_")
                )
            }
        }
    }

    @Test("every input field and enum value of the services' definitions has a label in every language")
    func fieldLabelsComplete() throws {
        let tables = try LocaleTables(directory: Self.directory + "/locales")
        let folder = TestSupport.TestCluster.repositoryRoot + "/workflows"
        for name in try FileManager.default.contentsOfDirectory(atPath: folder) where name.hasSuffix(".yaml") {
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: folder + "/" + name)))
            let definition = try DefinitionLoader.parse(bytes: bytes, file: name)
            for event in [definition.start] + definition.events {
                for field in event.input {
                    var keys = ["field_" + field.name]
                    if case .enumeration(let values) = field.type {
                        keys += values.map { "option_\(field.name)_\($0)" }
                    }
                    for language in Core.Language.allCases {
                        for key in keys {
                            #expect(tables.strings[language]?[key] != nil, "\(name): \(key) missing in \(language)")
                        }
                    }
                }
            }
        }
    }
}
