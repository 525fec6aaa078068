import Core
import Foundation
import Hummingbird
import MealPayments

/// A school's menu for a day (``MealMenus``): `GET`, `PUT` and `DELETE`
/// `/api/{city}/meals/schools/{bin}/menus/{day}`.
extension MealsController {
    struct MenuLine: Decodable {
        var name: String
        /// In tiyn.
        var price: Int64
        var allergens: [String]?
    }

    struct MenuBody: Decodable {
        var items: [MenuLine]
    }

    struct MenuResponse: ResponseEncodable {
        var menu: MealMenus.Menu
    }

    /// Days of menus to copy: `from` through `through`, to the days that start at `to`.
    struct CopyBody: Decodable {
        var from: String
        var through: String
        var to: String
        var replace: Bool?
    }

    struct CopyResponse: ResponseEncodable {
        var copy: MealMenus.Copy
    }

    func registerMenus(on group: RouterGroup<AppRequestContext>) {
        group.get("schools/:bin/menus/:day", use: menu)
        group.put("schools/:bin/menus/:day", use: setMenu)
        group.delete("schools/:bin/menus/:day", use: removeMenu)
        group.post("schools/:bin/menus/copy", use: copyMenus)
        group.put("schools/:bin/menus", use: importMenus)
    }

    /// Who may read menus: the akimat and auditors (every school), a school's office (its
    /// schools) and a till (its school).
    static let menuReaders: Set<Role> = [.akimatAdmin, .auditor, .schoolAdmin, .canteenTill]

    /// What `principal` reads menus as; `setting` leaves out the roles that only read.
    static func menuReader(_ principal: Principal, setting: Bool = false) -> MealMenus.Reader {
        let city: Set<Role> = setting ? [.akimatAdmin] : [.akimatAdmin, .auditor]
        if !principal.roles.isDisjoint(with: city) { return .city }
        if principal.roles.contains(.schoolAdmin) { return .office(principal.userID) }
        return .till(principal.userID)
    }

    @Sendable func menu(request: Request, context: AppRequestContext) async throws -> MenuResponse {
        let (tenant, principal) = try context.authorised(Self.menuReaders)
        return MenuResponse(
            menu: try await MealMenus(database: dependencies.database).menu(
                schoolBIN: try context.parameters.require("bin"),
                day: try context.parameters.require("day"),
                by: Self.menuReader(principal),
                tenantID: tenant.id
            )
        )
    }

    /// Sets the day's menu whole: `{"items": [{"name", "price", "allergens"}]}`, prices in tiyn.
    @Sendable func setMenu(request: Request, context: AppRequestContext) async throws -> MenuResponse {
        let (tenant, principal) = try context.authorised(Self.schoolStaff)
        let body = try await request.decode(as: MenuBody.self, context: context)
        return MenuResponse(
            menu: try await MealMenus(database: dependencies.database).set(
                schoolBIN: try context.parameters.require("bin"),
                day: try context.parameters.require("day"),
                items: body.items.map { MealMenus.Item(name: $0.name, price: $0.price, allergens: $0.allergens ?? []) },
                by: Self.menuReader(principal, setting: true),
                user: principal.userID,
                tenantID: tenant.id
            )
        )
    }

    @Sendable func removeMenu(request: Request, context: AppRequestContext) async throws -> HTTPResponse.Status {
        let (tenant, principal) = try context.authorised(Self.schoolStaff)
        try await MealMenus(database: dependencies.database).remove(
            schoolBIN: try context.parameters.require("bin"),
            day: try context.parameters.require("day"),
            by: Self.menuReader(principal, setting: true),
            tenantID: tenant.id
        )
        return .noContent
    }

    /// Copies the menus of `from` through `through` to the days that start at `to`
    /// (``MealMenus/copy(schoolBIN:from:through:to:replace:by:user:now:tenantID:)``).
    @Sendable func copyMenus(request: Request, context: AppRequestContext) async throws -> CopyResponse {
        let (tenant, principal) = try context.authorised(Self.schoolStaff)
        let body = try await request.decode(as: CopyBody.self, context: context)
        return CopyResponse(
            copy: try await MealMenus(database: dependencies.database).copy(
                schoolBIN: try context.parameters.require("bin"),
                from: body.from,
                through: body.through,
                to: body.to,
                replace: body.replace ?? false,
                by: Self.menuReader(principal, setting: true),
                user: principal.userID,
                tenantID: tenant.id
            )
        )
    }

    /// Sets the days' menus of a CSV file (``MealMenus/importFile(_:schoolBIN:replace:by:user:now:tenantID:)``):
    /// the body is the file, `?replace=true` replaces days that have a menu. 200 with the report
    /// when imported; 422 with every problem when not (nothing written).
    @Sendable func importMenus(
        request: Request,
        context: AppRequestContext
    ) async throws -> EditedResponse<MealMenus.ImportReport> {
        let (tenant, principal) = try context.authorised(Self.schoolStaff)
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: MealMenus.maximumImportBytes)
        } catch {
            throw AdalError.tooLarge(limit: MealMenus.fileName, maximumBytes: MealMenus.maximumImportBytes)
        }
        let report = try await MealMenus(database: dependencies.database).importFile(
            Array(buffer.readableBytesView),
            schoolBIN: try context.parameters.require("bin"),
            replace: request.uri.queryParameters["replace"] == "true",
            by: Self.menuReader(principal, setting: true),
            user: principal.userID,
            tenantID: tenant.id
        )
        return EditedResponse(status: report.imported ? .ok : .unprocessableContent, response: report)
    }
}
extension MealMenus.ImportReport: ResponseEncodable {}
