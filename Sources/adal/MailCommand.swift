import ArgumentParser
import Foundation
import Messaging
import Web

/// `adal mail test`: checks the SMTP settings by sending one message.
struct MailCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mail",
        abstract: "Email through the city's SMTP server (ADAL_SMTP_URL, ADAL_MAIL_FROM).",
        subcommands: [Test.self]
    )

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send one test message with the server's SMTP settings.",
            discussion: "Exit 0 when the SMTP server took it; otherwise the step it refused and its reply code."
        )

        @OptionGroup var common: CommonOptions
        @Option(help: "The address to send it to.") var to: String

        func run() async throws {
            let configuration = try common.configuration()
            guard let gateway = try MailGateway.configured(configuration) else {
                throw ValidationError("ADAL_SMTP_URL is not set: no SMTP server")
            }
            guard MailAddress.envelope(to) != nil else { throw ValidationError("'\(to)' is not an email address") }
            do {
                try await gateway.send("Adal: a test message. Email from this server reaches you.", to: to)
            } catch let error as SMTPError {
                throw CommandFailure(error.description)
            }
            print("the SMTP server took the message for \(to)")
        }
    }
}
