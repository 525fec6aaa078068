import NIOCore
import NIOPosix
import Storage
import Testing

@testable import Web

@Suite("The server's threads")
struct EventLoopsTests {
    @Test("the HTTP server's loops and the database's are apart, one thread a core in all (two at least)")
    func loopsApart() {
        let server = Array(ServerLoops.group.makeIterator())
        let database = Array(DatabaseLoops.group.makeIterator())
        #expect(!server.isEmpty && !database.isEmpty)
        #expect(server.count + database.count == max(2, System.coreCount))
        #expect(!server.contains { loop in database.contains { $0 === loop } })
        let shared = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        #expect(!server.contains { loop in shared.contains { $0 === loop } })
    }
}
