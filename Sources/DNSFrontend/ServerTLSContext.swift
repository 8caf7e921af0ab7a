import Atomics
import Foundation
public import Logging
import NIOConcurrencyHelpers
import NIOCore
public import NIOSSL

/// The certificate and key that the DoT, DoH and DoQ listeners present, read from PEM files and read again when the files
/// change (a renewed certificate takes effect for new connections without a restart; open ones keep theirs). A file
/// that cannot be read or does not make a valid pair keeps the previous certificate in use, with an error logged.
public final class ServerTLSContext: Sendable {
    public let certificateFile: String
    public let keyFile: String
    private let logger: Logger
    /// The contexts for DoT and for DoH (they offer different ALPN protocols), and the files' modification times.
    private let state: NIOLockedValueBox<(contexts: Contexts, stamp: [Date?])>
    private let reloads = ManagedAtomic(0)

    private struct Contexts {
        var dot: NIOSSLContext
        var doh: NIOSSLContext
    }

    /// Reads the files now; throws when they are not a usable certificate chain and private key.
    public init(certificateFile: String, keyFile: String, logger: Logger) throws {
        self.certificateFile = certificateFile
        self.keyFile = keyFile
        self.logger = logger
        let stamp = Self.stamp(of: [certificateFile, keyFile])
        self.state = NIOLockedValueBox((try Self.makeContexts(certificateFile: certificateFile, keyFile: keyFile), stamp))
    }

    /// The context for a connection accepted now on a DoT (`https` false) or DoH listener.
    public func current(https: Bool) -> NIOSSLContext {
        self.state.withLockedValue { https ? $0.contexts.doh : $0.contexts.dot }
    }

    /// How many times the certificate has been reloaded: listeners that build their own TLS state from the files
    /// (DoQ, on GnuTLS) build it again when this moves.
    public var generation: Int { self.reloads.load(ordering: .acquiring) }

    /// Reads the files again if either changed since they were last read; returns whether the certificate changed.
    @discardableResult
    public func reloadIfChanged() -> Bool {
        let stamp = Self.stamp(of: [self.certificateFile, self.keyFile])
        guard stamp != self.state.withLockedValue({ $0.stamp }) else { return false }
        do {
            let contexts = try Self.makeContexts(certificateFile: self.certificateFile, keyFile: self.keyFile)
            self.state.withLockedValue { $0 = (contexts, stamp) }
            self.reloads.wrappingIncrement(ordering: .releasing)
            self.logger.notice("TLS certificate reloaded", metadata: ["certificate": "\(self.certificateFile)"])
            return true
        } catch {
            // Remember the stamp, so a broken file is reported once, not at every check.
            self.state.withLockedValue { $0.stamp = stamp }
            self.logger.error("TLS certificate not reloaded; the previous one stays",
                              metadata: ["certificate": "\(self.certificateFile)", "error": "\(error)"])
            return false
        }
    }

    /// Checks the files every `interval` until cancelled.
    public func watch(every interval: Duration = .seconds(2)) async {
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            self.reloadIfChanged()
        }
    }

    private static func makeContexts(certificateFile: String, keyFile: String) throws -> Contexts {
        let chain = try NIOSSLCertificate.fromPEMFile(certificateFile).map(NIOSSLCertificateSource.certificate)
        let key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        // Closing waits this long for the client's close_notify, which many DNS clients never send (the default,
        // 5 s, made every shutdown with an idle client connected last the whole grace period).
        configuration.shutdownTimeout = .milliseconds(500)
        // RFC 7858 §3.2 names ALPN "dot"; DoH speaks h2 or http/1.1. A client that offers no protocol is served too.
        configuration.applicationProtocols = ["dot"]
        let dot = try NIOSSLContext(configuration: configuration)
        configuration.applicationProtocols = ["h2", "http/1.1"]
        return Contexts(dot: dot, doh: try NIOSSLContext(configuration: configuration))
    }

    /// When each file was last modified (nil for one that cannot be read).
    private static func stamp(of paths: [String]) -> [Date?] {
        paths.map { (try? FileManager.default.attributesOfItem(atPath: $0))?[.modificationDate] as? Date }
    }
}
