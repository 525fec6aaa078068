import ArgumentParser
import Core
import Foundation
import Storage
import Web
import Workflow

/// `adal workflow`: check, inspect and draw service definitions.
struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Validate, show and draw workflow definitions (workflows/<service>.yaml).",
        subcommands: [Validate.self, Show.self, Graph.self, Migrate.self]
    )

    struct Directory: ParsableArguments {
        @Option(name: .customLong("workflows-dir"), help: "Folder of definitions. Env: ADAL_WORKFLOWS_DIR.")
        var path: String = ProcessInfo.processInfo.environment["ADAL_WORKFLOWS_DIR"] ?? "workflows"

        func definition(_ key: String) throws -> WorkflowDefinition {
            let registry = try WorkflowCommand.registry(path: path)
            guard let definition = registry.latest(key) else {
                let known = registry.keys.isEmpty ? "none" : registry.keys.joined(separator: ", ")
                throw CommandFailure("no definition '\(key)' in \(path); loaded: \(known)")
            }
            return definition
        }
    }

    /// Every definition in `path`, checked against the services' Swift code.
    static func registry(path: String) throws -> WorkflowRegistry {
        do {
            return try WorkflowRegistry.load(
                directory: URL(fileURLWithPath: path),
                implementations: ServiceImplementations.forValidation
            )
        } catch let error as DefinitionError {
            throw CommandFailure(error.description)
        }
    }

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check definition files; every problem is printed as file:line:column: message."
        )

        @Argument(help: "Definition files.") var files: [String]

        func run() async throws {
            var failed = 0
            for file in files {
                do {
                    let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: file)))
                    let key = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
                    let hooks = ServiceImplementations.forValidation.first { $0.key == key }?.hooks ?? .none
                    let definition = try DefinitionLoader.load(bytes: bytes, file: file, hooks: hooks)
                    print("\(file): \(definition.reference) is valid (sha256 \(definition.sha256))")
                } catch let error as DefinitionError {
                    failed += 1
                    FileHandle.standardError.write(Data((error.description + "\n").utf8))
                } catch {
                    failed += 1
                    FileHandle.standardError.write(
                        Data("\(file): cannot be read: \(error.localizedDescription)\n".utf8)
                    )
                }
            }
            if failed > 0 { throw ExitCode(1) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a definition's states, events and roles.")

        @OptionGroup var directory: Directory
        @Argument(help: "Service key.") var key: String

        func run() async throws {
            let definition = try directory.definition(key)
            print("\(definition.reference) — \(definition.title.en) / \(definition.title.ru) / \(definition.title.kk)")
            print("sha256 \(definition.sha256)")
            print("roles: \(definition.roles.map(\.rawValue).joined(separator: ", "))")
            if !definition.parameters.isEmpty {
                print("parameters:")
                for parameter in definition.parameters {
                    print("  \(parameter.name) (\(parameter.type.name)) = \(parameter.defaultValue)")
                }
            }
            print("states:")
            for state in definition.states {
                var notes: [String] = []
                if state.isInitial { notes.append("initial") }
                if state.isTerminal { notes.append("terminal") }
                if let task = state.task { notes.append("task for \(task.role.rawValue), due \(Self.text(task.due))") }
                for timer in state.timers { notes.append("after \(Self.text(timer.after)) → \(timer.event)") }
                print("  \(state.name)\(notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))")")
            }
            print("events:")
            for event in [definition.start] + definition.events {
                let from = event.from.isEmpty ? "—" : event.from.joined(separator: ", ")
                let roles = event.actors.map(\.description).joined(separator: ", ")
                let input = event.input.map { "\($0.name): \($0.type.name)\($0.required ? "" : "?")" }
                print(
                    "  \(event.name): \(from) → \(event.stays ? "(stays)" : event.to) by \(roles)\(input.isEmpty ? "" : " [\(input.joined(separator: ", "))]")"
                )
            }
        }

        static func text(_ source: DurationSource) -> String {
            switch source {
            case .fixed(let duration): duration.description
            case .parameter(let name): "parameter \(name)"
            }
        }
    }

    struct Graph: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a definition as a Graphviz DOT graph, or write SVG with --svg (needs 'dot')."
        )

        @OptionGroup var directory: Directory
        @Argument(help: "Service key.") var key: String
        @Option(help: "Language of the labels: kk, ru or en.") var language: String = "en"
        @Option(help: "Write SVG to this file through Graphviz's 'dot'.") var svg: String?

        func run() async throws {
            guard let language = Language(rawValue: language) else {
                throw ValidationError("language must be kk, ru or en")
            }
            let dot = DefinitionGraph.dot(try directory.definition(key), language: language)
            guard let svg else {
                print(dot, terminator: "")
                return
            }
            let source = NSTemporaryDirectory() + "/adal-graph-\(UUID().uuidString).dot"
            try Data(dot.utf8).write(to: URL(fileURLWithPath: source))
            defer { try? FileManager.default.removeItem(atPath: source) }
            guard
                let executable = ["/usr/bin/dot", "/usr/local/bin/dot"].first(
                    where: FileManager.default.isExecutableFile
                )
            else {
                throw ValidationError(
                    "Graphviz 'dot' is not installed (apt-get install graphviz); without --svg the DOT text is printed"
                )
            }
            let output = try CommandRunner().run(executable, ["-Tsvg", "-o", svg, source])
            guard output.status == 0 else { throw ValidationError("dot failed: \(output.text)") }
            print("wrote \(svg)")
        }
    }
}

extension WorkflowCommand {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move a city's running instances of a service to another version.",
            discussion: """
                Each --map old=new renames a state; states not named keep their name. Nothing moves if any \
                running instance would be left in a state the new version lacks. Each move is recorded as a \
                'migrate' step in the instance's history and the city's audit log.
                """
        )

        @OptionGroup var common: CommonOptions
        @Argument(help: "The city's slug.") var city: String
        @Argument(help: "Service key.") var service: String
        @Option(help: "The version the instances are on.") var from: Int
        @Option(help: "The version to move them to.") var to: Int
        @Option(name: .customLong("map"), help: "old=new state names; repeat for several.") var mappings: [String] = []

        func run() async throws {
            var stateMap: [String: String] = [:]
            for mapping in mappings {
                let parts = mapping.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw ValidationError("'\(mapping)' is not old=new")
                }
                stateMap[parts[0]] = parts[1]
            }
            let configuration = try common.configuration()
            let registry = try WorkflowCommand.registry(path: configuration.workflowsDirectory)
            let (city, service, from, to, map) = (city, service, from, to, stateMap)
            let logger = try common.logger()
            try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                let moved = try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(city, in: database)
                    return try await WorkflowEngine(database: database, registry: registry).migrate(
                        tenantID: tenant.id,
                        service: service,
                        from: from,
                        to: to,
                        stateMap: map,
                        actor: .system
                    )
                }
                print("\(city): moved \(moved) instance(s) of \(service) from version \(from) to \(to)")
            }
        }
    }
}

/// A failure worth one plain message (no usage text).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
