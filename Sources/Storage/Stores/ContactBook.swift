import Core
import Crypto
import Foundation
import Logging
import PostgresNIO

/// Users' email addresses and mobile numbers (migration 0036; docs/identity.md, "Contact
/// addresses"). An address is used only after its owner has typed back a code sent to it: a
/// new one waits beside the confirmed one, which keeps working until the new one is confirmed.
public struct ContactBook: Sendable {
    public let database: Database

    /// How long a code may be typed back.
    public static let codeLifetime: TimeInterval = 15 * 60
    /// Wrong codes allowed before the code is void and a new one must be asked for.
    public static let codeTries = 5
    /// The least time between two codes to one user's address of one kind.
    public static let codeInterval: TimeInterval = 60
    /// Codes sent to one user's addresses of one kind within an hour.
    public static let codesPerHour = 5

    // Why a code is refused (the pages say each in the reader's language).
    public static let codeShape = "the code is the six digits of the message"
    public static let noCodeWaiting = "no code is waiting for this address: ask for one"
    public static let codeExpired = "the code has expired: ask for a new one"
    public static let codeSpent = "five wrong codes: ask for a new one"
    public static func wrongCode(triesLeft: Int) -> String {
        "the code is wrong (\(triesLeft) \(triesLeft == 1 ? "try" : "tries") left)"
    }

    public init(database: Database) {
        self.database = database
    }

    /// One kind of a user's addresses, as the account page shows it.
    public struct Contact: Sendable, Equatable {
        public let kind: ContactAddress.Kind
        /// Where messages go: the confirmed address.
        public let confirmed: ContactAddress?
        /// A new address waiting for its code, while the code lasts.
        public let pending: ContactAddress?
        /// When a gateway refused the confirmed address for good: nothing goes there since.
        public let refused: Date?

        public init(
            kind: ContactAddress.Kind,
            confirmed: ContactAddress?,
            pending: ContactAddress?,
            refused: Date? = nil
        ) {
            self.kind = kind
            self.confirmed = confirmed
            self.pending = pending
            self.refused = refused
        }
    }

    /// What asking to use an address gave.
    public enum Proposal: Sendable, Equatable {
        /// The address is the confirmed one already: no code is sent, and a new address that
        /// waited for its code is dropped.
        case confirmed
        /// The code to send to the address (six digits).
        case code(String)
    }

    /// Asks to use `address` for its kind of messages: a code to send to it, kept as a hash
    /// until typed back. Refused with `tooManyAttempts` within ``codeInterval`` of the last
    /// code of that kind, or after ``codesPerHour`` codes in an hour.
    public func propose(
        _ address: ContactAddress,
        userID: UUID,
        tenantID: UUID,
        now: Date = Date()
    ) async throws -> Proposal {
        let logger = database.logger
        let kind = address.kind.rawValue
        return try await database.withTenant(tenantID) { connection in
            var stored: (address: String?, sentAt: Date?, sent: Int, since: Date?, refused: Bool)?
            for try await row in try await connection.query(
                """
                SELECT address, code_sent_at, codes_sent, codes_since, refused_at IS NOT NULL FROM user_contacts
                WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND channel = \(kind) FOR UPDATE
                """,
                logger: logger
            ).decode((String?, Date?, Int, Date?, Bool).self) {
                stored = (row.0, row.1, row.2, row.3, row.4)
            }
            // The confirmed address, unless a gateway refused it: that one is confirmed again.
            if let stored, stored.address == address.text, !stored.refused {
                try await connection.run(
                    """
                    UPDATE user_contacts SET pending = NULL, code_sha256 = NULL, code_expires_at = NULL,
                        code_tries = 0
                    WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND channel = \(kind)
                    """,
                    logger: logger
                )
                return .confirmed
            }
            var sent = stored?.sent ?? 0
            var since = stored?.since ?? now
            if now.timeIntervalSince(since) >= 3600 {
                sent = 0
                since = now
            }
            if let last = stored?.sentAt, now.timeIntervalSince(last) < Self.codeInterval {
                throw AdalError.tooManyAttempts(
                    retryAfterSeconds: Self.seconds(Self.codeInterval - now.timeIntervalSince(last))
                )
            }
            guard sent < Self.codesPerHour else {
                throw AdalError.tooManyAttempts(retryAfterSeconds: Self.seconds(3600 - now.timeIntervalSince(since)))
            }
            let code = Self.newCode()
            let hash = Self.hash(code: code, address: address.text)
            try await connection.run(
                """
                INSERT INTO user_contacts (tenant_id, user_id, channel, pending, code_sha256, code_expires_at,
                    code_tries, code_sent_at, codes_sent, codes_since)
                VALUES (\(tenantID), \(userID), \(kind), \(address.text), \(Data(hash)),
                    \(now.addingTimeInterval(Self.codeLifetime)), 0, \(now), \(sent + 1), \(since))
                ON CONFLICT (tenant_id, user_id, channel) DO UPDATE SET pending = excluded.pending,
                    code_sha256 = excluded.code_sha256, code_expires_at = excluded.code_expires_at, code_tries = 0,
                    code_sent_at = excluded.code_sent_at, codes_sent = excluded.codes_sent,
                    codes_since = excluded.codes_since
                """,
                logger: logger
            )
            return .code(code)
        }
    }

    /// Confirms the address waiting for `code`: from now on messages of its kind go there.
    /// A wrong code is counted (``codeTries``); each refusal names its reason on `code`.
    @discardableResult
    public func confirm(
        _ kind: ContactAddress.Kind,
        code typed: String,
        userID: UUID,
        tenantID: UUID,
        now: Date = Date()
    ) async throws -> ContactAddress {
        let code = typed.filter { !$0.isWhitespace }
        guard code.count == 6, code.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }) else {
            throw AdalError.invalidField(field: "code", reason: Self.codeShape)
        }
        let logger = database.logger
        // A wrong code's try is counted in the transaction and refused after its commit.
        let outcome: Result<ContactAddress, AdalError> = try await database.withTenant(tenantID) { connection in
            var waiting: (pending: String, hash: Data, expires: Date, tries: Int)?
            for try await row in try await connection.query(
                """
                SELECT pending, code_sha256, code_expires_at, code_tries FROM user_contacts
                WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND channel = \(kind.rawValue)
                    AND pending IS NOT NULL
                FOR UPDATE
                """,
                logger: logger
            ).decode((String, Data, Date, Int).self) {
                waiting = (row.0, row.1, row.2, row.3)
            }
            guard let waiting else { return .failure(.invalidField(field: "code", reason: Self.noCodeWaiting)) }
            guard now < waiting.expires else { return .failure(.invalidField(field: "code", reason: Self.codeExpired)) }
            guard waiting.tries < Self.codeTries else {
                return .failure(.invalidField(field: "code", reason: Self.codeSpent))
            }
            guard Data(Self.hash(code: code, address: waiting.pending)) == waiting.hash else {
                try await connection.run(
                    """
                    UPDATE user_contacts SET code_tries = code_tries + 1
                    WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND channel = \(kind.rawValue)
                    """,
                    logger: logger
                )
                let left = Self.codeTries - waiting.tries - 1
                return .failure(
                    .invalidField(field: "code", reason: left > 0 ? Self.wrongCode(triesLeft: left) : Self.codeSpent)
                )
            }
            try await connection.run(
                """
                UPDATE user_contacts SET address = pending, confirmed_at = \(now), pending = NULL,
                    code_sha256 = NULL, code_expires_at = NULL, code_tries = 0, refused_at = NULL
                WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND channel = \(kind.rawValue)
                """,
                logger: logger
            )
            return .success(ContactAddress(stored: waiting.pending, kind: kind))
        }
        return try outcome.get()
    }

    /// Stops messages of `kind` to the user (the confirmed address and any waiting one). The
    /// codes' count is kept, so removing and adding again does not send more codes.
    public func remove(_ kind: ContactAddress.Kind, userID: UUID, tenantID: UUID) async throws {
        let logger = database.logger
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                """
                UPDATE user_contacts SET address = NULL, confirmed_at = NULL, pending = NULL, code_sha256 = NULL,
                    code_expires_at = NULL, code_tries = 0, refused_at = NULL
                WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND channel = \(kind.rawValue)
                """,
                logger: logger
            )
        }
    }

    /// The user's addresses of each kind, for their account page.
    public func contacts(userID: UUID, tenantID: UUID, now: Date = Date()) async throws -> [Contact] {
        let logger = database.logger
        let rows = try await database.withTenant(tenantID) { connection in
            var found: [String: (String?, String?, Date?)] = [:]
            for try await (kind, address, pending, expires, refused) in try await connection.query(
                """
                SELECT channel, address, pending, code_expires_at, refused_at FROM user_contacts
                WHERE tenant_id = \(tenantID) AND user_id = \(userID)
                """,
                logger: logger
            ).decode((String, String?, String?, Date?, Date?).self) {
                found[kind] = (address, expires.map { now < $0 } == true ? pending : nil, refused)
            }
            return found
        }
        return ContactAddress.Kind.allCases.map { kind in
            let row = rows[kind.rawValue]
            return Contact(
                kind: kind,
                confirmed: row?.0.map { ContactAddress(stored: $0, kind: kind) },
                pending: row?.1.map { ContactAddress(stored: $0, kind: kind) },
                refused: row?.2
            )
        }
    }

    /// The user's confirmed addresses, by kind: where messages to them go (none that a gateway
    /// refused).
    public func confirmed(userID: UUID, tenantID: UUID) async throws -> [ContactAddress.Kind: ContactAddress] {
        try await contacts(userID: userID, tenantID: tenantID).reduce(into: [:]) { found, contact in
            if let address = contact.confirmed, contact.refused == nil { found[contact.kind] = address }
        }
    }

    /// Marks `address`, the user's confirmed one of its kind, as refused by its gateway for good:
    /// nothing goes there until it is confirmed again. Nothing happens if the confirmed address
    /// changed meanwhile. True when it was marked now.
    @discardableResult
    public func refuse(_ address: ContactAddress, userID: UUID, tenantID: UUID) async throws -> Bool {
        let logger = database.logger
        return try await database.withTenant(tenantID) { connection in
            try await connection.query(
                """
                UPDATE user_contacts SET refused_at = now()
                WHERE tenant_id = \(tenantID) AND user_id = \(userID) AND channel = \(address.kind.rawValue)
                    AND address = \(address.text) AND refused_at IS NULL
                RETURNING 1
                """,
                logger: logger
            ).collect().isEmpty == false
        }
    }

    /// Six digits from the system's cryptographic random source.
    static func newCode() -> String {
        var generator = SystemRandomNumberGenerator()
        let number = Int.random(in: 0..<1_000_000, using: &generator)
        let digits = String(number)
        return String(repeating: "0", count: 6 - digits.count) + digits
    }

    /// What is kept of a code: SHA-256 of the code and the address it was sent to.
    static func hash(code: String, address: String) -> [UInt8] {
        Array(SHA256.hash(data: Data((code + "\n" + address).utf8)))
    }

    static func seconds(_ interval: TimeInterval) -> Int { max(1, Int(interval.rounded(.up))) }
}

extension ContactBook {
    /// An address that waited for its code is forgotten a day after the code expired (it may be
    /// a stranger's, mistyped), with the code's hash; a row left with no address at all is
    /// deleted once its last code is a day old, after the hour that counts codes.
    public static let retentionRules = [
        RetentionRule(
            name: "unconfirmed addresses",
            table: "user_contacts",
            condition: "pending IS NOT NULL AND code_expires_at < $2",
            keep: .seconds(86_400),
            action: .clear("pending = NULL, code_sha256 = NULL, code_expires_at = NULL, code_tries = 0")
        ),
        RetentionRule(
            name: "empty contact rows",
            table: "user_contacts",
            condition: "address IS NULL AND pending IS NULL AND (codes_since IS NULL OR codes_since < $2)",
            keep: .seconds(86_400)
        ),
    ]
}
