import Foundation

/// A school in the city's registry.
public struct School: Sendable, Hashable, Codable {
    public var id: UUID
    public var bin: String
    public var name: String
    public var district: String
    /// The town or village.
    public var locality: String
    public var rural: Bool
    public var address: String
}

/// A person who heads, headed or may head a school.
public struct PrincipalRecord: Sendable, Hashable, Codable {
    public var id: UUID
    public var iin: String
    public var name: String
    /// The last attestation on record.
    public var attestedOn: Day?
}

/// Who headed which school from `startsOn` until the day before `endsOn` (nil while current).
public struct Appointment: Sendable, Hashable, Codable {
    public var id: UUID
    public var schoolID: UUID
    public var principalID: UUID
    public var startsOn: Day
    public var endsOn: Day?
    public var reason: String

    /// Whether [startsOn, endsOn) and the other's range share a day.
    func overlaps(_ other: Appointment) -> Bool {
        let leftEnd = endsOn ?? Day("2200-12-31")!
        let rightEnd = other.endsOn ?? Day("2200-12-31")!
        return startsOn < rightEnd && other.startsOn < leftEnd
    }
}

/// A city's registry, in memory: what the due list, the policy and the plan proposer read.
public struct Registry: Sendable {
    public var schools: [UUID: School]
    public var principals: [UUID: PrincipalRecord]
    public var appointments: [Appointment]

    public init(schools: [School], principals: [PrincipalRecord], appointments: [Appointment]) {
        self.schools = Dictionary(schools.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.principals = Dictionary(principals.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.appointments = appointments
    }

    /// The current appointment of each school and each principal.
    public var current: [Appointment] { appointments.filter { $0.endsOn == nil } }

    public func currentAppointment(ofPrincipal id: UUID) -> Appointment? {
        appointments.first { $0.principalID == id && $0.endsOn == nil }
    }

    public func currentAppointment(ofSchool id: UUID) -> Appointment? {
        appointments.first { $0.schoolID == id && $0.endsOn == nil }
    }

    /// A principal's appointments, oldest first.
    public func history(ofPrincipal id: UUID) -> [Appointment] {
        appointments.filter { $0.principalID == id }.sorted { $0.startsOn < $1.startsOn }
    }
}
