/// The errors Adal's domain code raises. The web layer maps each case to one HTTP status, an
/// RFC 9457 problem document for the API and a localised page for people.
public enum AdalError: Error, Equatable, Sendable {
    /// Input that breaks a rule; `field` names the form or JSON field.
    case invalidField(field: String, reason: String)
    /// Something that does not exist or that the caller may not see. Deliberately the same for both.
    case notFound(what: String)
    /// Credentials that do not match; the same whether the account exists or not.
    case invalidCredentials
    /// No valid session or token.
    case unauthenticated
    /// Authenticated, but without a role the action needs.
    case forbidden(reason: String)
    /// A unique rule was broken (a login or slug already taken, a key reused with another body).
    case conflict(reason: String)
    /// Too many attempts; try again after the given number of seconds.
    case tooManyAttempts(retryAfterSeconds: Int)
    /// A request body, upload or list larger than its named limit.
    case tooLarge(limit: String, maximumBytes: Int)
    /// A file of a type the route does not take, or whose bytes are not what its name or the
    /// sender claims; `field` names the part, `reason` what was found and what is taken.
    case unsupportedMediaType(field: String, reason: String)
    /// A form posted without a valid anti-forgery token.
    case csrfRejected
    /// The database or another dependency cannot be reached.
    case unavailable(reason: String)
}

extension AdalError: CustomStringConvertible {
    public var description: String {
        switch self {
        case .invalidField(let field, let reason): "\(field): \(reason)"
        case .notFound(let what): "\(what) not found"
        case .invalidCredentials: "login or password is wrong"
        case .unauthenticated: "sign-in required"
        case .forbidden(let reason): "forbidden: \(reason)"
        case .conflict(let reason): "conflict: \(reason)"
        case .tooManyAttempts(let seconds): "too many attempts; try again in \(seconds) s"
        case .tooLarge(let limit, let maximumBytes): "\(limit) is larger than \(maximumBytes) bytes"
        case .unsupportedMediaType(let field, let reason): "\(field): \(reason)"
        case .csrfRejected: "the form's anti-forgery token is missing or wrong"
        case .unavailable(let reason): "unavailable: \(reason)"
        }
    }
}
