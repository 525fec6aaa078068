import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a program to completion and collects what it printed. Used only for local tools
/// (PostgreSQL's initdb and pg_ctl, Graphviz's dot from the CLI), never with input from a request.
///
/// Built on posix_spawn and waitpid rather than Foundation's Process: `pg_ctl start` leaves a
/// server behind, and Process was seen never to notice that pg_ctl itself had exited.
public struct CommandRunner: Sendable {
    /// When set, commands run as this system user through `runuser` (the process must be root).
    var runAsUser: String?

    public init() {}

    init(runAsUser: String?) {
        self.runAsUser = runAsUser
    }

    public struct Output: Sendable {
        public var status: Int32
        public var text: String
    }

    public func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let argv: [String] =
            if let user = runAsUser {
                ["/usr/sbin/runuser", "-u", user, "--", executable] + arguments
            } else {
                [executable] + arguments
            }
        // Output goes to a file, not a pipe: the server that `pg_ctl start` leaves running would
        // keep a pipe open for ever.
        let outputPath = NSTemporaryDirectory() + "/adal-command-\(UUID().uuidString).log"
        defer { unlink(outputPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        var environment = ProcessInfo.processInfo.environment
        environment["LC_ALL"] = "C.UTF-8"
        let environmentStrings = environment.map { "\($0.key)=\($0.value)" }

        var pid: pid_t = 0
        let spawnResult = withCStrings(argv) { argvPointers in
            withCStrings(environmentStrings) { environmentPointers in
                posix_spawn(&pid, argv[0], &actions, nil, argvPointers, environmentPointers)
            }
        }
        guard spawnResult == 0 else { throw CommandRunnerError.cannotStart(argv[0], errno: spawnResult) }

        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 {
            guard errno == EINTR else { throw CommandRunnerError.cannotStart(argv[0], errno: errno) }
        }
        let exitCode: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        let data = FileManager.default.contents(atPath: outputPath) ?? Data()
        return Output(status: exitCode, text: String(decoding: data, as: UTF8.self))
    }

    private func withCStrings<Result>(
        _ strings: [String],
        _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> Result
    ) -> Result {
        var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
        pointers.append(nil)
        defer { for pointer in pointers { free(pointer) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }
}

enum CommandRunnerError: Error, CustomStringConvertible {
    case cannotStart(String, errno: Int32)

    var description: String {
        switch self {
        case .cannotStart(let program, let code): "cannot run \(program): \(String(cString: strerror(code)))"
        }
    }
}
