/// A migration file cut into single statements, each with the line it starts on, so that a
/// failing statement can be named by its line in the file.
///
/// The cutter knows PostgreSQL's lexical rules that can hide a semicolon: single-quoted strings
/// (with `''` and, in `E'…'` strings, backslash escapes), double-quoted identifiers, dollar
/// quoting (`$$…$$`, `$tag$…$tag$`), line comments and nested block comments.
public struct SQLScript: Sendable {
    public struct Statement: Sendable, Equatable {
        /// The statement text without its closing semicolon.
        public var text: String
        /// 1-based line of the file where the statement's first character stands.
        public var line: Int
    }

    public let statements: [Statement]

    public init(_ source: String) {
        let characters = Array(source.unicodeScalars)
        var statements: [Statement] = []
        var current = String.UnicodeScalarView()
        var statementLine: Int? = nil
        var line = 1
        var index = 0

        func append(_ scalar: Unicode.Scalar) {
            current.append(scalar)
            if scalar == "\n" { line += 1 }
        }
        func startIfNeeded() {
            if statementLine == nil { statementLine = line }
        }
        func copy(until end: Int) {
            while index < end && index < characters.count {
                append(characters[index])
                index += 1
            }
        }

        while index < characters.count {
            let scalar = characters[index]
            let next: Unicode.Scalar? = index + 1 < characters.count ? characters[index + 1] : nil
            if scalar == "-" && next == "-" {
                // Line comment: kept out of the statement text.
                while index < characters.count && characters[index] != "\n" { index += 1 }
                continue
            }
            if scalar == "/" && next == "*" {
                var depth = 0
                repeat {
                    if characters[index] == "/" && index + 1 < characters.count && characters[index + 1] == "*" {
                        depth += 1
                        index += 2
                    } else if characters[index] == "*" && index + 1 < characters.count && characters[index + 1] == "/" {
                        depth -= 1
                        index += 2
                    } else {
                        // Keep the comment's line breaks so that lines inside the statement still count right.
                        if characters[index] == "\n" { append("\n") }
                        index += 1
                    }
                } while depth > 0 && index < characters.count
                current.append(" ")
                continue
            }
            if scalar == ";" {
                let text = String(current).trimmingWhitespace()
                if !text.isEmpty, let start = statementLine {
                    statements.append(Statement(text: text, line: start))
                }
                current = String.UnicodeScalarView()
                statementLine = nil
                index += 1
                continue
            }
            if scalar.properties.isWhitespace {
                append(scalar)
                index += 1
                continue
            }
            startIfNeeded()
            if scalar == "'" {
                let escapes = index > 0 && (characters[index - 1] == "E" || characters[index - 1] == "e")
                append(scalar)
                index += 1
                while index < characters.count {
                    let c = characters[index]
                    if escapes && c == "\\" {
                        copy(until: index + 2)
                        continue
                    }
                    append(c)
                    index += 1
                    if c == "'" {
                        if index < characters.count && characters[index] == "'" {
                            append(characters[index])
                            index += 1
                        } else {
                            break
                        }
                    }
                }
                continue
            }
            if scalar == "\"" {
                append(scalar)
                index += 1
                while index < characters.count {
                    let c = characters[index]
                    append(c)
                    index += 1
                    if c == "\"" { break }
                }
                continue
            }
            if scalar == "$", let tag = Self.dollarTag(in: characters, at: index) {
                copy(until: index + tag.count)
                while index < characters.count {
                    if characters[index] == "$" && Self.matches(tag, in: characters, at: index) {
                        copy(until: index + tag.count)
                        break
                    }
                    append(characters[index])
                    index += 1
                }
                continue
            }
            append(scalar)
            index += 1
        }
        let text = String(current).trimmingWhitespace()
        if !text.isEmpty, let start = statementLine {
            statements.append(Statement(text: text, line: start))
        }
        self.statements = statements
    }

    /// The file line of a 1-based character `position` (as PostgreSQL reports errors) within
    /// `statement`.
    public static func line(ofPosition position: Int, in statement: Statement) -> Int {
        let before = statement.text.unicodeScalars.prefix(max(0, position - 1))
        return statement.line + before.filter { $0 == "\n" }.count
    }

    /// `$tag$` starting at `index` (tag: letters, digits, underscores, not starting with a digit).
    private static func dollarTag(in characters: [Unicode.Scalar], at index: Int) -> [Unicode.Scalar]? {
        var end = index + 1
        while end < characters.count {
            let c = characters[end]
            if c == "$" { return Array(characters[index...end]) }
            let isStart = c.properties.isAlphabetic || c == "_"
            let isPart = isStart || ("0"..."9").contains(c)
            if !(end == index + 1 ? isStart : isPart) { return nil }
            end += 1
        }
        return nil
    }

    private static func matches(_ tag: [Unicode.Scalar], in characters: [Unicode.Scalar], at index: Int) -> Bool {
        guard index + tag.count <= characters.count else { return false }
        return Array(characters[index..<(index + tag.count)]) == tag
    }
}
