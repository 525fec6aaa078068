import Core
import Foundation
import Logging

/// The server's log lines on standard error: `time level label: key=value … [source] message`,
/// the metadata's keys sorted. Metadata is turned into text only for a line actually written.
///
/// swift-log's own stream handler writes the same kind of line but renders its metadata again on
/// every change to it, and the HTTP server sets a request id on each request's logger, the
/// database client a connection id on each statement's: about 1–2 % of the server's CPU in
/// `adal bench meals`, for lines that below `info` are never written (docs/meal-payments.md,
/// "Less of the server's CPU per charge").
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    let label: String
    let write: @Sendable (String) -> Void

    /// A handler writing to standard error, each line in one `write(2)` where the stream takes
    /// it whole (up to 4 KiB on a pipe), so that lines from several threads do not interleave.
    public static func standardError(label: String, metadataProvider: Logger.MetadataProvider? = nil) -> LineLogHandler
    {
        LineLogHandler(label: label, metadataProvider: metadataProvider) { line in
            var line = line
            line.withUTF8 { bytes in
                // A long line may go out in parts (a pipe takes at most 4 KiB at once): the rest
                // is written until none is left, or the stream refuses it.
                var offset = 0
                while offset < bytes.count {
                    let written = Foundation.write(2, bytes.baseAddress! + offset, bytes.count - offset)
                    if written > 0 {
                        offset += written
                    } else if written < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }

    /// A handler giving each line to `write` (for tests).
    public init(
        label: String,
        metadataProvider: Logger.MetadataProvider? = nil,
        write: @escaping @Sendable (String) -> Void
    ) {
        self.label = label
        self.metadataProvider = metadataProvider
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let own = event.metadata { merged.merge(own) { _, new in new } }
        var line = Date().iso8601Text + " " + event.level.rawValue + " " + label + ":"
        for key in merged.keys.sorted() {
            line += " " + key + "=" + "\(merged[key]!)"
        }
        line += " [" + event.source + "] " + event.message.description + "\n"
        write(line)
    }
}
