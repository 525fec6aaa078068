import Core
import Hummingbird

/// The cookies Adal sets, in one place so their attributes stay consistent: HttpOnly,
/// SameSite=Lax, Secure when configured.
enum AdalCookie {
    static let session = "adal_session"
    static let csrf = "adal_csrf"
    static let language = "adal_lang"

    /// The session cookie is scoped to its city's path, so sessions in two cities coexist.
    static func session(_ token: SecretToken, tenant: Tenant, maxAge: Int, secure: Bool) -> Cookie {
        Cookie(
            name: session,
            value: token.text,
            maxAge: maxAge,
            path: "/\(tenant.slug)",
            secure: secure,
            httpOnly: true,
            sameSite: .lax
        )
    }

    static func clearedSession(tenant: Tenant, secure: Bool) -> Cookie {
        Cookie(
            name: session,
            value: "",
            maxAge: 0,
            path: "/\(tenant.slug)",
            secure: secure,
            httpOnly: true,
            sameSite: .lax
        )
    }

    static func csrf(_ token: String, secure: Bool) -> Cookie {
        Cookie(name: csrf, value: token, path: "/", secure: secure, httpOnly: true, sameSite: .lax)
    }

    static func language(_ language: Language, secure: Bool) -> Cookie {
        Cookie(
            name: self.language,
            value: language.rawValue,
            maxAge: 365 * 24 * 3600,
            path: "/",
            secure: secure,
            httpOnly: true,
            sameSite: .lax
        )
    }
}
