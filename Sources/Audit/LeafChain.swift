import struct Foundation.UUID

/// The rule that links an instance's leaves: a leaf that names a previous leaf must name the
/// latest leaf of the same instance, one step earlier. Fed the entries in index order.
public struct LeafChain: Sendable {
    private var latest: [UUID: (sequence: UInt64, index: Int)] = [:]

    public init() {}

    /// Whether an earlier leaf of `instance` recorded step `sequence` or a later one.
    public func reached(_ instance: UUID, sequence: UInt64) -> Bool {
        latest[instance].map { $0.sequence >= sequence } ?? false
    }

    /// Records the entry at `index`; nil when it is consistent, otherwise the reason it is not.
    public mutating func add(_ entry: AuditEntry, at index: Int) -> String? {
        defer { latest[entry.instanceID] = (entry.sequence, index) }
        guard entry.previousLeafIndex != AuditEntry.noPreviousLeaf else { return nil }
        guard let previous = latest[entry.instanceID], previous.sequence + 1 == entry.sequence,
            UInt64(previous.index) == entry.previousLeafIndex
        else {
            return "the entry names leaf \(entry.previousLeafIndex) as its instance's previous step, which it is not"
        }
        return nil
    }
}
