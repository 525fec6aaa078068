import Core
import Foundation
import Logging
import PostgresNIO
import Storage

/// A citizen's report as the public sees it: never who sent it.
public struct CitizenReport: Sendable, Equatable {
    public struct Media: Sendable, Equatable {
        public var sha256: String
        public var mediaType: String
    }

    public var instanceID: UUID
    public var objectCode: String?
    public var objectName: String?
    public var category: String
    public var description: String
    public var latitude: Double?
    public var longitude: Double?
    public var address: String
    public var submittedAt: Date
    public var state: String
    public var closed: Bool
    public var verdict: String?
    public var answer: String?
    public var answeredAt: Date?
    public var updatedAt: Date
    public var taskDueAt: Date?
    public var media: [Media]
    /// The account that reported it, for the reporter's own view; never shown to others.
    public var reporterID: UUID?
}

/// Reads citizens' reports, newest first, scoped to the city by `tenant_id` and row-level security.
public struct ReportStore: Sendable {
    public static let maximumPage = 200

    let database: Database

    public init(database: Database) {
        self.database = database
    }

    public struct Filter: Sendable {
        public var ids: [UUID]?
        public var objectCode: String?
        public var categories: [String]?
        /// true: still open; false: closed; nil: both.
        public var open: Bool?
        public var submittedFrom: Date?
        public var submittedTo: Date?
        public var reporterID: UUID?
        public var limit: Int

        public init(
            ids: [UUID]? = nil,
            objectCode: String? = nil,
            categories: [String]? = nil,
            open: Bool? = nil,
            submittedFrom: Date? = nil,
            submittedTo: Date? = nil,
            reporterID: UUID? = nil,
            limit: Int = 100
        ) {
            self.ids = ids
            self.objectCode = objectCode
            self.categories = categories
            self.open = open
            self.submittedFrom = submittedFrom
            self.submittedTo = submittedTo
            self.reporterID = reporterID
            self.limit = limit
        }
    }

    public func reports(_ filter: Filter, tenantID: UUID) async throws -> [CitizenReport] {
        let limit = Int32(min(max(filter.limit, 1), Self.maximumPage))
        return try await database.withTenant(tenantID, repeatableRead: true) { connection in
            var reports: [CitizenReport] = []
            for try await row in try await connection.query(
                """
                SELECT r.instance_id, r.object_code, o.name, r.category, r.description, r.latitude, r.longitude,
                    r.address, r.submitted_at, i.state, i.closed_at IS NOT NULL, r.verdict, r.answer, r.answered_at,
                    i.updated_at, i.task_due_at, r.reporter_id
                FROM citizen_reports r
                JOIN workflow_instances i ON i.tenant_id = r.tenant_id AND i.id = r.instance_id
                LEFT JOIN budget_objects o ON o.tenant_id = r.tenant_id AND o.code = r.object_code
                WHERE r.tenant_id = \(tenantID)
                    AND (\(filter.ids)::uuid[] IS NULL OR r.instance_id = ANY(\(filter.ids)::uuid[]))
                    AND (\(filter.objectCode)::text IS NULL OR r.object_code = \(filter.objectCode)::text)
                    AND (\(filter.categories)::text[] IS NULL OR r.category = ANY(\(filter.categories)::text[]))
                    AND (\(filter.open)::bool IS NULL OR (i.closed_at IS NULL) = \(filter.open)::bool)
                    AND (\(filter.submittedFrom)::timestamptz IS NULL OR r.submitted_at >= \(filter.submittedFrom)::timestamptz)
                    AND (\(filter.submittedTo)::timestamptz IS NULL OR r.submitted_at <= \(filter.submittedTo)::timestamptz)
                    AND (\(filter.reporterID)::uuid IS NULL OR r.reporter_id = \(filter.reporterID)::uuid)
                ORDER BY r.submitted_at DESC, r.instance_id
                LIMIT \(limit)
                """,
                logger: database.logger
            ) {
                let r = row.makeRandomAccess()
                reports.append(
                    CitizenReport(
                        instanceID: try r[0].decode(UUID.self),
                        objectCode: try r[1].decode(String?.self),
                        objectName: try r[2].decode(String?.self),
                        category: try r[3].decode(String.self),
                        description: try r[4].decode(String.self),
                        latitude: try r[5].decode(Double?.self),
                        longitude: try r[6].decode(Double?.self),
                        address: try r[7].decode(String.self),
                        submittedAt: try r[8].decode(Date.self),
                        state: try r[9].decode(String.self),
                        closed: try r[10].decode(Bool.self),
                        verdict: try r[11].decode(String?.self),
                        answer: try r[12].decode(String?.self),
                        answeredAt: try r[13].decode(Date?.self),
                        updatedAt: try r[14].decode(Date.self),
                        taskDueAt: try r[15].decode(Date?.self),
                        media: [],
                        reporterID: try r[16].decode(UUID?.self)
                    )
                )
            }
            guard !reports.isEmpty else { return reports }
            let ids = reports.map(\.instanceID)
            var media: [UUID: [CitizenReport.Media]] = [:]
            for try await (id, hash, type) in try await connection.query(
                """
                SELECT m.instance_id, m.sha256, f.media_type FROM citizen_report_media m
                JOIN media_files f ON f.tenant_id = m.tenant_id AND f.sha256 = m.sha256
                WHERE m.tenant_id = \(tenantID) AND m.instance_id = ANY(\(ids)::uuid[])
                ORDER BY m.instance_id, m.position
                """,
                logger: database.logger
            ).decode((UUID, Data, String).self) {
                media[id, default: []].append(.init(sha256: MediaFile.hex(Array(hash)), mediaType: type))
            }
            return reports.map { report in
                var report = report
                report.media = media[report.instanceID] ?? []
                return report
            }
        }
    }

    /// Reports still open and those past their task's due date, for the dashboard.
    public func counts(tenantID: UUID, now: Date = Date()) async throws -> (open: Int, overdue: Int) {
        try await database.withTenant(tenantID) { connection in
            var counts = (open: 0, overdue: 0)
            for try await (open, overdue) in try await connection.query(
                """
                SELECT count(*) FILTER (WHERE i.closed_at IS NULL),
                    count(*) FILTER (WHERE i.closed_at IS NULL AND i.task_due_at < \(now))
                FROM citizen_reports r JOIN workflow_instances i ON i.tenant_id = r.tenant_id AND i.id = r.instance_id
                WHERE r.tenant_id = \(tenantID)
                """,
                logger: database.logger
            ).decode((Int64, Int64).self) { counts = (Int(open), Int(overdue)) }
            return counts
        }
    }
}
