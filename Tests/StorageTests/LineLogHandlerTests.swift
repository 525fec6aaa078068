import Foundation
import Logging
import Testing

@testable import Storage

@Suite("The server's log lines")
struct LineLogHandlerTests {
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var lines: [String] = []
        func append(_ line: String) { lock.withLock { lines.append(line) } }
        var all: [String] { lock.withLock { lines } }
    }

    @Test("a line has the time, level, label, every metadata key in order, the source and the message")
    func line() throws {
        let lines = Lines()
        let provider = Logger.MetadataProvider { ["trace": "t-1"] }
        var logger = Logger(label: "adal.test") { label in
            LineLogHandler(label: label, metadataProvider: provider) { lines.append($0) }
        }
        logger[metadataKey: "request"] = "r-9"
        logger[metadataKey: "connection"] = "7"
        logger[metadataKey: "connection"] = "8"
        logger.debug("not written at info")
        logger.warning("charge refused", metadata: ["reason": "no card", "request": "r-10"])
        let written = lines.all
        #expect(written.count == 1)
        let line = try #require(written.first)
        let time = try #require(line.split(separator: " ").first)
        #expect((try? Date(String(time), strategy: .iso8601)) != nil)
        #expect(
            line.dropFirst(time.count)
                == " warning adal.test: connection=8 reason=no card request=r-10 trace=t-1 [StorageTests] charge refused\n"
        )
    }
}
