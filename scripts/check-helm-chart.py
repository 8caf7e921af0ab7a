#!/usr/bin/env python3
"""Renders dnsgate's Helm chart in each of its shapes (scripts/helm-template.py) and checks the output as Kubernetes
objects: every document parses, names are valid, selectors match their pod labels, every container has an image,
probes and mounts point at ports and volumes that exist, volumes at ConfigMaps and Secrets that the chart renders
(or the Secret the values name), and the ServiceMonitor at a Service port. Writes each shape's dnsgate.yaml to
OUTPUT/SHAPE.yaml, for `dnsgate check-config`.

    scripts/check-helm-chart.py CHART OUTPUT
"""
import os
import re
import subprocess
import sys

import yaml

SHAPES = {
    "daemonset": [],
    "daemonset-hostnetwork": ["daemonset.hostNetwork=true"],
    "sidecar": ["mode=sidecar"],
    "sidecar-monitored": ["mode=sidecar", "adminToken.value=example-token", "prometheus.serviceMonitor.enabled=true"],
}
NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def fail(shape, message):
    raise SystemExit(f"{shape}: {message}")


def check_pod(shape, workload, documents, values_secret):
    spec = workload["spec"]
    labels = spec["template"]["metadata"]["labels"]
    for key, value in spec["selector"]["matchLabels"].items():
        if labels.get(key) != value:
            fail(shape, f"selector {key}={value} does not match the pod's labels")
    pod = spec["template"]["spec"]
    if pod.get("enableServiceLinks") is not False:
        fail(shape, "enableServiceLinks must be false: service links of a Service named dnsgate look like settings")
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    config_maps = {d["metadata"]["name"] for d in documents if d["kind"] == "ConfigMap"}
    secrets = {d["metadata"]["name"] for d in documents if d["kind"] == "Secret"} | {values_secret}
    for volume in volumes.values():
        if "configMap" in volume and volume["configMap"]["name"] not in config_maps:
            fail(shape, f"volume {volume['name']} names a ConfigMap the chart does not render")
        if "secret" in volume and volume["secret"]["secretName"] not in secrets:
            fail(shape, f"volume {volume['name']} names an unknown Secret")
    names = [container["name"] for container in pod["containers"]]
    if len(names) != len(set(names)) or "dnsgate" not in names:
        fail(shape, f"containers {names}: names must be unique and include dnsgate")
    for container in pod["containers"]:
        if not container.get("image"):
            fail(shape, f"container {container['name']} has no image")
        ports = {port.get("name"): port for port in container.get("ports", [])}
        for port in ports.values():
            if not 1 <= int(port["containerPort"]) <= 65535:
                fail(shape, f"port {port} out of range")
        for probe in ("livenessProbe", "readinessProbe"):
            if probe in container:
                target = container[probe]["httpGet"]["port"]
                if isinstance(target, str) and target not in ports:
                    fail(shape, f"{probe} of {container['name']} names no port: {target}")
        for mount in container.get("volumeMounts", []):
            if mount["name"] not in volumes:
                fail(shape, f"mount {mount['name']} has no volume")
    dnsgate = next(c for c in pod["containers"] if c["name"] == "dnsgate")
    if dnsgate["livenessProbe"]["httpGet"]["path"] != "/healthz" or \
            dnsgate["readinessProbe"]["httpGet"]["path"] != "/readyz":
        fail(shape, "dnsgate's probes must be /healthz and /readyz")


def check(chart, shape, settings, output):
    rendered = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "helm-template.py"), chart]
                              + [argument for setting in settings for argument in ("--set", setting)],
                              check=True, capture_output=True, text=True).stdout
    documents = [document for document in yaml.safe_load_all(rendered) if document]
    values_secret = "dnsgate-admin-token"
    for document in documents:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in document:
                fail(shape, f"a document lacks {key}")
        name = document["metadata"].get("name", "")
        if not NAME.match(name) or len(name) > 63:
            fail(shape, f"invalid name {name!r}")
    kinds = sorted(document["kind"] for document in documents)
    workloads = [d for d in documents if d["kind"] in ("DaemonSet", "Deployment")]
    if len(workloads) != 1:
        fail(shape, f"expected one workload, got {kinds}")
    check_pod(shape, workloads[0], documents, values_secret)
    for monitor in (d for d in documents if d["kind"] == "ServiceMonitor"):
        ports = {p["name"] for d in documents if d["kind"] == "Service" for p in d["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            if endpoint["port"] not in ports:
                fail(shape, f"ServiceMonitor endpoint port {endpoint['port']} is not a Service port")
    config = next(d for d in documents if d["kind"] == "ConfigMap")["data"]["dnsgate.yaml"]
    if not isinstance(yaml.safe_load(config), dict):
        fail(shape, "dnsgate.yaml is not a mapping")
    with open(os.path.join(output, shape + ".yaml"), "w") as handle:
        handle.write(config)
    print(f"{shape}: OK ({', '.join(kinds)})")


def main():
    chart, output = sys.argv[1], sys.argv[2]
    os.makedirs(output, exist_ok=True)
    for shape, settings in SHAPES.items():
        check(chart, shape, settings, output)


if __name__ == "__main__":
    main()
