import Foundation
import TestSupport

/// A real server for the tests, run by a script of `scripts/` with the project's virtual
/// environment's Python on a free loopback port: with a fresh self-signed certificate for
/// `localhost` when asked for TLS. It prints `ready PORT` once it listens, writes what it takes
/// as JSON files in its folder, and stops on SIGTERM or when the test process ends.
final class TestPeer: @unchecked Sendable {
    let port: Int
    let folder: String
    /// The certificate (PEM) the server presents when it runs with TLS.
    let certificate: String?
    private let process: Process

    /// Starts `script` with its folder, then `arguments` given the certificate's and key's paths
    /// (nil without TLS).
    init(script: String, tls: Bool, arguments: (_ tls: (certificate: String, key: String)?) -> [String]) async throws {
        folder = NSTemporaryDirectory() + "adal-peer-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var files: (certificate: String, key: String)?
        if tls {
            let made = try ProjectTool.run(
                "/usr/bin/openssl",
                [
                    "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", folder + "/key.pem", "-out",
                    folder + "/cert.pem", "-days", "2", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost",
                ]
            )
            guard made.status == 0 else { throw ServerDidNotStart(output: made.output) }
            certificate = try String(contentsOfFile: folder + "/cert.pem", encoding: .utf8)
            files = (folder + "/cert.pem", folder + "/key.pem")
        } else {
            certificate = nil
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: ProjectTool.venv("python"))
        process.arguments = [TestCluster.repositoryRoot + "/scripts/" + script, folder] + arguments(files)
        let output = Pipe()
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        // Its warnings and, should it fail to start, its traceback.
        FileManager.default.createFile(atPath: folder + "/stderr.txt", contents: nil)
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/stderr.txt"))
        try process.run()
        let line = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var text = ""
                while !text.contains("\n") {
                    let data = output.fileHandleForReading.availableData
                    if data.isEmpty { break }
                    text += String(decoding: data, as: UTF8.self)
                }
                continuation.resume(returning: text)
            }
        }
        guard line.hasPrefix("ready "),
            let port = Int(line.dropFirst(6).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            process.terminate()
            process.waitUntilExit()
            let errors = (try? String(contentsOfFile: folder + "/stderr.txt", encoding: .utf8)) ?? ""
            throw ServerDidNotStart(output: line + errors)
        }
        self.port = port
    }

    /// What the server took, oldest first: its records of that kind (`suffix`).
    func received<Record: Decodable>(_ type: Record.Type, suffix: String = ".json") throws -> [Record] {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(suffix) }
            .sorted()
        return try files.map {
            try JSONDecoder().decode(Record.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/" + $0)))
        }
    }

    func stop() {
        process.terminate()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: folder)
    }

    struct ServerDidNotStart: Error {
        var output: String
    }
}
