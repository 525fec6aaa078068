import Core
import Foundation
import Logging
import PostgresNIO
import Storage

extension RegistryCSV {
    /// What an import changes in the stored registry, worked out before anything is written.
    struct Plan {
        var schools: [String: School]
        var principals: [String: PrincipalRecord]
        var appointments: [Appointment]
        var newSchools: [School] = []
        var changedSchools: [School] = []
        var newPrincipals: [PrincipalRecord] = []
        var changedPrincipals: [PrincipalRecord] = []
        var newAppointments: [Appointment] = []
        var updatedAppointments: [Appointment] = []
        /// The file line that described each school, principal and appointment first.
        var lines: [String: Int] = [:]

        init(stored: Registry) {
            schools = Dictionary(stored.schools.values.map { ($0.bin, $0) }, uniquingKeysWith: { first, _ in first })
            principals = Dictionary(
                stored.principals.values.map { ($0.iin, $0) },
                uniquingKeysWith: { first, _ in first }
            )
            appointments = stored.appointments
        }

        /// Applies the rows; the problems of rows that contradict each other or the registry.
        mutating func merge(_ rows: [Row]) -> [Problem] {
            var problems: [Problem] = []
            // Schools described in full first, so that rows naming a school only by its BIN may
            // come before or after its description.
            for row in rows where !row.schoolByBIN {
                var school = row.school
                let schoolKey = "school " + school.bin
                if let seen = lines[schoolKey], let known = schools[school.bin] {
                    if !Self.sameSchool(known, school) {
                        problems.append(
                            Problem(
                                line: row.line,
                                field: "school_bin",
                                message: "described differently on line \(seen)"
                            )
                        )
                    }
                } else if let known = schools[school.bin] {
                    school.id = known.id
                    if !Self.sameSchool(known, school) { changedSchools.append(school) }
                    schools[school.bin] = school
                    lines[schoolKey] = row.line
                } else {
                    newSchools.append(school)
                    schools[school.bin] = school
                    lines[schoolKey] = row.line
                }
            }
            for row in rows {
                guard let school = schools[row.school.bin] else {
                    problems.append(
                        Problem(line: row.line, field: "school_bin", message: "unknown school \(row.school.bin)")
                    )
                    continue
                }
                guard var principal = row.principal, let startsOn = row.startsOn else { continue }
                let principalKey = "principal " + principal.iin
                if let seen = lines[principalKey], let known = principals[principal.iin] {
                    if known.name != principal.name
                        || (principal.attestedOn != nil && known.attestedOn != principal.attestedOn)
                    {
                        problems.append(
                            Problem(
                                line: row.line,
                                field: "principal_iin",
                                message: "described differently on line \(seen)"
                            )
                        )
                        continue
                    }
                    principal = known
                } else if let known = principals[principal.iin] {
                    principal.id = known.id
                    if principal.attestedOn == nil { principal.attestedOn = known.attestedOn }
                    if principal != known { changedPrincipals.append(principal) }
                    principals[principal.iin] = principal
                    lines[principalKey] = row.line
                } else {
                    newPrincipals.append(principal)
                    principals[principal.iin] = principal
                    lines[principalKey] = row.line
                }
                let appointmentKey = "appointment \(school.bin) \(principal.iin) \(startsOn)"
                if let seen = lines[appointmentKey] {
                    problems.append(
                        Problem(line: row.line, field: nil, message: "the same appointment as line \(seen)")
                    )
                    continue
                }
                lines[appointmentKey] = row.line
                if let index = appointments.firstIndex(where: {
                    $0.schoolID == school.id && $0.principalID == principal.id && $0.startsOn == startsOn
                }) {
                    if appointments[index].endsOn != row.endsOn || appointments[index].reason != row.reason {
                        appointments[index].endsOn = row.endsOn
                        appointments[index].reason = row.reason
                        updatedAppointments.append(appointments[index])
                        lines["id " + appointments[index].id.uuidString] = row.line
                    }
                } else {
                    let appointment = Appointment(
                        id: UUID(),
                        schoolID: school.id,
                        principalID: principal.id,
                        startsOn: startsOn,
                        endsOn: row.endsOn,
                        reason: row.reason
                    )
                    appointments.append(appointment)
                    newAppointments.append(appointment)
                    lines["id " + appointment.id.uuidString] = row.line
                }
            }
            guard problems.isEmpty else { return problems }
            // Overlaps, per school and per principal, among the stored and the imported.
            for (label, key) in [("school", \Appointment.schoolID), ("principal", \Appointment.principalID)] {
                for (_, group) in Dictionary(grouping: appointments, by: { $0[keyPath: key] }) {
                    let sorted = group.sorted { $0.startsOn < $1.startsOn }
                    for (earlier, later) in zip(sorted, sorted.dropFirst()) where earlier.overlaps(later) {
                        let line = lines["id " + later.id.uuidString] ?? lines["id " + earlier.id.uuidString] ?? 0
                        let other =
                            lines["id " + earlier.id.uuidString].map { "line \($0)" }
                            ?? "an appointment already in the registry"
                        problems.append(
                            Problem(
                                line: line,
                                field: "appointed_on",
                                message: "overlaps \(other) for the same \(label) (from \(earlier.startsOn))"
                            )
                        )
                    }
                }
            }
            return problems.sorted { ($0.line, $0.message) < ($1.line, $1.message) }
        }

        static func sameSchool(_ left: School, _ right: School) -> Bool {
            (left.name, left.district, left.locality, left.rural, left.address)
                == (right.name, right.district, right.locality, right.rural, right.address)
        }

        func write(tenantID: UUID, on connection: PostgresConnection, logger: Logger) async throws {
            for school in newSchools + changedSchools {
                try await connection.run(
                    """
                    INSERT INTO schools (tenant_id, id, bin, name, district, locality, rural, address)
                    VALUES (\(tenantID), \(school.id), \(school.bin), \(school.name), \(school.district),
                        \(school.locality), \(school.rural), \(school.address))
                    ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name, district = EXCLUDED.district,
                        locality = EXCLUDED.locality, rural = EXCLUDED.rural, address = EXCLUDED.address
                    """,
                    logger: logger
                )
            }
            for principal in newPrincipals + changedPrincipals {
                try await connection.run(
                    """
                    INSERT INTO principals (tenant_id, id, iin, name, attested_on)
                    VALUES (\(tenantID), \(principal.id), \(principal.iin), \(principal.name),
                        \(principal.attestedOn?.description)::date)
                    ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name, attested_on = EXCLUDED.attested_on
                    """,
                    logger: logger
                )
            }
            // Shortened appointments first, so that no intermediate state overlaps.
            let updates = updatedAppointments.sorted {
                ($0.endsOn ?? Day("2200-12-31")!) < ($1.endsOn ?? Day("2200-12-31")!)
            }
            for appointment in updates {
                try await connection.run(
                    """
                    UPDATE appointments SET ends_on = \(appointment.endsOn?.description)::date, reason = \(appointment.reason)
                    WHERE tenant_id = \(tenantID) AND id = \(appointment.id)
                    """,
                    logger: logger
                )
            }
            for appointment in newAppointments {
                try await connection.run(
                    """
                    INSERT INTO appointments (tenant_id, id, school_id, principal_id, starts_on, ends_on, reason)
                    VALUES (\(tenantID), \(appointment.id), \(appointment.schoolID), \(appointment.principalID),
                        \(appointment.startsOn.description)::date, \(appointment.endsOn?.description)::date,
                        \(appointment.reason))
                    """,
                    logger: logger
                )
            }
        }
    }
}
