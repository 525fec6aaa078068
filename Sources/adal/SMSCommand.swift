import ArgumentParser
import Core
import Foundation
import Messaging
import Web

/// `adal sms test`: checks the SMS gateway's settings by sending one message; `adal sms status`
/// asks what became of messages it took.
struct SMSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sms",
        abstract: "SMS through the aggregator's API (ADAL_SMS_URL, ADAL_SMS_API_KEY, ADAL_SMS_SENDER).",
        subcommands: [Test.self, Status.self]
    )

    /// The gateway the server's settings name, or the reason there is none.
    static func gateway(_ common: CommonOptions) throws -> SMSGateway {
        guard let gateway = try SMSGateway.configured(try common.configuration()) else {
            throw ValidationError("ADAL_SMS_URL is not set: no SMS gateway")
        }
        return gateway
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Ask the SMS gateway what became of messages it took, by the ids it gave them.",
            discussion:
                "Prints a line an id: delivered, partial, undelivered, expired, rejected, or no final report yet (on its way, or an id the gateway does not know)."
        )

        @OptionGroup var common: CommonOptions
        @Argument(help: "The gateway's message ids (as `adal sms test` prints them), up to 100.") var ids: [String]

        func validate() throws {
            guard (1...SMSGateway.maximumAsked).contains(ids.count) else {
                throw ValidationError("give 1 to \(SMSGateway.maximumAsked) message ids")
            }
        }

        func run() async throws {
            let gateway = try SMSCommand.gateway(common)
            do {
                let deliveries = try await gateway.deliveries(of: ids)
                for id in ids {
                    print("\(id): \(deliveries[id]?.rawValue ?? "no final report yet")")
                }
            } catch let error as SMSError {
                throw CommandFailure(error.description)
            }
        }
    }

    struct Test: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Send one test SMS with the server's gateway settings.",
            discussion: "Exit 0 when the gateway took it, printing its message id; otherwise the gateway's code."
        )

        @OptionGroup var common: CommonOptions
        @Option(help: "The Kazakh mobile number to send it to (+7 701 123 45 67).") var to: String

        func run() async throws {
            let gateway = try SMSCommand.gateway(common)
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
