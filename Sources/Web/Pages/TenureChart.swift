/// A bar chart of how long principals have headed their schools, drawn on the server as SVG
/// (no script): one bar per full year, 0 to 14 and "15+", with the city's limit marked.
enum TenureChart {
    static func svg(years: [Int], limit: Int, label: String) -> String {
        let (width, height, left, bottom, top) = (520, 220, 30, 24, 16)
        let bars = years.count
        let slot = (width - left - 10) / max(bars, 1)
        let highest = max(years.max() ?? 0, 1)
        let plot = height - bottom - top
        var shapes = ""
        for (index, count) in years.enumerated() {
            let barHeight = count * plot / highest
            let x = left + index * slot
            let y = height - bottom - barHeight
            let over = index >= limit
            shapes += "<rect x=\"\(x + 2)\" y=\"\(y)\" width=\"\(slot - 4)\" height=\"\(barHeight)\" "
            shapes += "fill=\"\(over ? "#a3111b" : "#005a8c")\"/>"
            if count > 0 {
                shapes +=
                    "<text x=\"\(x + slot / 2)\" y=\"\(y - 3)\" text-anchor=\"middle\" font-size=\"11\">\(count)</text>"
            }
            let tick = index == bars - 1 ? "\(index)+" : "\(index)"
            shapes +=
                "<text x=\"\(x + slot / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\" font-size=\"11\">\(tick)</text>"
        }
        let limitX = left + min(limit, bars) * slot
        shapes += "<line x1=\"\(limitX)\" y1=\"\(top)\" x2=\"\(limitX)\" y2=\"\(height - bottom)\" "
        shapes += "stroke=\"#1b1f24\" stroke-dasharray=\"4 3\"/>"
        let escaped = DistrictChart.escape(label)
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(width) \(height)" role="img" aria-label="\(escaped)" \
            class="chart"><line x1="\(left)" y1="\(height - bottom)" x2="\(width - 10)" y2="\(height - bottom)" \
            stroke="#4a5560"/>\(shapes)</svg>
            """
    }
}

/// Horizontal bars, one per district, drawn on the server as SVG: the overdue rotations of each.
enum DistrictChart {
    static func svg(_ counts: [(district: String, count: Int)], label: String) -> String {
        let (width, row, left) = (520, 22, 150)
        let height = max(counts.count, 1) * row + 8
        let highest = max(counts.map(\.count).max() ?? 0, 1)
        var shapes = ""
        for (index, entry) in counts.enumerated() {
            let y = 4 + index * row
            let length = entry.count * (width - left - 40) / highest
            shapes += "<text x=\"\(left - 6)\" y=\"\(y + 15)\" text-anchor=\"end\" font-size=\"12\">"
            shapes += "\(escape(String(entry.district.prefix(24))))</text>"
            shapes += "<rect x=\"\(left)\" y=\"\(y + 3)\" width=\"\(length)\" height=\"\(row - 6)\" fill=\"#a3111b\"/>"
            shapes += "<text x=\"\(left + length + 4)\" y=\"\(y + 15)\" font-size=\"12\">\(entry.count)</text>"
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(width) \(height)" role="img" \
            aria-label="\(escape(label))" class="chart">\(shapes)</svg>
            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
