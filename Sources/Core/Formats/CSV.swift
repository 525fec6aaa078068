import Foundation

/// RFC 4180 comma-separated values: fields optionally in double quotes (a quote inside written
/// twice), records ending in CRLF or LF. Strict: a quote inside an unquoted field, or text after
/// a closing quote, is an error naming the line.
public enum CSV {
    public struct Record: Sendable {
        /// The line the record starts on (1-based).
        public var line: Int
        public var fields: [String]
    }

    public struct Malformed: Error {
        public var line: Int
        public var reason: String
    }

    /// Stops with an error at the first record beyond `maximumRecords`, so a huge file of junk
    /// costs no more than the limit. `separator` is a comma unless told (a semicolon for files
    /// written for Russian and Kazakh spreadsheets).
    public static func parse(
        _ text: String,
        separator: Unicode.Scalar = ",",
        maximumFields: Int,
        maximumRecords: Int
    ) throws(Malformed) -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var recordLine = 1
        var quoted = false
        var afterQuote = false
        var iterator = text.unicodeScalars.makeIterator()
        var pending: Unicode.Scalar? = nil
        func endField() throws(Malformed) {
            fields.append(field)
            field = ""
            afterQuote = false
            guard fields.count <= maximumFields else { throw Malformed(line: recordLine, reason: "too many fields") }
        }
        while let scalar = pending ?? iterator.next() {
            pending = nil
            if quoted {
                if scalar == "\"" {
                    let next = iterator.next()
                    if next == "\"" {
                        field.unicodeScalars.append("\"")
                    } else {
                        quoted = false
                        afterQuote = true
                        pending = next
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case separator:
                try endField()
            case "\r":
                let next = iterator.next()
                guard next == "\n" else { throw Malformed(line: line, reason: "a carriage return without a line feed") }
                pending = next
            case "\n":
                try endField()
                if !(fields.count == 1 && fields[0].isEmpty) {
                    records.append(Record(line: recordLine, fields: fields))
                    guard records.count <= maximumRecords else {
                        throw Malformed(line: recordLine, reason: "more than \(maximumRecords - 1) rows")
                    }
                }
                fields = []
                line += 1
                recordLine = line
            case "\"":
                guard field.isEmpty, !afterQuote else {
                    throw Malformed(line: line, reason: "a quote inside an unquoted field")
                }
                quoted = true
            default:
                guard !afterQuote else { throw Malformed(line: line, reason: "text after a closing quote") }
                field.unicodeScalars.append(scalar)
            }
        }
        guard !quoted else { throw Malformed(line: recordLine, reason: "a quoted field is never closed") }
        if !fields.isEmpty || !field.isEmpty || afterQuote {
            try endField()
            records.append(Record(line: recordLine, fields: fields))
        }
        return records
    }
}

extension CSV {
    /// A file that is not UTF-8 text.
    public static let notUTF8 = "the file is not UTF-8 text (save it as CSV UTF-8)"

    /// A file whose first line is not the header expected.
    public static func headerExpected(_ header: [String]) -> String {
        "the first line must be exactly: " + header.joined(separator: ",")
    }

    /// A problem with one line of an imported file, for the report that lists them all.
    public struct Problem: Error, Sendable, Codable, Equatable, CustomStringConvertible {
        public var line: Int
        public var field: String?
        public var message: String

        public init(line: Int, field: String?, message: String) {
            self.line = line
            self.field = field
            self.message = message
        }

        public var description: String { "line \(line)" + (field.map { ", \($0)" } ?? "") + ": \(message)" }
    }

    /// The rows of an uploaded file after its header: within `maximumBytes`, UTF-8 (a byte-order
    /// mark is skipped), at most `maximumRows` rows, and a first line that is exactly `header`.
    /// The one problem that stops the reading is thrown with its line.
    public static func table(
        _ bytes: [UInt8],
        header: [String],
        maximumBytes: Int,
        maximumRows: Int
    ) throws(Problem) -> [Record] {
        guard bytes.count <= maximumBytes else {
            throw Problem(line: 0, field: nil, message: "the file is larger than \(maximumBytes) bytes")
        }
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        guard let text = String(validating: body, as: UTF8.self) else {
            let valid = body.prefix { $0 < 0x80 }
            let line = 1 + valid.filter { $0 == 0x0A }.count
            throw Problem(line: line, field: nil, message: notUTF8)
        }
        let records: [Record]
        do {
            records = try parse(text, maximumFields: header.count + 8, maximumRecords: maximumRows + 1)
        } catch {
            throw Problem(line: error.line, field: nil, message: error.reason)
        }
        guard let first = records.first, first.fields.map({ $0.trimmingCharacters(in: .whitespaces) }) == header else {
            throw Problem(
                line: 1,
                field: nil,
                message: headerExpected(header)
            )
        }
        return Array(records.dropFirst())
    }
}
