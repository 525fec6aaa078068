import Core
import Crypto
import Foundation
import MealPayments
import PostgresNIO
import Storage
import Testing

@testable import Web

@Suite("What a city keeps only for a while")
struct HousekeepingTests {
    @Test("each rule takes only rows past their time, in every city, and the server's own role may do it")
    func rules() async throws {
        try await WebFixture.with { fixture, _ in
            let owner = fixture.databases.owner
            for city in [fixture.astana, fixture.shymkent] {
                let user = try #require(
                    try await fixture.dependencies.accounts.store.user(login: "parent", tenantID: city.id)
                ).id
                let other = try #require(
                    try await fixture.dependencies.accounts.store.user(login: "admin", tenantID: city.id)
                ).id
                try await owner.withTenant(city.id) { connection in
                    let logger = owner.logger
                    for (hours, label) in [(-1, "expired"), (1, "live")] {
                        try await connection.run(
                            """
                            INSERT INTO sessions (tenant_id, token_hash, user_id, expires_at)
                            VALUES (\(city.id), sha256(\(label + city.id.uuidString)::bytea), \(user),
                                    now() + make_interval(hours => \(hours)::integer))
                            """,
                            logger: logger
                        )
                    }
                    try await connection.run(
                        """
                        INSERT INTO login_throttle (tenant_id, subject, failures, window_started_at, last_failure_at)
                        VALUES (\(city.id), 'address:192.0.2.1', 3, now() - interval '2 days', now() - interval '2 days'),
                               (\(city.id), 'address:192.0.2.2', 3, now() - interval '3 hours', now() - interval '3 hours')
                        """,
                        logger: logger
                    )
                    // A confirmed address with a new one whose code expired two days ago; a row
                    // whose address was removed two days ago; another's code expired an hour ago.
                    try await connection.run(
                        """
                        INSERT INTO user_contacts (tenant_id, user_id, channel, address, confirmed_at, pending,
                            code_sha256, code_expires_at, code_tries, code_sent_at, codes_sent, codes_since)
                        VALUES (\(city.id), \(user), 'email', 'mother@mail.kz', now() - interval '9 days', 'typo@mail.kz',
                                sha256('x'), now() - interval '2 days', 2, now() - interval '2 days', 1, now() - interval '2 days'),
                               (\(city.id), \(user), 'sms', NULL, NULL, NULL, NULL, NULL, 0,
                                now() - interval '2 days', 3, now() - interval '2 days'),
                               (\(city.id), \(other), 'sms', NULL, NULL, '+77011234567', sha256('y'),
                                now() - interval '1 hour', 0, now() - interval '75 minutes', 1, now() - interval '75 minutes')
                        """,
                        logger: logger
                    )
                    try await connection.run(
                        """
                        INSERT INTO jobs (tenant_id, kind, topic, run_at, status, finished_at)
                        VALUES (\(city.id), 'outbox', 'old-done', now() - interval '31 days', 'done', now() - interval '31 days'),
                               (\(city.id), 'outbox', 'old-cancelled', now() - interval '40 days', 'cancelled', now() - interval '40 days'),
                               (\(city.id), 'outbox', 'recent-done', now() - interval '29 days', 'done', now() - interval '29 days'),
                               (\(city.id), 'outbox', 'old-dead', now() - interval '100 days', 'dead', now() - interval '100 days'),
                               (\(city.id), 'outbox', 'old-pending', now() - interval '100 days', 'pending', NULL)
                        """,
                        logger: logger
                    )
                    try await connection.run(
                        """
                        INSERT INTO meal_notifications (tenant_id, id, user_id, channel, address, message, sent_at)
                        VALUES (\(city.id), gen_random_uuid(), \(user), 'page', NULL, 'page-old', now() - interval '401 days'),
                               (\(city.id), gen_random_uuid(), \(user), 'page', NULL, 'page-kept', now() - interval '399 days'),
                               (\(city.id), gen_random_uuid(), \(user), 'email', NULL, 'email-page-old', now() - interval '401 days'),
                               (\(city.id), gen_random_uuid(), \(user), 'email', NULL, 'email-page-kept', now() - interval '31 days'),
                               (\(city.id), gen_random_uuid(), \(user), 'email', 'mother@mail.kz', 'sent-old', now() - interval '31 days'),
                               (\(city.id), gen_random_uuid(), \(user), 'sms', '+77011234567', 'sent-kept', now() - interval '29 days')
                        """,
                        logger: logger
                    )
                    try await connection.run(
                        """
                        INSERT INTO provider_events (tenant_id, provider, event_id, outcome, received_at)
                        VALUES (\(city.id), 'simulated', 'event-old', 'posted', now() - interval '91 days'),
                               (\(city.id), 'simulated', 'event-kept', 'posted', now() - interval '89 days')
                        """,
                        logger: logger
                    )
                    // What a dead job sent stays while the job may be sent again; a finished job's goes.
                    try await connection.run(
                        """
                        INSERT INTO meal_notifications (tenant_id, id, user_id, channel, address, message, sent_at, job_id)
                        SELECT \(city.id), gen_random_uuid(), \(user), channel, address, topic || '-' || channel,
                               now() - interval '401 days', id
                        FROM jobs, (VALUES ('page', NULL), ('sms', '+77011234567')) AS sent (channel, address)
                        WHERE tenant_id = \(city.id) AND topic IN ('old-dead', 'old-done')
                        """,
                        logger: logger
                    )
                }
            }
            // The server's own list of rules and periods, run as the server's role.
            let keeper = housekeeping(configuration: AppConfiguration(), database: fixture.dependencies.database)
            let changed = try await keeper.pass()
            #expect(
                changed == [
                    "expired sessions": 2, "sign-in failures": 2, "unconfirmed addresses": 2, "empty contact rows": 2,
                    "finished jobs": 4, "guardians' messages": 6, "messages sent to addresses": 4,
                    "payment providers' events": 2,
                ]
            )
            for city in [fixture.astana, fixture.shymkent] {
                let left = try await owner.withTenant(city.id) { connection in
                    let logger = owner.logger
                    func texts(_ query: PostgresQuery) async throws -> [String] {
                        try await connection.query(query, logger: logger).collect().map { try $0.decode(String.self) }
                    }
                    return (
                        sessions: try await texts(
                            "SELECT CASE WHEN expires_at > now() THEN 'live' ELSE 'expired' END FROM sessions WHERE tenant_id = \(city.id) AND created_at > now() - interval '1 minute' AND token_hash IN (sha256(\("live" + city.id.uuidString)::bytea), sha256(\("expired" + city.id.uuidString)::bytea))"
                        ),
                        throttle: try await texts(
                            "SELECT subject FROM login_throttle WHERE tenant_id = \(city.id) ORDER BY subject"
                        ),
                        contacts: try await texts(
                            "SELECT channel || ':' || coalesce(address, '-') || ':' || coalesce(pending, '-') || ':' || (code_sha256 IS NULL) FROM user_contacts WHERE tenant_id = \(city.id) ORDER BY 1"
                        ),
                        jobs: try await texts(
                            "SELECT topic FROM jobs WHERE tenant_id = \(city.id) AND (topic LIKE 'old-%' OR topic LIKE 'recent-%') ORDER BY topic"
                        ),
                        messages: try await texts(
                            "SELECT message FROM meal_notifications WHERE tenant_id = \(city.id) ORDER BY message"
                        ),
                        events: try await texts(
                            "SELECT event_id FROM provider_events WHERE tenant_id = \(city.id) AND event_id LIKE 'event-%'"
                        )
                    )
                }
                #expect(left.sessions == ["live"])
                #expect(left.throttle == ["address:192.0.2.2"])
                #expect(left.contacts == ["email:mother@mail.kz:-:true", "sms:-:+77011234567:false"])
                #expect(left.jobs == ["old-dead", "old-pending", "recent-done"])
                #expect(left.events == ["event-kept"])
                #expect(
                    left.messages == ["email-page-kept", "old-dead-page", "old-dead-sms", "page-kept", "sent-kept"],
                    "\(left.messages)"
                )
            }
            // A guardian's page still lists what is kept.
            let parent = try #require(
                try await fixture.dependencies.accounts.store.user(login: "parent", tenantID: fixture.astana.id)
            ).id
            #expect(
                try await MealQueries(database: fixture.dependencies.database)
                    .notifications(of: parent, tenantID: fixture.astana.id).map(\.message).sorted()
                    == ["email-page-kept", "old-dead-page", "page-kept"]
            )
            // Nothing more to do on the next pass.
            #expect(try await keeper.pass().values.allSatisfy { $0 == 0 })
        }
    }

    @Test("a provider's event ids are forgotten after 90 days; the same webhook then moves no money")
    func providerEvents() async throws {
        try await WebFixture.with { fixture, client in
            let city = try await MealCity.make(fixture, client)
            let (recent, old) = (UUID(), UUID())
            for id in [recent, old] {
                #expect(try await city.hold(id, 40_000).status == .accepted)
                let capture = TopUps.Event(
                    eventID: "ev-\(id)",
                    type: "payment.captured",
                    transferID: id,
                    amount: 40_000
                )
                #expect(try await city.webhook(capture).text.contains("posted"))
            }
            let owner = fixture.databases.owner
            try await owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    """
                    UPDATE provider_events SET received_at = now() - CASE event_id
                        WHEN \("ev-\(recent)") THEN interval '89 days' ELSE interval '91 days' END
                    WHERE tenant_id = \(fixture.astana.id)
                    """,
                    logger: owner.logger
                )
            }
            let keeper = housekeeping(configuration: AppConfiguration(), database: fixture.dependencies.database)
            #expect(try await keeper.pass()["payment providers' events"] == 1)
            // The provider delivers both again: one still known, the other found already posted.
            let again = { (id: UUID) in
                try await city.webhook(
                    TopUps.Event(eventID: "ev-\(id)", type: "payment.captured", transferID: id, amount: 40_000)
                ).text
            }
            #expect(try await again(recent).contains("duplicate"))
            #expect(try await again(old).contains("ignored"))
            #expect(try await city.balance() == 80_000)
            #expect(try await city.ledgerCheck().passed)
        }
    }

    @Test("years of rows go a batch at a time until none is left")
    func batches() async throws {
        try await WebFixture.with { fixture, _ in
            let owner = fixture.databases.owner
            let old = 2 * Housekeeping.batch + 5
            try await owner.withTenant(fixture.astana.id) { connection in
                try await connection.run(
                    """
                    INSERT INTO jobs (tenant_id, kind, topic, run_at, status, finished_at)
                    SELECT \(fixture.astana.id), 'outbox', 'old', now() - interval '60 days', 'done',
                           now() - interval '60 days' + make_interval(secs => n::double precision)
                    FROM generate_series(1, \(old)) AS n
                    """,
                    logger: owner.logger
                )
            }
            let keeper = housekeeping(configuration: AppConfiguration(), database: fixture.dependencies.database)
            #expect(try await keeper.pass()["finished jobs"] == old)
            let left = try await owner.withTenant(fixture.astana.id) { connection in
                try await connection.query(
                    "SELECT count(*) FROM jobs WHERE tenant_id = \(fixture.astana.id) AND topic = 'old'",
                    logger: owner.logger
                ).collect().first?.decode(Int64.self)
            }
            #expect(left == 0)
        }
    }
}
