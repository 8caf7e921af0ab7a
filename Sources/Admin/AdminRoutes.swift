import Foundation
import Hummingbird
import NIOCore

/// The admin listener's routes, each a thin layer over the ``AdminBackend``.
struct AdminRoutes: Sendable {
    let backend: any AdminBackend

    func register(on router: Router<BasicRequestContext>) {
        let backend = self.backend
        router.get("/") { _, _ in
            Self.response(DashboardPage.html, contentType: "text/html; charset=utf-8")
        }
        router.get("/metrics") { _, _ in
            Self.response(PrometheusExposition.render(backend.metricFamilies()),
                          contentType: PrometheusExposition.contentType)
        }
        router.get("/healthz") { _, _ in Self.response("ok\n") }
        router.get("/readyz") { _, _ in
            guard let reason = await backend.notReadyReason() else { return Self.response("ready\n") }
            return Self.response("not ready: \(reason)\n", status: .serviceUnavailable)
        }
        router.get("/api/v1/stats") { _, _ in try Self.json(backend.stats()) }
        router.get("/api/v1/upstreams") { _, _ in try Self.json(backend.upstreams()) }
        router.get("/api/v1/config") { _, _ in try Self.json(backend.effectiveConfiguration()) }
        router.post("/api/v1/reload") { _, _ in
            do {
                return try Self.json(["result": try await backend.reload()])
            } catch {
                return try Self.json(["error": "\(error)"], status: .unprocessableContent)
            }
        }
        router.post("/api/v1/cache/flush") { request, _ in
            let name = request.uri.queryParameters.get("name")
            do {
                return try Self.json(["flushed": try backend.flushCache(name: name)])
            } catch {
                return try Self.json(["error": "\(error)"], status: .badRequest)
            }
        }
    }

    static func response(_ text: String, status: HTTPResponse.Status = .ok,
                         contentType: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: contentType, .cacheControl: "no-store"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
