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
        // What a certificate's QR code opens (CertificateLink), and the same page without a city.
        router.get(RouterPath(CertificateLink.path), use: verifyPage)
        router.get("verify", use: verifyPage)
        router.post("api/v1/verify", use: verifyInAnyCity)
        router.post("api/v1/qr/read", use: readPicture)
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

    /// `{"token": "SL1:…"}` (or the link a QR code carries) → the verdict, in the city of the
    /// address. Open to everyone: an employer's HR system needs no account; with a bearer token
    /// of the city, the check is recorded under the account's name for the patient to see.
    @Sendable func verify(request: Request, context: AppRequestContext) async throws -> VerificationAnswer {
        let tenant = try await dependencies.tenant(named: context)
        let token = try await Self.token(in: request)
        return try await dependencies.certificates.verify(
            token,
            tenantID: tenant.id,
            checker: try await checker(request, tenantID: tenant.id, required: true)
        )
    }

    /// The same without a city in the address, for HR systems that take certificates from
    /// every city: the token's key names the city. A bearer token is used when it belongs to
    /// that city.
    @Sendable func verifyInAnyCity(request: Request, context: AppRequestContext) async throws -> VerificationAnswer {
        let token = try await Self.token(in: request)
        return try await dependencies.certificates.verifyInAnyCity(token) { tenantID in
            try await checker(request, tenantID: tenantID, required: false)
        }
    }

    struct PictureAnswer: ResponseEncodable {
        /// What the code holds: for a certificate, the link with its token.
        var text: String
    }

    /// The body is a PNG or JPEG picture (a photo or screenshot of a certificate); the answer is
    /// the text of the QR code in it, which the verify page then checks. Reading only: nothing
    /// is verified or recorded here.
    @Sendable func readPicture(request: Request, context: AppRequestContext) async throws -> PictureAnswer {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: QRReader.maximumBytes)
        } catch {
            throw AdalError.tooLarge(limit: "a picture", maximumBytes: QRReader.maximumBytes)
        }
        do {
            return PictureAnswer(text: try await dependencies.qrReader.read(Array(buffer.readableBytesView)))
        } catch .tooLarge {
            throw AdalError.tooLarge(limit: "a picture", maximumBytes: QRReader.maximumBytes)
        } catch .busy {
            throw AdalError.tooManyAttempts(retryAfterSeconds: 1)
        } catch .unavailable {
            throw AdalError.unavailable(reason: QRReader.Failure.unavailable.description)
        } catch {
            throw AdalError.invalidField(field: "picture", reason: error.description)
        }
    }

    /// The token in a verification request's body, read up to ``maximumVerifyBody``.
    static func token(in request: Request) async throws -> String {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumVerifyBody)
        } catch {
            throw AdalError.tooLarge(limit: "a verification request", maximumBytes: maximumVerifyBody)
        }
        guard let body = try? JSONDecoder().decode(VerifyBody.self, from: Data(buffer.readableBytesView)) else {
            throw AdalError.invalidField(field: "token", reason: "send {\"token\": \"SL1:…\"}")
        }
        return body.token
    }

    /// Who checks: the account of the request's bearer token in the city, if it sent one. A
    /// token that is not valid there is refused (401) when `required`, else the check is anonymous.
    private func checker(
        _ request: Request,
        tenantID: UUID,
        required: Bool
    ) async throws -> CertificateVerifier.Checker? {
        guard let header = request.headers[.authorization] else { return nil }
        guard header.lowercased().hasPrefix("bearer "),
            let principal = try await dependencies.accounts.principal(
                apiToken: String(header.dropFirst("bearer ".count)).trimmingWhitespace(),
                tenantID: tenantID
            )
        else {
            if required { throw AdalError.unauthenticated }
            return nil
        }
        return CertificateVerifier.Checker(userID: principal.userID, name: principal.displayName)
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

    /// The employer's page: paste the code, or open the link a QR code carries (`/V#SL1:…`,
    /// which the page's script hands over as `?token=`), and read the verdict. Works without
    /// script; the token is never logged (only paths are). Under a city's address, a signed-in
    /// employer's check is recorded under their name; without one, the token's key names the city.
    @Sendable func verifyPage(request: Request, context: AppRequestContext) async throws -> Response {
        let token = (request.uri.queryParameters["token"].map(String.init) ?? "")
            .trimmingCharacters(in: .whitespacesAndNewlines)
        var values: [String: Any] = [
            "action": context.tenant.map { "/\($0.slug)/verify" } ?? "/verify", "token": token,
        ]
        if !token.isEmpty {
            let answer: VerificationAnswer
            if let tenant = context.tenant {
                answer = try await dependencies.certificates.verify(
                    token,
                    tenantID: tenant.id,
                    checker: context.principal.map { .init(userID: $0.userID, name: $0.displayName) }
                )
            } else {
                answer = try await dependencies.certificates.verifyInAnyCity(token)
            }
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
        let svg = try QRCode(link(token), correction: .medium).svg(title: "Certificate version \(version)")
        return Self.respond(Array(svg.utf8), type: "image/svg+xml")
    }

    @Sendable func qrPNG(request: Request, context: AppRequestContext) async throws -> Response {
        let (token, _) = try await versionToken(context)
        return Self.respond(try QRCode(link(token), correction: .quartile).png(scale: 8), type: "image/png")
    }

    /// The certificate of the instance, for the doctors of its clinic and the city's
    /// administrators; anyone else, and any other city's id, gets 404.
    func load(_ context: AppRequestContext) async throws -> CertificateView {
        let (tenant, principal) = try (context.requireTenant(), context.requirePrincipal())
        guard let instance = context.parameters.get("instance").flatMap(UUID.init(uuidString:)),
            !principal.roles.isDisjoint(with: SickLeavePagesController.clinicRoles)
        else { throw AdalError.notFound(what: "certificate") }
        try await dependencies.certificateChecks.flush()
        guard
            let view = try await CertificateView.load(
                instance: instance,
                tenantID: tenant.id,
                database: dependencies.database
            )
        else { throw AdalError.notFound(what: "certificate") }
        guard try await mayRead(clinicBIN: view.clinicBIN, principal: principal, tenantID: tenant.id) else {
            throw AdalError.notFound(what: "certificate")
        }
        return view
    }

    /// Whether `principal` may read a certificate of the clinic `clinicBIN` (its page, its QR
    /// codes, and its steps on the generic instance pages): the clinic's doctors and the city's
    /// administrators. An employer checks a certificate by its QR code, never by its id.
    func mayRead(clinicBIN: String, principal: Principal, tenantID: UUID) async throws -> Bool {
        if principal.roles.contains(.akimatAdmin) { return true }
        guard principal.roles.contains(.clinicDoctor) else { return false }
        let clinics = try await Clinic.ofStaff(
            userID: principal.userID,
            tenantID: tenantID,
            database: dependencies.database
        )
        return clinics.contains { $0.bin == clinicBIN }
    }

    /// What a version's QR code carries: the link that opens the verification page.
    func link(_ token: String) -> String {
        CertificateLink.text(token: token, base: dependencies.publicBase)
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
