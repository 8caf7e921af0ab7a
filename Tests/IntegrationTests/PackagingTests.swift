import Foundation
import Testing

extension IntegrationSuite {
    /// The deployment files: the Helm chart renders to valid Kubernetes objects whose configuration dnsgate accepts,
    /// the systemd unit passes systemd's own checks, and the container image builds and answers DNS.
    @Suite struct PackagingTests {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path

        @Test func theHelmChartRendersValidObjectsInEveryShapeWithAConfigurationDnsgateAccepts() throws {
            let output = NSTemporaryDirectory() + "dnsgate-helm-\(getpid())"
            let checked = try runCommand("/usr/bin/python3", [Self.root + "/scripts/check-helm-chart.py",
                                                              Self.root + "/deploy/helm/dnsgate", output])
            #expect(checked.status == 0, "\(checked.output)\(checked.error)")
            let shapes = ["daemonset", "daemonset-hostnetwork", "sidecar", "sidecar-monitored"]
            for shape in shapes {
                #expect(checked.output.contains("\(shape): OK"), "\(checked.output)")
            }
            #expect(checked.output.contains("sidecar-monitored: OK (ConfigMap, Deployment, Secret, Service, ServiceMonitor)"))
            // Each shape's dnsgate.yaml passes check-config, with the token file the chart mounts stood in for.
            let token = output + "/token"
            try "example-token\n".write(toFile: token, atomically: true, encoding: .utf8)
            for shape in shapes {
                let result = try runCommand("/usr/bin/env", ["DNSGATE_ADMIN_TOKEN_FILE=\(token)", DNSGateBinary.path,
                                                             "check-config", "--config", "\(output)/\(shape).yaml"])
                #expect(result.status == 0, "\(shape): \(result.error)")
                #expect(result.output.contains("admin.listen: 0.0.0.0:9153") && result.output.contains("admin.token: ***"))
            }
        }

        /// The Dockerfile's runtime stage, built with buildah (its Swift build stage stood in for by a rootfs laid out
        /// from the binary under test, as no registry is reachable here) and run with podman as its non-root user:
        /// it binds port 53 with nothing but its file capability and answers.
        @Test func theContainerImageBuildsAndAnswersAsItsNonRootUser() throws {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/buildah"),
                FileManager.default.isExecutableFile(atPath: "/usr/bin/podman")
            else {
                FileHandle.standardError.write(Data("container image test skipped: no buildah or podman\n".utf8))
                return
            }
            let upstream = try TestUpstream.shared.get()
            let result = try runCommand(Self.root + "/scripts/container-test.sh", [
                DNSGateBinary.path, "tcp://127.0.0.1:\(TestUpstream.knotPort)", "127.0.0.77",
            ])
            _ = upstream
            #expect(result.status == 0, "\(result.output)\(result.error)")
            #expect(result.output.contains("answered"), "\(result.output)\(result.error)")
            #expect(result.output.contains("user 65532:65532"))
            #expect(result.output.contains("process user nonroot") || result.output.contains("process user 65532"),
                    "\(result.output)")
        }

        @Test func theSystemdUnitPassesSystemdsChecks() throws {
            guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
                FileHandle.standardError.write(Data("systemd unit test skipped: no systemd-analyze\n".utf8))
                return
            }
            let unit = NSTemporaryDirectory() + "dnsgate-\(getpid()).service"
            let text = try String(contentsOfFile: Self.root + "/deploy/systemd/dnsgate.service", encoding: .utf8)
            try text.replacingOccurrences(of: "/usr/local/bin/dnsgate", with: DNSGateBinary.path)
                .write(toFile: unit, atomically: true, encoding: .utf8)
            let verified = try runCommand("/usr/bin/systemd-analyze", ["verify", unit])
            #expect(verified.status == 0, "\(verified.output)\(verified.error)")
            for directive in ["DynamicUser=yes", "ProtectSystem=strict", "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                              "StateDirectory=dnsgate", "ExecReload=/bin/kill -HUP $MAINPID"] {
                #expect(text.contains(directive))
            }
            let security = try runCommand("/usr/bin/systemd-analyze", ["security", "--offline=true", unit])
            let exposure = security.output.firstMatch(of: /Overall exposure level for .*: (\d+\.\d+)/).flatMap { Double($0.1) }
            #expect((exposure ?? 10) <= 2.0, "systemd rates the sandbox: \(security.output.suffix(300))")
        }
    }
}
