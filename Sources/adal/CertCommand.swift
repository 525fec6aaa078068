import ArgumentParser
import Foundation
import SickLeave

/// `adal cert`: sick-leave certificates from the command line.
struct CertCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cert",
        abstract: "Sick-leave certificates.",
        subcommands: [Verify.self]
    )

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verify a certificate's QR token offline, with a city's downloaded lists.",
            discussion: """
                Download GET /api/CITY/sick-leave/trust-list and status-list (at most an hour old) and pin \
                the city's root key (GET /api/CITY/sick-leave/root-key, base64). Exits 0 only for a genuine \
                certificate in force or closed.
                """
        )

        @Argument(help: "The token (SL1:…).") var token: String
        @Option(help: "The signed trust list file.") var trustList: String
        @Option(help: "The signed status list file.") var statusList: String
        @Option(help: "The city's root public key, base64.") var rootKey: String

        func run() async throws {
            guard let root = Data(base64Encoded: rootKey) else { throw ValidationError("--root-key is not base64") }
            func read(_ path: String) throws -> [UInt8] {
                guard let data = FileManager.default.contents(atPath: path) else {
                    throw ValidationError("cannot read \(path)")
                }
                return Array(data)
            }
            let now = Int64(Date().timeIntervalSince1970)
            let verifier = OfflineVerifier(
                trust: try TrustList(
                    verifying: try read(trustList),
                    rootKey: Array(root),
                    now: now,
                    maximumAge: CityLists.maximumAge
                ),
                status: try StatusList(
                    verifying: try read(statusList),
                    rootKey: Array(root),
                    now: now,
                    maximumAge: CityLists.maximumAge
                )
            )
            let (verdict, standing) = verifier.verify(token)
            switch (verdict, standing) {
            case (.genuine(let certificate), let standing?):
                print(
                    """
                    genuine: \(certificate.patientName), born \(certificate.dateOfBirth), \
                    \(certificate.periodStart) – \(certificate.periodEnd), \(certificate.clinicName), \
                    version \(certificate.version) (\(certificate.status.rawValue))
                    """
                )
                switch standing {
                case .inForce: print(certificate.status == .closed ? "closed: the leave has ended" : "in force")
                case .superseded: print("superseded by a newer version")
                case .revoked: print("revoked by the clinic")
                }
                if standing != .inForce { throw ExitCode(2) }
            case (.genuine, nil): throw ExitCode(2)
            case (.unreadable(let error), _):
                print("unreadable: \(error)")
                throw ExitCode(1)
            case (.unknownKey, _):
                print("not genuine: signed with a key the city does not trust")
                throw ExitCode(1)
            case (.keyNotValid(let reason), _):
                print("not genuine: \(reason)")
                throw ExitCode(1)
            case (.forged, _):
                print("not genuine: the signature does not match")
                throw ExitCode(1)
            }
        }
    }
}
