import Core
import Foundation
import HTTPTypes
import Hummingbird
import SickLeave
import Storage

/// Sick-leave certificates over HTTP: public verification for employers, and the clinic's view
/// of a certificate's signed versions with their QR codes.
struct SickLeaveController {
    let dependencies: AppDependencies

    /// Largest verification request body: a token and the JSON around it.
    static let maximumVerifyBody = 4_096

    func register(on router: Router<AppRequestContext>) {
        router.group(":tenant/verify").add(middleware: TenantMiddleware(dependencies: dependencies))
            .get(use: verifyPage)
        router.post("api/:tenant/sick-leave/verify", use: verify)
        router.get("api/:tenant/sick-leave/trust-list", use: trustList)
        router.get("api/:tenant/sick-leave/status-list", use: statusList)
        router.get("api/:tenant/sick-leave/root-key", use: rootKey)
        let group = router.group("api/:tenant/sick-leave")
            .add(middleware: APITokenMiddleware(dependencies: dependencies))
        group.get("certificates/:instance", use: certificate)
        group.get("my-certificates", use: myCertificates)
        group.get("certificates/:instance/versions/:version/qr.svg", use: qrSVG)
        group.get("certificates/:instance/versions/:version/qr.png", use: qrPNG)
    }

    struct VerifyBody: Decodable {
        var token: String
    }

    /// `{"token": "SL1:…"}` → the verdict. Open to everyone: an employer's HR system needs no account.
    @Sendable func verify(request: Request, context: AppRequestContext) async throws -> VerificationAnswer {
        let tenant = try await dependencies.tenant(named: context)
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maximumVerifyBody)
        } catch {
            throw AdalError.tooLarge(limit: "a verification request", maximumBytes: Self.maximumVerifyBody)
        }
        guard let body = try? JSONDecoder().decode(VerifyBody.self, from: Data(buffer.readableBytesView)) else {
            throw AdalError.invalidField(field: "token", reason: "send {\"token\": \"SL1:…\"}")
        }
        return try await CertificateVerifier(database: dependencies.database, recorder: dependencies.certificateChecks)
            .verify(body.token, tenantID: tenant.id)
    }

    /// The signed list of clinic keys the city trusts (COSE_Sign1, docs/sick-leave.md).
    @Sendable func trustList(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try await dependencies.tenant(named: context)
        let lists = try await dependencies.sickLeaveLists.lists(tenantID: tenant.id, city: tenant.slug.value)
        return Self.respond(lists.trust, type: "application/cose", maxAge: Int(CityLists.refreshInterval))
    }

    /// The signed status list: two bits per certificate version.
    @Sendable func statusList(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try await dependencies.tenant(named: context)
        let lists = try await dependencies.sickLeaveLists.lists(tenantID: tenant.id, city: tenant.slug.value)
        return Self.respond(lists.status, type: "application/cose", maxAge: Int(CityLists.refreshInterval))
    }

    /// The city's root public key (base64), which offline verifiers pin.
    @Sendable func rootKey(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try await dependencies.tenant(named: context)
        let key = try await dependencies.sickLeaveLists.rootPublicKey(tenantID: tenant.id)
        return Self.respond(Array((Data(key).base64EncodedString() + "\n").utf8), type: "text/plain; charset=utf-8")
    }

    /// The employer's page: paste the code (or open the link a QR code carries, `?token=`) and
    /// read the verdict. Works without script; the token is never logged (only paths are).
    @Sendable func verifyPage(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let token = (request.uri.queryParameters["token"].map(String.init) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var values: [String: Any] = ["slug": tenant.slug.value, "token": token]
        if !token.isEmpty {
            let answer = try await CertificateVerifier(
                database: dependencies.database,
                recorder: dependencies.certificateChecks
            ).verify(
                token,
                tenantID: tenant.id
            )
            let language = context.language
            var shown: [String: Any] = [
                "verdictText": dependencies.pages.locales.text("verdict_" + answer.verdict, language),
                "inForce": answer.verdict == "in_force" || answer.verdict == "closed",
                "genuine": answer.genuine,
            ]
            if answer.genuine {
                shown["name"] = answer.name ?? ""
                shown["dateOfBirth"] = answer.dateOfBirth ?? ""
                shown["periodStart"] = answer.periodStart ?? ""
                shown["periodEnd"] = answer.periodEnd ?? ""
                shown["clinic"] = answer.clinic ?? ""
                shown["version"] = answer.version.map(String.init) ?? ""
            }
            values["answer"] = shown
        }
        return dependencies.pages.page(
            "verify",
            titleKey: "verify_title",
            values: values,
            request: request,
            context: context
        )
    }

    struct MyCertificatesResponse: ResponseEncodable {
        var certificates: [CertificateView]
    }

    /// The signed-in patient's own certificates, with when and by whom each was checked.
    @Sendable func myCertificates(request: Request, context: AppRequestContext) async throws -> MyCertificatesResponse {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        // Checks this process still holds are shown too.
        try await dependencies.certificateChecks.flush()
        return MyCertificatesResponse(
            certificates: try await CertificateView.ofPatient(
                userID: principal.userID,
                tenantID: tenant.id,
                database: dependencies.database
            )
        )
    }

    struct CertificateResponse: ResponseEncodable {
        var certificate: CertificateView
    }

    @Sendable func certificate(request: Request, context: AppRequestContext) async throws -> CertificateResponse {
        CertificateResponse(certificate: try await load(context))
    }

    @Sendable func qrSVG(request: Request, context: AppRequestContext) async throws -> Response {
        let (token, version) = try await versionToken(context)
        let svg = try QRCode(token, correction: .medium).svg(title: "Certificate version \(version)")
        return Self.respond(Array(svg.utf8), type: "image/svg+xml")
    }

    @Sendable func qrPNG(request: Request, context: AppRequestContext) async throws -> Response {
        let (token, _) = try await versionToken(context)
        return Self.respond(try QRCode(token, correction: .quartile).png(scale: 8), type: "image/png")
    }

    /// The certificate of the instance, for the clinic's doctors and the city's administrators;
    /// anyone else, and any other city's id, gets 404.
    private func load(_ context: AppRequestContext) async throws -> CertificateView {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        guard let instance = context.parameters.get("instance").flatMap(UUID.init(uuidString:)) else {
            throw AdalError.notFound(what: "certificate")
        }
        try await dependencies.certificateChecks.flush()
        guard !principal.roles.isDisjoint(with: [.clinicDoctor, .akimatAdmin]),
            let view = try await CertificateView.load(
                instance: instance,
                tenantID: tenant.id,
                database: dependencies.database
            )
        else { throw AdalError.notFound(what: "certificate") }
        return view
    }

    private func versionToken(_ context: AppRequestContext) async throws -> (String, Int) {
        let view = try await load(context)
        guard let number = context.parameters.get("version").flatMap(Int.init),
            let version = view.versions.first(where: { $0.version == number })
        else { throw AdalError.notFound(what: "certificate version") }
        return (version.token, number)
    }

    static func respond(_ bytes: [UInt8], type: String, maxAge: Int? = nil) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.cacheControl] = maxAge.map { "public, max-age=\($0)" } ?? "private, no-store"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }
}

extension VerificationAnswer: ResponseEncodable {}
