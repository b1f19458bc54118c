#!/usr/bin/env python3
"""A second, independent RFW/1 decoder, written from conformance/SPEC.md alone (standard library
only). It implements the `raftwire conformance --decoder-cmd` contract: one direction's bytes on
stdin, a JSON verdict on stdout. The test suite runs every frame vector through it, which checks
that the spec is precise enough to build a byte-compatible implementation from.

    raftwire conformance --decoder-cmd "python3 conformance/examples/rfw_decode.py"

With `--lines`, it reads one input per line in hex and prints one verdict per line.
"""
import json
import struct
import sys
import zlib

MARKER = b"\xc1RFW"
MAX_PAYLOAD = 16 * 1024 * 1024
TYPES = {
    0x01: "RequestVote", 0x02: "AppendEntries", 0x03: "InstallSnapshot", 0x04: "TimeoutNow",
    0x80: "Error", 0x81: "RequestVoteResponse", 0x82: "AppendEntriesResponse",
    0x83: "InstallSnapshotResponse", 0x84: "TimeoutNowResponse",
    0x11: "Vote", 0x12: "Append", 0x13: "Snapshot",
    0x91: "VoteResponse", 0x92: "AppendResponse", 0x93: "SnapshotResponse",
}


class Reject(Exception):
    def __init__(self, code, offset):
        super().__init__(code)
        self.code, self.offset = code, offset


class Body:
    """Reads a payload field by field (SPEC.md §3); offsets are absolute."""

    def __init__(self, payload, base):
        self.p, self.base, self.at = payload, base, 0

    def here(self):
        return self.base + self.at

    def take(self, n):
        if self.at + n > len(self.p):
            raise Reject("truncated_body", self.here())
        b = self.p[self.at : self.at + n]
        self.at += n
        return b

    def u8(self):
        return self.take(1)[0]

    def u16(self):
        return struct.unpack(">H", self.take(2))[0]

    def u32(self):
        return struct.unpack(">I", self.take(4))[0]

    def u64(self):
        return struct.unpack(">Q", self.take(8))[0]

    def boolean(self):
        at = self.here()
        b = self.u8()
        if b > 1:
            raise Reject("bad_bool", at)
        return b == 1

    def claimed(self, n, prefix_at):
        if self.at + n > len(self.p):
            raise Reject("truncated_body", prefix_at)
        return self.take(n)

    def ident(self):
        at = self.here()
        n = self.u8()
        if n == 0:
            raise Reject("empty_id", at)
        return self.claimed(n, at)

    def blob(self):
        at = self.here()
        return at, self.claimed(self.u32(), at)

    def text(self, limit):
        at = self.here()
        n = self.u16()
        if n > limit:
            raise Reject("text_too_long", at)
        start = self.here()
        raw = self.claimed(n, at)
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Reject("invalid_utf8", start + e.start)
        return raw

    def count(self, width, min_size):
        at = self.here()
        n = self.u16() if width == 2 else self.u32()
        if n > (len(self.p) - self.at) // min_size:
            raise Reject("truncated_body", at)
        return n

    def term(self, zero_ok=False):
        at = self.here()
        t = self.u64()
        if t == 0 and not zero_ok:
            raise Reject("zero_term", at)
        return t

    def end(self):
        if self.at != len(self.p):
            raise Reject("trailing_bytes", self.here())


def configuration(b, placement=None):
    """§5.6; `placement(count, at)` checks IS-3 before the servers are read."""
    at = b.here()
    n = b.count(2, 5)
    if placement:
        placement(n, at)
    seen, voters = set(), 0
    for _ in range(n):
        s_at = b.here()
        suffrage = b.u8()
        if suffrage > 2:
            raise Reject("unknown_enum", s_at)
        id_at = b.here()
        sid = b.ident()
        if sid in seen:
            raise Reject("duplicate_server", id_at)
        seen.add(sid)
        b.ident()
        voters += suffrage == 0
    if n > 0 and voters == 0:
        raise Reject("no_voter", at)
    return n


def request_vote(b):
    term = b.term()
    index = b.u64()
    at = b.here()
    last_term = b.u64()
    if (index == 0) != (last_term == 0) or last_term > term:
        raise Reject("bad_last_log", at)
    pre_vote = b.boolean()
    at = b.here()
    if b.boolean() and pre_vote:
        raise Reject("conflicting_vote_flags", at)
    b.ident()


def append_entries(b):
    term = b.term()
    prev_index = b.u64()
    at = b.here()
    prev_term = b.u64()
    if (prev_index == 0) != (prev_term == 0) or prev_term > term:
        raise Reject("bad_prev_log", at)
    b.u64()
    b.ident()
    n = b.count(4, 21)
    expect, previous = prev_index + 1, prev_term
    for _ in range(n):
        at = b.here()
        if b.u64() != expect or expect > 2**64 - 1:
            raise Reject("entry_index_gap", at)
        expect += 1
        at = b.here()
        t = b.term()
        if t < previous or t > term:
            raise Reject("entry_term_order", at)
        previous = t
        at = b.here()
        kind = b.u8()
        if kind > 3:
            raise Reject("unknown_enum", at)
        data_at, data = b.blob()
        data_at += 4
        if kind in (1, 3) and data:
            raise Reject("entry_data_not_empty", data_at)
        if kind == 2:
            inner = Body(data, data_at)
            if configuration(inner) == 0:
                raise Reject("no_voter", data_at)
            inner.end()


def append_entries_response(b):
    b.term()
    success = b.boolean()
    b.u64()
    at = b.here()
    ci = b.u64()
    if success and ci != 0:
        raise Reject("bad_conflict_hint", at)
    at = b.here()
    if b.u64() != 0 and (success or ci == 0):
        raise Reject("bad_conflict_hint", at)


def chunk_data(b, offset, total, done):
    """A snapshot chunk's data: IS-1, IS-2 and IS-5, at its length field."""
    at, data = b.blob()
    end = offset + len(data)
    if end > total:
        raise Reject("chunk_out_of_bounds", at)
    if done != (end == total):
        raise Reject("chunk_done_mismatch", at)
    if not done and not data:
        raise Reject("empty_chunk", at)


def install_snapshot(b):
    term = b.term()
    at = b.here()
    if b.u64() == 0:
        raise Reject("bad_snapshot_point", at)
    at = b.here()
    t = b.u64()
    if t == 0 or t > term:
        raise Reject("bad_snapshot_point", at)
    total, offset, done = b.u64(), b.u64(), b.boolean()
    b.ident()
    b.ident()

    def placement(n, at):
        if (offset == 0) != (n > 0):
            raise Reject("configuration_placement", at)

    configuration(b, placement)
    chunk_data(b, offset, total, done)


def error(b):
    at = b.here()
    if b.u16() not in range(1, 7):
        raise Reject("unknown_enum", at)
    b.text(4096)


# The leader-id family (SPEC.md §5.7, revision 1.1).


def vote_field(b):
    """A vote: (term, node, committed, offset of committed)."""
    term, node = b.u64(), b.u64()
    at = b.here()
    return term, node, b.boolean(), at


def log_id(b):
    """An option<log_id>: None, or (term, node, index, offset of term)."""
    if not b.boolean():
        return None
    at = b.here()
    return b.u64(), b.u64(), b.u64(), at


def request_vote_field(b, committed):
    at = b.here()
    term, node, c, c_at = vote_field(b)
    if term == 0:
        raise Reject("zero_term", at)
    if c != committed:
        raise Reject("bad_vote_commit", c_at)
    return (term, node)


def behind(lid, vote):
    """LV-2: a request's log id is not newer than its vote."""
    if lid is not None and (lid[0], lid[1]) > vote:
        raise Reject("log_id_after_vote", lid[3])
    return lid


def increasing_ids(b, n, rest):
    """`n` u64 ids, each followed by what `rest` reads; MEM-1 checked at each id as it is read."""
    ids = []
    for _ in range(n):
        at = b.here()
        i = b.u64()
        if ids and i <= ids[-1]:
            raise Reject("ids_out_of_order", at)
        ids.append(i)
        rest()
    return ids


def membership(b):
    """Returns the number of voter sets; CONF-1, MEM-1, MEM-2."""
    sets = b.count(2, 2)
    voters = []
    for _ in range(sets):
        at = b.here()
        n = b.count(2, 8)
        if n == 0:
            raise Reject("no_voter", at)
        voters += increasing_ids(b, n, lambda: None)
    nodes_at = b.here()
    n = b.count(2, 10)
    ids = set(increasing_ids(b, n, lambda: b.text(1024)))
    if any(v not in ids for v in voters):
        raise Reject("voter_without_node", nodes_at)
    return sets, n


def vote_request(b):
    vote = request_vote_field(b, False)
    behind(log_id(b), vote)


def append(b):
    vote = request_vote_field(b, True)
    prev = behind(log_id(b), vote)
    behind(log_id(b), vote)
    n = b.count(4, 29)
    expect = 0 if prev is None else prev[2] + 1
    floor = (0, 0) if prev is None else (prev[0], prev[1])
    for _ in range(n):
        at = b.here()
        leader = (b.u64(), b.u64())
        if leader < floor or leader > vote:
            raise Reject("entry_term_order", at)
        floor = leader
        at = b.here()
        if b.u64() != expect or expect > 2**64 - 1:
            raise Reject("entry_index_gap", at)
        expect += 1
        at = b.here()
        kind = b.u8()
        if kind > 2:
            raise Reject("unknown_enum", at)
        data_at, data = b.blob()
        data_at += 4
        if kind == 1 and data:
            raise Reject("entry_data_not_empty", data_at)
        if kind == 2:
            inner = Body(data, data_at)
            if membership(inner)[0] == 0:
                raise Reject("no_voter", data_at)
            inner.end()


def append_response(b):
    at = b.here()
    result = b.u8()
    if result > 3:
        raise Reject("unknown_enum", at)
    if result == 1:
        log_id(b)
    if result == 3:
        vote_field(b)


def snapshot(b):
    vote = request_vote_field(b, True)
    total, offset, done = b.u64(), b.u64(), b.boolean()
    b.text(1024)
    at = b.here()
    if b.boolean() != (offset == 0):
        raise Reject("configuration_placement", at)
    if offset == 0:
        last = behind(log_id(b), vote)
        at = b.here()
        mlog = behind(log_id(b), vote)
        if mlog is not None and (last is None or mlog[2] > last[2]):
            raise Reject("bad_snapshot_point", at)
        at = b.here()
        sets, nodes = membership(b)
        uninitialised = mlog is None
        if (sets, nodes) != (0, 0) if uninitialised else sets == 0:
            raise Reject("bad_snapshot_point", at)
    chunk_data(b, offset, total, done)


BODIES = {
    0x11: vote_request,
    0x91: lambda b: (vote_field(b), b.boolean(), log_id(b)),
    0x12: append,
    0x92: append_response,
    0x13: snapshot,
    0x93: vote_field,
    0x01: request_vote,
    0x81: lambda b: (b.term(zero_ok=True), b.boolean()),
    0x02: append_entries,
    0x82: append_entries_response,
    0x03: install_snapshot,
    0x83: lambda b: (b.term(), b.boolean(), b.u64()),
    0x04: lambda b: (b.term(), b.ident()),
    0x84: lambda b: (b.term(), b.boolean()),
    0x80: error,
}


def frame(data, at):
    """Decodes the frame at `at` (SPEC.md §2.3, checks in order); returns (type, id, length)."""
    avail = data[at:]
    for i, (got, want) in enumerate(zip(avail, MARKER)):
        if got != want:
            raise Reject("bad_marker", at + i)
    if len(avail) > 4 and avail[4] != 1:
        raise Reject("unsupported_version", at + 4)
    if len(avail) < 24:
        raise Reject("truncated_frame", at)
    ty, flags, rid, length, hcrc = struct.unpack(">BHQII", avail[5:24])
    if zlib.crc32(avail[:20]) != hcrc:
        raise Reject("header_crc_mismatch", at + 20)
    if ty not in TYPES:
        raise Reject("unknown_type", at + 5)
    if flags:
        raise Reject("reserved_flags", at + 6)
    if rid == 0:
        raise Reject("zero_request_id", at + 8)
    if length > MAX_PAYLOAD:
        raise Reject("length_over_limit", at + 16)
    if len(avail) < 28 + length:
        raise Reject("truncated_frame", at)
    payload = avail[24 : 24 + length]
    if zlib.crc32(payload) != struct.unpack(">I", avail[24 + length : 28 + length])[0]:
        raise Reject("payload_crc_mismatch", at + 24 + length)
    b = Body(payload, at + 24)
    BODIES[ty](b)
    b.end()
    return TYPES[ty], rid, 28 + length


def verdict(data):
    """The verdict on one direction's bytes, as the JSON object the contract prints."""
    frames, at = [], 0
    try:
        while at < len(data):
            ty, rid, n = frame(data, at)
            frames.append({"type": ty, "request_id": rid})
            at += n
        return {"verdict": "accept", "frames": frames}
    except Reject as r:
        return {"verdict": "reject", "code": r.code, "offset": r.offset, "frames_before": len(frames)}


def main():
    if sys.argv[1:] == ["--lines"]:
        # One input per line, in hex; one verdict per line (for differential tests).
        for line in sys.stdin:
            print(json.dumps(verdict(bytes.fromhex(line.strip()))))
        return
    print(json.dumps(verdict(sys.stdin.buffer.read())))


if __name__ == "__main__":
    main()
