import Foundation

/// Runs one of the independent checkers the project installs (`.tools/venv/bin/…`, Debian's
/// tools) and gives back its exit status and everything it printed.
public enum ProjectTool {
    public struct Result: Sendable {
        public var status: Int32
        public var output: String
    }

    /// The path of a program in the project's own virtual environment.
    public static func venv(_ name: String) -> String { TestCluster.repositoryRoot + "/.tools/venv/bin/" + name }

    public static func run(_ executable: String, _ arguments: [String], in directory: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let pipe = Pipe()
        (process.standardOutput, process.standardError) = (pipe, pipe)
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }
}

extension ProjectTool {
    /// ``run(_:_:in:)`` on a thread of its own, so a test can run a client against its own
    /// server without holding one of the few threads the server's tasks run on.
    public static func runDetached(_ executable: String, _ arguments: [String]) async throws -> Result {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Swift.Result { try run(executable, arguments) })
            }
        }
    }
}
