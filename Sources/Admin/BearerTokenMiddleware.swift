import Hummingbird

/// Lets a request through only with `Authorization: Bearer TOKEN`, except the dashboard page (it holds no data and
/// asks for the token itself) and the health probes (which orchestrators call without credentials).
struct BearerTokenMiddleware<Context: RequestContext>: RouterMiddleware {
    static var openPaths: Set<String> { ["/", "/healthz", "/readyz"] }

    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        if Self.openPaths.contains(request.uri.path) { return try await next(request, context) }
        let presented = request.headers[.authorization] ?? ""
        guard Self.constantTimeEquals(presented, "Bearer " + self.token) else {
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
