import Core
import Foundation
import Hummingbird
import Workflow

/// One instance as the API and the instance page show it, with the visibility rule in one place:
/// akimat administrators and auditors see every instance of their city; anyone else sees the
/// instances of services whose definition names one of their roles, and of a service that holds
/// people's records, only those its own rule lets them read (``ServicePages/mayRead``: a pupil's
/// account for their guardians and school, a certificate for its clinic). Another city's
/// instance, or one the caller may not see, is "not found" either way.
struct InstanceView {
    static let seeEverything: Set<Role> = [.akimatAdmin, .auditor]

    let summary: InstanceSummary
    let definition: WorkflowDefinition?
    let steps: [StepRecord]
    /// Events leaving the current state that the caller holds a role for.
    let availableEvents: [EventDefinition]

    /// The events of ``availableEvents`` a generic form can take: not those only the service's
    /// own pages take (``ServicePages/ownPageEvents(_:)``).
    var formEvents: [EventDefinition] {
        let elsewhere = ServicePages.ownPageEvents(summary.service)
        return availableEvents.filter { !elsewhere.contains($0.name) }
    }

    static func load(
        id: UUID,
        tenantID: UUID,
        principal: Principal,
        dependencies: AppDependencies
    ) async throws -> InstanceView {
        let queries = WorkflowQueries(database: dependencies.database)
        guard let summary = try await queries.instance(id, tenantID: tenantID) else {
            throw AdalError.notFound(what: "instance")
        }
        let definition = dependencies.workflows.registry.definition(summary.service, version: summary.version)
        let involved = Set(definition?.roles ?? [])
        guard !principal.roles.isDisjoint(with: seeEverything.union(involved)),
            try await ServicePages.mayRead(
                summary,
                principal: principal,
                tenantID: tenantID,
                dependencies: dependencies
            )
        else {
            throw AdalError.notFound(what: "instance")
        }
        let events =
            definition?.events(from: summary.state).filter { event in
                event.actors.contains { actor in
                    if case .role(let role) = actor { return principal.roles.contains(role) }
                    return false
                }
            } ?? []
        return InstanceView(
            summary: summary,
            definition: definition,
            steps: ServicePages.shown(
                try await queries.steps(of: id, tenantID: tenantID),
                service: summary.service,
                state: summary.state
            ),
            availableEvents: events
        )
    }

    /// Reads a search from query parameters; each bad one is named.
    static func filter(from query: Hummingbird.Parameters) throws -> InstanceFilter {
        var filter = InstanceFilter()
        func text(_ name: String, limit: Int) throws -> String? {
            guard let value = query[Substring(name)].map(String.init), !value.isEmpty else { return nil }
            guard value.count <= limit else {
                throw AdalError.invalidField(field: name, reason: "at most \(limit) characters")
            }
            return value
        }
        filter.service = try text("service", limit: 64)
        filter.state = try text("state", limit: 64)
        filter.subject = try text("subject", limit: 100)
        filter.createdFrom = try date(text("from", limit: 10), field: "from")
        filter.createdUntil = try date(text("to", limit: 10), field: "to").map { $0.addingTimeInterval(86_400) }
        if let limit = try text("limit", limit: 4) {
            guard let number = Int(limit), (1...InstanceFilter.maximumLimit).contains(number) else {
                throw AdalError.invalidField(
                    field: "limit",
                    reason: "a number from 1 to \(InstanceFilter.maximumLimit)"
                )
            }
            filter.limit = number
        }
        if let cursor = try text("before", limit: 60) {
            let parts = cursor.split(separator: "_")
            guard parts.count == 2, let micros = Int64(parts[0]), let id = UUID(uuidString: String(parts[1])) else {
                throw AdalError.invalidField(field: "before", reason: "not a cursor from an earlier page")
            }
            filter.before = (Date(timeIntervalSince1970: Double(micros) / 1_000_000), id)
        }
        return filter
    }

    /// A `YYYY-MM-DD` day, starting at midnight in Kazakhstan (UTC+5).
    static func date(_ text: String?, field: String) throws -> Date? {
        guard let text else { return nil }
        let parts = text.split(separator: "-").compactMap { Int($0) }
        var components = DateComponents()
        guard text.wholeMatch(of: /[0-9]{4}-[0-9]{2}-[0-9]{2}/) != nil, parts.count == 3 else {
            throw AdalError.invalidField(field: field, reason: "a date as YYYY-MM-DD")
        }
        (components.year, components.month, components.day) = (parts[0], parts[1], parts[2])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 5 * 3_600)!
        guard let date = calendar.date(from: components), calendar.component(.day, from: date) == parts[2] else {
            throw AdalError.invalidField(field: field, reason: "a date as YYYY-MM-DD")
        }
        return date
    }
}

extension InstanceView {
    /// Links to the generic forms of the steps the person may take now, leaving out `except`
    /// (steps a service page takes with forms of its own), as `title` and `path` for a page.
    func stepLinks(slug: String, language: Language, except: Set<String> = []) -> [[String: String]] {
        let id = summary.id.uuidString.lowercased()
        return availableEvents.filter { !except.contains($0.name) }.map {
            ["title": $0.title[language] ?? $0.name, "path": "/\(slug)/instances/\(id)/events/\($0.name)"]
        }
    }
}
