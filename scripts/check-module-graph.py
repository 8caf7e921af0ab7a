#!/usr/bin/env python3
"""Holds every target of Package.swift to the module table in docs/DESIGN.md: a dependency that Package.swift
declares, or a module that a source file imports, must be in the target's "may import" column (toolchain modules
excepted). Exits 1 naming each edge the table does not allow, and each target the table does not list.

    scripts/check-module-graph.py            check the package in the current directory
    scripts/check-module-graph.py --self-test  also show that an added edge is caught
"""
import json
import os
import re
import subprocess
import sys

TOOLCHAIN = {"Foundation", "FoundationEssentials", "Glibc", "Darwin", "Synchronization", "Dispatch", "_Concurrency"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def table():
    """The allowed imports of each target, from docs/DESIGN.md."""
    allowed = {}
    with open(os.path.join(ROOT, "docs", "DESIGN.md"), encoding="utf-8") as design:
        for line in design:
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) == 3 and re.fullmatch(r"`[^`]+`", cells[0]):
                allowed[cells[0].strip("`")] = set(re.findall(r"`([^`]+)`", cells[2]))
    return allowed


def declared(package):
    """Each non-test target's declared dependencies, by name."""
    edges = {}
    for target in package["targets"]:
        if target["type"] == "test":
            continue
        names = []
        for dependency in target["dependencies"]:
            (_, value), = dependency.items()
            names.append(value[0])
        edges[target["name"]] = (names, target.get("path"))
    return edges


def imported(name, path):
    """The modules the target's Swift sources import."""
    directory = os.path.join(ROOT, path or os.path.join("Sources", name))
    modules = set()
    for folder, _, files in os.walk(directory):
        for file in files:
            if file.endswith(".swift"):
                with open(os.path.join(folder, file), encoding="utf-8") as source:
                    for line in source:
                        match = re.match(r"\s*(?:@testable\s+)?(?:public\s+|internal\s+|package\s+)?import\s+(\w+)", line)
                        if match:
                            modules.add(match.group(1))
    return modules


def problems(package, allowed):
    found = []
    for target, (dependencies, path) in sorted(declared(package).items()):
        if target not in allowed:
            found.append(f"{target}: not in the module table of docs/DESIGN.md")
            continue
        for dependency in dependencies:
            if dependency not in allowed[target]:
                found.append(f"{target}: Package.swift declares {dependency}, which the table does not allow")
        for module in sorted(imported(target, path) - TOOLCHAIN - {target}):
            if module not in allowed[target]:
                found.append(f"{target}: a source file imports {module}, which the table does not allow")
    return found


def main():
    dump = subprocess.run(["swift", "package", "dump-package"], cwd=ROOT, capture_output=True, text=True, check=True)
    package = json.loads(dump.stdout)
    allowed = table()
    found = problems(package, allowed)
    if "--self-test" in sys.argv:
        # An edge from the configuration to a runtime target must be caught.
        config = next(target for target in package["targets"] if target["name"] == "Config")
        config["dependencies"].append({"byName": ["DNSUpstream", None]})
        if not any("Config: Package.swift declares DNSUpstream" in problem for problem in problems(package, allowed)):
            found.append("self-test: an added edge Config -> DNSUpstream was not caught")
    for problem in found:
        print(problem, file=sys.stderr)
    print(f"module graph: {len(allowed)} targets in the table, {len(found)} problems")
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
