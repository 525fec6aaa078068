import Core

/// RFC 4180 comma-separated values: fields optionally in double quotes (a quote inside written
/// twice), records ending in CRLF or LF. Strict: a quote inside an unquoted field, or text after
/// a closing quote, is an error naming the line.
enum CSV {
    struct Record {
        /// The line the record starts on (1-based).
        var line: Int
        var fields: [String]
    }

    struct Malformed: Error {
        var line: Int
        var reason: String
    }

    /// Stops with an error at the first record beyond `maximumRecords`, so a huge file of junk
    /// costs no more than the limit.
    static func parse(_ text: String, maximumFields: Int, maximumRecords: Int) throws(Malformed) -> [Record] {
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
            case ",":
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
