/// Values given as command-line flags; they override the file and the environment.
public struct ConfigOverrides: Sendable {
    public var configFile: String?
    public var listen: [String]
    public var upstreams: [String]
    /// `--upstream-policy`: the default group's selection policy.
    public var upstreamPolicy: String?
    /// `--bootstrap`: servers that resolve upstream host names.
    public var bootstrap: [String]
    public var caFiles: [String]
    public var logLevel: String?
    /// `--admin-listen`: an address, or `off`.
    public var adminListen: String?
    public var adminTokenFile: String?
    /// `--blocklist`: the sources of the list named `default`.
    public var blocklists: [String]
    /// `--tls-cert`, `--tls-key`: the DoT and DoH listeners' certificate chain and key.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// `--query-log`: a file, or `-` for standard output.
    public var queryLog: String?

    public init(
        configFile: String? = nil,
        listen: [String] = [],
        upstreams: [String] = [],
        upstreamPolicy: String? = nil,
        bootstrap: [String] = [],
        caFiles: [String] = [],
        logLevel: String? = nil,
        adminListen: String? = nil,
        adminTokenFile: String? = nil,
        blocklists: [String] = [],
        tlsCertificateFile: String? = nil,
        tlsKeyFile: String? = nil,
        queryLog: String? = nil
    ) {
        self.queryLog = queryLog
        self.blocklists = blocklists
        self.tlsCertificateFile = tlsCertificateFile
        self.tlsKeyFile = tlsKeyFile
        self.adminListen = adminListen
        self.adminTokenFile = adminTokenFile
        self.configFile = configFile
        self.listen = listen
        self.upstreams = upstreams
        self.upstreamPolicy = upstreamPolicy
        self.bootstrap = bootstrap
        self.caFiles = caFiles
        self.logLevel = logLevel
    }
}
