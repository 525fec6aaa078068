import Core
import Foundation
import MealPayments
import PostgresNIO
import Storage
import Workflow

/// The tills' charges, served in batches: each charge is its own step of its pupil's meal
/// account with its own answer, and the charges of a city that arrive together share one
/// transaction (``BatchQueue``, ``WorkflowEngine/fire(tenantID:batch:missing:repeats:locate:answer:)``).
/// A lone charge runs at once; at a canteen's rush hour the fixed cost of a transaction — its
/// round trips and its flush to disk — is shared by everything that arrived during the last one.
struct MealCharges: Sendable {
    /// One charge as the till sent it.
    struct Charge: Sendable {
        var card: String
        var transfer: UUID
        /// Who charges: known at once, or once the till's token has been looked up (meanwhile
        /// the charge waits for its batch); a charge whose actor fails gets that error.
        var actor: @Sendable () async throws -> StepActor
        var input: [String: InputValue]

        init(
            card: String,
            transfer: UUID,
            input: [String: InputValue],
            actor: @escaping @Sendable () async throws -> StepActor
        ) {
            self.card = card
            self.transfer = transfer
            self.actor = actor
            self.input = input
        }
    }

    /// The transfer as stored after the step (nil if it could not be read), and whether the
    /// step was an earlier request's, replayed.
    typealias Answer = (found: MealQueries.Found?, replayed: Bool)

    /// Batches running at once, for all cities together (one at a time per city).
    static let lanes = max(2, ProcessInfo.processInfo.activeProcessorCount)
    /// Charges in one transaction at most: bounds a transaction's locks and its rollback's cost.
    static let maximumBatch = 64
    /// Charges waiting at most; more are refused (503) rather than queued without bound.
    static let maximumWaiting = 4_096

    private let queue: BatchQueue<UUID, Charge, Answer>

    init(engine: WorkflowEngine) {
        queue = BatchQueue(
            lanes: Self.lanes,
            maximumBatch: Self.maximumBatch,
            maximumWaiting: Self.maximumWaiting,
            executor: { Database.executor() },
            opening: { tenantID, take in await Self.serve(take: take, tenantID: tenantID, engine: engine) }
        )
    }

    /// One batch of a city's charges, in one transaction; each charge's own answer or error.
    static func serve(_ charges: [Charge], tenantID: UUID, engine: WorkflowEngine) async -> [Result<Answer, any Error>]
    {
        await serve(take: { charges }, tenantID: tenantID, engine: engine)
    }

    /// One batch of a city's charges, taken once its transaction is open. Each charge's actor is
    /// awaited then (a till's token is looked up while its charge waits); a charge refused there
    /// gets its error and makes no step.
    static func serve(
        take: @escaping @Sendable () async -> [Charge],
        tenantID: UUID,
        engine: WorkflowEngine
    ) async -> [Result<Answer, any Error>] {
        let logger = engine.database.logger
        // The charges as taken, and those refused before their step, by position.
        let taken = Locked<(count: Int, stepped: [Int], refused: [Int: any Error])>((0, [], [:]))
        let stepped = await engine.fire(
            tenantID: tenantID,
            take: {
                let charges = await take()
                var steps: [BatchedStep<Charge>] = []
                var positions: [Int] = []
                var refused: [Int: any Error] = [:]
                for (position, charge) in charges.enumerated() {
                    do {
                        let actor = try await charge.actor()
                        steps.append(
                            BatchedStep(
                                context: charge,
                                event: "charge",
                                actor: actor,
                                input: charge.input,
                                idempotencyKey: key(charge.transfer)
                            )
                        )
                        positions.append(position)
                    } catch {
                        refused[position] = error
                    }
                }
                taken.withLock { $0 = (charges.count, positions, refused) }
                return steps
            },
            missing: .notFound(what: MealReason.unknownCard),
            repeats: .nextBatch,
            locator: Cards.self,
            answer: { connection, made in
                // A charge made here is answered with what its action booked; a retry (or a
                // charge run alone) with the transfer as read now.
                var found: [UUID: MealQueries.Found] = [:]
                for step in made {
                    if let reply = step.reply as? MealQueries.Found { found[step.context.transfer] = reply }
                }
                let unread = made.map(\.context.transfer).filter { found[$0] == nil }
                if !unread.isEmpty {
                    let read = try await MealQueries.transfers(
                        unread,
                        tenantID: tenantID,
                        on: connection,
                        logger: logger
                    )
                    found.merge(read) { _, read in read }
                }
                return made.map { Answer(found: found[$0.context.transfer], replayed: $0.result.replayed) }
            }
        )
        let (count, positions, refused) = taken.current
        var results = [Result<Answer, any Error>](
            repeating: .failure(AdalError.unavailable(reason: "the charge was not served")),
            count: count
        )
        for (position, result) in zip(positions, stepped) { results[position] = result }
        for (position, error) in refused { results[position] = .failure(error) }
        return results
    }

    /// The charges' pupils, found by card in the engine's lock statement.
    enum Cards: InstanceLocator {
        static let name = "meal_cards"
        static func query(_ charges: [Charge], tenantID: UUID) -> PostgresQuery {
            MealQueries.instancesByCard(charges.map(\.card), tenantID: tenantID)
        }
    }

    /// The step's idempotency key: the charge's id, so a retried charge replays the first.
    static func key(_ transfer: UUID) -> String { "charge-\(transfer.lowercasedText)" }

    /// Batches served so far, the charges in them and the time they took.
    var served: BatchesServed { queue.served }

    /// Serves one charge in the next batch of its city; its own answer or error.
    func charge(_ charge: Charge, tenantID: UUID) async throws -> Answer {
        try await queue.submit(charge, key: tenantID)
    }
}
