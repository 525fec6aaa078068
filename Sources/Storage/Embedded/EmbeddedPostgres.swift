import Foundation
import Logging
import PostgresNIO

#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster under Adal's data folder, created on first start.
///
/// Used whenever no `DATABASE_URL` is configured, so that `adal` and its tests need nothing but
/// the system's PostgreSQL programs. The cluster listens on a free loopback port and on a Unix
/// socket in its own folder (which Adal uses), with password (SCRAM) authentication on both; the
/// generated passwords live in `credentials.json` beside it, readable by the owner of the data
/// folder only.
public struct EmbeddedPostgres: Sendable {
    /// Name of the database Adal uses inside the cluster.
    public static let databaseName = "adal"

    /// The data folder, by default `./.adal`.
    public let dataDirectory: String
    /// Trades durability for speed (no fsync); for test clusters only.
    public let unsafeFastMode: Bool

    /// The port to listen on; a free one is chosen when nil.
    public let port: Int?

    public init(dataDirectory: String, unsafeFastMode: Bool = false, port: Int? = nil) {
        self.dataDirectory = (dataDirectory as NSString).standardizingPath.absolutePath
        self.unsafeFastMode = unsafeFastMode
        self.port = port
    }

    var clusterDirectory: String { dataDirectory + "/pgdata" }
    var credentialsPath: String { dataDirectory + "/credentials.json" }

    /// Where the cluster puts its Unix socket: its own folder (only its system user, and root,
    /// can enter it; connecting still needs a role's password). Nil when the socket's path would
    /// not fit a socket address (107 bytes) or the folder's name has characters other than
    /// letters, digits and `/._-` (pg_ctl hands its options to a shell); then only loopback TCP.
    func socketDirectory(port: Int) -> String? {
        let directory = clusterDirectory
        guard Self.socketFile(in: directory, port: port).utf8.count <= 107,
            directory.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "/._-".contains($0)) })
        else { return nil }
        return directory
    }

    /// The socket file PostgreSQL makes in `directory` for `port`.
    static func socketFile(in directory: String, port: Int) -> String { directory + "/.s.PGSQL.\(port)" }

    /// The system user that runs the cluster's programs: `postgres` when we are root, since
    /// PostgreSQL refuses to run as root; otherwise ourselves.
    var systemUser: String? { geteuid() == 0 ? "postgres" : nil }

    /// Starts the cluster, creating and initialising it first when the data folder is new.
    /// When the cluster is already running (another `adal` process on the same folder), it is
    /// reused and left running on ``RunningCluster/stop()``.
    public func start(logger: Logger) async throws -> RunningCluster {
        let binaries = try PostgresBinaries.locate()
        let runner = CommandRunner(runAsUser: systemUser)
        try prepareDirectory()
        let credentials = try loadOrCreateCredentials()
        if !FileManager.default.fileExists(atPath: clusterDirectory + "/PG_VERSION") {
            try initialise(binaries: binaries, runner: runner, credentials: credentials, logger: logger)
        }

        if let running = try runningPort(binaries: binaries, runner: runner) {
            logger.info("reusing the running embedded PostgreSQL", metadata: ["port": "\(running)"])
            let cluster = RunningCluster(
                port: running,
                credentials: credentials,
                binaries: binaries,
                runner: runner,
                clusterDirectory: clusterDirectory,
                startedHere: false
            )
            try await cluster.ensureRolesAndDatabase(logger: logger)
            return cluster
        }

        let port = try self.port ?? FreePort.find()
        var options = [
            "-p \(port)", "-c listen_addresses=127.0.0.1",
            "-c unix_socket_directories='\(socketDirectory(port: port) ?? "")'",
        ]
        if unsafeFastMode {
            // Tests run side by side, each with its own pools and sometimes server processes:
            // more connections than a server's default 100.
            options += [
                "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off", "-c max_connections=500",
            ]
        }
        let arguments = [
            "start", "-D", clusterDirectory, "-w", "-t", "60", "-l", clusterDirectory + "/server.log",
            "-o", options.joined(separator: " "),
        ]
        var result = try runner.run(binaries.pgCtl, arguments)
        // Right after a crash the dead server's helper processes may hold its shared memory for
        // a moment, and PostgreSQL refuses to start; wait for them briefly instead of failing.
        var attempts = 0
        while result.status != 0 && attempts < 10 && serverLog().contains("pre-existing shared memory block") {
            attempts += 1
            try await Task.sleep(for: .milliseconds(500))
            result = try runner.run(binaries.pgCtl, arguments)
        }
        guard result.status == 0 else {
            throw EmbeddedPostgresError.startFailed(output: result.text + "\n" + String(serverLog().suffix(2000)))
        }
        logger.info("started embedded PostgreSQL", metadata: ["port": "\(port)", "data": "\(clusterDirectory)"])
        let cluster = RunningCluster(
            port: port,
            credentials: credentials,
            binaries: binaries,
            runner: runner,
            clusterDirectory: clusterDirectory,
            startedHere: true
        )
        try await cluster.ensureRolesAndDatabase(logger: logger)
        return cluster
    }

    /// Stops a cluster at once without waiting for sessions (`pg_ctl stop -m immediate`), and
    /// returns whether one was stopped. For test clusters and for clean-up after a crash.
    @discardableResult
    public static func stopImmediately(dataDirectory: String) -> Bool {
        let embedded = EmbeddedPostgres(dataDirectory: dataDirectory)
        guard FileManager.default.fileExists(atPath: embedded.clusterDirectory + "/postmaster.pid"),
            let binaries = try? PostgresBinaries.locate(),
            let result = try? CommandRunner(runAsUser: embedded.systemUser).run(
                binaries.pgCtl,
                ["stop", "-D", embedded.clusterDirectory, "-m", "immediate", "-w", "-t", "20"]
            )
        else { return false }
        return result.status == 0
    }

    private func serverLog() -> String {
        (try? String(contentsOfFile: clusterDirectory + "/server.log", encoding: .utf8)) ?? ""
    }

    private func prepareDirectory() throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        if !fileManager.fileExists(atPath: clusterDirectory) {
            try fileManager.createDirectory(
                atPath: clusterDirectory,
                withIntermediateDirectories: false,
                attributes: [.posixPermissions: 0o700]
            )
        }
        if let user = systemUser {
            guard let account = getpwnam(user) else { throw EmbeddedPostgresError.noSystemUser(user) }
            let uid = account.pointee.pw_uid
            let gid = account.pointee.pw_gid
            guard chown(clusterDirectory, uid, gid) == 0 else {
                throw EmbeddedPostgresError.cannotPrepare(path: clusterDirectory, reason: "chown failed")
            }
            // The postgres user must be able to reach the cluster through every parent folder.
            let probe = try CommandRunner(runAsUser: user).run("/usr/bin/test", ["-w", clusterDirectory])
            guard probe.status == 0 else {
                throw EmbeddedPostgresError.cannotPrepare(
                    path: clusterDirectory,
                    reason: "the postgres system user cannot reach it; choose a data folder outside a private home"
                )
            }
        }
    }

    private func loadOrCreateCredentials() throws -> ClusterCredentials {
        if let data = FileManager.default.contents(atPath: credentialsPath) {
            return try JSONDecoder().decode(ClusterCredentials.self, from: data)
        }
        let credentials = ClusterCredentials.generate()
        let data = try JSONEncoder().encode(credentials)
        guard
            FileManager.default.createFile(
                atPath: credentialsPath,
                contents: data,
                attributes: [.posixPermissions: 0o600]
            )
        else { throw EmbeddedPostgresError.cannotPrepare(path: credentialsPath, reason: "cannot write") }
        return credentials
    }

    private func initialise(
        binaries: PostgresBinaries,
        runner: CommandRunner,
        credentials: ClusterCredentials,
        logger: Logger
    ) throws {
        logger.info("creating embedded PostgreSQL cluster", metadata: ["data": "\(clusterDirectory)"])
        // initdb reads the superuser's password from a file the cluster's system user can read.
        let passwordFile = dataDirectory + "/.initdb-password"
        try writeOwnedByClusterUser(passwordFile, contents: credentials.superuserPassword + "\n")
        defer { try? FileManager.default.removeItem(atPath: passwordFile) }
        let result = try runner.run(
            binaries.initdb,
            [
                "-D", clusterDirectory, "-U", "postgres", "--pwfile", passwordFile,
                "--auth-local=scram-sha-256", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
                "--no-instructions",
            ]
        )
        guard result.status == 0 else { throw EmbeddedPostgresError.initdbFailed(output: result.text) }
    }

    private func writeOwnedByClusterUser(_ path: String, contents: String) throws {
        guard
            FileManager.default.createFile(
                atPath: path,
                contents: Data(contents.utf8),
                attributes: [.posixPermissions: 0o600]
            )
        else { throw EmbeddedPostgresError.cannotPrepare(path: path, reason: "cannot write") }
        if let user = systemUser, let account = getpwnam(user) {
            _ = chown(path, account.pointee.pw_uid, account.pointee.pw_gid)
        }
    }

    /// The port of a cluster already running on this folder, or nil. A lock file left by a
    /// crashed server (its process gone, or the pid now another program's) is removed.
    private func runningPort(binaries: PostgresBinaries, runner: CommandRunner) throws -> Int? {
        let pidFile = clusterDirectory + "/postmaster.pid"
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count > 3, let pid = Int32(lines[0]), let port = Int(lines[3]) else {
            try? FileManager.default.removeItem(atPath: pidFile)
            return nil
        }
        let commandLine = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
        if kill(pid, 0) == 0 && commandLine.contains("postgres") {
            return port
        }
        try? FileManager.default.removeItem(atPath: pidFile)
        return nil
    }
}

extension String {
    fileprivate var absolutePath: String {
        hasPrefix("/") ? self : FileManager.default.currentDirectoryPath + "/" + self
    }
}

/// The generated passwords of the embedded cluster's three roles.
struct ClusterCredentials: Codable, Sendable {
    var superuserPassword: String
    var ownerPassword: String
    var applicationPassword: String

    static func generate() -> ClusterCredentials {
        func secret() -> String {
            var generator = SystemRandomNumberGenerator()
            return (0..<24).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
        }
        return ClusterCredentials(superuserPassword: secret(), ownerPassword: secret(), applicationPassword: secret())
    }
}

/// Finds a free TCP port on the loopback interface by letting the kernel choose one.
public enum FreePort {
    public static func find() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw EmbeddedPostgresError.noFreePort }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw EmbeddedPostgresError.noFreePort }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard named == 0 else { throw EmbeddedPostgresError.noFreePort }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// What can go wrong while starting the embedded cluster, each with a sentence for the operator.
public enum EmbeddedPostgresError: Error, Equatable, CustomStringConvertible {
    case notInstalled
    case noSystemUser(String)
    case cannotPrepare(path: String, reason: String)
    case initdbFailed(output: String)
    case startFailed(output: String)
    case noFreePort

    public var description: String {
        switch self {
        case .notInstalled:
            "PostgreSQL's server programs (initdb, pg_ctl) were not found: install the Debian package 'postgresql' (apt-get install postgresql), or set DATABASE_URL to use an existing server."
        case .noSystemUser(let user):
            "Running as root needs the '\(user)' system user to run PostgreSQL: install the Debian package 'postgresql', which creates it."
        case .cannotPrepare(let path, let reason):
            "Cannot prepare the database folder \(path): \(reason)."
        case .initdbFailed(let output):
            "initdb could not create the database cluster: \(output)"
        case .startFailed(let output):
            "The embedded PostgreSQL did not start: \(output)"
        case .noFreePort:
            "No free TCP port on 127.0.0.1 for the embedded PostgreSQL."
        }
    }
}
