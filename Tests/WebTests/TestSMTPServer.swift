import Foundation
import TestSupport

/// A real SMTP server (aiosmtpd, from the project's virtual environment) on a free loopback
/// port, run by `scripts/smtp-test-server.py`: each message it takes is read by Python's own
/// email parser and kept as JSON, so the tests see what a mail client would.
final class TestSMTPServer: @unchecked Sendable {
    struct Received: Decodable, Sendable {
        var mail_from: String
        var rcpt_tos: [String]
        var smtputf8: Bool
        var from: String
        var to: String
        var subject: String
        var date: String
        var message_id: String
        var content_type: String
        var charset: String?
        var body: String
        var defects: [String]
        var raw: String
    }

    let port: Int
    let folder: String
    /// The certificate (PEM) the server presents when it runs with TLS.
    let certificate: String?
    private let process: Process

    enum Security { case plain, implicitTLS, startTLS }

    /// Starts the server: with a fresh self-signed certificate for `localhost`, over TLS from
    /// the first byte or after STARTTLS; asking for `user` when given, offering SMTPUTF8 when `utf8`.
    init(_ security: Security, user: (name: String, password: String)? = nil, utf8: Bool = false) async throws {
        folder = NSTemporaryDirectory() + "adal-smtp-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var arguments = [TestCluster.repositoryRoot + "/scripts/smtp-test-server.py", folder]
        if security != .plain {
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
            arguments += [security == .startTLS ? "--starttls" : "--tls", folder + "/cert.pem", folder + "/key.pem"]
        } else {
            certificate = nil
        }
        if let user { arguments += ["--user", user.name, user.password] }
        if utf8 { arguments.append("--utf8") }
        process = Process()
        process.executableURL = URL(fileURLWithPath: ProjectTool.venv("python"))
        process.arguments = arguments
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

    /// What the server took, oldest first.
    func received() throws -> [Received] {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".json") }
            .sorted()
        return try files.map {
            try JSONDecoder().decode(Received.self, from: Data(contentsOf: URL(fileURLWithPath: folder + "/" + $0)))
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
