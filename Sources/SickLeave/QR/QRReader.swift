import Core
import Foundation

/// Reads the QR code in an uploaded picture (a photo or screenshot of a certificate) with
/// Debian's zbar (`zbarimg`), in a separate process: the picture is untrusted, so the decoder
/// gets only PNG or JPEG bytes of bounded size, a time limit, and at most ``maximumRunning``
/// copies run at once.
public actor QRReader {
    public static let maximumBytes = 1 << 20
    public static let maximumRunning = 2
    public static let timeLimit: Duration = .seconds(5)
    static let program = "/usr/bin/zbarimg"

    public enum Failure: Error, Equatable, CustomStringConvertible {
        case notAnImage
        case tooLarge
        case noCode
        case busy
        case unavailable

        public var description: String {
            switch self {
            case .notAnImage: "send a PNG or JPEG picture"
            case .tooLarge: "the picture is larger than \(QRReader.maximumBytes) bytes"
            case .noCode: "no QR code could be read in the picture"
            case .busy: "too many pictures are being read; try again in a moment"
            case .unavailable: "reading pictures is not available on this server"
            }
        }
    }

    private var running = 0

    public init() {}

    /// The text of the first QR code in `image`.
    public func read(_ image: [UInt8]) async throws(Failure) -> String {
        guard image.count <= Self.maximumBytes else { throw .tooLarge }
        guard Self.isPNG(image) || Self.isJPEG(image) else { throw .notAnImage }
        guard FileManager.default.isExecutableFile(atPath: Self.program) else { throw .unavailable }
        guard running < Self.maximumRunning else { throw .busy }
        running += 1
        defer { running -= 1 }
        do {
            return try await Self.decode(image)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw .noCode
        }
    }

    static func isPNG(_ bytes: [UInt8]) -> Bool {
        MediaType.sniff(bytes) == .png
    }

    static func isJPEG(_ bytes: [UInt8]) -> Bool {
        MediaType.sniff(bytes) == .jpeg
    }

    /// Runs zbarimg on a private temporary file, QR codes only, first code only, killed after
    /// ``timeLimit``.
    private static func decode(_ image: [UInt8]) async throws -> String {
        let path = NSTemporaryDirectory() + "adal-upload-\(UUID().uuidString)"
        guard
            FileManager.default.createFile(atPath: path, contents: Data(image), attributes: [.posixPermissions: 0o600])
        else { throw Failure.unavailable }
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = ["--raw", "--quiet", "--oneshot", "-Sdisable", "-Sqrcode.enable", path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        // Waits without holding a thread: the output (one code's text) fits in the pipe's
        // buffer, so it is read once the process has ended.
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            process.terminationHandler = { _ in continuation.resume() }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
            }
            let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
            DispatchQueue.global().asyncAfter(
                deadline: .now() + .seconds(Int(timeLimit.components.seconds)),
                execute: watchdog
            )
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        guard process.terminationReason == .exit, process.terminationStatus == 0,
            let line = String(decoding: data.prefix(8_192), as: UTF8.self).split(separator: "\n").first
        else { throw Failure.noCode }
        return String(line)
    }
}
