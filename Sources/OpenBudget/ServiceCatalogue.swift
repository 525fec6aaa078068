import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// The city's catalogue of public services (the digitization registry): each service with the
/// agency that provides it and how far it is automated; its share automated is the figure the
/// city reports (Astana: 158 services, 97.5 % automated).
public struct ServiceCatalogue: Sendable {
    public enum Status: String, CaseIterable, Codable, Sendable {
        case paper, partly, automated
    }

    public struct Entry: Sendable, Codable, Equatable {
        public var code: String
        public var title: String
        public var agency: String
        public var status: Status
        /// The Adal workflow that runs it, when one does.
        public var workflow: String?

        public init(code: String, title: String, agency: String, status: Status, workflow: String?) {
            self.code = code
            self.title = title
            self.agency = agency
            self.status = status
            self.workflow = workflow
        }
    }

    public static let maximumEntries = 2_000

    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public func entries(tenantID: UUID) async throws -> [Entry] {
        try await database.withTenant(tenantID) { connection in
            var entries: [Entry] = []
            for try await (code, title, agency, status, workflow) in try await connection.query(
                """
                SELECT code, title, agency, status, workflow FROM city_service_catalogue
                WHERE tenant_id = \(tenantID) ORDER BY agency, title, code
                """,
                logger: database.logger
            ).decode((String, String, String, String, String?).self) {
                entries.append(
                    Entry(
                        code: code,
                        title: title,
                        agency: agency,
                        status: Status(rawValue: status) ?? .paper,
                        workflow: workflow
                    )
                )
            }
            return entries
        }
    }

    /// Replaces the whole catalogue after checking every entry; the error names the first bad one.
    public func replace(_ entries: [Entry], tenantID: UUID) async throws {
        guard entries.count <= Self.maximumEntries else {
            throw AdalError.invalidField(field: "services", reason: "at most \(Self.maximumEntries) services")
        }
        var codes = Set<String>()
        for (index, entry) in entries.enumerated() {
            let field = "services[\(index)]"
            guard BudgetObject.isCode(entry.code) else {
                throw AdalError.invalidField(field: "\(field).code", reason: "1 to 40 letters, digits, '.', '_' or '-'")
            }
            guard codes.insert(entry.code).inserted else {
                throw AdalError.invalidField(field: "\(field).code", reason: "\(entry.code) appears twice")
            }
            guard (1...300).contains(entry.title.count), (1...300).contains(entry.agency.count) else {
                throw AdalError.invalidField(field: field, reason: "a title and an agency of 1 to 300 characters")
            }
            if let workflow = entry.workflow, ServiceKey(rawValue: workflow) == nil {
                throw AdalError.invalidField(field: "\(field).workflow", reason: "\(workflow) is not an Adal service")
            }
        }
        try await database.withTenant(tenantID) { connection in
            try await connection.run(
                "DELETE FROM city_service_catalogue WHERE tenant_id = \(tenantID)",
                logger: database.logger
            )
            try await connection.run(
                """
                INSERT INTO city_service_catalogue (tenant_id, code, title, agency, status, workflow)
                SELECT \(tenantID), code, title, agency, status, NULLIF(workflow, '')
                FROM unnest(\(entries.map(\.code))::text[], \(entries.map(\.title))::text[],
                    \(entries.map(\.agency))::text[], \(entries.map(\.status.rawValue))::text[],
                    \(entries.map { $0.workflow ?? "" })::text[]) AS given (code, title, agency, status, workflow)
                """,
                logger: database.logger
            )
        }
    }

    /// Services automated, and all services, for the headline figure.
    public static func share(_ entries: [Entry]) -> (automated: Int, total: Int, percent: Double?) {
        let automated = entries.filter { $0.status == .automated }.count
        return (automated, entries.count, entries.isEmpty ? nil : Double(automated) * 100 / Double(entries.count))
    }
}
