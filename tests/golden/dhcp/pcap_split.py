#!/usr/bin/env python3
"""Writes the BOOTP payload of each client packet (UDP 68 -> 67) in a pcap to OUTDIR.

File names: NN-<client>-<msgtype>.bin, the client guessed from option 60/hostname.
Retransmissions (a second packet of the same client and kind) are skipped.
"""
import os
import struct
import sys

TYPES = {1: "discover", 2: "offer", 3: "request", 4: "decline", 5: "ack", 6: "nak",
         7: "release", 8: "inform"}


def options(payload):
    opts, i = {}, 240
    while i < len(payload):
        code = payload[i]
        if code == 255:
            break
        if code == 0:
            i += 1
            continue
        n = payload[i + 1]
        opts[code] = payload[i + 2:i + 2 + n]
        i += 2 + n
    return opts


def main(pcap, outdir):
    data = open(pcap, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    off, n, seen = 24, 0, set()
    os.makedirs(outdir, exist_ok=True)
    while off + 16 <= len(data):
        _, _, caplen, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        frame = data[off + 16:off + 16 + caplen]
        off += 16 + caplen
        if struct.unpack("!H", frame[12:14])[0] != 0x0800:
            continue
        ihl = (frame[14] & 0xF) * 4
        udp = frame[14 + ihl:]
        sport, dport = struct.unpack("!HH", udp[:4])
        if (sport, dport) != (68, 67):
            continue
        payload = udp[8:]
        o = options(payload)
        kind = TYPES.get(o.get(53, b"\0")[0], "unknown")
        client = "udhcpc" if b"udhcp" in o.get(60, b"") or o.get(12) == b"bbguest" else "dhclient"
        if kind == "request" and 54 not in o:
            kind = "request-initreboot" if 50 in o else "request-renew"
        if (client, kind) in seen:
            continue
        seen.add((client, kind))
        n += 1
        name = os.path.join(outdir, "%02d-%s-%s.bin" % (n, client, kind))
        open(name, "wb").write(payload)
        print(name, len(payload))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
