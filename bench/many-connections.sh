#!/usr/bin/env bash
# Validation of a capture of many short connections, as a one-connection-per-RPC deployment
# writes: N connections (default 500000), each a handshake, the sample requests of
# samples/cluster/n2-n1 and their responses, and the FIN exchange. Wall time and peak RSS of
# `raftwire validate` (every core, then one) next to `tshark -r FILE -q -z conv,tcp`.
# usage: bench/many-connections.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-500000}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release -q
python3 - "$n" "$work/many.pcap" <<'PY'
import struct, sys
n, out = int(sys.argv[1]), sys.argv[2]
c2s = open("samples/cluster/n2-n1.c2s.bin", "rb").read()
s2c = open("samples/cluster/n2-n1.s2c.bin", "rb").read()
def pkt(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, bytes(src), bytes(dst))
    return b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00" + ip + tcp
with open(out, "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    t = 0
    srv = [10, 0, 0, 1]
    for i in range(n):
        cli = [10, (i >> 16) & 255, (i >> 8) & 255, i & 255]
        sport, dport = 1024 + i % 60000, 7000
        a, b = 1000, 5000
        for p in (
            pkt(cli, srv, sport, dport, a, 0, 0x02),
            pkt(srv, cli, dport, sport, b, a + 1, 0x12),
            pkt(cli, srv, sport, dport, a + 1, b + 1, 0x10),
            pkt(cli, srv, sport, dport, a + 1, b + 1, 0x18, c2s),
            pkt(srv, cli, dport, sport, b + 1, a + 1 + len(c2s), 0x18, s2c),
            pkt(cli, srv, sport, dport, a + 1 + len(c2s), b + 1 + len(s2c), 0x11),
            pkt(srv, cli, dport, sport, b + 1 + len(s2c), a + 2 + len(c2s), 0x11),
            pkt(cli, srv, sport, dport, a + 2 + len(c2s), b + 2 + len(s2c), 0x10),
        ):
            t += 1
            f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(p), len(p)) + p)
PY
ls -l "$work/many.pcap" | awk -v n="$n" '{printf "capture: %d connections, %.0f MiB\n", n, $5 / 1048576}'
/usr/bin/time -f "raftwire validate: %e s, peak RSS %M KiB" target/release/raftwire validate "$work/many.pcap" 2>&1 >"$work/out.txt" | tail -n 1
tail -n 1 "$work/out.txt"
/usr/bin/time -f "raftwire validate --jobs 1: %e s, peak RSS %M KiB" target/release/raftwire validate --jobs 1 "$work/many.pcap" 2>&1 >/dev/null | tail -n 1
/usr/bin/time -f "tshark -z conv,tcp: %e s, peak RSS %M KiB" timeout 1200 tshark -r "$work/many.pcap" -q -z conv,tcp 2>&1 >/dev/null | tail -n 1
