#!/usr/bin/env python3
"""bench/soak load driver: renewals and DNS queries from every guest namespace.

driver.py --duration S --server ADDR --pids FILE --out FILE NETNS...

One UDP socket per guest, created inside the guest's network namespace (setns through libc),
so a single process speaks for all guests. Every second each guest asks the server for the
A record of another guest's hostname (g<k>, from DHCP) and of www.example.test (forwarded
upstream), alternating; an answer within 1 s with rcode NOERROR and at least one answer
record is "ok". Every ~3 s each guest's udhcpc gets SIGUSR1 (renew now); the schedule is
spread so renewals arrive evenly. One line per query goes to --out: "epoch guest ok|timeout|rcodeN|empty".
"""
import argparse, ctypes, os, random, select, signal, socket, struct, sys, time

CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL("libc.so.6", use_errno=True)


def socket_in(netns):
    here = os.open("/proc/self/ns/net", os.O_RDONLY)
    there = os.open(f"/run/netns/{netns}", os.O_RDONLY)
    try:
        if libc.setns(there, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {netns}")
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setblocking(False)
    finally:
        libc.setns(here, CLONE_NEWNET)
        os.close(there)
        os.close(here)
    return s


def query(qid, name):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\0" + struct.pack("!HH", 1, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--duration", type=float, required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--pids", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("netns", nargs="+")
    a = ap.parse_args()
    n = len(a.netns)
    pids = [int(x) for x in open(a.pids).read().split()]
    socks = [socket_in(ns) for ns in a.netns]
    out = open(a.out, "w", buffering=1)
    pending = {}  # (guest, qid) -> sent time
    start = time.time()
    next_query = [start + i / n for i in range(n)]
    next_renew = [start + 3.0 * i / n for i in range(n)]
    turn = [0] * n
    qid = random.randrange(65536)
    while time.time() - start < a.duration:
        now = time.time()
        for g in range(n):
            if now >= next_query[g]:
                qid = (qid + 1) & 0xFFFF
                name = f"g{(g + 1) % n + 1}" if turn[g] % 2 == 0 else "www.example.test"
                turn[g] += 1
                try:
                    socks[g].sendto(query(qid, name), (a.server, 53))
                    pending[(g, qid)] = now
                except OSError:
                    out.write(f"{now:.3f} g{g + 1} sendfail\n")
                next_query[g] += 1.0
            if now >= next_renew[g]:
                try:
                    os.kill(pids[g], signal.SIGUSR1)
                except ProcessLookupError:
                    pass
                next_renew[g] += 3.0
        ready, _, _ = select.select(socks, [], [], 0.02)
        for s in ready:
            g = socks.index(s)
            while True:
                try:
                    data = s.recv(2048)
                except BlockingIOError:
                    break
                if len(data) < 12:
                    continue
                rid, flags, _, an = struct.unpack("!HHHH", data[:8])
                sent = pending.pop((g, rid), None)
                if sent is None:
                    continue
                rcode = flags & 0xF
                res = "ok" if rcode == 0 and an > 0 else (f"rcode{rcode}" if rcode else "empty")
                out.write(f"{sent:.3f} g{g + 1} {res}\n")
        now = time.time()
        for key, sent in list(pending.items()):
            if now - sent > 1.0:
                del pending[key]
                out.write(f"{sent:.3f} g{key[0] + 1} timeout\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
