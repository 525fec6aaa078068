import Core
import Foundation

/// A principal the policy says must move (or be attested) soon, or should have already.
public struct DueEntry: Sendable, Hashable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// Years in one school reach the limit.
        case tenure
        /// The attestation period runs out.
        case attestation
    }

    public var kind: Kind
    public var school: School
    public var principal: PrincipalRecord
    public var appointedOn: Day
    /// The day the limit is reached.
    public var dueOn: Day
    public var overdue: Bool
}

extension Registry {
    /// Tenure limits and attestations reached by `today` + the warning horizon, most overdue first.
    public func dueList(policy: RotationPolicy, today: Day) -> [DueEntry] {
        let horizon = today.adding(months: policy.warningMonths)
        var entries: [DueEntry] = []
        for appointment in current {
            guard let school = schools[appointment.schoolID], let principal = principals[appointment.principalID] else {
                continue
            }
            let tenureDue = appointment.startsOn.adding(years: policy.maximumYears(at: school))
            if tenureDue <= horizon {
                entries.append(
                    DueEntry(
                        kind: .tenure,
                        school: school,
                        principal: principal,
                        appointedOn: appointment.startsOn,
                        dueOn: tenureDue,
                        overdue: tenureDue <= today
                    )
                )
            }
            let attestationDue = (principal.attestedOn ?? appointment.startsOn).adding(years: policy.attestationYears)
            if attestationDue <= horizon {
                entries.append(
                    DueEntry(
                        kind: .attestation,
                        school: school,
                        principal: principal,
                        appointedOn: appointment.startsOn,
                        dueOn: attestationDue,
                        overdue: attestationDue <= today
                    )
                )
            }
        }
        return entries.sorted {
            ($0.dueOn, $0.school.bin, $0.kind.rawValue) < ($1.dueOn, $1.school.bin, $1.kind.rawValue)
        }
    }
}
