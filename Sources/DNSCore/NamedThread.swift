import CLinuxNet
import Foundation

/// Starts a thread that runs `body` under `name` as the kernel sees it (`top -H`, `/proc/PID/task/*/comm`; at most
/// 15 bytes are kept). Foundation's `Thread.name` does not reach the kernel on Linux.
public func startNamedThread(_ name: String, _ body: @escaping @Sendable () -> Void) {
    let thread = Thread {
        clinuxnet_name_thread(name)
        body()
    }
    thread.name = name
    thread.start()
}
