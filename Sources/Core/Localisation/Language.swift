/// A language Adal speaks. Kazakh is the default; Russian and English are one click away.
public enum Language: String, CaseIterable, Codable, Sendable {
    case kk
    case ru
    case en

    public static let `default` = Language.kk

    /// The language's own name, shown in the language switch.
    public var nativeName: String {
        switch self {
        case .kk: "Қазақша"
        case .ru: "Русский"
        case .en: "English"
        }
    }
}

/// Text in each of Adal's languages, such as a city's or a service's name.
public struct LocalizedText: Hashable, Codable, Sendable {
    public var kk: String
    public var ru: String
    public var en: String

    public init(kk: String, ru: String, en: String) {
        self.kk = kk
        self.ru = ru
        self.en = en
    }

    public subscript(language: Language) -> String {
        switch language {
        case .kk: kk
        case .ru: ru
        case .en: en
        }
    }
}
