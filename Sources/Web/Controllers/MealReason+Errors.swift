import Core
import MealPayments
import Workflow

extension MealReason {
    /// The text of a refusal as ``MealReason/of(_:)`` reads it: a field's reason without the
    /// field's code when it is a known one, an error's own description otherwise; nil for an
    /// error that is not a refusal.
    static func text(of error: any Error) -> String? {
        switch error {
        case AdalError.invalidField(_, let reason) where MealReason.of(reason) != nil: reason
        case let error as AdalError: error.description
        case WorkflowError.refused(let reason): reason
        default: nil
        }
    }

    /// The known reason of a refusal, if it is one.
    static func of(error: any Error) -> MealReason? {
        text(of: error).flatMap(MealReason.of)
    }
}
