import Core

/// Why a charge was declined or refused, as a page says it in its reader's language.
///
/// The ledger stores a declined transfer's reason in English (`adal_meal_charges` writes it, the
/// API returns it, auditors read it in the log), and the till's refusals are English errors.
/// People at the till and parents read Kazakh or Russian: a page matches the English text
/// against ``known`` and shows the locale key's sentence with the same figures instead. A text
/// that matches nothing (a refund's reason typed by staff, a reason worded by a later version)
/// is shown as it is.
public struct MealReason: Equatable, Sendable {
    /// The locale key of the sentence.
    public let key: String
    /// The figures for `{1}`, `{2}`, … of the sentence, amounts already in tenge.
    public let figures: [String]

    /// The reason's code for programs (a till's own software, say): its locale key without the
    /// service's prefix — `balance`, `limit_today`, `allergen`, `not_on_menu`, `menu_file_header`.
    /// As stable as the key; the English text may be reworded.
    public var code: String {
        key.replacingOccurrences(of: "meals_", with: "").replacingOccurrences(of: "reason_", with: "")
    }

    /// One English wording and the key that says it. `{n}` stands for a figure (a run of
    /// characters); the figures listed in `tiyn` are amounts in tiyn, shown in tenge.
    struct Wording: Sendable {
        let key: String
        let pieces: [String]
        let tiyn: Set<Int>

        init(_ key: String, _ english: String, tiyn: Set<Int> = []) {
            self.key = key
            // "a {1} b {2}" → ["a ", " b ", ""]: the literal text around the figures.
            var pieces: [String] = []
            var rest = Substring(english)
            var figure = 1
            while let range = rest.range(of: "{\(figure)}") {
                pieces.append(String(rest[..<range.lowerBound]))
                rest = rest[range.upperBound...]
                figure += 1
            }
            pieces.append(String(rest))
            self.pieces = pieces
            self.tiyn = tiyn
        }

        /// The figures when `text` is this wording; nil otherwise.
        func figures(in text: String) -> [String]? {
            guard text.hasPrefix(pieces[0]) else { return nil }
            var rest = Substring(text).dropFirst(pieces[0].count)
            var figures: [String] = []
            for (figure, piece) in pieces.enumerated().dropFirst() {
                // A figure runs to the next literal piece; the last one to the text's end.
                let end: Substring.Index
                if figure == pieces.count - 1 {
                    guard rest.hasSuffix(piece) else { return nil }
                    end = rest.index(rest.endIndex, offsetBy: -piece.count)
                } else {
                    guard let range = rest.range(of: piece) else { return nil }
                    end = range.lowerBound
                }
                let value = String(rest[..<end])
                guard !value.isEmpty else { return nil }
                if tiyn.contains(figure) {
                    guard let amount = Int64(value) else { return nil }
                    figures.append(Money.shown(amount))
                } else {
                    figures.append(value)
                }
                rest = rest[end...].dropFirst(piece.count)
            }
            return rest.isEmpty ? figures : nil
        }
    }

    /// The till's refusals, as its errors word them (`MealAccountService`).
    public static let wrongSchool = "the pupil is not at this till's school"
    public static let noContract = "the school has no meal contract in force"
    public static let notATill = "this account is not a till of any school"
    public static let insufficientBalance = "insufficient balance"
    /// What a card no pupil of the city has is: not found.
    public static let unknownCard = "pupil with this card"

    /// Every reason a charge can be declined or refused with that a till or a parent meets, in
    /// the words `adal_meal_charges` (migrations 0020 and 0023) and `MealAccountService` use.
    static let known: [Wording] = [
        Wording("meals_reason_balance", insufficientBalance),
        Wording("meals_reason_limit_today", "over the daily limit of {1} tiyn ({2} spent today)", tiyn: [1, 2]),
        Wording("meals_reason_limit_day", "over the daily limit of {1} tiyn ({2} spent on {3})", tiyn: [1, 2]),
        Wording("meals_reason_allergen", "contains {1}, flagged for this pupil"),
        Wording(
            "meals_reason_above_contract",
            "the meal costs {1} tiyn, above the contract price of {2}",
            tiyn: [1, 2]
        ),
        Wording("meals_reason_not_on_menu", "not on the menu for {1} at that price: {2}"),
        // A day's menu (`MealMenus`).
        Wording("meals_menu_reason_count", MealMenus.itemCount),
        Wording("meals_menu_reason_name", MealMenus.nameShape),
        Wording("meals_menu_reason_twice", MealMenus.listedTwice("{1}")),
        Wording("meals_menu_reason_price", MealMenus.priceRange("{1}", "{2}"), tiyn: [2]),
        Wording("meals_menu_reason_allergen", MealMenus.allergenShape("{1}")),
        Wording("meals_menu_reason_allergens", MealMenus.allergenCount("{1}")),
        Wording("meals_menu_reason_past", MealMenus.pastDay),
        Wording("meals_menu_reason_far", MealMenus.farDay),
        Wording("meals_menu_reason_copy_span", MealMenus.copySpan),
        Wording("meals_menu_reason_copy_overlap", MealMenus.copyOverlap),
        Wording("meals_menu_reason_copy_nothing", MealMenus.nothingToCopy("{1}", "{2}")),
        Wording("meals_menu_reason_copy_taken", MealMenus.copyTaken("{1}")),
        Wording("meals_menu_reason_copy_price", MealMenus.copyPrice("{1}", "{2}", "{3}"), tiyn: [3]),
        // A menu file's own problems (`MealMenus.importFile`, the menu page's upload).
        Wording("meals_menu_reason_file_days", MealMenus.tooManyDays),
        Wording("meals_menu_reason_file_price", MealMenus.priceShape),
        Wording("meals_menu_reason_file_fields", MealMenus.fieldCount("{1}")),
        Wording("meals_menu_reason_file_date", Day.shape),
        Wording("meals_menu_reason_file_encoding", CSV.notUTF8),
        Wording("meals_menu_reason_file_header", CSV.headerExpected(MealMenus.importHeader)),
        Wording("meals_menu_reason_file_missing", "file: " + MealMenus.fileMissing),
        Wording("meals_menu_reason_file_size", MealMenus.fileName + " is larger than {1} bytes"),
        Wording("meals_reason_wrong_school", wrongSchool),
        Wording("meals_reason_no_contract", noContract),
        Wording("meals_reason_not_a_till", "forbidden: " + notATill),
        Wording("meals_reason_no_pupil", unknownCard + " not found"),
        Wording("meals_reason_no_pupil", "pupil not found"),
        Wording("meals_reason_clock", MealAccountService.servedAtFuture),
        Wording("meals_reason_kept_too_long", MealAccountService.servedAtTooOld),
        Wording("meals_reason_other_body", "conflict: transfer {1} already exists with another request"),
        // A guardian's alerts and automatic top-up (`MealSchools.guardianSettings`).
        Wording("meals_reason_amount_range", "a whole number of tiyn from 1 to {1}", tiyn: [1]),
        Wording("meals_reason_tenge", tengeShape),
        Wording("meals_reason_both", bothOrNeither),
        // Returning the balance (`BalanceReturns`).
        Wording("meals_reason_return_over", BalanceReturns.overBalance("{1}", "{2}"), tiyn: [1, 2]),
        Wording("meals_reason_return_nothing", BalanceReturns.nothingToReturn),
        Wording("meals_reason_return_card_short", BalanceReturns.cardShort("{1}", "{2}"), tiyn: [1, 2]),
        // Payouts by bank transfer (`BankPayouts`), and the account they go to.
        Wording("meals_reason_payout_nothing", BankPayouts.nothingToPayOut(mine: true)),
        Wording("meals_reason_payout_nothing", BankPayouts.nothingToPayOut(mine: false)),
        Wording("meals_reason_payout_short", BankPayouts.short("{1}", mine: true), tiyn: [1]),
        Wording("meals_reason_payout_short", BankPayouts.short("{1}", mine: false), tiyn: [1]),
        Wording("meals_reason_iban_country", IBAN.notKazakh),
        Wording("meals_reason_iban_length", IBAN.wrongLength("{1}")),
        Wording("meals_reason_iban_check", IBAN.checkDigits),
        Wording("meals_reason_iban_characters", IBAN.lettersAndDigits),
        Wording("meals_reason_holder", BankPayouts.holderName),
        Wording("meals_reason_holder", BankPayouts.holderOneLine),
    ]

    /// How an amount typed in tenge must look, as a refusal says it.
    public static let tengeShape = "an amount in tenge, such as 1500 or 1500,50"
    /// An automatic top-up's threshold without its amount, or the other way round.
    public static let bothOrNeither = "set both the threshold and the amount, or neither"

    /// The reason in `text`, when it is one the pages can say in another language.
    public static func of(_ text: String) -> MealReason? {
        for wording in known {
            if let figures = wording.figures(in: text) { return MealReason(key: wording.key, figures: figures) }
        }
        return nil
    }
}
