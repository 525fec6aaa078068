import Foundation

/// Where PostgreSQL's cluster programs are: on PATH, or under `/usr/lib/postgresql/<version>/bin`
/// (Debian's layout, newest version first).
struct PostgresBinaries: Sendable {
    var initdb: String
    var pgCtl: String

    static func locate(
        path: String = ProcessInfo.processInfo.environment["PATH"] ?? "",
        debianRoot: String = "/usr/lib/postgresql"
    ) throws(EmbeddedPostgresError) -> PostgresBinaries {
        let fileManager = FileManager.default
        var folders = path.split(separator: ":").map(String.init)
        let versions = ((try? fileManager.contentsOfDirectory(atPath: debianRoot)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        folders += versions.map { "\(debianRoot)/\($0)/bin" }
        for folder in folders {
            let initdb = folder + "/initdb"
            let pgCtl = folder + "/pg_ctl"
            if fileManager.isExecutableFile(atPath: initdb) && fileManager.isExecutableFile(atPath: pgCtl) {
                return PostgresBinaries(initdb: initdb, pgCtl: pgCtl)
            }
        }
        throw .notInstalled
    }
}
