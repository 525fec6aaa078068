import Core
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

    public init(id: UUID, bin: String, name: String, district: String, locality: String, rural: Bool, address: String) {
        (self.id, self.bin, self.name, self.district) = (id, bin, name, district)
        (self.locality, self.rural, self.address) = (locality, rural, address)
    }
}

/// A person who heads, headed or may head a school.
public struct PrincipalRecord: Sendable, Hashable, Codable {
    public var id: UUID
    public var iin: String
    public var name: String
    /// The last attestation on record.
    public var attestedOn: Day?

    public init(id: UUID, iin: String, name: String, attestedOn: Day?) {
        (self.id, self.iin, self.name, self.attestedOn) = (id, iin, name, attestedOn)
    }
}

/// Who headed which school from `startsOn` until the day before `endsOn` (nil while current).
public struct Appointment: Sendable, Hashable, Codable {
    public var id: UUID
    public var schoolID: UUID
    public var principalID: UUID
    public var startsOn: Day
    public var endsOn: Day?
    public var reason: String

    public init(id: UUID, schoolID: UUID, principalID: UUID, startsOn: Day, endsOn: Day?, reason: String) {
        (self.id, self.schoolID, self.principalID) = (id, schoolID, principalID)
        (self.startsOn, self.endsOn, self.reason) = (startsOn, endsOn, reason)
    }

    /// Whether [startsOn, endsOn) and the other's range share a day.
    func overlaps(_ other: Appointment) -> Bool {
        let leftEnd = endsOn ?? Day("2200-12-31")!
        let rightEnd = other.endsOn ?? Day("2200-12-31")!
        return startsOn < rightEnd && other.startsOn < leftEnd
    }
}

/// A city's registry, in memory: what the due list, the policy and the plan proposer read.
/// Indexed once at construction, so a plan over thousands of schools asks each question in
/// constant time.
public struct Registry: Sendable {
    public let schools: [UUID: School]
    public let principals: [UUID: PrincipalRecord]
    public let appointments: [Appointment]
    private let byPrincipal: [UUID: [Appointment]]
    private let currentBySchool: [UUID: Appointment]

    public init(schools: [School], principals: [PrincipalRecord], appointments: [Appointment]) {
        self.schools = Dictionary(schools.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.principals = Dictionary(principals.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        self.appointments = appointments
        byPrincipal = Dictionary(grouping: appointments, by: \.principalID).mapValues {
            $0.sorted { $0.startsOn < $1.startsOn }
        }
        currentBySchool = Dictionary(
            appointments.filter { $0.endsOn == nil }.map { ($0.schoolID, $0) },
            uniquingKeysWith: { first, _ in first }
        )
    }

    /// The current appointments (no end day).
    public var current: [Appointment] { appointments.filter { $0.endsOn == nil } }

    public func currentAppointment(ofPrincipal id: UUID) -> Appointment? {
        byPrincipal[id]?.last { $0.endsOn == nil }
    }

    public func currentAppointment(ofSchool id: UUID) -> Appointment? {
        currentBySchool[id]
    }

    /// A principal's appointments, oldest first.
    public func history(ofPrincipal id: UUID) -> [Appointment] {
        byPrincipal[id] ?? []
    }
}
