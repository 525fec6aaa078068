import NIOCore

/// Runs a task's jobs on the event loop that serves a PostgreSQL connection.
///
/// Each reply of PostgreSQL completes on the connection's event loop. A task on Swift's global
/// executor then waits for one of its threads to pick the continuation up — with 2 cores busy
/// with HTTP work, about a millisecond per round trip (`adal bench meals`). A transaction
/// preferring this executor resumes on the loop that read the reply, with no hop in between;
/// its statements are written from that loop too.
public final class ConnectionExecutor: TaskExecutor {
    public let eventLoop: any EventLoop

    public init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
