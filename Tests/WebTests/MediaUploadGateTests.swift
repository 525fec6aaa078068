import Core
import Foundation
import Testing

@testable import Web

@Suite("Uploads of photos and videos are bounded")
struct MediaUploadGateTests {
    @Test("an address sends at most ten anonymous reports an hour; others and later ones pass")
    func anonymousPerHour() throws {
        let gate = MediaUploadGate()
        let start = Date()
        for minute in 0..<MediaUploadGate.anonymousPerHour {
            try gate.countAnonymous(from: "10.0.0.1", now: start.addingTimeInterval(Double(minute) * 60))
        }
        #expect(throws: AdalError.tooManyAttempts(retryAfterSeconds: 2_401)) {
            try gate.countAnonymous(from: "10.0.0.1", now: start.addingTimeInterval(1_200))
        }
        try gate.countAnonymous(from: "10.0.0.2", now: start.addingTimeInterval(1_200))
        try gate.countAnonymous(from: "10.0.0.1", now: start.addingTimeInterval(3_601))
    }

    @Test("at most four uploads are read at once; the fifth is refused at once, and a finished one frees its place")
    func concurrent() async throws {
        let gate = MediaUploadGate()
        let inside = Locked(0)
        let open = Locked(false)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<MediaUploadGate.concurrent {
                group.addTask {
                    try await gate.admit {
                        inside.withLock { $0 += 1 }
                        while !open.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
                    }
                }
            }
            while inside.withLock({ $0 }) < MediaUploadGate.concurrent { try await Task.sleep(for: .milliseconds(5)) }
            await #expect(throws: AdalError.tooManyAttempts(retryAfterSeconds: 2)) { try await gate.admit {} }
            open.withLock { $0 = true }
            try await group.waitForAll()
        }
        try await gate.admit {}
    }
}
