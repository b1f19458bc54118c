#!/usr/bin/env bash
# Stream validation of a large generated capture: wall time and peak RSS of `raftwire validate`
# next to `tshark -r FILE -q -z conv,tcp` (tshark merely reading the same capture), in one run.
# usage: bench/pcap-vs-tshark.sh [ROUNDS]   (default 60000 rounds, about 1 GiB)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-60000}"
cargo build --release -q
pcap="$(mktemp -d)/big.pcap"
/usr/bin/time -f "gen: %e s, peak RSS %M KiB" target/release/raftwire gen --seed 9 --rounds "$rounds" --out "$pcap" 2>&1 | tail -n 1
ls -l "$pcap" | awk '{printf "capture: %.2f GiB\n", $5 / 1073741824}'
# Default: connections spread over every core; --jobs 1: everything on one thread.
/usr/bin/time -f "raftwire validate: %e s, peak RSS %M KiB" target/release/raftwire validate "$pcap" 2>&1 >/dev/null | tail -n 1
/usr/bin/time -f "raftwire validate --jobs 1: %e s, peak RSS %M KiB" target/release/raftwire validate --jobs 1 "$pcap" 2>&1 >/dev/null | tail -n 1
/usr/bin/time -f "tshark -z conv,tcp: %e s, peak RSS %M KiB" tshark -r "$pcap" -q -z conv,tcp 2>&1 >/dev/null | tail -n 1
rm -f "$pcap"
