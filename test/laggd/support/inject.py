#!/usr/bin/env python3
"""Hostile slow-protocols frames for laggd's robustness tests.

Sends LACPDUs and marker PDUs that a receiver must reject (truncated, oversized, wrong
version, wrong TLV types and lengths, non-zero terminator) on one interface through a raw
AF_PACKET socket, plus well-formed ones for the wire tests (a marker request, whose response
the tests capture). Only the Python standard library is used, so it runs under any python3.

    inject.py --iface veth0 --kind lacp-truncated --count 10
    inject.py --list                      # every kind, one per line: name, illegal?, length
Prints one JSON line: {"kind": ..., "sent": N, "length": L, "illegal": true|false}.
"""
import argparse
import json
import socket
import struct
import sys
import time

SLOW_DST = bytes.fromhex("0180c2000002")
SLOW_ETHERTYPE = 0x8809
SUBTYPE_LACP = 1
SUBTYPE_MARKER = 2
FRAME_LEN = 124  # 14-byte header + 110-byte slow-protocols PDU


def mac(text):
    return bytes.fromhex(text.replace(":", ""))


def peer_tlv(tlv_type, length, sys_prio, sys_mac, key, port_prio, port, state):
    return bytes([tlv_type, length]) + struct.pack("!H6sHHHB3x", sys_prio, sys_mac, key, port_prio, port, state)


def lacpdu(src, version=1, actor_type=1, actor_len=20, partner_type=2, partner_len=20,
           collector_type=3, collector_len=16, term_len=0, state=0x3F):
    """A LACPDU whose every field can be spoiled independently (defaults: well-formed)."""
    sysmac = src
    body = bytes([SUBTYPE_LACP, version])
    body += peer_tlv(actor_type, actor_len, 32768, sysmac, 0x77, 32768, 7, state)
    body += peer_tlv(partner_type, partner_len, 32768, bytes(6), 0, 0, 0, 0)
    body += bytes([collector_type, collector_len]) + struct.pack("!H12x", 0)
    body += bytes([0, term_len]) + bytes(50)
    return SLOW_DST + src + struct.pack("!H", SLOW_ETHERTYPE) + body


def marker(src, tlv_type=1, version=1, tlv_len=16, term_len=0, xid=0x1A2B3C4D, port=7):
    body = bytes([SUBTYPE_MARKER, version])
    body += bytes([tlv_type, tlv_len]) + struct.pack("!H6sI2x", port, src, xid)
    body += bytes([0, term_len]) + bytes(90)
    return SLOW_DST + src + struct.pack("!H", SLOW_ETHERTYPE) + body


def oversized(frame, total):
    return frame + bytes(total - len(frame))


# name -> (builder(src) -> frame bytes, illegal?)
KINDS = {
    "lacp-truncated": (lambda s: lacpdu(s)[:60], True),
    "lacp-truncated-header": (lambda s: lacpdu(s)[:16], True),
    "lacp-oversized": (lambda s: oversized(lacpdu(s), 200), True),
    "lacp-jumbo": (lambda s: oversized(lacpdu(s), 1514), True),
    "lacp-bad-version": (lambda s: lacpdu(s, version=0), True),
    "lacp-bad-actor-type": (lambda s: lacpdu(s, actor_type=9), True),
    "lacp-bad-actor-length": (lambda s: lacpdu(s, actor_len=19), True),
    "lacp-bad-partner-type": (lambda s: lacpdu(s, partner_type=1), True),
    "lacp-bad-partner-length": (lambda s: lacpdu(s, partner_len=255), True),
    "lacp-bad-collector": (lambda s: lacpdu(s, collector_type=4, collector_len=0), True),
    "lacp-bad-terminator": (lambda s: lacpdu(s, term_len=2), True),
    "lacp-zero-tlv-lengths": (lambda s: lacpdu(s, actor_len=0, partner_len=0, collector_len=0), True),
    "marker-truncated": (lambda s: marker(s)[:40], True),
    "marker-oversized": (lambda s: oversized(marker(s), 300), True),
    "marker-bad-version": (lambda s: marker(s, version=7), True),
    "marker-bad-type": (lambda s: marker(s, tlv_type=3), True),
    "marker-bad-length": (lambda s: marker(s, tlv_len=20), True),
    "marker-bad-terminator": (lambda s: marker(s, term_len=1), True),
    "marker-request": (lambda s: marker(s), False),
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iface")
    ap.add_argument("--kind", choices=sorted(KINDS))
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--src", default="02:4c:4b:00:00:99", help="source MAC (locally administered)")
    ap.add_argument("--xid", type=lambda v: int(v, 0), default=0x1A2B3C4D, help="marker transaction id")
    ap.add_argument("--port", type=int, default=7, help="marker requester port")
    ap.add_argument("--interval-us", type=int, default=0, help="pause between frames (0 = flood)")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()

    if args.list:
        for name, (build, illegal) in sorted(KINDS.items()):
            print(f"{name}\t{'illegal' if illegal else 'legal'}\t{len(build(mac(args.src)))}")
        return 0
    if not args.iface or not args.kind:
        ap.error("--iface and --kind are required")

    src = mac(args.src)
    build, illegal = KINDS[args.kind]
    if args.kind == "marker-request":
        frame = marker(src, xid=args.xid, port=args.port)
    else:
        frame = build(src)
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    sock.bind((args.iface, 0))
    sent = 0
    for _ in range(args.count):
        while True:
            try:
                sock.send(frame)
                break
            except BlockingIOError:
                time.sleep(0.0005)
            except OSError as e:
                # ENOBUFS under a flood: the qdisc is full; back off instead of losing the count.
                if e.errno == 105:
                    time.sleep(0.0005)
                    continue
                raise
        sent += 1
        if args.interval_us:
            time.sleep(args.interval_us / 1e6)
    sock.close()
    print(json.dumps({"kind": args.kind, "sent": sent, "length": len(frame), "illegal": illegal}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
