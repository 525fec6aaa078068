import Core
import HummingbirdBcrypt
import NIOPosix

/// bcrypt password hashing, run on NIO's thread pool so that its deliberate slowness never
/// blocks the event loops.
public struct BcryptHasher: PasswordHasher {
    public let cost: UInt8
    public let decoyHash: String

    public init(cost: UInt8) {
        self.cost = cost
        self.decoyHash = Bcrypt.hash("adal decoy password, matches no account", cost: cost)
    }

    public func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public func verify(_ password: String, against hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }
}
