import ArgumentParser
import Core
import Foundation
import Storage
import Web

/// `adal user`: accounts and API tokens.
struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user",
        abstract: "Create and disable users; issue and revoke API tokens.",
        subcommands: [Create.self, Disable.self, Token.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user in a city.",
            discussion: """
                The password is read from standard input (one line) with --password-stdin; otherwise a \
                random one is generated and printed once. Roles: \(Role.allCases.map(\.rawValue).joined(separator: ", ")).
                Example: adal user create --tenant astana --name "School 12 canteen" --role canteen_till till12
                """
        )

        @OptionGroup var common: CommonOptions
        @Option(help: "The city's short name.") var tenant: String
        @Argument(help: "Login: Latin letters, digits, '.', '_' or '-'.") var login: String
        @Option(help: "Name shown on pages.") var name: String
        @Option(name: .customLong("role"), help: "A role; repeat for several.") var roles: [String]
        @Option(help: "The person's IIN (12 digits with a valid check digit).") var iin: String?
        @Flag(help: "Read the password from standard input.") var passwordStdin = false

        func run() async throws {
            let roles = Set(try roles.map { try Role.parse($0) })
            let iin = try iin.map { try NationalIdentifier.iin($0) }
            let generated = passwordStdin ? nil : SecretToken.generate().text.prefix(20).description
            guard let password = generated ?? readLine(strippingNewline: true) else {
                throw ValidationError("no password on standard input")
            }
            let new = NewUser(login: login, displayName: name, iin: iin, roles: roles)
            let slug = tenant
            let logger = try common.logger()
            let configuration = try common.configuration()
            try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                let user = try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(slug, in: database)
                    return try await accountService(database, configuration).createUser(
                        new,
                        password: password,
                        tenantID: tenant.id
                    )
                }
                print(
                    "Created \(user.login) in \(slug) with roles \(user.roles.sorted().map(\.rawValue).joined(separator: ", "))."
                )
                if let generated { print("Password (shown once): \(generated)") }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Disable a user: their sessions end and their API tokens stop working at once."
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "The city's short name.") var tenant: String
        @Argument(help: "The user's login.") var login: String

        func run() async throws {
            let (slug, login) = (tenant, login)
            let logger = try common.logger()
            let configuration = try common.configuration()
            try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                try await endpoints.withOwner(logger: logger) { database in
                    let tenant = try await requireTenant(slug, in: database)
                    _ = try await accountService(database, configuration).disableUser(login: login, tenantID: tenant.id)
                }
                print("Disabled \(login) in \(slug).")
            }
        }
    }

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue an API token for a user (e.g. a canteen till), or revoke one.",
            discussion: """
                The token is printed once; only its SHA-256 is stored. Send it as 'Authorization: Bearer TOKEN' \
                to /api/<city>/…. Without --role the token carries all the user's roles.
                Examples: adal user token --tenant astana till12 --name "till 1" --role canteen_till
                          adal user token --tenant astana --revoke 6f1c…
                """
        )
        @OptionGroup var common: CommonOptions
        @Option(help: "The city's short name.") var tenant: String
        @Argument(help: "The user's login (when issuing).") var login: String?
        @Option(help: "What the token is for.") var name: String = "api"
        @Option(name: .customLong("role"), help: "Limit the token to this role; repeat for several.") var roles:
            [String] = []
        @Option(help: "Revoke the token with this id instead of issuing one.") var revoke: String?

        func validate() throws {
            if revoke == nil && login == nil { throw ValidationError("name the user's login, or --revoke a token id") }
            if let revoke, UUID(uuidString: revoke) == nil {
                throw ValidationError("--revoke takes a token id (a UUID)")
            }
        }

        func run() async throws {
            let roles = Set(try roles.map { try Role.parse($0) })
            let (slug, login, name, revoke) = (tenant, login ?? "", name, revoke.flatMap(UUID.init(uuidString:)))
            let logger = try common.logger()
            let configuration = try common.configuration()
            try await withPreparedDatabase(configuration, logger: logger) { endpoints in
                let message = try await endpoints.withOwner(logger: logger) { database -> String in
                    let tenant = try await requireTenant(slug, in: database)
                    let accounts = accountService(database, configuration)
                    if let revoke {
                        let done = try await accounts.store.revokeToken(id: revoke, tenantID: tenant.id, at: Date())
                        return done ? "Revoked token \(revoke)." : "No live token \(revoke) in \(slug)."
                    }
                    let (secret, token) = try await accounts.issueToken(
                        login: login,
                        name: name,
                        roles: roles,
                        tenantID: tenant.id
                    )
                    return """
                        Token \(token.id) for \(login), roles \(token.roles.sorted().map(\.rawValue).joined(separator: ", ")).
                        Secret (shown once): \(secret.text)
                        """
                }
                print(message)
            }
        }
    }
}

/// The account rules on an owner-role database, for administration commands.
func accountService(_ database: Database, _ configuration: AppConfiguration) -> AccountService {
    AccountService(
        store: PostgresAccountStore(database: database),
        hasher: BcryptHasher(cost: configuration.bcryptCost),
        sessionLifetime: configuration.sessionLifetime
    )
}
