import Core
import Crypto
import Foundation
import Logging
import PostgresNIO
import Storage

/// The double-entry ledger, in tiyn, on the step's own connection. Every posted transfer takes
/// its amount from one account row and adds it to another, so the sum over all rows never
/// changes. A pupil's row is moved by one conditional update (it can never go below zero, and
/// there is no read-then-write race); the shared accounts are split into up to ``shards`` rows
/// and each transfer takes one that no other transaction holds (from a random one on, migration
/// 0018), so no row is locked by every charge of the city and a charge waits for another only
/// when every shard is held. A batch of till charges moves each shared account once, on one
/// shard, for the batch's total (`adal_meal_charges`, migration 0020); each transfer names it.
public enum Ledger {
    public static let shards = 32

    public enum Kind: String, Sendable {
        case pupil
        case subsidy
        case supplier
        case clearing
    }

    /// A transfer id that follows from `text` (the SHA-256 of it, laid out as a version-5 UUID):
    /// the same text gives the same id, so a retried delivery makes one transfer, not two.
    static func derivedID(_ text: String) -> UUID {
        let d = Array(SHA256.hash(data: Data(text.utf8)))
        return UUID(
            uuid: (
                d[0], d[1], d[2], d[3], d[4], d[5], (d[6] & 0x0F) | 0x50, d[7], (d[8] & 0x3F) | 0x80, d[9], d[10],
                d[11], d[12], d[13], d[14], d[15]
            )
        )
    }

    /// Opens a pupil's account row (balance zero).
    public static func openPupilAccount(
        tenantID: UUID,
        pupil: UUID,
        on connection: PostgresConnection,
        logger: Logger
    )
        async throws -> UUID
    {
        let id = UUID()
        try await connection.run(
            """
            INSERT INTO ledger_accounts (tenant_id, id, kind, owner) VALUES (\(tenantID), \(id), 'pupil', \(pupil.uuidString))
            """,
            logger: logger
        )
        return id
    }

    /// Adds `amount` (negative to take) to one of a shared account's shards, the first free one
    /// from a random one on, making the shards when needed; the shard's row id. The rule is the
    /// database's `adal_ledger_move_shared` (migrations 0013 and 0018), which the till's charge
    /// uses too.
    public static func moveShared(
        _ kind: Kind,
        owner: String,
        amount: Int64,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> UUID {
        let shard = Int16.random(in: 0..<Int16(shards))
        for try await id in try await connection.query(
            """
            SELECT adal_ledger_move_shared(\(tenantID)::uuid, \(kind.rawValue)::text, \(owner)::text, \(amount)::bigint,
                \(shard)::smallint, \(Int16(shards))::smallint)
            """,
            logger: logger
        ).decode(UUID.self) {
            return id
        }
        throw AdalError.unavailable(reason: "ledger account \(kind.rawValue) \(owner) could not be opened")
    }

    /// Adds `amount` to a pupil's account; the balance after.
    public static func creditPupil(
        account: UUID,
        amount: Int64,
        tenantID: UUID,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Int64 {
        var balance: Int64 = 0
        for try await value in try await connection.query(
            """
            UPDATE ledger_accounts SET balance = balance + \(amount)
            WHERE tenant_id = \(tenantID) AND id = \(account) RETURNING balance
            """,
            logger: logger
        ).decode(Int64.self) {
            balance = value
        }
        return balance
    }
}

/// The outcome of `adal ledger check` for one city.
public struct LedgerCheck: Sendable, Equatable {
    /// Account rows whose stored balance differs from the sum of their posted transfers.
    public var mismatched: [(account: UUID, stored: Int64, computed: Int64)]
    /// The sum over every account row: zero while money is conserved.
    public var total: Int64
    public var accounts: Int
    public var transfers: Int

    public var passed: Bool { mismatched.isEmpty && total == 0 }

    public static func == (left: LedgerCheck, right: LedgerCheck) -> Bool {
        left.total == right.total && left.accounts == right.accounts && left.transfers == right.transfers
            && left.mismatched.map(\.account) == right.mismatched.map(\.account)
    }

    /// Compares every account's stored balance with credits minus debits of its posted
    /// transfers, in one snapshot.
    public static func run(tenantID: UUID, database: Database) async throws -> LedgerCheck {
        let logger = database.logger
        return try await database.withTenant(tenantID, repeatableRead: true) { connection in
            var check = LedgerCheck(mismatched: [], total: 0, accounts: 0, transfers: 0)
            for try await (id, stored, computed) in try await connection.query(
                """
                SELECT a.id, a.balance, coalesce(c.sum, 0) - coalesce(d.sum, 0)
                FROM ledger_accounts a
                LEFT JOIN (SELECT credit_account AS id, sum(amount)::bigint AS sum FROM transfers
                    WHERE tenant_id = \(tenantID) AND status = 'posted' GROUP BY credit_account) c ON c.id = a.id
                LEFT JOIN (SELECT debit_account AS id, sum(amount)::bigint AS sum FROM transfers
                    WHERE tenant_id = \(tenantID) AND status = 'posted' GROUP BY debit_account) d ON d.id = a.id
                WHERE a.tenant_id = \(tenantID)
                """,
                logger: logger
            ).decode((UUID, Int64, Int64).self) {
                check.accounts += 1
                check.total += stored
                if stored != computed { check.mismatched.append((id, stored, computed)) }
            }
            for try await count in try await connection.query(
                "SELECT count(*)::int FROM transfers WHERE tenant_id = \(tenantID) AND status = 'posted'",
                logger: logger
            ).decode(Int.self) {
                check.transfers = count
            }
            return check
        }
    }
}
