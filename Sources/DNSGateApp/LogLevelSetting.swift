import Atomics
public import Logging

/// The log level in force, changeable while dnsgate runs (a reload): every logger made through
/// ``bootstrapLogging(level:)`` reads it on each message.
public enum LogLevelSetting {
    private static let level = ManagedAtomic<UInt8>(LogLevelSetting.code(.info))

    /// The level now.
    public static var current: Logger.Level { Self.levels[Int(Self.level.load(ordering: .relaxed))] }

    /// Changes the level of every logger from now on.
    public static func set(_ level: Logger.Level) {
        Self.level.store(Self.code(level), ordering: .relaxed)
    }

    /// Sets up logging to standard error at `level`, following later changes of ``current``.
    public static func bootstrapLogging(level: Logger.Level) {
        Self.set(level)
        LoggingSystem.bootstrap { label in LevelFollowingLogHandler(StreamLogHandler.standardError(label: label)) }
    }

    private static let levels: [Logger.Level] = Logger.Level.allCases

    private static func code(_ level: Logger.Level) -> UInt8 {
        UInt8(Logger.Level.allCases.firstIndex(of: level) ?? 0)
    }
}

/// A log handler whose level is always ``LogLevelSetting/current``; everything else is the wrapped handler's.
struct LevelFollowingLogHandler: LogHandler {
    private var wrapped: StreamLogHandler

    init(_ wrapped: StreamLogHandler) {
        self.wrapped = wrapped
    }

    var logLevel: Logger.Level {
        get { LogLevelSetting.current }
        set {}  // the level is process-wide: a reload sets it through LogLevelSetting
    }

    var metadata: Logger.Metadata {
        get { self.wrapped.metadata }
        set { self.wrapped.metadata = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { self.wrapped[metadataKey: key] }
        set { self.wrapped[metadataKey: key] = newValue }
    }

    func log(event: LogEvent) {
        self.wrapped.log(event: event)
    }
}
