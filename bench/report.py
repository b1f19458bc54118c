#!/usr/bin/env python3
"""Turns criterion's medians (target/criterion/**/new/estimates.json) into BENCHMARKS.md tables:
each raftwire figure next to the ceiling or alternative measured in the same run, as a ratio.

usage: python3 bench/report.py [OUT.md]   (after `cargo bench -p raftwire-bench`)
"""
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "target", "criterion")


def median_ns(group, function):
    path = os.path.join(ROOT, group.replace("/", "_"), function, "new", "estimates.json")
    with open(path) as f:
        return json.load(f)["median"]["point_estimate"]


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
        add(f"| {group} | {fa} | {fb} | {b / a:.2f}x | {target} |")

    for size, target in [("16B", "-"), ("64B", ">= 10 M frames/s"), ("4KiB", ">= 0.85x"), ("1MiB", ">= 0.85x")]:
        row(f"decode/{size}", "raftwire", "crc32fast_ceiling", "crc32fast per frame", target)
    for size in ["16B", "64B", "4KiB", "1MiB"]:
        row(f"decode/{size}", "strict_floor", "crc32fast_ceiling", "crc32fast per frame; strict floor: header + payload CRC, nothing decoded", "bound")
    g = "vs_length_delimited/64B"
    nbytes, frames = w[g]
    for ours, what, target in [("raftwire", "RfwCodec", ">= 1.0x"), ("split_and_check_floor", "floor: the same split + header and payload CRC, nothing decoded", "bound")]:
        a, b = median_ns(g, ours), median_ns(g, "length_delimited_codec")
        add(f"| {g} ({what}) | {frames / a * 1e3:.2f} M frames/s | {frames / b * 1e3:.2f} M frames/s (LengthDelimitedCodec, no checks) | {b / a:.2f}x | {target} |")
    for n in ["1x128B", "16x128B", "256x128B"]:
        row(f"vs_encodings/{n}", "raftwire", "prost", "prost, eraftpb", ">= 3x", unit="ns")
        row(f"vs_encodings/{n}", "raftwire", "rmp_serde", "rmp-serde, hashicorp shape", ">= 10x", unit="ns")
    for size in ["16B", "64B", "4KiB", "1MiB"]:
        row(f"encode/{size}", "raftwire", "memcpy_crc32fast_ceiling", "memcpy + crc32fast", "-")
    for size in ["64B", "4KiB"]:
        g = f"incremental/{size}"
        row(g, "chunked_1460_owned", "one_shot", "one-shot decode; owned 1460-byte chunks", ">= 0.9x")
        row(g, "chunked_1460_copied", "one_shot", "one-shot decode; borrowed chunks, copied", "-")
    g = "incremental/4KiB"
    one, copy = median_ns(g, "one_shot"), median_ns(g, "reassembly_copy_floor")
    nbytes, _ = w[g]
    add(f"| {g} (bound) | {nbytes / (one + copy):.2f} GB/s (one-shot decode + copying 1460-byte segments into whole frames) | {nbytes / one:.2f} GB/s (one-shot decode) | {one / (one + copy):.2f}x | bound |")
    text = "\n".join(lines) + "\n"
    header = f"Machine: {cpu()}, {os.cpu_count()} cores. Medians of criterion samples.\n\n"
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w") as f:
            f.write(header + text)
    print(header + text)


main()
