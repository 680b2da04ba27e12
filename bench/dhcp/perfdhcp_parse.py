#!/usr/bin/env python3
"""Parses one perfdhcp -4 run (its output with `-x t`) and prints one TSV fragment:

  achieved_rate do_sent do_recv ra_sent ra_recv loss_pct do_p50 do_p99 ra_p50 ra_p99

achieved_rate is completed exchanges (ACKs) per second of sending: ACKs divided by the time
between the first and the last DISCOVER of a completed exchange (perfdhcp's own "Rate:" also
counts the exit wait). Latencies are in ms, from the per-exchange timestamps `-x t` prints ("sent / received: A / B"
per DISCOVER-OFFER and per REQUEST-ACK). loss_pct is the share of started exchanges (DISCOVERs
sent) that did not complete (no ACK received). Missing figures are printed as "nan"."""
import math
import re
import sys


def pct(values, p):
    if not values:
        return math.nan
    v = sorted(values)
    k = min(len(v) - 1, max(0, math.ceil(p / 100.0 * len(v)) - 1))
    return v[k]


def main(path):
    text = open(path, errors="replace").read()
    rate = math.nan
    m = re.search(r"^Rate:\s*([0-9.]+)", text, re.M)
    if m:
        rate = float(m.group(1))
    stats = {}
    for sect in ("DISCOVER-OFFER", "REQUEST-ACK"):
        m = re.search(r"\*\*\*Statistics for: " + sect + r"\*\*\*(.*?)(\*\*\*|\Z)", text, re.S)
        sent = recv = 0
        if m:
            body = m.group(1)
            s = re.search(r"sent packets:\s*(\d+)", body)
            r = re.search(r"received packets:\s*(\d+)", body)
            sent = int(s.group(1)) if s else 0
            recv = int(r.group(1)) if r else 0
        stats[sect] = (sent, recv)
    lat = {"DISCOVER-OFFER": [], "REQUEST-ACK": []}
    do_sent_ts = []
    cur = None
    for line in text.splitlines():
        m = re.match(r"\*\*\*Timestamps for packets: (\S+)\*\*\*", line)
        if m:
            cur = m.group(1)
            continue
        if cur in lat:
            m = re.match(r"sent / received:\s*([0-9.]+)\s*/\s*([0-9.]+)", line)
            if m:
                lat[cur].append((float(m.group(2)) - float(m.group(1))) * 1000.0)
                if cur == "DISCOVER-OFFER":
                    do_sent_ts.append(float(m.group(1)))
    do_sent, do_recv = stats["DISCOVER-OFFER"]
    ra_sent, ra_recv = stats["REQUEST-ACK"]
    if len(do_sent_ts) >= 2 and max(do_sent_ts) > min(do_sent_ts):
        rate = ra_recv / (max(do_sent_ts) - min(do_sent_ts))
    loss = (100.0 * (do_sent - ra_recv) / do_sent) if do_sent else math.nan
    f = lambda x: "nan" if isinstance(x, float) and math.isnan(x) else (
        f"{x:.3f}" if isinstance(x, float) else str(x))
    print("\t".join(f(x) for x in (
        rate, do_sent, do_recv, ra_sent, ra_recv, loss,
        pct(lat["DISCOVER-OFFER"], 50), pct(lat["DISCOVER-OFFER"], 99),
        pct(lat["REQUEST-ACK"], 50), pct(lat["REQUEST-ACK"], 99))))


if __name__ == "__main__":
    main(sys.argv[1])
