import Foundation

/// Debian's zbar (`zbarimg --raw`): a QR reader that shares no code with ours.
public enum ZBar {
    public struct NoCode: Error, CustomStringConvertible {
        public var description: String { "zbarimg found no code in the image" }
    }

    /// The text of the one code in a PNG.
    public static func read(_ png: [UInt8]) throws -> String {
        let path = NSTemporaryDirectory() + "adal-qr-\(UUID().uuidString).png"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(png).write(to: URL(fileURLWithPath: path))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/zbarimg")
        process.arguments = ["--raw", "--quiet", path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw NoCode() }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasSuffix("\n") { text.removeLast() }
        return text
    }
}
