#!/usr/bin/env bash
# Makes docs/report.png, the README's picture of an HTML report: the real mixed-release
# hashicorp/raft capture (a raft 1.1.2 node sent a RequestPreVote it cannot decode), validated with
# --html and photographed by headless Chromium (Debian's `chromium`).
# usage: docs/report-screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
target/release/raftwire validate --html "$work/report.html" tests/fixtures/hashicorp/raft-1.1.2-mixed.pcap >/dev/null || true
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1150 \
  --screenshot="$PWD/docs/report.png" "file://$work/report.html" 2>/dev/null
ls -l docs/report.png
