import Core
import HTTPTypes
import Hummingbird
import NIOCore
import Testing

@testable import Web

@Suite("The language an API client asks for")
struct RequestedLanguageTests {
    func requested(_ header: String?) -> Language? {
        var head = HTTPRequest(method: .post, scheme: "http", authority: "adal.test", path: "/api/astana/meals/charges")
        if let header { head.headerFields[.acceptLanguage] = header }
        return LanguageMiddleware.requested(by: Request(head: head, body: .init(buffer: ByteBuffer())))
    }

    @Test("Accept-Language: the most wanted of kk, ru and en; regions count as their language; q=0 refuses")
    func choices() {
        #expect(requested(nil) == nil)
        #expect(requested("") == nil)
        #expect(requested("ru-KZ,ru;q=0.9,en;q=0.5") == .ru)
        #expect(requested("en;q=0.2, kk") == .kk)
        #expect(requested("EN-gb") == .en)
        #expect(requested("de, fr-CH;q=0.8") == nil)
        #expect(requested("*") == nil)
        #expect(requested("kk;q=0, ru;q=0.1") == .ru)
        #expect(requested("kk;q=0") == nil)
        // Equal weights keep the first; a weight outside 0–1 is not read (the range counts as 1).
        #expect(requested("ru;q=0.5, en;q=0.5") == .ru)
        #expect(requested("en;q=0.9, kk;q=7") == .kk)
        // Only the first ranges are read.
        let many = Array(repeating: "de", count: LanguageMiddleware.maximumRanges).joined(separator: ",") + ",ru"
        #expect(requested(many) == nil)
    }
}
