import Core
import Foundation
import Hummingbird
import MealPayments

/// The office's page of a school's menu for a day (``MealMenus``): the school (of those the
/// account works at; the akimat's: every school) and the day, then up to 20 lines — item, price
/// in tenge, allergens — saved whole, or the day's menu removed. The till's page then offers the
/// day's items to tick. A supplier's plan of several days comes as a CSV file (``uploadMenu``).
extension MealsPagesController {
    func registerMenus(on group: RouterGroup<AppRequestContext>) {
        group.get("menu", use: menuPage)
        group.post("menu", use: saveMenu)
        group.post("menu/upload", use: uploadMenu)
    }

    @Sendable func menuPage(request: Request, context: AppRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard context.principal != nil else { return signIn(tenant) }
        let query = request.uri.queryParameters
        return try await menuPage(
            school: query["school"].map(String.init),
            day: query["day"].map(String.init),
            message: nil,
            request,
            context
        )
    }

    /// Saves the form's lines as the day's menu (`_do=save`), removes it (`_do=remove`) or
    /// copies days' menus forward (`_do=copy`: `from`, `through`, `to`, `replace`), as the API
    /// does; a refusal is said on its form as typed.
    @Sendable func saveMenu(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try context.authorised(MealsController.schoolStaff)
        let form = FormFields(String(buffer: try await request.readBody(limit: dependencies.maximumBodyBytes)))
        let (school, day) = (form["school"] ?? "", form["day"] ?? "")
        let menus = MealMenus(database: dependencies.database)
        let reader = MealsController.menuReader(principal, setting: true)
        do {
            if form["_do"] == "copy" {
                let copy = try await menus.copy(
                    schoolBIN: school,
                    from: form["from"] ?? "",
                    through: form["through"] ?? "",
                    to: form["to"] ?? "",
                    replace: form["replace"] != nil,
                    by: reader,
                    user: principal.userID,
                    tenantID: tenant.id
                )
                let first = copy.days.first?.to ?? day
                let path = "/\(tenant.slug)/meals/menu?school=\(school)&day=\(first)&copied=\(copy.days.count)"
                return Response.redirect(to: path, type: .normal)
            } else if form["_do"] == "remove" {
                try await menus.remove(schoolBIN: school, day: day, by: reader, tenantID: tenant.id)
            } else {
                let lines = try Self.formLines(
                    form,
                    lines: MealMenus.maximumItems,
                    unnamedFirst: false,
                    locales: dependencies.pages.locales,
                    language: context.language
                )
                _ = try await menus.set(
                    schoolBIN: school,
                    day: day,
                    items: lines.map { MealMenus.Item(name: $0.name, price: $0.price, allergens: $0.allergens ?? []) },
                    by: reader,
                    user: principal.userID,
                    tenantID: tenant.id
                )
            }
            let path = "/\(tenant.slug)/meals/menu?school=\(school)&day=\(day)&saved=1"
            return Response.redirect(to: path, type: .normal)
        } catch {
            guard let refused = refusal(error, context.language) else { throw error }
            return try await menuPage(school: school, day: day, message: refused, refill: form, request, context)
        }
    }

    /// A menu plan uploaded from the page (multipart: `school`, `file`, `replace`), set as the
    /// API's upload sets it (``MealMenus/importFile(_:schoolBIN:replace:by:user:now:tenantID:)``):
    /// every day in the file whole, or nothing and every problem listed by line on the page.
    @Sendable func uploadMenu(request: Request, context: AppRequestContext) async throws -> Response {
        let (tenant, principal) = try context.authorised(MealsController.schoolStaff)
        let language = context.language
        var (school, day): (String?, String?) = (nil, nil)
        do {
            let form = try await menuUploadForm(request)
            (school, day) = (form["school"], form["day"])
            guard let file = form.files("file").first, !file.content.isEmpty else {
                throw AdalError.invalidField(field: "file", reason: MealMenus.fileMissing)
            }
            guard file.content.count <= MealMenus.maximumImportBytes else {
                throw AdalError.tooLarge(limit: MealMenus.fileName, maximumBytes: MealMenus.maximumImportBytes)
            }
            let report = try await MealMenus(database: dependencies.database).importFile(
                file.content,
                schoolBIN: school ?? "",
                replace: form["replace"] != nil,
                by: MealsController.menuReader(principal, setting: true),
                user: principal.userID,
                tenantID: tenant.id
            )
            guard report.imported, let first = report.days.map(\.day).min() else {
                let upload = MenuUpload(
                    message: dependencies.pages.locales.text(
                        "menu_upload_refused",
                        language,
                        figures: [String(report.problemCount)]
                    ),
                    problems: report.problems.map { said($0, language) }
                )
                return try await menuPage(school: school, day: day, message: nil, upload: upload, request, context)
            }
            let path =
                "/\(tenant.slug)/meals/menu?school=\(school ?? "")&day=\(first)&imported=\(report.days.count)"
            return Response.redirect(to: path, type: .normal)
        } catch {
            guard let refused = refusal(error, language) else { throw error }
            let upload = MenuUpload(message: refused, problems: [])
            return try await menuPage(school: school, day: day, message: nil, upload: upload, request, context)
        }
    }

    /// The upload's form: multipart, bounded by the file's own limit and room for the form's
    /// other fields and its parts' headers.
    private func menuUploadForm(_ request: Request) async throws -> MultipartForm {
        do {
            return try await MultipartForm.read(request, limit: MealMenus.maximumImportBytes + Self.uploadFormBytes)
        } catch AdalError.tooLarge(_, _) {
            throw AdalError.tooLarge(limit: MealMenus.fileName, maximumBytes: MealMenus.maximumImportBytes)
        }
    }

    /// A problem of an uploaded file in `language`: its line, the file's column (as the file's
    /// header names it; other fields not), and the reason, in the language when it is one
    /// ``MealReason`` knows.
    private func said(_ problem: CSV.Problem, _ language: Language) -> String {
        let column = problem.field.flatMap { MealMenus.importHeader.contains($0) ? "\($0): " : nil } ?? ""
        let reason = column + said(problem.message, language)
        guard problem.line > 0 else { return reason }
        let line = dependencies.pages.locales.text("menu_upload_line", language, figures: [String(problem.line)])
        return line + ", " + reason
    }

    /// Bytes an upload's form may carry beside its file: the other fields and the parts' headers.
    static let uploadFormBytes = 16 * 1024

    /// A refused upload, said on the upload's form: why, and each problem of the file.
    struct MenuUpload {
        var message: String
        var problems: [String]
    }

    private func menuPage(
        school: String?,
        day: String?,
        message: String?,
        refill: FormFields? = nil,
        upload: MenuUpload? = nil,
        _ request: Request,
        _ context: AppRequestContext
    ) async throws -> Response {
        let (tenant, principal) = try context.authorised(MealsController.schoolStaff.union([.auditor]))
        let reader = MealsController.menuReader(principal)
        let menus = MealMenus(database: dependencies.database)
        let schools = try await menus.schools(for: reader, tenantID: tenant.id)
        let chosen = school.flatMap { bin in schools.first { $0.bin == bin } } ?? schools.first
        let day = day ?? Day.today().description
        // A refused copy comes back in its own form; the day's lines are read as they stand.
        let copying = refill?["_do"] == "copy" ? refill : nil
        let lines = copying == nil ? refill : nil
        var items: [MealMenus.Item] = []
        if let chosen, lines == nil {
            items = try await menus.menu(schoolBIN: chosen.bin, day: day, by: reader, tenantID: tenant.id).items
        }
        let rows = (1...MealMenus.maximumItems).map { line -> [String: Any] in
            let item = items.indices.contains(line - 1) ? items[line - 1] : nil
            return [
                "n": line,
                "item": lines?["item\(line)"] ?? item?.name ?? "",
                "price": lines?["price\(line)"] ?? item.map { Money.shown($0.price) } ?? "",
                "allergens": lines?["allergens\(line)"] ?? item?.allergens.joined(separator: ", ") ?? "",
            ]
        }
        // The copy's days: by default the week from the day shown, to the week after it.
        let shown = Day(day)
        let copied = request.uri.queryParameters["copied"].flatMap { Int($0) }
        let imported = request.uri.queryParameters["imported"].flatMap { Int($0) }
        return dependencies.pages.page(
            "meals_menu",
            titleKey: "menu_title",
            values: [
                "slug": tenant.slug.value, "day": day,
                "schools": schools.map { ["bin": $0.bin, "name": $0.name, "selected": $0.bin == chosen?.bin] },
                "school": chosen?.bin ?? "", "hasSchool": chosen != nil,
                "lines": rows, "hasItems": !items.isEmpty,
                "copyFrom": copying?["from"] ?? day,
                "copyThrough": copying?["through"] ?? shown?.adding(days: 6).description ?? "",
                "copyTo": copying?["to"] ?? shown?.adding(days: 7).description ?? "",
                "copyReplace": copying?["replace"] != nil,
                "copyMessage": PageRenderer.optional(copying == nil ? nil : message),
                "copied": PageRenderer.optional(
                    copied.map {
                        dependencies.pages.locales.text("menu_copied", context.language, figures: [String($0), day])
                    }
                ),
                "imported": PageRenderer.optional(
                    imported.map {
                        dependencies.pages.locales.text("menu_imported", context.language, figures: [String($0), day])
                    }
                ),
                "uploadMessage": PageRenderer.optional(upload?.message),
                "uploadProblems": upload?.problems ?? [], "hasUploadProblems": !(upload?.problems.isEmpty ?? true),
                "mayEdit": !principal.roles.isDisjoint(with: MealsController.schoolStaff),
                "saved": request.uri.queryParameters["saved"] != nil && message == nil,
                "message": PageRenderer.optional(copying == nil ? message : nil),
            ],
            request: request,
            context: context,
            status: message == nil && upload == nil ? .ok : .unprocessableContent
        )
    }
}
