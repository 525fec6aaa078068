import Core
import Workflow

/// A definition's states as an SVG drawn on the server: columns by distance from the initial
/// state, one box per state (the current one marked), arrows for events with their titles as
/// tooltips. No script and no other host is involved.
enum StateDiagram {
    static let boxWidth = 150
    static let boxHeight = 44
    static let columnGap = 60
    static let rowGap = 20

    static func svg(_ definition: WorkflowDefinition, language: Language, current: String?, label: String) -> String {
        // Column of each state: its shortest distance from the initial state.
        var column: [String: Int] = [definition.initialState.name: 0]
        var queue = [definition.initialState.name]
        while !queue.isEmpty {
            let state = queue.removeFirst()
            for event in definition.events(from: state) where !event.stays && column[event.to] == nil {
                column[event.to] = column[state]! + 1
                queue.append(event.to)
            }
        }
        var rows: [Int: Int] = [:]
        var place: [String: (x: Int, y: Int)] = [:]
        for state in definition.states {
            let c = column[state.name] ?? 0
            let r = rows[c, default: 0]
            rows[c] = r + 1
            place[state.name] = (c * (boxWidth + columnGap) + 10, r * (boxHeight + rowGap) + 10)
        }
        let width = ((column.values.max() ?? 0) + 1) * (boxWidth + columnGap) - columnGap + 20
        let height = (rows.values.max() ?? 1) * (boxHeight + rowGap) - rowGap + 20
        var parts = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"\(escape(label))\" class=\"diagram\">",
            "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#4a5560\"/></marker></defs>",
        ]
        for event in definition.events {
            for from in event.from {
                guard !event.stays, let a = place[from], let b = place[event.to], from != event.to else { continue }
                let (x1, y1) = (a.x + boxWidth, a.y + boxHeight / 2)
                var (x2, y2) = (b.x, b.y + boxHeight / 2)
                if b.x <= a.x { (x2, y2) = (b.x + boxWidth / 2, b.y + (b.y > a.y ? 0 : boxHeight)) }
                let dash = event.actors == [.system] ? " stroke-dasharray=\"4 3\"" : ""
                parts.append(
                    "<line x1=\"\(x1)\" y1=\"\(y1)\" x2=\"\(x2)\" y2=\"\(y2)\" stroke=\"#4a5560\"\(dash) marker-end=\"url(#arrow)\"><title>\(escape(event.title[language]))</title></line>"
                )
            }
        }
        for state in definition.states {
            guard let p = place[state.name] else { continue }
            let isCurrent = state.name == current
            let fill = isCurrent ? "#ffe08a" : "#ffffff"
            let stroke = isCurrent ? "#1b1f24" : "#005a8c"
            let strokeWidth = state.isTerminal || isCurrent ? 3 : 1.5
            parts.append(
                "<g><rect x=\"\(p.x)\" y=\"\(p.y)\" width=\"\(boxWidth)\" height=\"\(boxHeight)\" rx=\"8\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"\(strokeWidth)\"/>"
                    + "<text x=\"\(p.x + boxWidth / 2)\" y=\"\(p.y + boxHeight / 2 + 5)\" text-anchor=\"middle\" font-size=\"13\" fill=\"#1b1f24\">\(escape(String(state.title[language].prefix(22))))</text>"
                    + "<title>\(escape(state.title[language]))\(isCurrent ? " ●" : "")</title></g>"
            )
        }
        parts.append("</svg>")
        return parts.joined(separator: "\n")
    }

    static func escape(_ text: String) -> String {
        var escaped = ""
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
