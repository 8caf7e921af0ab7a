import Hummingbird
import Synchronization

/// The admin API's bearer token, replaceable while the listener runs (a reload that changes `admin.token` or the
/// token file takes effect at once); nil for none.
public final class AdminToken: Sendable {
    private let value: Mutex<String?>

    public init(_ token: String?) {
        self.value = Mutex(token)
    }

    /// The token in force.
    public var current: String? { self.value.withLock { $0 } }

    /// Requires `token` from the next request on (nil: no token).
    public func replace(with token: String?) {
        self.value.withLock { $0 = token }
    }
}

/// Lets a request through only with `Authorization: Bearer TOKEN` while a token is set, except the dashboard page
/// (it holds no data and asks for the token itself) and the health probes (which orchestrators call without
/// credentials).
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    static var openPaths: Set<String> { ["/", "/healthz", "/readyz"] }

    let token: AdminToken

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let token = self.token.current, !Self.openPaths.contains(request.uri.path) else {
            return try await next(request, context)
        }
        let presented = request.headers[.authorization] ?? ""
        guard Self.constantTimeEquals(presented, "Bearer " + token) else {
            return Response(status: .unauthorized, headers: [.wwwAuthenticate: "Bearer realm=\"dnsgate\""])
        }
        return try await next(request, context)
    }

    /// Compares without stopping at the first difference, so timing does not reveal how much of a guess was right.
    static func constantTimeEquals(_ lhs: String, _ rhs: String) -> Bool {
        let a = Array(lhs.utf8), b = Array(rhs.utf8)
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<min(a.count, b.count) { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
