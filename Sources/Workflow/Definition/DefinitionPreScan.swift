/// A cheap pass over a definition's text before the YAML parser sees it, so that a hostile file
/// is refused by its size and shape instead of exhausting the stack or memory:
///
/// - anchors (`&a`) and aliases (`*a`) are refused: a few lines of aliases can stand for an
///   exponentially large document;
/// - flow nesting (`[[[…`) is limited, and so is the column where a line's content starts, which
///   bounds block nesting (every level of a block needs more indentation or one more `- `).
///
/// The scan knows quoted text, comments and block scalars well enough never to refuse a
/// reasonable definition; where it is unsure it refuses with a message saying how to fix it.
enum DefinitionPreScan {
    static let maximumFlowDepth = 8
    static let maximumContentColumn = 80
    static let maximumLines = 10_000
    static let maximumLineLength = 1_000

    static func check(_ text: String, file: String) throws(DefinitionError) {
        var quote: Character? = nil
        var flowDepth = 0
        var blockScalarIndent: Int? = nil
        var lineNumber = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            func fail(_ kind: DefinitionError.Kind, _ message: String, column: Int) -> DefinitionError {
                DefinitionError(kind, message, at: SourceLocation(file: file, line: lineNumber, column: column))
            }
            guard lineNumber <= maximumLines else {
                throw fail(.tooLarge, "more than \(maximumLines) lines", column: 1)
            }
            let characters = Array(line)
            guard characters.count <= maximumLineLength else {
                throw fail(.tooLarge, "line longer than \(maximumLineLength) characters", column: maximumLineLength)
            }
            let indent = characters.prefix { $0 == " " }.count
            if let blockIndent = blockScalarIndent {
                if indent > blockIndent || characters.allSatisfy({ $0 == " " || $0 == "\r" }) { continue }
                blockScalarIndent = nil
            }
            if quote == nil {
                var contentColumn = indent
                while contentColumn + 1 < characters.count, "-?".contains(characters[contentColumn]),
                    characters[contentColumn + 1] == " "
                {
                    contentColumn += 2
                    while contentColumn < characters.count, characters[contentColumn] == " " { contentColumn += 1 }
                }
                guard contentColumn <= maximumContentColumn else {
                    throw fail(
                        .tooLarge,
                        "nested too deeply (content starts after column \(maximumContentColumn))",
                        column: contentColumn + 1
                    )
                }
            }
            // The last character that was not a space, and where it was.
            var previous: Character? = nil
            var previousIndex = -1
            var index = 0
            while index < characters.count {
                let character = characters[index]
                defer { index += 1 }
                if let open = quote {
                    if open == "\"", character == "\\" {
                        index += 1
                    } else if character == open {
                        if open == "'", index + 1 < characters.count, characters[index + 1] == "'" {
                            index += 1
                        } else {
                            quote = nil
                            previous = character
                            previousIndex = index
                        }
                    }
                    continue
                }
                if character == " " || character == "\t" || character == "\r" { continue }
                let atTokenStart: Bool =
                    switch previous {
                    case nil: true
                    case "[", "{", ",": true
                    case ":", "-", "?": previousIndex + 1 < index
                    default: false
                    }
                if character == "#", index == 0 || characters[index - 1] == " " || characters[index - 1] == "\t" {
                    break
                }
                if atTokenStart {
                    switch character {
                    case "'", "\"":
                        quote = character
                    case "&", "*":
                        throw fail(
                            .syntax,
                            "anchors (&) and aliases (*) are not allowed; put text that starts with them in quotes",
                            column: index + 1
                        )
                    case "[", "{":
                        flowDepth += 1
                        guard flowDepth <= maximumFlowDepth else {
                            throw fail(
                                .tooLarge,
                                "lists and mappings nested deeper than \(maximumFlowDepth)",
                                column: index + 1
                            )
                        }
                    case "|", ">":
                        if flowDepth == 0 { blockScalarIndent = indent }
                    default:
                        break
                    }
                }
                if character == "]" || character == "}", flowDepth > 0 { flowDepth -= 1 }
                previous = character
                previousIndex = index
            }
        }
    }

}
