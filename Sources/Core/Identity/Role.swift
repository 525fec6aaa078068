/// A role a user or an API token holds within one tenant (see DESIGN.md, "Who uses it").
public enum Role: String, CaseIterable, Codable, Sendable, Comparable {
    case akimatAdmin = "akimat_admin"
    case procurementOfficer = "procurement_officer"
    case commissionMember = "commission_member"
    case supplier
    case schoolAdmin = "school_admin"
    case canteenTill = "canteen_till"
    case parent
    case clinicDoctor = "clinic_doctor"
    case employer
    case auditor
    /// A resident of the city: reports on budget objects, proposes and votes in the
    /// participatory budget of their district.
    case resident

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Parses a role name, naming `field` in the error.
    public static func parse(_ text: String, field: String = "role") throws(AdalError) -> Role {
        guard let role = Role(rawValue: text.trimmingWhitespace()) else {
            let known = Role.allCases.map(\.rawValue).joined(separator: ", ")
            throw .invalidField(field: field, reason: "unknown role '\(text)'; known roles: \(known)")
        }
        return role
    }
}
