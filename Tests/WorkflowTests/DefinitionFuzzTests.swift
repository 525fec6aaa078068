import Foundation
import TestSupport
import Testing
import Workflow

/// Mutates the committed corpus (`Fixtures/fuzz`) and feeds every mutant to the loader. A
/// hostile file must end in a definition or a ``DefinitionError`` with a sensible location,
/// never a crash or a hang. The run is bounded in time, and seeded so a failure can be replayed.
@Suite("Workflow definition fuzzing")
struct DefinitionFuzzTests {
    /// Two seconds in `make test`; `ADAL_FUZZ_SECONDS` runs longer by hand.
    static let timeBudget: Duration = .seconds(Int(ProcessInfo.processInfo.environment["ADAL_FUZZ_SECONDS"] ?? "") ?? 2)
    static let maximumMutants =
        Int(ProcessInfo.processInfo.environment["ADAL_FUZZ_SECONDS"] ?? "") == nil ? 20_000 : .max

    /// Fragments that tend to reach the parser's and the loader's corners.
    static let tokens: [String] = [
        "[", "]", "{", "}", ": ", "- ", "? ", "\n", "\n  ", "\n    - ", "&a ", "*a", "!!str ", "'", "\"", "|", ">-",
        "#",
        "\t", "\u{0}", "\u{FEFF}", "%YAML 1.1\n", "---\n", "...\n", "\\", "P1M", "P", "T", "-9223372036854775808",
        "99999999999999999999", "initial: true", "terminal: true", "{parameter: wait}", "ё", "🙂", "\r\n",
    ]

    @Test("mutated definitions are refused with a located error or loaded, never crash")
    func fuzzLoader() throws {
        let names = try Fixtures.names(in: "fuzz")
        let corpus = try names.map { try Fixtures.bytes("fuzz/\($0)") }
        #expect(corpus.count >= 5)
        let seed = UInt64(ProcessInfo.processInfo.environment["ADAL_FUZZ_SEED"] ?? "") ?? 0x5eed_ada1
        var random = SplitMix64(seed: seed)
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: Self.timeBudget)
        var mutants = 0
        var loaded = 0
        while mutants < Self.maximumMutants, clock.now < deadline {
            let pick = Int(random.next() % UInt64(corpus.count))
            let base = corpus[pick]
            let mutant = mutate(base, other: corpus[Int(random.next() % UInt64(corpus.count))], random: &random)
            mutants += 1
            do {
                _ = try DefinitionLoader.load(bytes: mutant, file: names[pick], hooks: Fixtures.equipmentHooks)
                loaded += 1
            } catch {
                let lines = mutant.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).count
                for problem in error.problems {
                    #expect(
                        problem.location.line >= 1 && problem.location.line <= lines + 1
                            && problem.location.column >= 1,
                        "seed \(seed), mutant \(mutants): \(problem) outside a file of \(lines) lines"
                    )
                    #expect(!problem.message.isEmpty)
                }
            }
        }
        #expect(mutants > 100, "only \(mutants) mutants in the time budget")
        print("fuzz: seed \(seed), \(mutants) mutants, \(loaded) loaded")
    }

    private func mutate(_ bytes: [UInt8], other: [UInt8], random: inout SplitMix64) -> [UInt8] {
        var result = bytes
        for _ in 0...(random.next() % 4) {
            let position = result.isEmpty ? 0 : Int(random.next() % UInt64(result.count))
            switch random.next() % 6 {
            case 0 where !result.isEmpty:
                result[position] ^= UInt8(truncatingIfNeeded: 1 << (random.next() % 8))
            case 1:
                let token = Self.tokens[Int(random.next() % UInt64(Self.tokens.count))]
                result.insert(contentsOf: Array(token.utf8), at: position)
            case 2 where !result.isEmpty:
                let length = min(Int(random.next() % 64) + 1, result.count - position)
                result.removeSubrange(position..<(position + length))
            case 3 where !result.isEmpty:
                let length = min(Int(random.next() % 200) + 1, result.count - position)
                result.insert(contentsOf: result[position..<(position + length)], at: position)
            case 4 where !other.isEmpty:
                let start = Int(random.next() % UInt64(other.count))
                let length = min(Int(random.next() % 300) + 1, other.count - start)
                result.insert(contentsOf: other[start..<(start + length)], at: position)
            default:
                let token = Self.tokens[Int(random.next() % UInt64(Self.tokens.count))]
                result.append(contentsOf: Array(token.utf8))
            }
        }
        return result
    }
}
