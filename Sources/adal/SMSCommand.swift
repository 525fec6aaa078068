import ArgumentParser
import Core
import Foundation
import Messaging
import Web

/// `adal sms test`: checks the SMS gateway's settings by sending one message.
struct SMSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sms",
        abstract: "SMS through the aggregator's API (ADAL_SMS_URL, ADAL_SMS_API_KEY, ADAL_SMS_SENDER).",
        subcommands: [Test.self]
    )

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send one test SMS with the server's gateway settings.",
            discussion: "Exit 0 when the gateway took it, printing its message id; otherwise the gateway's code."
        )

        @OptionGroup var common: CommonOptions
        @Option(help: "The Kazakh mobile number to send it to (+7 701 123 45 67).") var to: String

        func run() async throws {
            let configuration = try common.configuration()
            guard let gateway = try SMSGateway.configured(configuration) else {
                throw ValidationError("ADAL_SMS_URL is not set: no SMS gateway")
            }
            let number: ContactAddress
            do {
                number = try ContactAddress(to, kind: .sms, field: "to")
            } catch {
                throw ValidationError("'\(to)' is not a Kazakh mobile number")
            }
            do {
                let id = try await gateway.send(
                    "Adal: a test message. SMS from this server reach you.",
                    to: number.text
                )
                print("the SMS gateway took the message for \(number.spaced) as \(id)")
            } catch let error as SMSError {
                throw CommandFailure(error.description)
            }
        }
    }
}
