import Foundation
import OpenBudget

/// The city's map drawn on the server as SVG: district outlines from the city's GeoJSON and
/// one marker per object placed by its coordinates (an equirectangular projection with the
/// longitude scaled by the cosine of the middle latitude, true enough at a city's size). Each
/// marker is a link to the object's page with its name as a tooltip, so the map works without
/// script; `budget-map.js` adds the hover and selection panel.
enum BudgetMap {
    struct Marker {
        var code: String
        var name: String
        var kind: ObjectKind
        var latitude: Double
        var longitude: Double
        var href: String
        /// Shown by the script: the amounts as the reader's language writes them.
        var planned: String
        var spent: String
        var overspent: Bool
        var reported: Bool
    }

    static let width = 800.0

    /// The box the drawing covers: every outline and marker, with a margin.
    struct Frame {
        let west: Double, east: Double, south: Double, north: Double
        /// How much shorter a degree of longitude is than one of latitude here.
        let squeeze: Double
        /// Pixels per degree of latitude.
        let scale: Double
        let height: Double

        init?(_ points: [(longitude: Double, latitude: Double)]) {
            guard let first = points.first else { return nil }
            var (west, east, south, north) = (first.longitude, first.longitude, first.latitude, first.latitude)
            for point in points {
                west = min(west, point.longitude)
                east = max(east, point.longitude)
                south = min(south, point.latitude)
                north = max(north, point.latitude)
            }
            // A lone object still gets a city-sized frame around it.
            let pad = max((east - west) * 0.05, (north - south) * 0.05, 0.005)
            (self.west, self.east, self.south, self.north) = (west - pad, east + pad, south - pad, north + pad)
            squeeze = cos((self.south + self.north) / 2 * .pi / 180)
            let horizontal = BudgetMap.width / ((self.east - self.west) * squeeze)
            height = min(max((self.north - self.south) * horizontal, 240), 1000)
            scale = min(horizontal, height / (self.north - self.south))
        }

        func x(_ longitude: Double) -> Double { ((longitude - west) * squeeze * scale * 10).rounded() / 10 }
        func y(_ latitude: Double) -> Double { ((north - latitude) * scale * 10).rounded() / 10 }
    }

    static func svg(districts: [District], markers: [Marker], label: String) -> String {
        let points =
            districts.flatMap { $0.polygons.flatMap { $0.flatMap { $0 } } }.map { ($0.longitude, $0.latitude) }
            + markers.map { ($0.longitude, $0.latitude) }
        guard let frame = Frame(points) else { return "" }
        var shapes = ""
        for (index, district) in districts.enumerated() where !district.polygons.isEmpty {
            var path = ""
            for ring in district.polygons.flatMap({ $0 }) {
                path +=
                    ring.enumerated().map { offset, point in
                        "\(offset == 0 ? "M" : "L")\(frame.x(point.longitude)),\(frame.y(point.latitude))"
                    }.joined() + "Z"
            }
            shapes += "<path d=\"\(path)\" class=\"district district-\(index % 5)\" fill-rule=\"evenodd\">"
            shapes += "<title>\(DistrictChart.escape(district.name))</title></path>"
            // The label sits at the middle of the district's largest ring's box.
            if let ring = district.polygons.map({ $0[0] }).max(by: { $0.count < $1.count }) {
                let xs = ring.map { frame.x($0.longitude) }
                let ys = ring.map { frame.y($0.latitude) }
                let (cx, cy) = (((xs.min()! + xs.max()!) / 2).rounded(), ((ys.min()! + ys.max()!) / 2).rounded())
                shapes += "<text x=\"\(cx)\" y=\"\(cy)\" class=\"district-name\" text-anchor=\"middle\">"
                shapes += "\(DistrictChart.escape(district.name))</text>"
            }
        }
        for marker in markers {
            let (x, y) = (frame.x(marker.longitude), frame.y(marker.latitude))
            let classes =
                "marker kind-\(marker.kind.rawValue)" + (marker.overspent ? " overspent" : "")
                + (marker.reported ? " reported" : "")
            shapes += "<a href=\"\(DistrictChart.escape(marker.href))\" class=\"\(classes)\" "
            shapes +=
                "data-name=\"\(DistrictChart.escape(marker.name))\" data-planned=\"\(DistrictChart.escape(marker.planned))\" "
            shapes +=
                "data-spent=\"\(DistrictChart.escape(marker.spent))\" data-code=\"\(DistrictChart.escape(marker.code))\">"
            shapes += "<title>\(DistrictChart.escape(marker.name))</title>"
            shapes += "<circle cx=\"\(x)\" cy=\"\(y)\" r=\"7\"/></a>"
        }
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(Int(width)) \(Int(frame.height))" role="img" \
            aria-label="\(DistrictChart.escape(label))" class="budget-map" id="budget-map">\(shapes)</svg>
            """
    }
}

/// Planned against spent for each budget line: two horizontal bars per line, spent in red when
/// it is more than planned.
enum PlannedSpentChart {
    struct Line {
        var label: String
        var planned: Int64
        var spent: Int64
        var plannedCaption: String
        var spentCaption: String
    }

    static func svg(_ lines: [Line], plannedLabel: String, spentLabel: String, label: String) -> String {
        let (width, left, row) = (560, 150, 44)
        let height = max(lines.count, 1) * row + 30
        let highest = max(lines.map { max($0.planned, $0.spent) }.max() ?? 0, 1)
        let span = Int64(width - left - 120)
        var shapes = ""
        for (index, line) in lines.enumerated() {
            let y = 8 + index * row
            let planned = Int(line.planned * span / highest)
            let spent = Int(line.spent * span / highest)
            shapes += "<text x=\"0\" y=\"\(y + 16)\" font-size=\"12\">\(DistrictChart.escape(line.label))</text>"
            shapes += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(max(planned, 1))\" height=\"16\" fill=\"#7a8b99\"/>"
            shapes +=
                "<text x=\"\(left + planned + 4)\" y=\"\(y + 12)\" font-size=\"11\">\(DistrictChart.escape(line.plannedCaption))</text>"
            let colour = line.spent > line.planned ? "#a3111b" : "#005a8c"
            shapes +=
                "<rect x=\"\(left)\" y=\"\(y + 18)\" width=\"\(max(spent, 1))\" height=\"16\" fill=\"\(colour)\"/>"
            shapes +=
                "<text x=\"\(left + spent + 4)\" y=\"\(y + 30)\" font-size=\"11\">\(DistrictChart.escape(line.spentCaption))</text>"
        }
        let legendY = height - 8
        shapes += "<rect x=\"\(left)\" y=\"\(legendY - 9)\" width=\"10\" height=\"10\" fill=\"#7a8b99\"/>"
        shapes +=
            "<text x=\"\(left + 14)\" y=\"\(legendY)\" font-size=\"11\">\(DistrictChart.escape(plannedLabel))</text>"
        shapes += "<rect x=\"\(left + 130)\" y=\"\(legendY - 9)\" width=\"10\" height=\"10\" fill=\"#005a8c\"/>"
        shapes +=
            "<text x=\"\(left + 144)\" y=\"\(legendY)\" font-size=\"11\">\(DistrictChart.escape(spentLabel))</text>"
        return """
            <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(width) \(height)" role="img" \
            aria-label="\(DistrictChart.escape(label))" class="chart planned-spent">\(shapes)</svg>
            """
    }
}
