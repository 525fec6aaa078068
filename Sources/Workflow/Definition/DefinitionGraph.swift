import Core

/// A definition as a Graphviz graph: states as boxes (initial bold, terminal doubled, human tasks
/// with their role), events as labelled arrows, the system's events dashed.
public enum DefinitionGraph {
    public static func dot(_ definition: WorkflowDefinition, language: Language = .en, current: String? = nil) -> String
    {
        var lines = [
            "digraph \(quoted(definition.key)) {",
            "  label=\(quoted("\(definition.title[language]) (\(definition.reference))"));",
            "  rankdir=LR;",
            "  node [shape=box, style=rounded, fontname=\"sans-serif\"];",
            "  edge [fontname=\"sans-serif\", fontsize=10];",
            "  \"__start\" [shape=point, label=\"\"];",
        ]
        for state in definition.states {
            var attributes = ["label=\(quoted(label(for: state, language: language)))"]
            if state.isTerminal { attributes.append("peripheries=2") }
            if state.isInitial { attributes.append("penwidth=2") }
            if state.name == current { attributes.append("style=\"rounded,filled\", fillcolor=\"#ffe08a\"") }
            lines.append("  \(quoted(state.name)) [\(attributes.joined(separator: ", "))];")
        }
        lines.append(
            "  \"__start\" -> \(quoted(definition.start.to)) [label=\(quoted(definition.start.title[language]))];"
        )
        for event in definition.events {
            let dashed = event.actors == [.system] ? ", style=dashed" : ""
            for from in event.from {
                lines.append(
                    "  \(quoted(from)) -> \(quoted(event.target(from: from))) [label=\(quoted(event.title[language]))\(dashed)];"
                )
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    private static func label(for state: StateDefinition, language: Language) -> String {
        var text = state.title[language]
        if let task = state.task { text += "\n[\(task.role.rawValue)]" }
        return text
    }

    /// A DOT string literal: quotes and backslashes escaped, newlines as `\n`.
    private static func quoted(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "\"": escaped += "\\\""
            case "\\": escaped += "\\\\"
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return "\"\(escaped)\""
    }
}
