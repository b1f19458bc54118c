#!/usr/bin/env bash
# Runs `raftwire probe --dialect hashicorp` against a real hashicorp/raft 1.1.2 cluster (main.go
# -serve), one case at a time, and prints what the library did with each: the probe's verdict,
# the memory the node took (Go heap high-water mark, process peak RSS), whether it stayed leader
# and kept applying, and what it logged. A case that kills the node is recorded with the
# runtime's last words and the cluster is restarted for the next one. Output: a Markdown table
# (HASHICORP.md "Probing the real library" is this script's output).
#
# Needs Debian's golang-go and golang-github-hashicorp-raft-dev (offline GOPATH build), and a
# release build of raftwire. Usage: probe.sh [TIMEOUT_SECONDS]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../../.."
gopath="$(mktemp -d)"
trap 'rm -rf "$gopath"' EXIT
mkdir -p "$gopath/src/harness"
cp "$here/main.go" "$gopath/src/harness/"
(cd "$gopath/src/harness" && GOPATH="$gopath:/usr/share/gocode" GO111MODULE=off go build -o "$gopath/harness" .)
(cd "$root" && cargo build --release -q)
python3 "$here/probe_report.py" "$gopath/harness" "$root/target/release/raftwire" "${1:-3}"
