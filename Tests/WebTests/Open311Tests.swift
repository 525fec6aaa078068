import Core
import Foundation
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

@testable import Web

@Suite("Open311 GeoReport v2")
struct Open311Tests {
    /// A third-party client (the `georeport` package from PyPI) and plain form posts, as
    /// civic-reporting apps send them, against the server listening on loopback.
    static let client = #"""
        import json, sys, requests
        from georeport import GeoReport

        root, token = sys.argv[1], sys.argv[2]
        client = GeoReport(root)
        services = client.get_service_list()
        assert {s["service_code"] for s in services} >= {"not_done", "poor_quality", "meals"}, services
        definition = client.get_service_definition("not_done")
        assert definition["attributes"][0]["code"] == "object_code", definition

        def create(**fields):
            return requests.post(root + "/requests.json", data=fields, timeout=30)

        anonymous = create(service_code="not_done", lat="51.08", long="71.45", email="someone@example.kz",
                           first_name="A", last_name="Resident", description="The fence was paid for and never built.",
                           **{"attribute[object_code]": "AST-SCH-001"})
        anonymous.raise_for_status()
        first = anonymous.json()[0]["service_request_id"]
        signed = create(service_code="meals", address_string="School No. 1", api_key=token,
                        description="Lunch was charged but not served on Monday.")
        signed.raise_for_status()
        second = signed.json()[0]["service_request_id"]

        one = client.get_service_request(first)
        assert one["status"] == "open" and one["service_code"] == "not_done", one
        assert abs(float(one["lat"]) - 51.08) < 1e-9 and one["address_id"] == "AST-SCH-001", one
        assert "someone@example.kz" not in json.dumps(one), one
        listed = client.get_service_requests(service_code="meals", status="open")
        assert [r["service_request_id"] for r in listed] == [second], listed
        both = client.get_service_requests(service_request_id=first + "," + second)
        assert {r["service_request_id"] for r in both} == {first, second}, both

        errors = []
        for fields in [dict(service_code="teleport", lat="1", long="2", description="x", email="a@b.kz"),
                       dict(service_code="not_done", description="nowhere", email="a@b.kz"),
                       dict(service_code="not_done", lat="51.1", long="71.4", description="who?"),
                       dict(service_code="not_done", lat="51.1", long="71.4", description="x", api_key="wrong")]:
            response = create(**fields)
            body = response.json()
            assert isinstance(body, list) and body[0]["code"] == response.status_code, body
            errors.append(response.status_code)
        missing = requests.get(root + "/requests/00000000-0000-0000-0000-000000000000.json", timeout=30)
        errors.append(missing.status_code)
        print(json.dumps({"first": first, "second": second, "errors": errors}))
        """#

    @Test("a third-party GeoReport v2 client lists services, creates and queries requests; errors come in its format")
    func thirdPartyClient() async throws {
        try await WebFixture.with(maximumBodyBytes: 1 << 20, mode: .live) { fixture, client in
            let city = try await BudgetCity.prepare(fixture, client)
            let script = NSTemporaryDirectory() + "adal-open311-\(UUID().uuidString).py"
            try Data(Self.client.utf8).write(to: URL(fileURLWithPath: script))
            defer { try? FileManager.default.removeItem(atPath: script) }
            let port = try #require(client.port)
            let result = try await ProjectTool.runDetached(
                ProjectTool.venv("python"),
                [script, "http://127.0.0.1:\(port)/open311/astana/v2", city.resident]
            )
            #expect(result.status == 0, "\(result.output)")
            let summary = result.output.split(separator: "\n").last.map(String.init) ?? ""
            let parsed = try JSONSerialization.jsonObject(with: Data(summary.utf8)) as? [String: Any]
            #expect(parsed?["errors"] as? [Int] == [422, 422, 422, 401, 404], "\(result.output)")
            // Both reports are workflow instances: the anonymous one taken by the system with a
            // sealed contact, the signed one by the resident.
            let first = parsed?["first"] as? String ?? ""
            let id = try #require(UUID(uuidString: first))
            let report = try await client.api(.get, "/api/astana/reports/\(id)").json()
            #expect(report["state"] as? String == "submitted")
            #expect(try await city.count("citizen_reports") == 2)
        }
    }
}
