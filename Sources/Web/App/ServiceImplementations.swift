import Core
import Foundation
import Logging
import MealPayments
import MealTenders
import OpenBudget
import PrincipalRotation
import SickLeave
import Workflow

/// The Swift halves of the services (their guards and actions) and the handlers of outbox
/// topics: the one list the composition root hands to the workflow registry and the job runner.
/// Each service module adds its implementation here when it lands.
public enum ServiceImplementations {
    public static func all(
        sealer: KeySealer,
        ocds: OCDSRelease = OCDSRelease(prefix: AppConfiguration.defaultOCDSPrefix)
    ) -> [ServiceImplementation] {
        [
            SickLeaveService(sealer: sealer).implementation, PrincipalRotationService.implementation,
            SettingsRecord.implementation, MealAccountService.implementation,
            CompetitionService(sealer: sealer, ocds: ocds).implementation,
            DirectAwardService(ocds: ocds).implementation, OpenBudgetService.implementation,
            CitizenReportService(sealer: sealer).implementation,
            ParticipatoryBudgetService(sealer: sealer).implementation,
        ]
    }

    /// The definitions in the configured folder with the services' Swift halves.
    public static func registry(configuration: AppConfiguration, sealer: KeySealer) throws -> WorkflowRegistry {
        try WorkflowRegistry.load(
            directory: URL(fileURLWithPath: configuration.workflowsDirectory),
            implementations: all(sealer: sealer, ocds: OCDSRelease(prefix: configuration.ocdsPrefix))
        )
    }

    /// The services' hooks for checking definitions offline; no key is ever sealed with this one.
    public static var forValidation: [ServiceImplementation] {
        all(sealer: KeySealer.ephemeral())
    }

    /// Handlers for the outbox topics the engine itself sends. An overdue task with no
    /// escalation event is reported in the log, where operators' alerting picks it up.
    public static func outboxHandlers(logger: Logger) -> [String: JobRunner.Handler] {
        [
            "task.overdue": { message, tenantID in
                logger.notice(
                    "human task overdue",
                    metadata: ["tenant": "\(tenantID)", "payload": "\(message.payload.canonicalJSON)"]
                )
            }
        ]
    }
}
