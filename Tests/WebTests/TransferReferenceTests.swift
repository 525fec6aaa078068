import Core
import Foundation
import PostgresNIO
import Storage
import Testing

@testable import MealPayments
@testable import Web

/// Migration 0025: a transfer's accounts and pupil are checked once per statement (not by a
/// foreign key per row), and the rows transfers name are never removed or given another id.
@Suite("School meals: transfer references")
struct TransferReferenceTests {
    /// The error `body` fails with, or nil when it does not fail.
    static func failure(_ body: () async throws -> Void) async -> PSQLError? {
        do {
            try await body()
            return nil
        } catch let error as PSQLError {
            return error
        } catch {
            Issue.record("not a database error: \(error)")
            return nil
        }
    }

    @Test("a transfer naming an account or pupil its city does not have is refused; the rows named stay")
    func references() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            let tenant = fixture.astana.id
            let application = fixture.databases.application
            let logger = application.logger
            // The pupil's account, and a pending top-up to move about.
            let (pupil, account) = try await application.withTenant(tenant) { connection in
                var found: (UUID, UUID)?
                for try await row in try await connection.query(
                    "SELECT id, account_id FROM pupils WHERE tenant_id = \(tenant)",
                    logger: logger
                ).decode((UUID, UUID).self) { found = row }
                return try #require(found)
            }
            let pending = UUID()
            #expect(try await city.hold(pending, 5_000).status == .accepted)
            // The other city's account: not in this city, so as good as missing.
            let elsewhere = try await fixture.databases.owner.withTenant(fixture.shymkent.id) { connection in
                try await Ledger.openPupilAccount(
                    tenantID: fixture.shymkent.id,
                    pupil: UUID(),
                    on: connection,
                    logger: logger
                )
            }

            func insert(debit: UUID?, credit: UUID?, pupil: UUID) async -> PSQLError? {
                await Self.failure {
                    try await application.withTenant(tenant) { connection in
                        try await connection.run(
                            """
                            INSERT INTO transfers (tenant_id, id, kind, status, debit_account, credit_account, amount,
                                pupil_id, request_hash, local_day)
                            VALUES (\(tenant), \(UUID()), 'refund', 'posted', \(debit), \(credit), 1::bigint,
                                \(pupil), '\\x00'::bytea, current_date)
                            """,
                            logger: logger
                        )
                    }
                }
            }
            let missing = UUID()
            for (debit, credit, named) in [
                (missing, account, "account \(missing)"), (account, missing, "account \(missing)"),
                (account, elsewhere, "account \(elsewhere)"),
            ] {
                let error = await insert(debit: debit, credit: credit, pupil: pupil)
                #expect(error?.sqlState == SQLState.foreignKeyViolation)
                #expect(
                    error?.serverInfo?[.message]?.contains(named.lowercased()) == true,
                    "\(String(reflecting: error))"
                )
            }
            let noPupil = await insert(debit: account, credit: account, pupil: missing)
            #expect(noPupil?.sqlState == SQLState.foreignKeyViolation)
            #expect(noPupil?.serverInfo?[.message]?.contains("pupil \(missing)".lowercased()) == true)
            // Both names real: written (a movement from the account to itself changes no balance).
            #expect(await insert(debit: account, credit: account, pupil: pupil) == nil)

            // An update is checked too: posting the pending top-up to an account that is not there.
            let update = await Self.failure {
                try await application.withTenant(tenant) { connection in
                    try await connection.run(
                        """
                        UPDATE transfers SET status = 'posted', debit_account = \(account), credit_account = \(missing)
                        WHERE tenant_id = \(tenant) AND id = \(pending)
                        """,
                        logger: logger
                    )
                }
            }
            #expect(update?.sqlState == SQLState.foreignKeyViolation)

            // Nothing removes what transfers name: the application may not delete, the owner is
            // refused by the trigger, and no key changes.
            for (database, expected) in [
                (application, SQLState.insufficientPrivilege), (fixture.databases.owner, "23001"),
            ] {
                for table in ["ledger_accounts", "pupils"] {
                    let error = await Self.failure {
                        try await database.withTenant(tenant) { connection in
                            try await connection.run(
                                PostgresQuery(unsafeSQL: "DELETE FROM \(table) WHERE tenant_id = '\(tenant)'"),
                                logger: logger
                            )
                        }
                    }
                    #expect(error?.sqlState == expected, "\(table): \(String(reflecting: error))")
                }
            }
            for (table, id) in [("ledger_accounts", account), ("pupils", pupil)] {
                let error = await Self.failure {
                    try await application.withTenant(tenant) { connection in
                        try await connection.run(
                            PostgresQuery(
                                unsafeSQL:
                                    "UPDATE \(table) SET id = gen_random_uuid() WHERE tenant_id = '\(tenant)' AND id = '\(id)'"
                            ),
                            logger: logger
                        )
                    }
                }
                #expect(error?.sqlState == "23001", "\(table): \(String(reflecting: error))")
            }

            // What was refused left nothing behind, and the ledger still balances.
            let check = try await LedgerCheck.run(tenantID: tenant, database: fixture.databases.owner)
            #expect(check.passed)
            #expect(check.transfers == 2)
        }
    }

    /// Migration 0034: the check looks up each id a statement names; it never reads the city's
    /// accounts (a statement of a few dozen rows was checked with a scan of all of them).
    @Test("a statement's references are probed id by id, not by scanning the city's accounts")
    func probed() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            try await city.topUp(100_000)
            let tenant = fixture.astana.id
            let (owner, application) = (fixture.databases.owner, fixture.databases.application)
            let logger = application.logger
            // A city of 5,000 accounts more, their figures known to the planner: 200 probes look
            // dearer to it than one scan of the table.
            let (pupil, accounts) = try await owner.withTenant(tenant) { connection in
                try await connection.run(
                    """
                    INSERT INTO ledger_accounts (tenant_id, id, kind, owner)
                    SELECT \(tenant), gen_random_uuid(), 'pupil', 'probed-' || i FROM generate_series(1, 5000) AS i
                    """,
                    logger: logger
                )
                try await connection.run("ANALYZE ledger_accounts", logger: logger)
                var pupil: UUID?
                for try await id in try await connection.query(
                    "SELECT id FROM pupils WHERE tenant_id = \(tenant)",
                    logger: logger
                ).decode(UUID.self) { pupil = id }
                var accounts: [UUID] = []
                for try await id in try await connection.query(
                    "SELECT id FROM ledger_accounts WHERE tenant_id = \(tenant) AND owner LIKE 'probed-%' LIMIT 200",
                    logger: logger
                ).decode(UUID.self) { accounts.append(id) }
                return (try #require(pupil), accounts)
            }
            #expect(accounts.count == 200)
            let scans = try await application.withTenant(tenant) { connection in
                try await connection.run(
                    """
                    INSERT INTO transfers (tenant_id, id, kind, status, debit_account, credit_account, amount,
                        pupil_id, request_hash, local_day)
                    SELECT \(tenant), gen_random_uuid(), 'refund', 'posted', a.id, a.id, 1, \(pupil), '\\x00'::bytea,
                        current_date
                    FROM unnest(\(accounts)::uuid[]) AS a (id)
                    """,
                    logger: logger
                )
                // This transaction's scans so far, the trigger's among them.
                var scans: (sequential: Int, index: Int)?
                for try await row in try await connection.query(
                    """
                    SELECT seq_scan::integer, coalesce(idx_scan, 0)::integer FROM pg_stat_xact_user_tables
                    WHERE relid = 'ledger_accounts'::regclass
                    """,
                    logger: logger
                ).decode((Int, Int).self) { scans = row }
                return try #require(scans)
            }
            #expect(scans.sequential == 0, "the check read the city's accounts")
            #expect(scans.index >= 200)
            let check = try await LedgerCheck.run(tenantID: tenant, database: owner)
            #expect(check.passed)
        }
    }
}
