/// A vertical bar chart drawn on the server as SVG (no script): one bar per label, its value
/// written above it, highlighted bars in red, and an optional dashed marker before one bar.
enum BarChart {
    struct Bar {
        var label: String
        var value: Int64
        /// The value as written above the bar.
        var caption: String
        var highlighted: Bool
    }

    static func svg(_ bars: [Bar], markerBefore: Int? = nil, label: String) -> String {
        let (width, height, left, bottom, top) = (520, 220, 30, 24, 16)
        let slot = (width - left - 10) / max(bars.count, 1)
        let highest = max(bars.map(\.value).max() ?? 0, 1)
        let plot = Int64(height - bottom - top)
        var shapes = ""
        for (index, bar) in bars.enumerated() {
            let barHeight = Int(max(bar.value, 0) * plot / highest)
            let x = left + index * slot
            let y = height - bottom - barHeight
            shapes += "<rect x=\"\(x + 2)\" y=\"\(y)\" width=\"\(max(slot - 4, 1))\" height=\"\(barHeight)\" "
            shapes += "fill=\"\(bar.highlighted ? "#a3111b" : "#005a8c")\"/>"
            if bar.value > 0 {
                shapes += "<text x=\"\(x + slot / 2)\" y=\"\(y - 3)\" text-anchor=\"middle\" font-size=\"11\">"
                shapes += "\(DistrictChart.escape(bar.caption))</text>"
            }
            shapes += "<text x=\"\(x + slot / 2)\" y=\"\(height - 8)\" text-anchor=\"middle\" font-size=\"11\">"
            shapes += "\(DistrictChart.escape(bar.label))</text>"
        }
        if let marker = markerBefore {
            let x = left + min(marker, bars.count) * slot
            shapes += "<line x1=\"\(x)\" y1=\"\(top)\" x2=\"\(x)\" y2=\"\(height - bottom)\" "
            shapes += "stroke=\"#1b1f24\" stroke-dasharray=\"4 3\"/>"
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(width) \(height)" role="img" \
            aria-label="\(DistrictChart.escape(label))" class="chart"><line x1="\(left)" y1="\(height - bottom)" \
            x2="\(width - 10)" y2="\(height - bottom)" stroke="#4a5560"/>\(shapes)</svg>
            """
    }
}

/// How long principals have headed their schools: one bar per full year, 0 to 14 and "15+",
/// past the city's limit in red, the limit marked.
enum TenureChart {
    static func svg(years: [Int], limit: Int, label: String) -> String {
        BarChart.svg(
            years.enumerated().map { index, count in
                BarChart.Bar(
                    label: index == years.count - 1 ? "\(index)+" : "\(index)",
                    value: Int64(count),
                    caption: "\(count)",
                    highlighted: index >= limit
                )
            },
            markerBefore: limit,
            label: label
        )
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
