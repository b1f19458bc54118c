#!/usr/bin/env bash
# hashicorp/raft dialect on real captures: raftwire's strict checker (criterion, bench
# `hashicorp`) next to the Go library's own decoding of the same bytes (bench/hashicorp-go: raft
# 1.1.2's NetworkTransport decoding with its go-msgpack handle), both in messages per second, in
# one run per capture. Without an argument: the repository's cluster fixture (few entries per
# AppendEntries) and bench/captures/raft-1.1.2-busy.pcap (the harness's `-busy 5000`: 5,000 small
# commands applied concurrently, AppendEntries of up to 64 entries, blobs, snapshots).
# Needs Debian's golang-go and golang-github-hashicorp-raft-dev (offline build in GOPATH mode).
# usage: bench/hashicorp-vs-go.sh [CAPTURE...]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then
  set -- tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap bench/captures/raft-1.1.2-busy.pcap
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cargo build --release -q
mkdir -p "$work/go/src/hashicorp-go"
cp bench/hashicorp-go/main.go "$work/go/src/hashicorp-go/"
(cd "$work/go/src/hashicorp-go" && GOPATH="$work/go:/usr/share/gocode" GO111MODULE=off go build -o "$work/hashicorp-go" .)
for capture in "$@"; do
  rm -rf "$work/streams"
  target/release/raftwire streams --out "$work/streams" "$capture" >/dev/null 2>&1
  RAFTWIRE_HC_STREAMS="$work/streams" cargo bench -q -p raftwire-bench --bench hashicorp >"$work/rust.txt" 2>&1
  read -r _ go_messages go_bytes go_rate < <("$work/hashicorp-go" "$work/streams")
  read -r _ rw_messages rw_bytes _ < <(grep -P '^raftwire\t' "$work/rust.txt")
  python3 - "$capture" "$go_messages" "$go_bytes" "$go_rate" "$rw_messages" "$rw_bytes" <<'PY'
import json, sys
capture = sys.argv[1]
messages, nbytes, go_rate = int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
if (messages, nbytes) != (int(sys.argv[5]), int(sys.argv[6])):
    sys.exit(f"the two decoders disagree: Go {messages} messages in {nbytes} bytes, raftwire {sys.argv[5]} in {sys.argv[6]}")
with open("target/criterion/hashicorp_capture/raftwire_check/new/estimates.json") as f:
    ns = json.load(f)["median"]["point_estimate"]
ours = messages / ns * 1e9
print(f"{capture}: {messages} messages, {nbytes} bytes (both decoders count the same)")
print(f"  raftwire check: {ours / 1e6:.2f} M messages/s ({nbytes / ns:.2f} GB/s)")
print(f"  Go raft 1.1.2 decode: {go_rate / 1e6:.2f} M messages/s ({nbytes * go_rate / messages / 1e9:.2f} GB/s)")
print(f"  ratio: {ours / go_rate:.2f}x")
PY
done
