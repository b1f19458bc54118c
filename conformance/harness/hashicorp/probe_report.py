"""One raftwire probe case at a time against a live hashicorp/raft cluster (main.go -serve).

Arguments: HARNESS RAFTWIRE TIMEOUT. Prints a Markdown table, one row per case.
"""
import json
import subprocess
import sys
import tempfile
import time

harness, raftwire, timeout = sys.argv[1], sys.argv[2], sys.argv[3]
BASE = 47301


class Cluster:
    def __init__(self):
        self.err = tempfile.TemporaryFile()
        self.p = subprocess.Popen([harness, "-serve", "-base", str(BASE)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        first = json.loads(self.p.stdout.readline())
        self.leader, self.term = first["leader"], first["term"]
        self.log_at = 0

    def status(self):
        try:
            self.p.stdin.write("status\n")
            self.p.stdin.flush()
            line = self.p.stdout.readline()
            return json.loads(line) if line else None
        except (BrokenPipeError, json.JSONDecodeError):
            return None

    def new_log(self):
        self.err.seek(self.log_at)
        text = self.err.read().decode(errors="replace")
        self.log_at += len(text.encode())
        return text

    def stop(self):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        self.p.wait(timeout=30)


def kib(n):
    return f"{n / 1024:,.0f} KiB" if n < 64 << 20 else f"{n / (1 << 20):,.0f} MiB"


def hwm(s):
    return int(s["vm_hwm"].split()[0]) * 1024


listing = subprocess.run([raftwire, "probe", "--list", "--dialect", "hashicorp", "--format", "json"],
                         capture_output=True, text=True, check=True).stdout
cases = [c["id"] for c in json.loads(listing)]
print("| case | verdict | what the node did | heap high-water (+) | peak RSS (+) | leader kept, applying | library log |")
print("|---|---|---|---|---|---|---|")
cluster = Cluster()
for case in cases:
    before = cluster.status()
    cluster.new_log()
    run = subprocess.run([raftwire, "probe", cluster.leader, "--dialect", "hashicorp", "--cases", case,
                          "--format", "json", "--timeout", timeout], capture_output=True, text=True)
    report = json.loads(run.stdout)
    c = report["cases"][0]
    time.sleep(0.5)  # long enough for the cluster to apply a few commands (one every 20 ms)
    after = cluster.status()
    log = cluster.new_log()
    lines = [l for l in log.splitlines() if "failed to decode" in l or l.startswith("fatal error") or l.startswith("panic:")]
    said = "; ".join(sorted(set(l.split("raft-net: ")[-1].strip() for l in lines)))[:160]
    if after is None:
        alive = "**node died**"
        heap = rss = "-"
        cluster.stop()
        cluster = Cluster()
    else:
        kept = after["leader"] == before["leader"] and after["leader_changes"] == before["leader_changes"]
        applying = after["applied"] > before["applied"] and after["apply_errors"] == before["apply_errors"]
        alive = "yes" if kept and applying else f"leader kept: {kept}, applying: {applying}"
        heap = kib(max(0, after["heap_alloc_max"] - before["heap_alloc_max"]))
        rss = kib(max(0, hwm(after) - hwm(before)))
    observed = c["observed"].replace("|", "/")
    print(f"| `{c['id']}` | {c['result']} | {observed} | {heap} | {rss} | {alive} | {said or '-'} |")
    sys.stdout.flush()
cluster.stop()
