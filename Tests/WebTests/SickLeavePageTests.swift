import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import SickLeave
import TestSupport
import Testing

@testable import Web

/// The clinic's and the patient's pages, used as a person would: signed in, through forms.
@Suite("Sick-leave pages")
struct SickLeavePageTests {
    let api = SickLeaveHTTPTests()

    func certificates(_ fixture: WebFixture) async throws -> Int {
        let astana = fixture.astana.id
        return try await fixture.databases.owner.withTenant(astana) { connection in
            var total = 0
            let rows = try await connection.query(
                "SELECT count(*)::int FROM certificate_versions",
                logger: fixture.databases.owner.logger
            )
            for try await value in rows.decode(Int.self) { total = value }
            return total
        }
    }

    static let opening = [
        "clinic_bin": SickLeaveHTTPTests.clinicBIN, "patient_iin": "791028302728", "patient_name": "Әлия Нұрланова",
        "date_of_birth": "1979-10-28", "employer_bin": "070941024691", "start_date": "2026-11-16",
        "expected_end": "2026-11-20",
    ]

    @Test(
        "a doctor opens, extends and revokes through forms; a refused form comes back with the reason; a resubmitted form takes its step once"
    )
    func doctorPages() async throws {
        try await WebFixture.with { fixture, client in
            _ = try await api.doctor(fixture)
            var doctor = Browser(client: client)
            try await doctor.signIn("astana", login: "doctor")
            let home = try await doctor.get("/astana?lang=en")
            #expect(home.text.contains("/astana/services/sick-leave/new") && home.text.contains("/astana/sick-leave\""))

            let form = try await doctor.get("/astana/services/sick-leave/new?lang=ru")
            #expect(form.status == .ok)
            #expect(form.main.contains("ИИН пациента") && form.main.contains(#"name="patient_iin""#))
            #expect(form.main.contains(#"pattern="[0-9]{12}""#) && form.main.contains(#"type="date""#))
            let key = try #require(
                form.main.firstMatch(of: /name="_key" value="([0-9a-f-]{36})"/).map { String($0.1) }
            )

            // Ends before it begins: refused with the reason, what was typed kept, nothing written.
            var wrong = Self.opening
            wrong["expected_end"] = "2026-11-10"
            wrong["_key"] = key
            let refused = try await doctor.post("/astana/services/sick-leave/new?lang=en", form: wrong)
            #expect(refused.status == .unprocessableContent)
            #expect(refused.main.contains("the leave cannot end before it begins"))
            #expect(refused.main.contains("Әлия Нұрланова") && refused.main.contains(key))
            #expect(try await certificates(fixture) == 0)

            var right = Self.opening
            right["_key"] = key
            let opened = try await doctor.post("/astana/services/sick-leave/new", form: right)
            #expect(opened.status == .seeOther || opened.status == .found, "\(opened.main)")
            let instancePath = try #require(opened.headers[.location])
            // The same form sent again (a double click, a reload): the same instance, one version.
            let again = try await doctor.post("/astana/services/sick-leave/new", form: right)
            #expect(again.headers[.location] == instancePath)
            #expect(try await certificates(fixture) == 1)
            let instance = String(instancePath.split(separator: "/").last ?? "")

            let instancePage = try await doctor.get(instancePath + "?lang=en")
            let certificatePath = "/astana/sick-leave/certificates/\(instance)"
            #expect(instancePage.main.contains(certificatePath) && instancePage.main.contains("Extend"))

            let list = try await doctor.get("/astana/sick-leave?lang=en")
            #expect(list.main.contains("Әлия Нұрланова") && list.main.contains(certificatePath))

            var page = try await doctor.get(certificatePath + "?lang=en")
            #expect(page.status == .ok)
            #expect(page.main.contains("<svg") && page.main.contains("\(certificatePath)/print"))
            #expect(page.main.contains("Extend") && page.main.contains("Close") && page.main.contains("Revoke"))
            let extendKey = try #require(
                page.main.firstMatch(
                    of:
                        /events\/extend" class="stack card">\s*<input type="hidden" name="_csrf" value="[^"]*">\s*<input type="hidden" name="_key" value="([0-9a-f-]{36})"/
                )
                .map { String($0.1) }
            )
            let extended = try await doctor.post(
                "/astana/instances/\(instance)/events/extend",
                form: ["new_end": "2026-11-27", "_key": extendKey]
            )
            #expect(extended.status == .seeOther || extended.status == .found, "\(extended.main)")
            #expect(try await certificates(fixture) == 2)
            page = try await doctor.get(certificatePath + "?lang=en")
            #expect(page.main.contains("2026-11-16 – 2026-11-27") && page.main.contains("Extended"))
            let printable = try await doctor.get(certificatePath + "/print?lang=en")
            #expect(printable.main.contains("figure class=\"qr print\"") && printable.main.contains("<svg"))
            let png = try await doctor.get(certificatePath + "/versions/2/qr.png")
            #expect(
                png.status == .ok && png.headers[.contentType] == "image/png",
                "\(png.status) \(png.text.prefix(300))"
            )
            let tokens = try await api.versions(client, instance, doctor: try await doctorToken(fixture))
            #expect(
                try ZBar.read(Array(png.body.readableBytesView))
                    == CertificateLink.text(token: tokens[1], base: fixture.dependencies.publicBase)
            )

            // A doctor of no clinic sees neither the list's certificates nor the certificate.
            _ = try await fixture.account("elsewhere", name: "Another doctor", role: .clinicDoctor)
            var outsider = Browser(client: client)
            try await outsider.signIn("astana", login: "elsewhere")
            let emptyList = try await outsider.get("/astana/sick-leave?lang=en")
            #expect(emptyList.main.contains("No clinic lists you") && !emptyList.main.contains("Әлия"))
            #expect(try await outsider.get(certificatePath).status == .notFound)
            let notTheirs = try await outsider.post(
                "/astana/instances/\(instance)/events/close",
                form: ["actual_end": "2026-11-25", "_key": UUID().uuidString]
            )
            #expect(notTheirs.status == .notFound)
            #expect(try await certificates(fixture) == 2)

            let revoked = try await doctor.post(
                "/astana/instances/\(instance)/events/revoke",
                form: ["reason": "issued_in_error", "_key": UUID().uuidString]
            )
            #expect(revoked.status == .seeOther || revoked.status == .found, "\(revoked.main)")
            page = try await doctor.get(certificatePath + "?lang=en")
            #expect(page.main.contains("Revoked") && !page.main.contains("figure class=\"qr\""))
        }
    }

    @Test("an employer's signed-in check is shown by name on the patient's own page, with the code to show")
    func patientPage() async throws {
        try await WebFixture.with { fixture, client in
            let doctor = try await api.doctor(fixture)
            let instance = try await api.openCertificate(client, doctor: doctor)
            let token = try #require(try await api.versions(client, instance, doctor: doctor).first)
            _ = try await fixture.account("hr", name: "ТОО Employer HR", role: .employer)
            var employer = Browser(client: client)
            try await employer.signIn("astana", login: "hr")
            let query = token.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
            let checked = try await employer.get("/astana/verify?token=\(query)&lang=en")
            #expect(checked.main.contains("Genuine and in force"))

            _ = try await fixture.account("patient", name: "Patient", role: .parent, iin: "791028302728")
            var patient = Browser(client: client)
            try await patient.signIn("astana", login: "patient")
            let mine = try await patient.get("/astana/sick-leave/mine?lang=en")
            #expect(mine.status == .ok)
            #expect(mine.main.contains("Қалалық емхана №4") && mine.main.contains("<svg"))
            #expect(mine.main.contains("ТОО Employer HR") && mine.main.contains("Genuine and in force"))

            _ = try await fixture.account("stranger", name: "Stranger", role: .parent, iin: "061211600012")
            var stranger = Browser(client: client)
            try await stranger.signIn("astana", login: "stranger")
            let none = try await stranger.get("/astana/sick-leave/mine?lang=en")
            #expect(none.main.contains("No certificates were found") && !none.main.contains("Әлия"))
            #expect(try await stranger.get("/astana/sick-leave").status == .forbidden)
        }
    }

    /// A second API token for the fixture's doctor.
    func doctorToken(_ fixture: WebFixture) async throws -> String {
        try await fixture.dependencies.accounts.issueToken(
            login: "doctor",
            name: "pages test",
            roles: [.clinicDoctor],
            tenantID: fixture.astana.id
        ).0.text
    }
}
