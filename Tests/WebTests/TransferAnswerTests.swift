import Foundation
import Testing
import Workflow

@testable import MealPayments
@testable import Web

@Suite("School meals: the transfer answer's JSON")
struct TransferAnswerTests {
    static let at = Date(timeIntervalSince1970: 1_795_000_000)

    static let answers: [MealsController.TransferAnswer] = [
        .init(
            transfer: .init(
                id: UUID(),
                kind: "charge",
                status: "posted",
                amount: 85_000,
                at: at,
                school: "School No. 12 «Алтын»",
                items: ["Плов", "Compote"],
                paidBy: "parent",
                reason: nil,
                refersTo: nil
            ),
            balance: 115_000,
            replayed: false
        ),
        .init(
            transfer: .init(
                id: UUID(),
                kind: "subsidised_charge",
                status: "declined",
                amount: 1,
                at: at.addingTimeInterval(0.75),
                school: nil,
                items: ["a \"quoted\" name\\ with\na line break\t\u{01}"],
                paidBy: "subsidy",
                reason: "contains nuts, flagged for this pupil",
                refersTo: nil
            ),
            balance: 0,
            replayed: true
        ),
        .init(
            transfer: .init(
                id: UUID(),
                kind: "refund",
                status: "posted",
                amount: 85_000,
                at: at,
                school: "Школа 7",
                items: [],
                paidBy: nil,
                reason: "wrong meal",
                refersTo: UUID()
            ),
            balance: -1,
            replayed: false
        ),
    ]

    @Test("the answer written by hand reads back as JSONEncoder's (ISO 8601 times, absent fields left out)")
    func sameAsEncoder() throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        for answer in Self.answers {
            let byHand = try JSONSerialization.jsonObject(with: Data(answer.text.utf8)) as? NSDictionary
            let encoded = try JSONSerialization.jsonObject(with: try encoder.encode(answer)) as? NSDictionary
            #expect(byHand != nil && byHand == encoded, "\(answer.text)")
            // Keys in order and no white space, as the canonical form of the same JSON.
            let parsed = try InputValue(json: answer.text.utf8)
            #expect(parsed.canonicalJSON == answer.text)
        }
    }

    @Test("a charge's items are written byte for byte as JSONEncoder with sorted keys writes them")
    func itemsAsEncoder() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var everyASCII = ""
        for value in 0..<0x80 { everyASCII.unicodeScalars.append(Unicode.Scalar(UInt8(value))) }
        let lists: [[MealAccountService.Item]] = [
            [],
            [.init(name: "Плов", price: 85_000)],
            [
                .init(name: "Суп/борщ «домашний»", price: 0, allergens: []),
                .init(name: "", price: -1, allergens: ["a/b"]),
            ],
            [.init(name: everyASCII, price: Int64.max, allergens: [everyASCII, "é€😀\u{2028}\u{85}"])],
            [
                .init(name: "x", price: Int64.min, allergens: nil),
                .init(name: "\u{7F}\\/\"", price: 7, allergens: ["Nuts"]),
            ],
        ]
        for items in lists {
            let expected = String(decoding: try encoder.encode(items), as: UTF8.self)
            #expect(MealAccountService.Item.json(items) == expected)
        }
    }
}
