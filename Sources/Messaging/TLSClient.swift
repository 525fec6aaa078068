import NIOSSL

/// A TLS client's context that checks the server's certificate against the system's authorities,
/// or only against `pem` (a city's own authority). Closing waits at most a second for the
/// server's own close (NIOSSL waits five by default), so a deadline that cut a silent server off
/// is kept.
func clientTLS(trusting pem: String?) throws -> NIOSSLContext {
    var configuration = TLSConfiguration.makeClientConfiguration()
    if let pem { configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))) }
    configuration.shutdownTimeout = .seconds(1)
    return try NIOSSLContext(configuration: configuration)
}

/// The name a TLS client asks for and checks the certificate against: nil for an IP address.
func serverName(_ host: String) -> String? {
    host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
}
