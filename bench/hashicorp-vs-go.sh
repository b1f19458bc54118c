#!/usr/bin/env bash
# hashicorp/raft dialect on a real capture: raftwire's strict checker (criterion, bench
# `hashicorp`) next to the Go library's own decoding of the same bytes (bench/hashicorp-go: raft
# 1.1.2's NetworkTransport decoding with its go-msgpack handle), both in messages per second.
# Needs Debian's golang-go and golang-github-hashicorp-raft-dev (offline build in GOPATH mode).
# usage: bench/hashicorp-vs-go.sh [CAPTURE]   (default: the real raft 1.1.2 cluster fixture)
set -euo pipefail
cd "$(dirname "$0")/.."
capture="${1:-tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release -q
target/release/raftwire streams --out "$work/streams" "$capture" >/dev/null 2>&1
mkdir -p "$work/go/src/hashicorp-go"
cp bench/hashicorp-go/main.go "$work/go/src/hashicorp-go/"
(cd "$work/go/src/hashicorp-go" && GOPATH="$work/go:/usr/share/gocode" GO111MODULE=off go build -o "$work/hashicorp-go" .)
RAFTWIRE_HC_STREAMS="$work/streams" cargo bench -q -p raftwire-bench --bench hashicorp >"$work/rust.txt" 2>&1
read -r _ go_messages go_bytes go_rate < <("$work/hashicorp-go" "$work/streams")
read -r _ rw_messages rw_bytes _ < <(grep -P '^raftwire\t' "$work/rust.txt")
python3 - "$go_messages" "$go_bytes" "$go_rate" "$rw_messages" "$rw_bytes" <<'PY'
import json, sys
messages, nbytes, go_rate = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
if (messages, nbytes) != (int(sys.argv[4]), int(sys.argv[5])):
    sys.exit(f"the two decoders disagree: Go {messages} messages in {nbytes} bytes, raftwire {sys.argv[4]} in {sys.argv[5]}")
with open("target/criterion/hashicorp_capture/raftwire_check/new/estimates.json") as f:
    ns = json.load(f)["median"]["point_estimate"]
ours = messages / ns * 1e9
print(f"capture: {messages} messages, {nbytes} bytes (both decoders count the same)")
print(f"raftwire check: {ours / 1e6:.2f} M messages/s ({nbytes / ns:.2f} GB/s)")
print(f"Go raft 1.1.2 decode: {go_rate / 1e6:.2f} M messages/s ({nbytes * go_rate / messages / 1e9:.2f} GB/s)")
print(f"ratio: {ours / go_rate:.2f}x")
PY
