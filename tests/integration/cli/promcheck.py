#!/usr/bin/env python3
"""Checks Prometheus text exposition format 0.0.4 read from stdin (or a file).

Usage: promcheck.py [FILE] [--require 'NAME{LABELS}' OP VALUE]...
  --require 'vnet_dhcp_acks_total{network="default"}' '>=' 1

Checks: every line is a comment or a sample; HELP and TYPE come once per family, before
its samples, and all samples of a family are together; metric and label names follow the
rules; label values are properly escaped; values are floats; counters end in _total and
are not negative; no series appears twice. Prints the problems and exits 1 on any.
"""
import re
import sys

NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
LABEL_VALUE = r'"(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(
    rf"^(?P<name>{NAME})(?:\{{(?P<labels>(?:{LABEL}={LABEL_VALUE})(?:,{LABEL}={LABEL_VALUE})*,?)?\}})?"
    r" (?P<value>\S+)(?: (?P<ts>-?\d+))?$")
LABEL_PAIR = re.compile(rf"({LABEL})=({LABEL_VALUE})")
HELP = re.compile(rf"^# HELP (?P<name>{NAME})(?: (?P<text>.*))?$")
TYPE = re.compile(rf"^# TYPE (?P<name>{NAME}) (?P<type>counter|gauge|histogram|summary|untyped)$")


def parse_value(v):
    if v in ("NaN", "+Inf", "-Inf"):
        return float(v.replace("Inf", "inf"))
    return float(v)


def unescape(v):
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m.group(1), m.group(1)), v[1:-1])


def check(text):
    problems = []
    families = {}  # name -> {"help", "type", "done"}
    series = {}
    current = None
    for n, line in enumerate(text.split("\n"), 1):
        if line == "":
            continue
        if line.startswith("#"):
            m = HELP.match(line) or TYPE.match(line)
            if not m:
                if line.startswith("# HELP") or line.startswith("# TYPE"):
                    problems.append(f"line {n}: malformed {line[:6]} line: {line}")
                continue
            name = m.group("name")
            fam = families.setdefault(name, {"help": None, "type": None, "samples": 0})
            key = "help" if line.startswith("# HELP") else "type"
            if fam[key] is not None:
                problems.append(f"line {n}: second {key.upper()} for {name}")
            if fam["samples"]:
                problems.append(f"line {n}: {key.upper()} for {name} after its samples")
            fam[key] = m.group("text") if key == "help" else m.group("type")
            if current and current != name and families[current]["samples"]:
                families[current]["closed"] = True
            current = name
            continue
        m = SAMPLE.match(line)
        if not m:
            problems.append(f"line {n}: not a sample: {line}")
            continue
        name = m.group("name")
        fam = families.get(name)
        if fam is None or fam["type"] is None or fam["help"] is None:
            problems.append(f"line {n}: sample of {name} without HELP and TYPE before it")
            fam = families.setdefault(name, {"help": "", "type": "untyped", "samples": 0})
        if fam.get("closed") or (current != name):
            problems.append(f"line {n}: samples of {name} are not together")
        fam["samples"] += 1
        try:
            value = parse_value(m.group("value"))
        except ValueError:
            problems.append(f"line {n}: value {m.group('value')!r} is not a float")
            continue
        if fam["type"] == "counter":
            if not name.endswith("_total"):
                problems.append(f"line {n}: counter {name} does not end in _total")
            if value < 0:
                problems.append(f"line {n}: counter {name} is negative")
        labels = tuple(sorted((k, unescape(v)) for k, v in LABEL_PAIR.findall(m.group("labels") or "")))
        if len({k for k, _ in labels}) != len(labels):
            problems.append(f"line {n}: a label appears twice: {line}")
        if any(k.startswith("__") for k, _ in labels):
            problems.append(f"line {n}: reserved label name: {line}")
        if (name, labels) in series:
            problems.append(f"line {n}: series repeated: {line}")
        series[(name, labels)] = value
    if text and not text.endswith("\n"):
        problems.append("the exposition does not end with a newline")
    return problems, series


def parse_selector(sel):
    m = re.match(rf"^({NAME})(?:\{{(.*)\}})?$", sel)
    if not m:
        raise SystemExit(f"bad selector {sel}")
    labels = tuple(sorted((k, unescape(v)) for k, v in LABEL_PAIR.findall(m.group(2) or "")))
    return m.group(1), labels


def main():
    args = sys.argv[1:]
    path = None
    requires = []
    while args:
        a = args.pop(0)
        if a == "--require":
            requires.append((args.pop(0), args.pop(0), float(args.pop(0))))
        else:
            path = a
    text = open(path).read() if path else sys.stdin.read()
    problems, series = check(text)
    ops = {">=": lambda a, b: a >= b, ">": lambda a, b: a > b, "==": lambda a, b: a == b}
    for sel, op, want in requires:
        key = parse_selector(sel)
        if key not in series:
            problems.append(f"required series missing: {sel}")
        elif not ops[op](series[key], want):
            problems.append(f"{sel} = {series[key]}, wanted {op} {want}")
    for p in problems:
        print(p)
    print(f"{len(series)} series, {len(problems)} problem(s)")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
