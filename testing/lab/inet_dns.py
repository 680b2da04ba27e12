#!/usr/bin/env python3
"""The lab's "internet" DNS server (198.51.100.53): a tiny authoritative server for the
TEST-NET zone `example.test.`, over UDP and TCP. Every name under example.test. has an A
record 198.51.100.1 (TTL 300); anything else is NXDOMAIN with an SOA (negative TTL 60).
Each query is logged as "QUERY <client> <name> <type>" so tests can count what reached it."""
import socket
import struct
import sys
import threading

ZONE = b"\x07example\x04test\x00"


def read_name(msg, off):
    labels = []
    while True:
        n = msg[off]
        if n == 0:
            return b".".join(labels).decode(errors="replace") + ".", off + 1
        if n & 0xC0:
            raise ValueError("compressed question")
        labels.append(msg[off + 1 : off + 1 + n])
        off += 1 + n


def answer(query):
    if len(query) < 12:
        return None
    qid, flags, qd = struct.unpack("!HHH", query[:6])
    if qd != 1:
        return None
    name, off = read_name(query, 12)
    qtype, qclass = struct.unpack("!HH", query[off : off + 4])
    question = query[12 : off + 4]
    under = name.lower().endswith("example.test.")
    rd = flags & 0x0100
    if under and qtype in (1, 255):
        hdr = struct.pack("!HHHHHH", qid, 0x8400 | rd, 1, 1, 0, 0)
        rr = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton("198.51.100.1")
        return hdr + question + rr, name, qtype
    rcode = 0 if under else 3
    hdr = struct.pack("!HHHHHH", qid, 0x8400 | rd | rcode, 1, 0, 1, 0)
    soa_rdata = (b"\x02ns" + ZONE + b"\x05admin" + ZONE +
                 struct.pack("!IIIII", 1, 3600, 600, 86400, 60))
    soa = ZONE + struct.pack("!HHIH", 6, 1, 60, len(soa_rdata)) + soa_rdata
    return hdr + question + soa, name, qtype


def log(client, name, qtype):
    print(f"QUERY {client} {name} {qtype}", flush=True)


def serve_udp(sock):
    while True:
        data, addr = sock.recvfrom(4096)
        try:
            r = answer(data)
        except Exception:  # malformed: drop
            continue
        if r:
            log(addr[0], r[1], r[2])
            sock.sendto(r[0], addr)


def serve_tcp_conn(conn, addr):
    with conn:
        while True:
            head = conn.recv(2)
            if len(head) < 2:
                return
            (n,) = struct.unpack("!H", head)
            data = b""
            while len(data) < n:
                chunk = conn.recv(n - len(data))
                if not chunk:
                    return
                data += chunk
            try:
                r = answer(data)
            except Exception:
                return
            if r:
                log(addr[0], r[1], r[2])
                conn.sendall(struct.pack("!H", len(r[0])) + r[0])


def main():
    addr = sys.argv[1] if len(sys.argv) > 1 else "198.51.100.53"
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.bind((addr, 53))
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind((addr, 53))
    t.listen(16)
    threading.Thread(target=serve_udp, args=(u,), daemon=True).start()
    print("READY", flush=True)
    while True:
        conn, caddr = t.accept()
        threading.Thread(target=serve_tcp_conn, args=(conn, caddr), daemon=True).start()


if __name__ == "__main__":
    main()
