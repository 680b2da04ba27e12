#!/usr/bin/env python3
"""Prints the summary of bench/dns/run.sh from its results TSV.

Columns: server scenario phase qps_asked(0 = unthrottled) server_cpu_s dnsperf_cpu_s wall_s
rss_kb hwm_kb upstream_cpu_s sent completed lost lost% qps avg_ms p50_ms p99_ms noerror%
rcodes unique_names_in_file."""
import math
import statistics
import sys

res, vwarn, ncpu = sys.argv[1], sys.argv[2], sys.argv[3]
KEYS = ["server", "sc", "phase", "asked", "cpu", "pcpu", "wall", "rss", "hwm", "upcpu", "sent",
        "completed", "lost", "lostpct", "qps", "avg", "p50", "p99", "noerr", "rcodes", "unique"]
rows = []
for line in open(res):
    f = line.rstrip("\n").split("\t")
    if len(f) < len(KEYS):
        continue
    r = {}
    for k, v in zip(KEYS, f):
        if k in ("server", "sc", "phase", "rcodes"):
            r[k] = v
        else:
            try:
                r[k] = float(v)
            except ValueError:
                r[k] = math.nan
    rows.append(r)


def med(xs):
    xs = [x for x in xs if not (isinstance(x, float) and math.isnan(x))]
    return statistics.median(xs) if xs else math.nan


def fmt(x, spec):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def per_k(r):  # server CPU ms per 1,000 answered queries
    return r["cpu"] * 1e6 / r["completed"] if r["completed"] > 0 else math.nan


def per_cpu_s(r):  # answered queries per server CPU-second
    return r["completed"] / r["cpu"] if r["cpu"] > 0 else math.nan


def summary(runs):
    if not runs:
        return None
    return dict(n=len(runs), qps=med([r["qps"] for r in runs]), lost=med([r["lostpct"] for r in runs]),
                p50=med([r["p50"] for r in runs]), p99=med([r["p99"] for r in runs]),
                cpuk=med([per_k(r) for r in runs]), qcpu=med([per_cpu_s(r) for r in runs]),
                cores=med([r["cpu"] / r["wall"] for r in runs]),
                pcores=med([r["pcpu"] / r["wall"] for r in runs]),
                upk=med([r["upcpu"] * 1e6 / r["completed"] if r["completed"] else math.nan for r in runs]),
                rss=med([r["rss"] for r in runs]), hwm=med([r["hwm"] for r in runs]),
                noerr=med([r["noerr"] for r in runs]), asked=med([r["asked"] for r in runs]),
                sent=max(r["sent"] for r in runs), unique=max(r["unique"] for r in runs))


servers = []
for r in rows:
    if r["server"] not in servers:
        servers.append(r["server"])

hdr = (f"  {'server':<8} {'asked':>7} {'done q/s':>9} {'lost%':>6} {'p50 ms':>7} {'p99 ms':>7} "
       f"{'cpu ms/1k':>9} {'q/cpu-s':>8} {'srv cores':>9} {'dnsperf':>7} {'NOERROR%':>8} "
       f"{'RSS MB':>6} {'runs':>4}")


def line(s, m, extra=""):
    if not m:
        return f"  {s:<8} (no run)"
    asked = "max" if m["asked"] == 0 else f"{m['asked']:.0f}"
    return (f"  {s:<8} {asked:>7} {fmt(m['qps'], '.0f'):>9} {fmt(m['lost'], '.2f'):>6} "
            f"{fmt(m['p50'], '.3f'):>7} {fmt(m['p99'], '.3f'):>7} {fmt(m['cpuk'], '.1f'):>9} "
            f"{fmt(m['qcpu'], '.0f'):>8} {fmt(m['cores'], '.2f'):>9} {fmt(m['pcores'], '.2f'):>7} "
            f"{fmt(m['noerr'], '.1f'):>8} {fmt(m['rss'] / 1024, '.1f'):>6} {m['n']:>4}{extra}")


def ratio(a, b):
    return a / b if a and b and not math.isnan(a) and not math.isnan(b) else math.nan


print()
print(f"== bench/dns summary (medians; CPU = utime+stime from /proc; {ncpu} CPUs shared with "
      "dnsperf and, in (c), the upstream)")
titles = {"a": "(a) local names", "b": "(b) forwarded, cached", "c": "(c) forwarded, uncached"}
goals = {"a": 2.0, "b": 2.0, "c": 1.5}
ratios = []
for sc in ("a", "b", "c"):
    if not any(r["sc"] == sc for r in rows):
        continue
    print(f"-- {titles[sc]}")
    print(hdr)
    S = {}
    for s in servers:
        mx = summary([r for r in rows if r["server"] == s and r["sc"] == sc and r["phase"] == "max"])
        steps = [r for r in rows if r["server"] == s and r["sc"] == sc and r["phase"] == "step"]
        cm = summary([r for r in rows if r["server"] == s and r["sc"] == sc and r["phase"] == "common"])
        one = mx if mx and mx["lost"] < 1 else None
        if one is None:
            ok = [r for r in steps if r["lostpct"] < 1]
            one = summary(ok[:1]) if ok else None
        S[s] = (mx, one, cm)
        extra = ""
        if sc == "c" and mx:
            extra = f"  upstream {fmt(mx['upk'], '.1f')} ms/1k"
            if mx["sent"] > mx["unique"] > 0:
                extra += f"  [dnsperf wrapped its {mx['unique']:.0f}-name file: some repeats]"
        print(line(s, mx, extra) + "   <- unthrottled")
        for r in steps:
            print(line(s, summary([r])) + "   <- stepped down")
    for s in servers:
        one = S[s][1]
        print(f"  {s}: rate with < 1% lost: "
              + (f"{one['qps']:.0f} q/s" if one else "none found"))
    if any(S[s][2] for s in servers):
        print(f"  at one common offered rate ({S[servers[0]][2]['asked']:.0f} q/s):" if S[servers[0]][2] else "  common rate:")
        for s in servers:
            print(line(s, S[s][2]))
    if "vnet" in S and "dnsmasq" in S:
        v, d = S["vnet"], S["dnsmasq"]
        rq = ratio(v[1]["qps"] if v[1] else math.nan, d[1]["qps"] if d[1] else math.nan)
        rc_max = ratio(v[0]["qcpu"] if v[0] else math.nan, d[0]["qcpu"] if d[0] else math.nan)
        rc_com = ratio(v[2]["qcpu"] if v[2] else math.nan, d[2]["qcpu"] if d[2] else math.nan)
        p99 = (v[2]["p99"], d[2]["p99"]) if v[2] and d[2] else ((v[0]["p99"], d[0]["p99"]) if v[0] and d[0] else (math.nan, math.nan))
        ratios.append((sc, rq, rc_max, rc_com, p99))

print("-- ratios vnet/dnsmasq")
for sc, rq, rc_max, rc_com, p99 in ratios:
    where = "at the common rate" if not math.isnan(rc_com) else "unthrottled"
    print(f"  {titles[sc]:<26} qps (<1% lost) {fmt(rq, '.2f')}x; queries per CPU-second "
          f"{fmt(rc_max, '.2f')}x unthrottled, {fmt(rc_com, '.2f')}x at the common rate "
          f"(goal >= {goals[sc]}x); p99 {where}: vnet {fmt(p99[0], '.3f')} ms vs dnsmasq "
          f"{fmt(p99[1], '.3f')} ms ({'not worse' if p99[0] <= p99[1] else 'WORSE'})")
single = [r for r in rows if r["phase"] == "single"]
if single:
    print("-- one client address, 1000 q/s offered (vnet limits each client to 200 q/s, burst 400):")
    for r in single:
        print(f"  {r['server']:<8} answered {r['qps']:.0f} q/s, lost {r['lostpct']:.1f}%")
print(f"vnetd log lines at warn level or above: {vwarn}")
for s in servers:
    mx = [r for r in rows if r["server"] == s]
    pc = med([r["pcpu"] / r["wall"] for r in mx if r["phase"] == "max"])
    if pc >= 0.9:
        print(f"NOTE: dnsperf used {pc:.2f} cores in the unthrottled runs against {s}: the load "
              "generator may be the limit there; compare queries per CPU-second.")
