#!/usr/bin/env bash
# Regenerates tests/fixtures/hashicorp/: a real hashicorp/raft 1.1.2 cluster (main.go) on loopback,
# captured by tcpdump, with the harness's count of the RPCs each server decoded (ground truth).
# Needs root, tcpdump, and Debian's golang-go and golang-github-hashicorp-raft-dev (offline build
# in GOPATH mode).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../../../tests/fixtures/hashicorp"
gopath="$(mktemp -d)"
mkdir -p "$gopath/src/harness" "$out"
cp "$here/main.go" "$gopath/src/harness/"
(cd "$gopath/src/harness" && GOPATH="$gopath:/usr/share/gocode" GO111MODULE=off go build -o "$gopath/harness" .)
tcpdump -i lo -U -s 0 -w "$out/raft-1.1.2-cluster.pcap.tmp" "tcp portrange 47101-47104" 2>/dev/null &
dump=$!
sleep 1
"$gopath/harness" >"$out/raft-1.1.2-cluster.truth.json"
sleep 1
kill -INT "$dump"
wait "$dump" || true
mv "$out/raft-1.1.2-cluster.pcap.tmp" "$out/raft-1.1.2-cluster.pcap"
echo "wrote $out"

# The shared-connection fault (openziti/ziti#2533) reproduced with the real library: its own log
# (stderr) records the "unknown rpc type 160" errors it hit.
tcpdump -i lo -U -s 0 -w "$out/raft-1.1.2-shared-connection.pcap.tmp" "tcp portrange 47101-47103" 2>/dev/null &
dump=$!
sleep 1
"$gopath/harness" -fault shared >/dev/null 2>"$out/raft-1.1.2-shared-connection.raft.log"
sleep 1
kill -INT "$dump"
wait "$dump" || true
mv "$out/raft-1.1.2-shared-connection.pcap.tmp" "$out/raft-1.1.2-shared-connection.pcap"
grep -q "unknown rpc type" "$out/raft-1.1.2-shared-connection.raft.log" || echo "warning: this run did not hit the shared-connection decode error; run again"

# A mixed-release cluster, from real behaviour: raft 1.1.2 nodes sent requests shaped as raft 1.7.3
# writes them (a RequestPreVote, which 1.1.2 cannot decode; an AppendEntries with the new time
# format, which it can). The nodes' log records "unknown rpc type 4".
tcpdump -i lo -U -s 0 -w "$out/raft-1.1.2-mixed.pcap.tmp" "tcp portrange 47101-47104" 2>/dev/null &
dump=$!
sleep 1
"$gopath/harness" -fault mixed >"$out/raft-1.1.2-mixed.truth.json" 2>"$out/raft-1.1.2-mixed.raft.log"
sleep 1
kill -INT "$dump"
wait "$dump" || true
mv "$out/raft-1.1.2-mixed.pcap.tmp" "$out/raft-1.1.2-mixed.pcap"
grep -q "unknown rpc type 4" "$out/raft-1.1.2-mixed.raft.log" || echo "warning: the 1.1.2 node did not log unknown rpc type 4"
