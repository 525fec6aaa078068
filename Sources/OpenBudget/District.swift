import Core
import Foundation

/// A district of the city and its outline, as the city uploads it in GeoJSON (RFC 7946):
/// a FeatureCollection whose features carry the district's name in `properties.name` and a
/// Polygon or MultiPolygon geometry in WGS 84 longitude/latitude.
public struct District: Sendable, Equatable {
    public struct Point: Sendable, Equatable {
        public var longitude: Double
        public var latitude: Double

        public init(longitude: Double, latitude: Double) {
            self.longitude = longitude
            self.latitude = latitude
        }
    }

    /// A polygon is its rings (the outer one first); a ring is its points.
    public typealias Polygon = [[Point]]

    public var name: String
    public var polygons: [Polygon]

    public init(name: String, polygons: [Polygon]) {
        self.name = name
        self.polygons = polygons
    }

    /// Bounds on an uploaded file: bytes, districts, and points over all of them.
    public static let maximumBytes = 4 << 20
    public static let maximumDistricts = 60
    public static let maximumPoints = 200_000

    /// The outline as a GeoJSON MultiPolygon.
    public var geometryJSON: String {
        let polygons = polygons.map { rings in
            "["
                + rings.map { ring in "[" + ring.map { "[\($0.longitude),\($0.latitude)]" }.joined(separator: ",") + "]"
                }
                .joined(separator: ",") + "]"
        }
        return #"{"type":"MultiPolygon","coordinates":["# + polygons.joined(separator: ",") + "]}"
    }

    /// Reads a FeatureCollection; the error names the feature and what is wrong with it.
    public static func collection(_ bytes: [UInt8]) throws(AdalError) -> [District] {
        guard bytes.count <= maximumBytes else { throw .tooLarge(limit: "a district file", maximumBytes: maximumBytes) }
        guard let root = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            root["type"] as? String == "FeatureCollection", let features = root["features"] as? [Any]
        else { throw .invalidField(field: "body", reason: "a GeoJSON FeatureCollection") }
        guard (1...maximumDistricts).contains(features.count) else {
            throw .invalidField(field: "features", reason: "1 to \(maximumDistricts) districts")
        }
        var districts: [District] = []
        var points = 0
        for (index, item) in features.enumerated() {
            let field = "features[\(index)]"
            guard let feature = item as? [String: Any], feature["type"] as? String == "Feature",
                let properties = feature["properties"] as? [String: Any],
                let name = (properties["name"] as? String)?.trimmingCharacters(in: .whitespaces),
                (1...100).contains(name.count)
            else { throw .invalidField(field: "\(field).properties.name", reason: "each district needs a name") }
            guard !districts.contains(where: { $0.name == name }) else {
                throw .invalidField(field: "\(field).properties.name", reason: "\(name) appears twice")
            }
            let polygons = try polygons(geometry: feature["geometry"], field: "\(field).geometry")
            points += polygons.reduce(0) { $0 + $1.reduce(0) { $0 + $1.count } }
            guard points <= maximumPoints else {
                throw .invalidField(
                    field: field,
                    reason: "more than \(maximumPoints) points in all; simplify the outlines"
                )
            }
            districts.append(District(name: name, polygons: polygons))
        }
        return districts
    }

    /// The polygons of a stored MultiPolygon (or Polygon) geometry.
    public static func polygons(json: String) throws(AdalError) -> [Polygon] {
        try polygons(geometry: try? JSONSerialization.jsonObject(with: Data(json.utf8)), field: "outline")
    }

    static func polygons(geometry: Any?, field: String) throws(AdalError) -> [Polygon] {
        guard let geometry = geometry as? [String: Any], let type = geometry["type"] as? String,
            let coordinates = geometry["coordinates"] as? [Any]
        else { throw .invalidField(field: field, reason: "a Polygon or MultiPolygon geometry") }
        switch type {
        case "Polygon": return [try polygon(coordinates, field: "\(field).coordinates")]
        case "MultiPolygon":
            var polygons: [Polygon] = []
            for (index, item) in coordinates.enumerated() {
                guard let rings = item as? [Any] else {
                    throw .invalidField(field: "\(field).coordinates[\(index)]", reason: "a polygon's rings")
                }
                polygons.append(try polygon(rings, field: "\(field).coordinates[\(index)]"))
            }
            return polygons
        default: throw .invalidField(field: "\(field).type", reason: "Polygon or MultiPolygon, not \(type)")
        }
    }

    static func polygon(_ rings: [Any], field: String) throws(AdalError) -> Polygon {
        guard !rings.isEmpty else { throw .invalidField(field: field, reason: "a polygon needs its outer ring") }
        var polygon: Polygon = []
        for (index, item) in rings.enumerated() {
            guard let positions = item as? [Any], positions.count >= 4 else {
                throw .invalidField(field: "\(field)[\(index)]", reason: "a ring of at least 4 positions")
            }
            var ring: [Point] = []
            for position in positions {
                guard let pair = position as? [Any], pair.count >= 2,
                    let longitude = (pair[0] as? NSNumber)?.doubleValue,
                    let latitude = (pair[1] as? NSNumber)?.doubleValue,
                    (-180...180).contains(longitude), (-90...90).contains(latitude)
                else {
                    throw .invalidField(
                        field: "\(field)[\(index)]",
                        reason: "positions are [longitude, latitude] in degrees"
                    )
                }
                ring.append(Point(longitude: longitude, latitude: latitude))
            }
            guard ring.first == ring.last else {
                throw .invalidField(field: "\(field)[\(index)]", reason: "a ring ends where it starts")
            }
            polygon.append(ring)
        }
        return polygon
    }
}
