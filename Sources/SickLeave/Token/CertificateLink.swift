import Foundation

/// What a certificate's QR code carries: a link that a phone camera opens as the verification
/// page, with the token after `#`. Browsers never send the part after `#` to a server, so the
/// token reaches no access log; the page's script hands it to the verifier.
public enum CertificateLink {
    /// The path, under the server's public address, that the link opens.
    public static let path = "/V"

    /// `BASE/V#SL1:…`. Inside a fragment only space and `%` need escaping; every other Base45
    /// character may stand as it is. The scheme and host are written in capitals (they are
    /// case-insensitive), so nearly all of the code stays in QR alphanumeric mode.
    public static func text(token: String, base: String) -> String {
        var base = Substring(base)
        while base.hasSuffix("/") { base = base.dropLast() }
        let schemeEnd = base.range(of: "://")?.upperBound ?? base.startIndex
        let hostEnd = base[schemeEnd...].firstIndex(of: "/") ?? base.endIndex
        var escaped = ""
        escaped.reserveCapacity(token.utf8.count + 16)
        for character in token {
            switch character {
            case " ": escaped += "%20"
            case "%": escaped += "%25"
            default: escaped.append(character)
            }
        }
        return base[..<hostEnd].uppercased() + base[hostEnd...] + path + "#" + escaped
    }

    /// The token in what a scanner or a person handed over: the token itself, or a link that
    /// carries it after `#` (a token never holds `#`).
    public static func token(in scanned: String) -> String {
        let bytes = scanned.utf8
        // The common case, a bare token as sent by a scanner or an HR system, is returned as it is.
        if !bytes.contains(UInt8(ascii: "#")), let first = bytes.first, let last = bytes.last,
            !isSpace(first), !isSpace(last)
        {
            return scanned
        }
        let trimmed = scanned.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let hash = trimmed.firstIndex(of: "#") else { return trimmed }
        let fragment = String(trimmed[trimmed.index(after: hash)...])
        return fragment.removingPercentEncoding ?? fragment
    }

    private static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte) || byte >= 0x80
    }
}
