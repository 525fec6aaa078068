import NIOCore

/// Runs a task's jobs on a NIO event loop: that of a PostgreSQL connection, or of an HTTP one.
///
/// Each reply of PostgreSQL, and each request's bytes, arrive on an event loop. A task on Swift's
/// global executor then waits for one of its threads to pick the continuation up: with 2 cores
/// busy, about a millisecond per round trip in `adal bench meals` (and on a VM each hand-over
/// between threads costs CPU too). A task preferring this executor resumes on the loop where the
/// reply arrived, with no hand-over, and writes from that loop too. What runs here must not
/// compute for long: everything else on that loop waits while it does.
public final class EventLoopExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
