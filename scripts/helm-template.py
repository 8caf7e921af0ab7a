#!/usr/bin/env python3
"""Renders dnsgate's Helm chart without Helm (Debian does not package it), for the subset of Go templates the chart
uses: values, .Release and .Chart fields, if/else with eq/not, define/include, and the quote, toYaml, indent and
nindent functions. Anything else is an error, so the chart cannot drift into syntax this renderer would get wrong.

    scripts/helm-template.py CHART [--set key.path=value ...] [--release NAME]
"""
import argparse
import os
import re
import sys

import yaml

ACTION = re.compile(r"{{(-?)\s*(.*?)\s*(-?)}}", re.S)


def tokenize(text):
    tokens, position = [], 0
    for match in ACTION.finditer(text):
        tokens.append(["text", text[position:match.start()]])
        tokens.append(["action", match.group(2), match.group(1) == "-", match.group(3) == "-"])
        position = match.end()
    tokens.append(["text", text[position:]])
    for index, token in enumerate(tokens):
        if token[0] != "action":
            continue
        if token[2] and index > 0:
            tokens[index - 1][1] = tokens[index - 1][1].rstrip()
        if token[3] and index + 1 < len(tokens):
            tokens[index + 1][1] = tokens[index + 1][1].lstrip()
    return tokens


def parse(tokens, defines, index=0, closing=("end",)):
    """Nodes up to a closing action; returns (nodes, index of the closing action, its word)."""
    nodes = []
    while index < len(tokens):
        token = tokens[index]
        if token[0] == "text":
            nodes.append(("text", token[1]))
            index += 1
            continue
        words = token[1].split(None, 1)
        keyword = words[0] if words else ""
        if keyword in closing:
            return nodes, index, keyword
        if keyword == "if":
            body, index, word = parse(tokens, defines, index + 1, ("else", "end"))
            other = []
            if word == "else":
                other, index, _ = parse(tokens, defines, index + 1, ("end",))
            nodes.append(("if", words[1], body, other))
        elif keyword == "define":
            body, index, _ = parse(tokens, defines, index + 1, ("end",))
            defines[words[1].strip('"')] = body
        elif keyword in ("else", "end", "range", "with", "template", "block"):
            raise SystemExit(f"unsupported or unbalanced action: {{{{ {token[1]} }}}}")
        else:
            nodes.append(("expr", token[1]))
        index += 1
    if closing != ("end",) or index < len(tokens):
        raise SystemExit("missing {{ end }}")
    return nodes, index, None


def lookup(path, dot):
    value = dot
    for part in path.strip(".").split("."):
        if part == "":
            continue
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def arguments(text):
    return re.findall(r'"[^"]*"|\S+', text)


def evaluate(expression, dot, defines):
    stages = [stage.strip() for stage in expression.split("|")]
    value = call(arguments(stages[0]), dot, defines)
    for stage in stages[1:]:
        words = arguments(stage)
        value = call(words + [value], dot, defines, piped=True)
    return value


def operand(word, dot, defines):
    if isinstance(word, str) and word.startswith('"'):
        return word[1:-1]
    if isinstance(word, str) and re.fullmatch(r"-?\d+", word):
        return int(word)
    if word == ".":
        return dot
    if isinstance(word, str) and word.startswith("."):
        return lookup(word, dot)
    return word


def to_yaml(value):
    return yaml.safe_dump(value, default_flow_style=False, sort_keys=False).rstrip("\n")


def call(words, dot, defines, piped=False):
    name = words[0]
    rest = words[1:]
    if len(words) == 1 and not piped:
        return operand(name, dot, defines)
    values = [operand(word, dot, defines) if not piped or index < len(rest) - 1 else word
              for index, word in enumerate(rest)]
    if name == "quote":
        return '"' + str(values[-1]).replace("\\", "\\\\").replace('"', '\\"') + '"'
    if name == "toYaml":
        return to_yaml(values[-1])
    if name in ("indent", "nindent"):
        padding = " " * int(values[0])
        text = "\n".join(padding + line if line else line for line in str(values[-1]).split("\n"))
        return ("\n" if name == "nindent" else "") + text
    if name == "include":
        return render(defines[values[0]], values[1], defines)
    if name == "eq":
        return values[0] == values[1]
    if name == "not":
        return not values[0]
    raise SystemExit(f"unsupported function: {name}")


def text_of(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render(nodes, dot, defines):
    out = []
    for node in nodes:
        if node[0] == "text":
            out.append(node[1])
        elif node[0] == "expr":
            out.append(text_of(evaluate(node[1], dot, defines)))
        else:
            out.append(render(node[2] if evaluate(node[1], dot, defines) else node[3], dot, defines))
    return "".join(out)


def set_value(values, assignment):
    path, _, text = assignment.partition("=")
    parts = path.split(".")
    target = values
    for part in parts[:-1]:
        target = target.setdefault(part, {})
    target[parts[-1]] = yaml.safe_load(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("chart")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--release", default="dnsgate")
    options = parser.parse_args()
    with open(os.path.join(options.chart, "Chart.yaml")) as handle:
        chart = yaml.safe_load(handle)
    with open(os.path.join(options.chart, "values.yaml")) as handle:
        values = yaml.safe_load(handle)
    for assignment in options.set:
        set_value(values, assignment)
    dot = {"Values": values, "Release": {"Name": options.release, "Namespace": "default"},
           "Chart": {"Name": chart["name"], "AppVersion": chart["appVersion"], "Version": chart["version"]}}
    directory = os.path.join(options.chart, "templates")
    defines, documents = {}, []
    names = sorted(os.listdir(directory))
    parsed = {}
    for name in names:
        with open(os.path.join(directory, name)) as handle:
            parsed[name] = parse(tokenize(handle.read()), defines)[0]
    for name in names:
        if name.startswith("_"):
            continue
        text = render(parsed[name], dot, defines).strip()
        if text:
            documents.append(f"# Source: {chart['name']}/templates/{name}\n{text}\n")
    sys.stdout.write("---\n".join(documents))


if __name__ == "__main__":
    main()
