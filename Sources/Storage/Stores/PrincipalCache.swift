import Core
import Foundation

/// The principals behind API tokens this server has looked up, kept for a short while so that a
/// till's every charge does not look its token up again (docs/meal-payments.md, "Principals kept
/// between requests").
///
/// It serves only while a ``PrincipalListener`` listens for the changes PostgreSQL announces
/// (migration 0022: a token revoked, a user disabled, roles changed): each announcement drops
/// the city's principals at once. While nothing listens — before the listener's `LISTEN` is
/// confirmed, or after its connection is lost — the cache is dark: it holds nothing, serves
/// nothing and keeps nothing, and every request looks its token up as it would without it.
///
/// A lookup that was under way when an announcement came (or when the cache went live) is not
/// kept: it may have read the rows before the change. Tokens not found are never kept. An entry
/// lives ``lifetime`` at most, which bounds how long a lost announcement could go unnoticed on a
/// connection that died without PostgreSQL's knowing, and brings the token's last use
/// (``PostgresAccountStore/lastUseResolution``) back to the database now and then.
public final class PrincipalCache: Sendable {
    /// The channel PostgreSQL announces the changes on; the payload is the city's id, or `all`.
    public static let channel = "adal_principals"

    /// How long an entry is served before the token is looked up again.
    public let lifetime: Duration
    /// The most entries kept (a city's tills, and every other caller of the API).
    public let capacity: Int

    private struct Key: Hashable {
        let tenantID: UUID
        let tokenHash: [UInt8]
    }

    private struct Entry {
        let principal: Principal
        let kept: ContinuousClock.Instant
    }

    private struct State {
        var live = false
        /// Moves on with every announcement and every change of `live`: a lookup begun at an
        /// earlier generation may have read rows that changed since, so it is not kept.
        var generation: UInt64 = 0
        var entries: [Key: Entry] = [:]
    }

    private let state = Locked(State())

    public init(lifetime: Duration = .seconds(30), capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    /// The principal kept for the token, if the cache is live and it is younger than ``lifetime``.
    public func principal(tenantID: UUID, tokenHash: [UInt8]) -> Principal? {
        let now = ContinuousClock.now
        let lifetime = lifetime
        return state.withLock { state in
            guard state.live, let entry = state.entries[Key(tenantID: tenantID, tokenHash: tokenHash)] else {
                return nil
            }
            guard now - entry.kept < lifetime else { return nil }
            return entry.principal
        }
    }

    /// The generation a lookup begins at, which ``keep(_:tokenHash:since:)`` needs; nil while
    /// the cache is dark (then the lookup's result is not kept).
    public var generation: UInt64? {
        state.withLock { $0.live ? $0.generation : nil }
    }

    /// Keeps a principal looked up from `generation` on, unless something was announced since or
    /// the cache went dark meanwhile. A full cache first drops its expired entries, and if none
    /// expired, all of them.
    public func keep(_ principal: Principal, tokenHash: [UInt8], since generation: UInt64) {
        let now = ContinuousClock.now
        let (lifetime, capacity) = (lifetime, capacity)
        state.withLock { state in
            guard state.live, state.generation == generation else { return }
            let key = Key(tenantID: principal.tenantID, tokenHash: tokenHash)
            if state.entries[key] == nil, state.entries.count >= capacity {
                state.entries = state.entries.filter { now - $0.value.kept < lifetime }
                if state.entries.count >= capacity { state.entries = [:] }
            }
            state.entries[key] = Entry(principal: principal, kept: now)
        }
    }

    /// An announcement: drops the named city's principals, or every principal when the payload is
    /// not a city's id (`all`, or anything else).
    public func changed(_ payload: String) {
        let tenantID = UUID(uuidString: payload)
        state.withLock { state in
            state.generation &+= 1
            if let tenantID {
                state.entries = state.entries.filter { $0.key.tenantID != tenantID }
            } else {
                state.entries = [:]
            }
        }
    }

    /// The listener's `LISTEN` is confirmed: announcements will arrive from now on.
    public func goLive() {
        state.withLock { state in
            state.generation &+= 1
            state.live = true
        }
    }

    /// The listener stopped or lost its connection: announcements may be missed from now on, so
    /// nothing kept may be trusted.
    public func goDark() {
        state.withLock { state in
            state.generation &+= 1
            state.live = false
            state.entries = [:]
        }
    }

    /// Whether the cache serves (its listener listens).
    public var isLive: Bool { state.withLock { $0.live } }

    /// How many principals it keeps (expired ones included until they are replaced or dropped).
    public var count: Int { state.withLock { $0.entries.count } }
}
