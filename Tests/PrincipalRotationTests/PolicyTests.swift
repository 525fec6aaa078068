import Core
import Foundation
import Testing

@testable import PrincipalRotation

/// A small registry written by hand: the rules one by one.
struct SmallCity {
    var schools: [School] = []
    var principals: [PrincipalRecord] = []
    var appointments: [Appointment] = []

    mutating func school(_ bin: String, district: String = "Есіл", rural: Bool = false) -> School {
        let school = School(
            id: UUID(),
            bin: bin,
            name: "School \(bin.suffix(3))",
            district: district,
            locality: "Astana",
            rural: rural,
            address: ""
        )
        schools.append(school)
        return school
    }

    mutating func principal(_ iin: String, attested: String? = nil) -> PrincipalRecord {
        let principal = PrincipalRecord(
            id: UUID(),
            iin: iin,
            name: "P \(iin.suffix(3))",
            attestedOn: attested.flatMap { Day($0) }
        )
        principals.append(principal)
        return principal
    }

    mutating func appoint(_ principal: PrincipalRecord, _ school: School, from: String, to: String? = nil) {
        appointments.append(
            Appointment(
                id: UUID(),
                schoolID: school.id,
                principalID: principal.id,
                startsOn: Day(from)!,
                endsOn: to.flatMap { Day($0) },
                reason: "appointment"
            )
        )
    }

    var registry: Registry { Registry(schools: schools, principals: principals, appointments: appointments) }
}

@Suite("Rotation policy")
struct PolicyTests {
    let today = Day("2026-11-22")!

    @Test("a principal may not be sent to their own school")
    func ownSchool() {
        var city = SmallCity()
        let school = city.school("000000000001")
        let principal = city.principal("000000000011")
        city.appoint(principal, school, from: "2015-09-01")
        #expect(
            RotationPolicy().objections(principal: principal.id, to: school, on: today, in: city.registry) == [
                .ownSchool
            ]
        )
    }

    @Test("moves stay within the district while the city says so")
    func district() {
        var city = SmallCity()
        let home = city.school("000000000001", district: "Есіл")
        let away = city.school("000000000002", district: "Алматы")
        let principal = city.principal("000000000011")
        city.appoint(principal, home, from: "2015-09-01")
        var policy = RotationPolicy()
        #expect(
            policy.objections(principal: principal.id, to: away, on: today, in: city.registry) == [
                .otherDistrict("Алматы")
            ]
        )
        policy.sameDistrictOnly = false
        #expect(policy.objections(principal: principal.id, to: away, on: today, in: city.registry).isEmpty)
    }

    @Test("no return to a school left within the city's number of years")
    func noReturn() {
        var city = SmallCity()
        let current = city.school("000000000001")
        let left3 = city.school("000000000002")
        let left6 = city.school("000000000003")
        let principal = city.principal("000000000011")
        city.appoint(principal, left6, from: "2010-09-01", to: "2020-09-01")
        city.appoint(principal, left3, from: "2020-09-01", to: "2023-09-01")
        city.appoint(principal, current, from: "2023-09-01")
        var policy = RotationPolicy()
        let registry = city.registry
        #expect(
            policy.objections(principal: principal.id, to: left3, on: today, in: registry) == [
                .returnsTooSoon(leftOn: Day("2023-09-01")!)
            ]
        )
        #expect(policy.objections(principal: principal.id, to: left6, on: today, in: registry).isEmpty)
        policy.noReturnYears = 0
        #expect(policy.objections(principal: principal.id, to: left3, on: today, in: registry).isEmpty)
    }

    @Test("rural schools have their own limit; the warning horizon decides who is listed")
    func tenureLimits() {
        var city = SmallCity()
        let urban = city.school("000000000001")
        let rural = city.school("000000000002", rural: true)
        let soon = city.school("000000000003")
        let later = city.school("000000000004")
        let (a, b, c, d) = (
            city.principal("000000000011", attested: "2026-01-10"),
            city.principal("000000000012", attested: "2026-01-10"),
            city.principal("000000000013", attested: "2026-01-10"),
            city.principal("000000000014", attested: "2026-01-10")
        )
        city.appoint(a, urban, from: "2018-09-01")  // 8 years: overdue at 7
        city.appoint(b, rural, from: "2018-09-01")  // 8 years: fine at a rural limit of 10
        city.appoint(c, soon, from: "2020-06-01")  // reaches 7 years in about 6 months
        city.appoint(d, later, from: "2021-01-01")  // reaches 7 years in about 13 months
        var policy = RotationPolicy()
        policy.maxYearsRural = 10
        let due = city.registry.dueList(policy: policy, today: today)
        #expect(due.map(\.principal.iin) == ["000000000011", "000000000013"])
        #expect(due.map(\.overdue) == [true, false])
        #expect(due[0].dueOn == Day("2025-09-01"))
        policy.maxYearsRural = 7
        #expect(city.registry.dueList(policy: policy, today: today).map(\.principal.iin).contains("000000000012"))
    }

    @Test("attestation falls due after the period from the last one, or from the appointment when none")
    func attestation() {
        var city = SmallCity()
        let first = city.school("000000000001")
        let second = city.school("000000000002")
        let attested = city.principal("000000000011", attested: "2023-06-01")
        let never = city.principal("000000000012")
        city.appoint(attested, first, from: "2024-09-01")
        city.appoint(never, second, from: "2024-09-01")
        var policy = RotationPolicy()
        policy.warningMonths = 1
        let due = city.registry.dueList(policy: policy, today: today).filter { $0.kind == .attestation }
        #expect(due.map(\.principal.iin) == ["000000000011"])
        #expect(due.first?.dueOn == Day("2026-06-01") && due.first?.overdue == true)
        policy.warningMonths = 24
        let later = city.registry.dueList(policy: policy, today: today).filter { $0.kind == .attestation }
        #expect(later.map(\.principal.iin) == ["000000000011", "000000000012"])
    }
}
