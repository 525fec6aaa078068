import Foundation

/// Amounts of money as people type and read them; Adal itself counts integer tiyn
/// (1 tenge = 100 tiyn).
public enum Tenge {
    /// `1250`, `1 250,5`, `1250.50` tenge → tiyn; nil for anything else (more than two decimals,
    /// signs, letters, or beyond Int64).
    public static func tiyn(from text: String) -> Int64? {
        let compact = text.filter { $0 != " " && $0 != "\u{00A0}" }.replacingOccurrences(of: ",", with: ".")
        let parts = compact.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].allSatisfy(\.isASCIIDigit),
            let whole = Int64(parts[0])
        else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...2).contains(digits.count), digits.allSatisfy(\.isASCIIDigit), let value = Int64(digits) else {
                return nil
            }
            fraction = digits.count == 1 ? value * 10 : value
        }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: 100)
        guard !overflow else { return nil }
        let (total, overflowAgain) = scaled.addingReportingOverflow(fraction)
        return overflowAgain ? nil : total
    }

    /// Tiyn as a plain decimal in tenge, `1234.50`: the form open data and CSV files use (`1234,50`
    /// with a comma as `decimalMark`, for a spreadsheet that reads numbers so).
    public static func decimal(_ tiyn: Int64) -> String { decimal(tiyn, decimalMark: ".") }

    public static func decimal(_ tiyn: Int64, decimalMark: Character) -> String {
        let sign = tiyn < 0 ? "-" : ""
        let magnitude = tiyn.magnitude
        return String(format: "%@%llu%@%02llu", sign, magnitude / 100, String(decimalMark), magnitude % 100)
    }

    /// Tiyn as people read tenge on a page, `12 345,00` (thousands apart by a narrow no-break
    /// space, a comma before the tiyn), without the sign ₸.
    public static func shown(_ tiyn: Int64) -> String {
        let sign = tiyn < 0 ? "-" : ""
        let magnitude = tiyn.magnitude
        var whole = String(magnitude / 100)
        var grouped = ""
        while whole.count > 3 {
            grouped = "\u{202F}" + whole.suffix(3) + grouped
            whole.removeLast(3)
        }
        return "\(sign)\(whole)\(grouped),\(String(format: "%02d", Int(magnitude % 100)))"
    }
}

extension Character {
    /// 0 to 9 only (not the other scripts' digits `isNumber` accepts).
    public var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
