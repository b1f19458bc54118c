#!/usr/bin/env bash
# The hashicorp/raft dialect end to end on a large real capture: wall time and peak RSS of
# `raftwire validate` next to `tshark -r FILE -q -z conv,tcp` (tshark merely reading the same
# capture), in one run. Without CAPTURE, one is made: the real raft 1.1.2 harness's entry-heavy
# traffic (`-busy N`: N small commands applied concurrently, blobs, snapshots, a late joiner)
# recorded by tcpdump on loopback (needs root, tcpdump, golang-go, golang-github-hashicorp-raft-dev).
# usage: bench/hashicorp-pcap-vs-tshark.sh [CAPTURE | --busy N]   (default --busy 60000)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
keep="${KEEP:-}"   # KEEP=FILE keeps the capture made
busy=60000
if [ "${1:-}" = "--busy" ]; then busy="$2"; shift 2; fi
pcap="${1:-}"
if [ -z "$pcap" ]; then
  mkdir -p "$work/go/src/harness"
  cp conformance/harness/hashicorp/main.go "$work/go/src/harness/"
  (cd "$work/go/src/harness" && GOPATH="$work/go:/usr/share/gocode" GO111MODULE=off go build -o "$work/harness" .)
  pcap="$work/busy.pcap"
  tcpdump -i lo -U -s 0 -w "$pcap" "tcp portrange 47101-47104" 2>/dev/null &
  dump=$!
  sleep 1
  "$work/harness" -busy "$busy" >/dev/null 2>&1
  sleep 1
  kill -INT "$dump"
  wait "$dump" || true
  if [ -n "$keep" ]; then cp "$pcap" "$keep"; fi
fi
# validate exits 1 or 3 on violations or holes the capture has: the figures are what is wanted here.
set +o pipefail
ls -l "$pcap" | awk '{printf "capture: %.1f MB\n", $5 / 1e6}'
target/release/raftwire validate --format json "$pcap" | python3 -c '
import json, sys
s = json.load(sys.stdin)["summary"]
print("validated: %d connections, %d messages, %d violations" % (s["connections"], s["frames"], s["violations"]))'
for run in 1 2 3; do
  /usr/bin/time -f "run $run raftwire validate: %e s, peak RSS %M KiB" target/release/raftwire validate "$pcap" 2>&1 >/dev/null | tail -n 1
  /usr/bin/time -f "run $run raftwire validate --jobs 1: %e s, peak RSS %M KiB" target/release/raftwire validate --jobs 1 "$pcap" 2>&1 >/dev/null | tail -n 1
  /usr/bin/time -f "run $run tshark -z conv,tcp: %e s, peak RSS %M KiB" tshark -r "$pcap" -q -z conv,tcp 2>&1 >/dev/null | tail -n 1
done
