import Foundation
import Testing

@testable import Workflow

@Suite("Prepared step statements")
struct WorkflowSQLTests {
    @Test("the step statement's text does not depend on its values, so it can be prepared once")
    func stableText() throws {
        var write = StepWrite.sample
        write.start = false
        write.fromState = "submitted"
        write.actorID = UUID()
        write.idempotencyKey = "k"
        write.requestSHA256 = Array(repeating: 1, count: 32)
        write.subject = "Oven × 2"
        write.taskRole = "akimat_admin"
        write.taskDueAt = Date()
        write.closes = true
        write.jobs = StateJobs(scheduling: [
            (kind: "timer", event: "expire", at: Date()), (kind: "escalation", event: "", at: Date()),
        ])
        #expect(try write.query().sql == PreparedStepWrite.sql)
        #expect(try write.query().binds.count == (try StepWrite.sample.query().binds.count))
        #expect(!PreparedStepWrite.sql.isEmpty)
    }

    @Test("the lock statement's text depends on neither the keys nor how many instances it locks")
    func lockText() {
        #expect(
            WorkflowSQL.lockInstances(tenantID: UUID(), instanceIDs: [UUID(), UUID()], idempotencyKeys: ["k", ""]).sql
                == PreparedInstanceLock.sql
        )
        #expect(
            PreparedInstanceLock(tenantID: UUID(), instanceID: UUID(), idempotencyKey: nil).query.sql
                == PreparedInstanceLock.sql
        )
    }
}
