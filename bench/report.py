#!/usr/bin/env python3
"""Turns criterion's medians (target/criterion/**/new/estimates.json) into BENCHMARKS.md tables:
each raftwire figure next to the ceiling or alternative measured in the same run, as a ratio.

usage: python3 bench/report.py [OUT.md] [--runs]   (after `cargo bench -p raftwire-bench`)

With --runs, the runs bench/run.sh saved (target/criterion-runs/*) are read instead of the last
one: every figure and ratio is the median over the runs (each ratio computed within its run), and
the ratio's range is shown. These machines are noisy.
"""
import glob
import json
import os
import platform
import statistics
import subprocess
import sys

TARGET = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target")
ROOT = os.path.join(TARGET, "criterion")
ARGS = [a for a in sys.argv[1:] if a != "--runs"]
RUNS = sorted(glob.glob(os.path.join(TARGET, "criterion-runs", "*"))) if "--runs" in sys.argv else [ROOT]
if not RUNS:
    sys.exit("no runs saved: bench/run.sh saves them")


def run_ns(root, group, function):
    path = os.path.join(root, group.replace("/", "_"), function, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


def median_ns(group, function):
    return statistics.median(run_ns(r, group, function) for r in RUNS)


def ratio(group, ours, ref):
    """The median over runs of ref/ours time (speed ratio), and its range."""
    rs = [run_ns(r, group, ref) / run_ns(r, group, ours) for r in RUNS]
    text = f"{statistics.median(rs):.2f}x"
    if len(rs) > 1:
        text += f" ({min(rs):.2f}-{max(rs):.2f})"
    return text


def workloads():
    out = {}
    with open(os.path.join(ROOT, "raftwire-workloads.tsv")) as f:
        for line in f:
            group, nbytes, frames = line.rstrip("\n").split("\t")
            out[group] = (int(nbytes), int(frames))
    return out


def cpu():
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main():
    w = workloads()
    lines = []
    add = lines.append
    add("| benchmark | raftwire | reference | ratio (raftwire / reference speed) | target |")
    add("|---|---|---|---|---|")

    def row(group, ours, ref, label, target, unit="GB/s"):
        nbytes, frames = w[group]
        a, b = median_ns(group, ours), median_ns(group, ref)
        if unit == "GB/s":
            fa = f"{nbytes / a:.2f} GB/s, {frames / a * 1e3:.2f} M frames/s"
            fb = f"{nbytes / b:.2f} GB/s ({label})"
        else:
            fa = f"{a:.0f} ns/msg"
            fb = f"{b:.0f} ns/msg ({label})"
        add(f"| {group} | {fa} | {fb} | {ratio(group, ours, ref)} | {target} |")

    for size, target in [("16B", "-"), ("64B", ">= 10 M frames/s"), ("4KiB", ">= 0.85x"), ("1MiB", ">= 0.85x")]:
        row(f"decode/{size}", "raftwire", "crc32fast_ceiling", "crc32fast per frame; owned Frame", target)
        row(f"decode/{size}", "raftwire_ref", "crc32fast_ceiling", "crc32fast per frame; borrowed FrameRef", target)
    for size in ["16B", "64B", "4KiB", "1MiB"]:
        row(f"decode/{size}", "strict_floor", "crc32fast_ceiling", "crc32fast per frame; strict floor: header + payload CRC, nothing decoded", "bound")
    g = "vs_length_delimited/64B"
    nbytes, frames = w[g]
    for ours, what, target in [("raftwire", "RfwCodec", ">= 1.0x"), ("raftwire_ref", "FrameRef views walked in the read buffer", ">= 1.0x"), ("split_and_check_floor", "floor: the same split + header and payload CRC, nothing decoded", "bound")]:
        a, b = median_ns(g, ours), median_ns(g, "length_delimited_codec")
        add(f"| {g} ({what}) | {frames / a * 1e3:.2f} M frames/s | {frames / b * 1e3:.2f} M frames/s (LengthDelimitedCodec, no checks) | {ratio(g, ours, 'length_delimited_codec')} | {target} |")
    for n in ["1x128B", "16x128B", "256x128B"]:
        row(f"vs_encodings/{n}", "raftwire", "prost", "prost, eraftpb", ">= 3x", unit="ns")
        row(f"vs_encodings/{n}", "raftwire", "rmp_serde", "rmp-serde, hashicorp shape", ">= 10x", unit="ns")
        row(f"vs_encodings/{n}", "raftwire_ref", "prost", "prost, eraftpb; raftwire borrowed view", ">= 3x", unit="ns")
        row(f"vs_encodings/{n}", "raftwire_ref", "rmp_serde", "rmp-serde, hashicorp shape; raftwire borrowed view", ">= 10x", unit="ns")
        row(f"vs_encodings/{n}", "strict_floor", "prost", "prost; strict floor: header + payload CRC, nothing decoded", "bound", unit="ns")
        row(f"vs_encodings/{n}", "strict_floor", "rmp_serde", "rmp-serde; strict floor: header + payload CRC, nothing decoded", "bound", unit="ns")
    for size in ["16B", "64B", "4KiB", "1MiB"]:
        row(f"encode/{size}", "raftwire", "memcpy_crc32fast_ceiling", "memcpy + crc32fast", "-")
    for size in ["64B", "4KiB"]:
        g = f"incremental/{size}"
        row(g, "chunked_1460_owned", "one_shot", "one-shot decode; owned 1460-byte chunks", ">= 0.9x")
        row(g, "chunked_1460_copied", "one_shot", "one-shot decode; borrowed chunks, copied", "-")
        row(g, "chunked_1460_ref", "one_shot_ref", "one-shot FrameRef decode; StreamRefDecoder, borrowed chunks", ">= 0.9x")
    g = "incremental/4KiB"
    nbytes, _ = w[g]
    for one_fn, copy_fn, what in [("one_shot", "reassembly_copy_floor", "owned frames, a buffer per frame"), ("one_shot_ref", "reassembly_copy_floor_ref", "views, one reused buffer")]:
        one, copy = median_ns(g, one_fn), median_ns(g, copy_fn)
        bounds = [run_ns(r, g, one_fn) / (run_ns(r, g, one_fn) + run_ns(r, g, copy_fn)) for r in RUNS]
        add(f"| {g} (bound, {what}) | {nbytes / (one + copy):.2f} GB/s (one-shot decode + copying 1460-byte segments into whole frames) | {nbytes / one:.2f} GB/s (one-shot decode) | {statistics.median(bounds):.2f}x | bound |")
    text = "\n".join(lines) + "\n"
    header = f"Machine: {cpu()}, {os.cpu_count()} cores. Medians of criterion samples, then medians over {len(RUNS)} run(s).\n\n"
    if ARGS:
        with open(ARGS[0], "w") as f:
            f.write(header + text)
    print(header + text)


main()
