#!/usr/bin/env bash
# Peak memory of validating a large hashicorp/raft connection: the busiest connection of the real
# raft 1.1.2 capture repeated to about SIZE MiB per the request direction (default 1024), as a
# raw stream pair, through `raftwire validate --dialect hashicorp`. The checker streams, so peak
# RSS should stay flat however large the connection is.
# usage: bench/hashicorp-memory.sh [SIZE_MIB]
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib="${1:-1024}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release -q
target/release/raftwire streams --out "$work/streams" tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap >/dev/null 2>&1
# The connection with the most responses: the most messages per byte.
busiest="$(ls -S "$work"/streams/*.s2c.bin | head -n 1)"
stem="${busiest%.s2c.bin}"
python3 - "$stem" "$work/big" "$size_mib" <<'PY'
import sys
stem, out, size = sys.argv[1], sys.argv[2], int(sys.argv[3]) << 20
c2s, s2c = open(stem + ".c2s.bin", "rb").read(), open(stem + ".s2c.bin", "rb").read()
rounds = size // len(c2s) + 1
with open(out + ".c2s.bin", "wb") as f:
    for _ in range(rounds):
        f.write(c2s)
with open(out + ".s2c.bin", "wb") as f:
    for _ in range(rounds):
        f.write(s2c)
print(f"{rounds} copies of {stem.rsplit('/', 1)[-1]}: {rounds * len(c2s) / 2**20:.0f} MiB of requests, {rounds * len(s2c) / 2**20:.1f} MiB of responses")
PY
/usr/bin/time -f "raftwire validate --dialect hashicorp: %e s, peak RSS %M KiB" \
  ${RAFTWIRE:-target/release/raftwire} validate --dialect hashicorp --format json "$work"/big.c2s.bin "$work"/big.s2c.bin 2>&1 >"$work/report.json" | tail -n 1
python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print('messages checked:', r['summary']['frames'], '| conforming:', r['summary']['conforming'])" "$work/report.json"
