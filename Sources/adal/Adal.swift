import ArgumentParser

/// The `adal` command: parses arguments and hands over to the libraries.
@main
struct Adal: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adal",
        abstract: "Adal: an open, auditable platform for a city's digitized public services.",
        discussion: """
            With no DATABASE_URL, adal runs its own PostgreSQL cluster under the data folder \
            (default ./.adal). Start with 'adal demo' to see two demo cities, or 'adal serve'.
            """,
        subcommands: [
            Serve.self, Migrate.self, TenantCommand.self, UserCommand.self, WorkflowCommand.self, AuditCommand.self,
            BenchCommand.self, CertCommand.self, ClinicCommand.self, RotationCommand.self, LedgerCommand.self,
            MailCommand.self,
            SMSCommand.self,
            Demo.self,
        ],
        defaultSubcommand: Serve.self
    )
}
