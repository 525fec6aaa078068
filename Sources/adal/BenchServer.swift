import ArgumentParser
import Core
import Foundation
import Hummingbird
import MealPayments
import NIOCore
import Prometheus
import ServiceLifecycle
import Storage
import Web

/// The real HTTP server, in this process, on a free loopback port and a bench database; and wrk,
/// which drives it. Shared by the HTTP benchmarks.
enum BenchServer {
    /// Runs `body` with the server's base address, a scratch folder and its services; stops the server
    /// gracefully afterwards, so requests in flight finish. `auditMergeDelay`: the pause between
    /// the audit sequencer's passes (``AppConfiguration/auditMergeDelay``); `gatewayDelay`: how
    /// long each notification takes to send (``SlowGateway``).
    static func with(
        database: Database,
        auditMergeDelay: Duration = AppConfiguration().auditMergeDelay,
        gatewayDelay: Duration = .zero,
        _ body: (_ base: String, _ directory: String, _ dependencies: AppDependencies) async throws -> Void
    ) async throws {
        var configuration = AppConfiguration()
        configuration.dataDirectory = NSTemporaryDirectory() + "/adal-bench-http-\(UUID().uuidString)"
        configuration.workflowsDirectory = ProcessInfo.processInfo.environment["ADAL_WORKFLOWS_DIR"] ?? "workflows"
        configuration.auditMergeDelay = auditMergeDelay
        // The gateways are simulated (a delay before the record stands in for the network).
        configuration.simulatedMessages = true
        configuration.keySealingSecret = Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        try FileManager.default.createDirectory(atPath: configuration.dataDirectory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        var dependencies = try await buildDependencies(
            configuration: configuration,
            client: database.client,
            clientConfiguration: database.configuration,
            metrics: PrometheusCollectorRegistry(),
            logger: BenchEnvironment.logger
        )
        if gatewayDelay > .zero {
            dependencies.notificationChannels = dependencies.notificationChannels.map {
                SlowGateway(channel: $0, delay: gatewayDelay)
            }
        }
        let port = Locked<Int?>(nil)
        let app = Application(
            router: try buildRouter(dependencies),
            server: .http1OnEventLoops,
            configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "adal-bench"),
            services: backgroundServices(
                configuration: configuration,
                dependencies: dependencies,
                logger: BenchEnvironment.logger
            ),
            onServerRunning: { channel in port.withLock { $0 = channel.localAddress?.port } },
            eventLoopGroupProvider: .shared(ServerLoops.group),
            logger: BenchEnvironment.logger
        )
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: BenchEnvironment.logger)
        let server = Task { try await group.run() }
        defer { server.cancel() }
        var waited = 0
        while port.current == nil {
            guard waited < 100 else { throw ValidationError("the HTTP server did not start") }
            try await Task.sleep(for: .milliseconds(50))
            waited += 1
        }
        try await body("http://127.0.0.1:\(port.current ?? 0)", configuration.dataDirectory, dependencies)
        await group.triggerGracefulShutdown()
        _ = try? await server.value
    }

    /// wrk's `done`: adds up each thread's `wrong` count (every thread has its own Lua state)
    /// and prints it for ``summary(_:)``. Scripts keep their threads in the global `threads`.
    static let countWrongAnswers = """
        done = function(summary, latency, requests)
          local total = 0
          for _, thread in ipairs(threads) do total = total + thread:get("wrong") end
          io.write(string.format("wrong answers: %d\\n", total))
        end
        """

    /// wrk's `delay`, for a load at a given rate instead of as fast as answers come: each wrk
    /// thread's requests leave at the moments of a Poisson process of `rate / threads` a second,
    /// each on whichever of the thread's connections is free then (wrk times a request from
    /// the moment it is written, so a latency never includes the wait for its moment). As long
    /// as a connection is free, a slow answer does not hold the next request back. Only each
    /// connection's first request leaves at once, when wrk starts. LuaJIT's `ffi` reads the
    /// monotonic clock; wrk's Lua has no other clock finer than a second.
    static func pacing(rate: Double, threads: Int) -> String {
        """
        local ffi = require("ffi")
        ffi.cdef[[
        typedef struct { long seconds; long nanoseconds; } adal_clock;
        int clock_gettime(int clock, adal_clock *now);
        ]]
        local clock = ffi.new("adal_clock")
        local function milliseconds()
          ffi.C.clock_gettime(1, clock)
          return tonumber(clock.seconds) * 1000 + tonumber(clock.nanoseconds) / 1000000
        end
        local gap = \(1000 * Double(threads) / rate)
        local moment = nil
        delay = function()
          local now = milliseconds()
          if moment == nil then moment = now end
          moment = moment - math.log(1 - math.random()) * gap
          return math.max(0, math.floor(moment - now))
        end
        """
    }

    static var wrkAvailable: Bool { FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") }

    /// Runs wrk and returns what it printed.
    static func wrk(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("wrk failed: \(arguments)") }
        return String(decoding: data, as: UTF8.self)
    }

    /// wrk's requests per second ("Requests/sec: …").
    static func rate(_ output: String) -> Double? {
        output.split(separator: "\n").lazy.compactMap { line -> Double? in
            let words = line.split(separator: " ")
            guard words.count == 2, words[0] == "Requests/sec:" else { return nil }
            return Double(words[1])
        }.first
    }

    /// The number of requests wrk completed ("N requests in …").
    static func requests(_ output: String) -> Int {
        output.split(separator: "\n").lazy.compactMap { line -> Int? in
            let words = line.split(separator: " ")
            guard words.count > 2, words[1] == "requests", words[2] == "in" else { return nil }
            return Int(words[0])
        }.first ?? 0
    }

    /// Requests per second, p50, p99, non-2xx count and the script's count of wrong answers.
    static func summary(_ output: String) -> String {
        func value(after label: String) -> String {
            output.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }
                .map {
                    $0.trimmingCharacters(in: .whitespaces).dropFirst(label.count).trimmingCharacters(in: .whitespaces)
                }
                ?? "?"
        }
        let failures = value(after: "Non-2xx or 3xx responses:")
        return "\(value(after: "Requests/sec:")) /s; p50 \(value(after: "50%")), p99 \(value(after: "99%")); "
            + "non-2xx: \(failures == "?" ? "0" : failures), \(value(after: "wrong answers:")) wrong answers"
    }
}

/// The server's own timing of one route's requests, from its `adal_http_request_duration_seconds`
/// histogram (the router's middleware: from the request read to the response made, without the
/// socket's write or the wait before the read): how many took longer than each of the
/// histogram's limits, to set against the load generator's latency.
struct ServerTimes {
    /// Requests at or under each limit (seconds, as the histogram labels them), and in all.
    var atOrUnder: [String: Int]
    var count: Int

    /// The counts now for `route` (as the router names it, such as `/api/{tenant}/meals/charges`).
    static func now(_ registry: PrometheusCollectorRegistry, route: String) -> ServerTimes {
        var times = ServerTimes(atOrUnder: [:], count: 0)
        let prefix = "adal_http_request_duration_seconds"
        for line in registry.emitToString().split(separator: "\n")
        where line.hasPrefix(prefix) && line.contains("route=\"\(route)\"") {
            guard let value = line.split(separator: " ").last.flatMap({ Int(Double(String($0)) ?? -1) }) else {
                continue
            }
            if line.hasPrefix(prefix + "_count") {
                times.count += value
            } else if line.hasPrefix(prefix + "_bucket"), let range = line.range(of: "le=\"") {
                let limit = line[range.upperBound...].prefix { $0 != "\"" }
                times.atOrUnder[String(limit), default: 0] += value
            }
        }
        return times
    }

    /// "server's own time: over 25 ms 0.40 %, over 50 ms 0.01 %" for the requests since `start`.
    func over(since start: ServerTimes, limits: [String] = ["0.025", "0.05"]) -> String {
        let count = self.count - start.count
        guard count > 0 else { return "server's own time: no requests" }
        return "server's own time (read to response made): "
            + limits.map { limit in
                let milliseconds = Int((Double(limit) ?? 0) * 1000)
                return String(format: "over %d ms %.2f %%", milliseconds, percent(over: limit, since: start))
            }.joined(separator: ", ") + " of \(count) requests"
    }

    /// The share of the requests since `start` that took longer than `limit` (a histogram label
    /// such as "0.025"), in percent; 0 without requests.
    func percent(over limit: String, since start: ServerTimes) -> Double {
        let count = self.count - start.count
        guard count > 0 else { return 0 }
        let over = count - ((atOrUnder[limit] ?? 0) - (start.atOrUnder[limit] ?? 0))
        return Double(over) * 100 / Double(count)
    }
}

/// A notification channel that takes `delay` before each message, as a real email or SMS
/// gateway's call over the network does, then records it as `wrapped` does.
struct SlowGateway: NotificationChannel {
    let wrapped: any NotificationChannel
    let delay: Duration

    init(channel: any NotificationChannel, delay: Duration) {
        wrapped = channel
        self.delay = delay
    }

    var kind: ContactAddress.Kind { wrapped.kind }
    var simulated: Bool { wrapped.simulated }
    var reports: RecordedChannel.Reports? { wrapped.reports }

    func send(_ message: OutgoingMessage, tenantID: UUID) async throws {
        try await Task.sleep(for: delay)
        try await wrapped.send(message, tenantID: tenantID)
    }
}
