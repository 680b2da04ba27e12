#!/usr/bin/env python3
"""Prints the summary of bench/dhcp/run.sh from its results TSV.

Columns of a perfdhcp line: server phase rate achieved do_sent do_recv ra_sent ra_recv loss%
do_p50 do_p99 ra_p50 ra_p99 server_cpu_s perfdhcp_cpu_s wall_s rss_kb hwm_kb leases.
rcvbuf_drops naks client_rcvbuf_drops (UDP receive-buffer overflows in the server's namespace during the run;
DHCPNAKs the server logged; overflows in perfdhcp's namespace). A 'fillrss' line: server fillrss 0 rss_kb hwm_kb leases [rss hwm after listing, listed,
RssAnon, RssFile, RssAnon and RssFile after listing, Pss] (kB)."""
import math
import statistics
import sys

res, dur, leases_goal, vnet_idle, vnet_warn_lines, ncpu = sys.argv[1:7]
vnet_idle_rss, _, vnet_idle_anon = vnet_idle.partition(":")
missing = [m for m in sys.argv[7:] if m]
dur, leases_goal, ncpu = float(dur), int(leases_goal), int(ncpu)
NREQ_CAP = 60000

rows, fill = [], {}
for line in open(res):
    f = line.rstrip("\n").split("\t")
    if len(f) >= 6 and f[1] == "fillrss":
        g = lambda i: int(f[i]) if len(f) > i and f[i] else None
        fill[f[0]] = (g(3) or 0, g(4) or 0, g(5) or 0, g(6), g(7), g(8), g(9), g(10), g(11), g(12),
                      g(13))
        continue
    if len(f) < 19:
        continue
    r = dict(server=f[0], phase=f[1], rate=int(f[2]))
    for i, k in enumerate(["achieved", "do_sent", "do_recv", "ra_sent", "ra_recv", "loss",
                           "do50", "do99", "ra50", "ra99", "cpu", "pcpu", "wall", "rss", "hwm",
                           "leases", "rcvbuf", "naks", "clircvbuf"]):
        try:
            r[k] = float(f[3 + i])
        except (ValueError, IndexError):
            r[k] = math.nan
    rows.append(r)

servers = []
for r in rows:
    if r["server"] not in servers:
        servers.append(r["server"])


def ok(r):
    return not math.isnan(r["loss"]) and r["loss"] < 1 and r["achieved"] >= 0.9 * r["rate"]


def med(xs):
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else math.nan


def cpu_per_k(r):  # ms of server CPU per 1,000 completed exchanges
    return 1000.0 * r["cpu"] / r["ra_recv"] * 1000.0 if r["ra_recv"] > 0 else math.nan


def pcore(r):  # perfdhcp CPU in cores over its run
    return r["pcpu"] / r["wall"] if r["wall"] > 0 else math.nan


def fmt(x, spec=".1f"):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


best, stop_note = {}, {}


def runs_at(s, rate):
    """The repeats of server s at rate, else its passing search step at that rate."""
    rr = [r for r in rows if r["server"] == s and r["phase"] == "rep" and r["rate"] == rate]
    return rr or [r for r in rows if r["server"] == s and r["phase"] == "search" and r["rate"] == rate
                  and ok(r)]


for s in servers:
    search = [r for r in rows if r["server"] == s and r["phase"] == "search"]
    passed = [r for r in search if ok(r)]
    best[s] = max((r["rate"] for r in passed), default=0)
    failed = [r for r in search if not ok(r) and r["rate"] > best[s]]
    if failed:
        r = failed[-1]
        expected = min(r["rate"] * dur, NREQ_CAP)
        sent_frac = r["do_sent"] / expected if expected else math.nan
        why = []
        if not math.isnan(r["loss"]) and r["loss"] >= 1:
            why.append(f"{r['loss']:.1f}% of exchanges lost")
        if r["achieved"] < 0.9 * r["rate"]:
            why.append(f"only {r['achieved']:.0f}/s completed")
        if r["rcvbuf"] > 0:
            why.append(f"{r['rcvbuf']:.0f} DHCP packets dropped by the kernel: the server's UDP "
                       "receive buffer was full")
        if r["naks"] > 0:
            why.append(f"{r['naks']:.0f} DHCPNAKs logged")
        if r["clircvbuf"] > 0:
            why.append(f"{r['clircvbuf']:.0f} replies dropped in perfdhcp's own receive buffer")
        # The generator is the limit when it could not send at the rate or could not take in
        # the replies (perfdhcp -g multi runs two threads, so its CPU alone says little).
        # Also when perfdhcp burnt about a core or more while the server idled at a fraction of
        # one: the server had CPU to spare, the generator did not.
        srv_cores = r["cpu"] / r["wall"] if r["wall"] > 0 else math.nan
        gen = (sent_frac < 0.9 or r["clircvbuf"] > 0
               or (pcore(r) >= 0.9 and srv_cores < 0.6 and pcore(r) >= 2 * srv_cores))
        if not gen and pcore(r) < 0.5 and srv_cores < 0.5:
            why.append("neither perfdhcp nor the server used half a core: the machine's other "
                       "load (load averages printed at the start and end) or the path between them")
        stop_note[s] = (f"stopped at {r['rate']}/s: {', '.join(why) or 'failed'}; perfdhcp sent "
                        f"{100 * sent_frac:.0f}% of the DISCOVERs asked for and used "
                        f"{pcore(r):.2f} cores; server used {srv_cores:.2f} cores",
                        gen)
    elif search:
        stop_note[s] = ("passed every step: the top rate tried is a lower bound", False)


def summary(s, runs):
    if not runs:
        return None
    return dict(
        n=len(runs), achieved=med([r["achieved"] for r in runs]), loss=med([r["loss"] for r in runs]),
        do50=med([r["do50"] for r in runs]), do99=med([r["do99"] for r in runs]),
        ra50=med([r["ra50"] for r in runs]), ra99=med([r["ra99"] for r in runs]),
        cpuk=med([cpu_per_k(r) for r in runs]), srvcores=med([r["cpu"] / r["wall"] for r in runs]),
        pcore=med([pcore(r) for r in runs]), rss=med([r["rss"] for r in runs]),
        hwm=med([r["hwm"] for r in runs]), rcvbuf=med([r["rcvbuf"] for r in runs]))


print()
print("== bench/dhcp summary (medians; latency in ms; CPU = utime+stime from /proc; "
      f"{ncpu} CPUs, perfdhcp shares them)")
for m in missing:
    print(f"NOTE: {m}")
hdr = (f"{'server':<8} {'rate/s':>7} {'done/s':>8} {'lost%':>6} {'DO p50':>7} {'DO p99':>7} "
       f"{'RA p50':>7} {'RA p99':>7} {'cpu ms/1k':>9} {'srv cores':>9} {'perf cores':>10} "
       f"{'RSS MB':>7} {'HWM MB':>7} {'rcvbuf':>6} {'runs':>4}")


def row(s, rate, m):
    if not m:
        return f"{s:<8} {rate:>7}  (no run at this rate with < 1% lost)"
    flag = "*" if m["loss"] >= 1 else " "
    return (f"{s:<8} {rate:>7} {fmt(m['achieved'], '.0f'):>8} {fmt(m['loss'], '.2f'):>6}{flag}"
            f"{fmt(m['do50'], '.2f'):>7} {fmt(m['do99'], '.2f'):>7} {fmt(m['ra50'], '.2f'):>7} "
            f"{fmt(m['ra99'], '.2f'):>7} {fmt(m['cpuk'], '.0f'):>9} {fmt(m['srvcores'], '.2f'):>9} "
            f"{fmt(m['pcore'], '.2f'):>10} {fmt(m['rss'] / 1024, '.1f'):>7} "
            f"{fmt(m['hwm'] / 1024, '.1f'):>7} {fmt(m['rcvbuf'], '.0f'):>6} {m['n']:>4}")


print("-- each server at its highest rate with < 1% of DORA exchanges lost in the search "
      "(DO = DISCOVER->OFFER, RA = REQUEST->ACK; medians of the repeats; * = the repeats' median lost >= 1%)")
print(hdr)
mb = {}
for s in servers:
    mb[s] = summary(s, runs_at(s, best[s])) if best[s] else None
    print(row(s, best[s], mb[s]))
for s in servers:
    if s in stop_note:
        print(f"   {s}: {stop_note[s][0]}")
cmp_rates = sorted({best[s] for s in servers if best[s]})
at = {}
for rate in cmp_rates:
    here = [s for s in servers if best[s] >= rate]
    if len(here) < 2:
        continue
    print(f"-- at {rate}/s, every server that sustains it (equal load)")
    print(hdr)
    for s in here:
        at[(s, rate)] = summary(s, runs_at(s, rate))
        print(row(s, rate, at[(s, rate)]))

print(f"-- {leases_goal} fresh clients: leases held, server memory (fill at each server's best rate)")
for s in servers:
    fr = [r for r in rows if r["server"] == s and r["phase"] == "fill"]
    done = sum(r["ra_recv"] for r in fr)
    secs = sum(r["wall"] for r in fr)
    if s in fill:
        rss, hwm, n, rss2, hwm2, listed, anon, file, anon2, file2, pss = fill[s]
        split = (f"  (own memory RssAnon {anon / 1024:.1f} MB + mapped binary and libraries "
                 f"RssFile {file / 1024:.1f} MB" + (f"; PSS {pss / 1024:.1f} MB" if pss else "") + ")"
                 if anon is not None and file is not None else "")
        print(f"{s:<8} leases {n:>6}  RSS {rss / 1024:6.1f} MB  HWM {hwm / 1024:6.1f} MB  "
              f"({int(done)} ACKs in {secs:.0f} s, {len(fr)} perfdhcp run(s)){split}")
        if rss2:
            split2 = (f"  (RssAnon {anon2 / 1024:.1f} MB, RssFile {file2 / 1024:.1f} MB)"
                      if anon2 is not None and file2 is not None else "")
            print(f"{'':<8} after `vnetctl net-dhcp-leases` listed {listed} leases: RSS {rss2 / 1024:6.1f} MB  "
                  f"HWM {hwm2 / 1024:6.1f} MB{split2}")
    else:
        print(f"{s:<8} (no figure)")
if vnet_idle_rss:
    print(f"vnet idle RSS before any lease: {int(vnet_idle_rss) / 1024:.1f} MB"
          + (f" (RssAnon {int(vnet_idle_anon) / 1024:.1f} MB)" if vnet_idle_anon else ""))
print(f"vnetd log lines at warn level or above over all runs: {vnet_warn_lines}")


def ratio(a, b):
    return a / b if a and b and not math.isnan(a) and not math.isnan(b) else math.nan


print("-- ratios")
vn = mb.get("vnet")
gen_limited = stop_note.get("vnet", ("", False))[1]
for inc, goal in (("kea", 3), ("dnsmasq", 15)):
    if inc not in servers:
        print(f"vnet/{inc}: {inc} not measured")
        continue
    im = mb.get(inc)
    rr = ratio(vn["achieved"] if vn else math.nan, im["achieved"] if im else math.nan)
    print(f"rate     vnet/{inc:<8} {fmt(rr, '.2f')}x  (goal >= {goal}x)"
          + ("  [vnet's rate is a lower bound: perfdhcp saturated first]" if gen_limited else ""))
for ours in ("vnet", "vnetnorm"):
    for inc in ("kea", "dnsmasq"):
        if inc not in servers or ours not in servers or not best.get(inc) or not best.get(ours):
            continue
        rate = min(best[ours], best[inc])
        v, i = at.get((ours, rate)), at.get((inc, rate))
        rc = ratio(v["cpuk"] if v else math.nan, i["cpuk"] if i else math.nan)
        goal = "  (goal <= 0.33)" if inc == "kea" else ""
        print(f"cpu/exch {ours}/{inc:<8} {fmt(rc, '.2f')} at {rate}/s "
              f"({fmt(v['cpuk'] if v else math.nan, '.0f')} vs {fmt(i['cpuk'] if i else math.nan, '.0f')} ms per 1,000 exchanges){goal}")
        # The same figure with each server at its own highest rate (where the issue lists it):
        # batches grow with the load, so this favours the faster server; both are printed.
        vb, ib = mb.get(ours), mb.get(inc)
        if best[ours] != best[inc] and vb and ib:
            rb = ratio(vb["cpuk"], ib["cpuk"])
            print(f"cpu/exch {ours}/{inc:<8} {fmt(rb, '.2f')} each at its highest rate "
                  f"({best[ours]}/s: {fmt(vb['cpuk'], '.0f')} vs {best[inc]}/s: "
                  f"{fmt(ib['cpuk'], '.0f')} ms per 1,000 exchanges)")
if "vnet" in fill:
    rss, hwm, n, rss2, hwm2, listed, anon, file, anon2, file2, pss = fill["vnet"]
    print(f"RSS      vnet with {n} leases: {rss / 1024:.1f} MB (goal < 10 MB with 50,000 leases)"
          + (f", of which RssAnon {anon / 1024:.1f} MB" if anon is not None else "")
          + (f" (PSS {pss / 1024:.1f} MB)" if pss else "")
          + (f"; {rss2 / 1024:.1f} MB after listing them through the API" if rss2 else ""))
if gen_limited:
    r = next((x for x in reversed(rows) if x["server"] == "vnet" and x["phase"] == "search"
              and not ok(x)), None)
    detail = (f" (at {r['rate']}/s perfdhcp used {pcore(r):.2f} cores, vnetd "
              f"{r['cpu'] / r['wall']:.2f})" if r and r["wall"] > 0 else "")
    print("NOTE: the load generator saturated first: perfdhcp hit its own limit before vnet lost 1%"
          f"{detail}. vnet's rate is a lower bound; the rate ratio is not vnet's limit: "
          "compare CPU per exchange.")
print("rcvbuf = DHCP packets the kernel dropped in the server's namespace because its UDP "
      "receive buffer was full (Kea reads from a raw socket: not counted there)")
print("Durability differs: vnet fsyncs each batch (SQLite WAL, synchronous=FULL); vnetnorm "
      "(--lease-sync normal) writes each batch to the WAL and fsyncs at checkpoints (survives "
      "vnetd being killed, not a power loss); dnsmasq rewrites and fsyncs its whole lease "
      "file; Kea memfile appends without fsync (survives Kea being killed, not a power loss).")
