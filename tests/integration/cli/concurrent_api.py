#!/usr/bin/env python3
"""Fires concurrent API requests at one network of a running vnetd (used by
test_concurrency.sh): start, stop, net-update (DHCP hosts, DNS TXT records), port-add,
port-del and reads from several threads, plus idle half-sent requests that hold
connections open. Every answer must be well-formed HTTP with a JSON (or, for /xml, XML)
body and one of the statuses the operation may give; anything else is printed and makes
the exit status 1.

usage: concurrent_api.py SOCKET NETWORK [THREADS] [ROUNDS] [RUN]
(RUN, 0..20, keeps the hosts of one run apart from those of earlier runs.)
"""
import http.client
import json
import random
import socket
import sys
import threading
import time

SOCK, NET = sys.argv[1], sys.argv[2]
THREADS = int(sys.argv[3]) if len(sys.argv) > 3 else 8
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 40
RUN = int(sys.argv[5]) if len(sys.argv) > 5 else 0


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("vnetd", timeout=60)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(self.unix_path)


lock = threading.Lock()
problems = []
counts = {}


def problem(text):
    with lock:
        problems.append(text)


def call(conn, method, path, body=None, allowed=(200,)):
    headers = {}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
    except Exception as e:  # a malformed answer or a dropped connection
        problem(f"{method} {path}: {type(e).__name__}: {e}")
        return None, None
    with lock:
        shown = path.split("?")[0].replace(NET, "NET")
        if "/ports/" in shown:
            shown = shown[: shown.index("/ports/")] + "/ports/PORT"
        key = f"{method} {shown} {resp.status}"
        counts[key] = counts.get(key, 0) + 1
    text = raw.decode("utf-8", "replace")
    if path.endswith("/xml"):
        if resp.status == 200 and not text.startswith("<network"):
            problem(f"{method} {path}: not XML: {text[:200]}")
    else:
        try:
            parsed = json.loads(text)
        except ValueError:
            problem(f"{method} {path}: {resp.status} body is not JSON: {text[:200]}")
            return resp.status, None
        if resp.status >= 400 and not ("error" in parsed and "detail" in parsed):
            problem(f"{method} {path}: {resp.status} error without error/detail: {text[:200]}")
    if resp.status not in allowed:
        problem(f"{method} {path}: status {resp.status} (allowed {allowed}): {text[:300]}")
    return resp.status, text


def worker(t):
    rng = random.Random(t)
    base = f"/v1/networks/{NET}"
    keep = UnixConnection(SOCK)  # one keep-alive connection, and a fresh one now and then
    my_ports = []
    for i in range(ROUNDS):
        conn = keep if rng.random() < 0.7 else UnixConnection(SOCK)
        op = rng.choice(["start", "stop", "host", "host", "txt", "port", "portdel", "read", "read"])
        if op == "start":
            call(conn, "POST", base + "/start", allowed=(200, 409))
        elif op == "stop":
            call(conn, "POST", base + "/stop", allowed=(200, 409))
        elif op == "host":
            mac = f"52:54:{RUN:02x}:66:{t:02x}:{i:02x}"
            ip = f"10.66.{RUN * 10 + t + 1}.{i + 1}"
            xml = f"<host mac='{mac}' name='h{RUN}x{t}x{i}' ip='{ip}'/>"
            call(conn, "POST", base + "/update",
                 {"command": "add", "section": "ip-dhcp-host", "xml": xml}, allowed=(200,))
            if rng.random() < 0.5:
                call(conn, "POST", base + "/update",
                     {"command": "delete", "section": "ip-dhcp-host", "xml": xml}, allowed=(200,))
        elif op == "txt":
            xml = f"<txt name='t{t}' value='round {i}'/>"
            status, _ = call(conn, "POST", base + "/update",
                             {"command": "add", "section": "dns-txt", "xml": xml}, allowed=(200, 409))
            if status == 409:
                call(conn, "POST", base + "/update",
                     {"command": "modify", "section": "dns-txt", "xml": xml}, allowed=(200,))
        elif op == "port":
            status, text = call(conn, "POST", base + "/ports", {"kind": "tap"}, allowed=(201, 409))
            if status == 201:
                my_ports.append(json.loads(text)["name"])
        elif op == "portdel" and my_ports:
            call(conn, "DELETE", base + "/ports/" + my_ports.pop(0), allowed=(200, 404))
        else:
            for suffix in ["", "/xml", "/ports", "/leases", "/stats"]:
                call(conn, "GET", base + suffix, allowed=(200,))
            call(conn, "GET", "/v1/networks?all=1", allowed=(200,))
        if conn is not keep:
            conn.close()
    keep.close()


def idler(stop):
    """Holds connections with half a request, as a slow or stuck client would."""
    socks = []
    for _ in range(20):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(SOCK)
        s.sendall(b"POST /v1/networks/" + NET.encode() + b"/start HTTP/1.1\r\nHost: v")
        socks.append(s)
    stop.wait()
    for s in socks:
        s.close()


def main():
    stop = threading.Event()
    idle = threading.Thread(target=idler, args=(stop,))
    idle.start()
    time.sleep(0.2)
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(THREADS)]
    started = time.time()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stop.set()
    idle.join()
    for p in problems[:30]:
        print("PROBLEM:", p)
    total = sum(counts.values())
    print(f"{total} requests from {THREADS} threads in {time.time() - started:.1f} s")
    for key in sorted(counts):
        print(f"  {counts[key]:5d}  {key}")
    if problems:
        print(f"{len(problems)} problems")
        sys.exit(1)


main()
