#!/usr/bin/env python3
"""Parses one `dnsperf -v` run and prints one TSV fragment:

  sent completed lost lost_pct qps avg_ms p50_ms p99_ms noerror_pct rcodes

dnsperf 2.10 prints only the average latency and its deviation; with -v it prints one line
per answered query ("> NOERROR name A 0.000123", seconds), from which p50/p99 are taken.
Lost queries (no answer within dnsperf's -t) are not in the percentiles: they count in lost."""
import math
import re
import sys


def pct(v, p):
    if not v:
        return math.nan
    k = min(len(v) - 1, max(0, math.ceil(p / 100.0 * len(v)) - 1))
    return v[k]


def main(path):
    lat = []
    text_tail = []
    with open(path, errors="replace") as f:
        for line in f:
            if line.startswith("> "):
                parts = line.split()
                try:
                    lat.append(float(parts[-1]) * 1000.0)
                except (ValueError, IndexError):
                    pass
            elif not line.startswith("[Timeout]"):
                text_tail.append(line)
    text = "".join(text_tail)

    def num(pattern, default=math.nan):
        m = re.search(pattern, text)
        return float(m.group(1)) if m else default

    sent = num(r"Queries sent:\s+(\d+)")
    completed = num(r"Queries completed:\s+(\d+)")
    lost = num(r"Queries lost:\s+(\d+)")
    qps = num(r"Queries per second:\s+([0-9.]+)")
    avg = num(r"Average Latency \(s\):\s+([0-9.]+)") * 1000.0
    m = re.search(r"Response codes:\s+(.*)", text)
    rcodes = m.group(1).strip() if m else "-"
    noerr = re.search(r"NOERROR \d+ \(([0-9.]+)%\)", rcodes)
    noerror_pct = float(noerr.group(1)) if noerr else 0.0
    lost_pct = 100.0 * lost / sent if sent and sent == sent and sent > 0 else math.nan
    lat.sort()
    f = lambda x: "nan" if isinstance(x, float) and math.isnan(x) else (
        f"{x:.4f}" if isinstance(x, float) and not x.is_integer() else str(int(x)))
    print("\t".join([f(sent), f(completed), f(lost), f(lost_pct), f(qps), f(avg),
                     f(pct(lat, 50)), f(pct(lat, 99)), f(noerror_pct), rcodes.replace("\t", " ")]))


if __name__ == "__main__":
    main(sys.argv[1])
