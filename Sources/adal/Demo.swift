import ArgumentParser
import Core
import Foundation
import Logging
import Storage
import Web

/// `adal demo`: two demo cities with one login per role, then the server.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create demo cities (Astana, Shymkent) with one user per role, print their logins, then serve.",
        discussion: """
            Safe to run again: what exists is kept. Every demo login shares the password printed at \
            start; the data is generated, never copied from real people. Meant for a laptop, not for production.
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var server: ServerOptions

    func run() async throws {
        var configuration = try common.configuration()
        server.apply(to: &configuration)
        // A laptop has no gateways: messages are kept, and the account page shows each code.
        configuration.simulatedMessages = true
        let settings = configuration
        let logger = try common.logger()
        try await serve(configuration, logger: logger) { endpoints in
            let lines = try await endpoints.withOwner(logger: logger) { database in
                try await DemoData.seed(database: database, configuration: settings)
            }
            // Written straight to the descriptor: print() may sit in a buffer while the server runs.
            FileHandle.standardOutput.write(Data((lines.joined(separator: "\n") + "\n\n").utf8))
        }
    }
}
