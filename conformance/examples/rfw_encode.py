#!/usr/bin/env python3
"""An independent RFW/1 *encoder* of the leader-id family (SPEC.md §5.7), written from the spec
text alone (standard library only), with a generator of valid messages of its own.

    python3 conformance/examples/rfw_encode.py --random COUNT SEED

prints COUNT lines, each a JSON object: `frame`, the frame in hex, and `message`, the values this
script chose and encoded (its own oracle). A decoder that reads `frame` must accept it and find
exactly `message`; an encoder given `message` must write exactly `frame` (the family's encoding
has one form for each message). The repository's codec is checked against it in
`tests/independent_encoder.rs`: without it, every family frame the project ever decoded was
written by the project's own encoder, and a layout both sides misread the same way would pass.

Message descriptions (log ids are [term, node, index], votes [term, node, committed], memberships
{"configs": [[voter ids]], "nodes": [[id, address]]}, bytes in hex):

    {"type": "Vote", "request_id", "vote", "last_log_id"}
    {"type": "VoteResponse", "request_id", "vote", "granted", "last_log_id"}
    {"type": "Append", "request_id", "vote", "prev_log_id", "leader_commit",
     "entries": [{"log_id", "kind": "Normal"|"Blank"|"Membership", "data", "membership"?}]}
    {"type": "AppendResponse", "request_id", "result": "Success"|"PartialSuccess"|"Conflict"|
     "HigherVote", "matching"?, "higher_vote"?}
    {"type": "Snapshot", "request_id", "vote", "total_size", "offset", "done", "snapshot_id",
     "meta": null | {"last_log_id", "membership_log_id", "membership"}, "data"}
    {"type": "SnapshotResponse", "request_id", "vote"}
"""
import json
import random
import struct
import sys
import zlib

U64 = 2**64 - 1
TYPE_BYTES = {
    "Vote": 0x11, "Append": 0x12, "Snapshot": 0x13,
    "VoteResponse": 0x91, "AppendResponse": 0x92, "SnapshotResponse": 0x93,
}

# ---- field encodings (SPEC.md §3 and §5.7) ----


def u8(v):
    return struct.pack(">B", v)


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def u64(v):
    return struct.pack(">Q", v)


def boolean(v):
    return u8(1 if v else 0)


def blob(b):
    return u32(len(b)) + b


def text(s):
    raw = s.encode("utf-8")
    return u16(len(raw)) + raw


def vote(v):
    term, node, committed = v
    return u64(term) + u64(node) + boolean(committed)


def log_id(lid):
    return u64(lid[0]) + u64(lid[1]) + u64(lid[2])


def option_log_id(lid):
    return boolean(False) if lid is None else boolean(True) + log_id(lid)


def membership(m):
    out = u16(len(m["configs"]))
    for voters in m["configs"]:
        out += u16(len(voters)) + b"".join(u64(v) for v in voters)
    out += u16(len(m["nodes"]))
    for node_id, address in m["nodes"]:
        out += u64(node_id) + text(address)
    return out


KINDS = {"Normal": 0, "Blank": 1, "Membership": 2}
RESULTS = {"Success": 0, "PartialSuccess": 1, "Conflict": 2, "HigherVote": 3}


def payload(m):
    t = m["type"]
    if t == "Vote":
        return vote(m["vote"]) + option_log_id(m["last_log_id"])
    if t == "VoteResponse":
        return vote(m["vote"]) + boolean(m["granted"]) + option_log_id(m["last_log_id"])
    if t == "Append":
        out = vote(m["vote"]) + option_log_id(m["prev_log_id"]) + option_log_id(m["leader_commit"])
        out += u32(len(m["entries"]))
        for e in m["entries"]:
            out += log_id(e["log_id"]) + u8(KINDS[e["kind"]]) + blob(bytes.fromhex(e["data"]))
        return out
    if t == "AppendResponse":
        out = u8(RESULTS[m["result"]])
        if m["result"] == "PartialSuccess":
            out += option_log_id(m["matching"])
        if m["result"] == "HigherVote":
            out += vote(m["higher_vote"])
        return out
    if t == "Snapshot":
        out = vote(m["vote"]) + u64(m["total_size"]) + u64(m["offset"]) + boolean(m["done"])
        out += text(m["snapshot_id"])
        meta = m["meta"]
        out += boolean(meta is not None)
        if meta is not None:
            out += option_log_id(meta["last_log_id"]) + option_log_id(meta["membership_log_id"])
            out += membership(meta["membership"])
        return out + blob(bytes.fromhex(m["data"]))
    if t == "SnapshotResponse":
        return vote(m["vote"])
    raise ValueError(t)


def frame(m):
    """SPEC.md §2: marker, version 1, type, flags 0, request id, length, header CRC, payload,
    payload CRC (CRC-32/ISO-HDLC, as zlib computes it)."""
    body = payload(m)
    head = b"\xc1RFW" + u8(1) + u8(TYPE_BYTES[m["type"]]) + u16(0) + u64(m["request_id"]) + u32(len(body))
    return head + u32(zlib.crc32(head)) + body + u32(zlib.crc32(body))


# ---- a generator of valid messages, from the requirements (LV-1, LV-2, AE-2..5, MEM-1, MEM-2,
# CONF-1, IS-1..5), independent of the repository's Arbitrary impls ----


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def u64(self, low=0, high=U64):
        """Edge values often: the bounds, their neighbours, small numbers."""
        pick = self.r.random()
        if pick < 0.15:
            return low
        if pick < 0.3:
            return high
        if pick < 0.4:
            return min(low + 1, high)
        if pick < 0.5:
            return max(high - 1, low)
        if pick < 0.75:
            return self.r.randint(low, min(high, low + 1000))
        return self.r.randint(low, high)

    def chance(self, p=0.5):
        return self.r.random() < p

    def text(self, limit):
        alphabet = "abc:/.0123456789-é€𝄞 "
        s = "".join(self.r.choice(alphabet) for _ in range(self.r.randint(0, 24)))
        if self.chance(0.05):
            # At the limit, in bytes: ASCII padding up to exactly `limit`.
            s = "x" * limit
        while len(s.encode("utf-8")) > limit:
            s = s[:-1]
        return s

    def bytes(self, n):
        return bytes(self.r.getrandbits(8) for _ in range(n))

    def any_vote(self):
        return [self.u64(), self.u64(), self.chance()]

    def request_vote(self, committed):
        return [self.u64(1), self.u64(), committed]

    def leader_at_most(self, vote_leader, floor=(0, 0)):
        """A leader id (term, node) with floor <= it <= vote_leader."""
        if floor > vote_leader:
            raise ValueError("empty range")
        for _ in range(20):
            term = self.u64(floor[0], vote_leader[0])
            low = floor[1] if term == floor[0] else 0
            high = vote_leader[1] if term == vote_leader[0] else U64
            if low <= high:
                return (term, self.u64(low, high))
        return floor

    def log_id_at_most(self, vote_leader, index_high=U64):
        term, node = self.leader_at_most(vote_leader)
        return [term, node, self.u64(0, index_high)]

    def any_log_id(self):
        return [self.u64(), self.u64(), self.u64()]

    def membership(self, sets=None):
        sets = self.r.choice([1, 1, 1, 2]) if sets is None else sets
        configs, voters = [], set()
        for _ in range(sets):
            ids = sorted({self.u64() for _ in range(self.r.randint(1, 5))})
            configs.append(ids)
            voters.update(ids)
        extra = {self.u64() for _ in range(self.r.randint(0, 2))}
        nodes = [[i, self.text(1024)] for i in sorted(voters | extra)]
        return {"configs": configs, "nodes": nodes}

    def vote_request(self):
        v = self.request_vote(False)
        last = self.log_id_at_most((v[0], v[1])) if self.chance(0.7) else None
        return {"type": "Vote", "vote": v, "last_log_id": last}

    def vote_response(self):
        last = self.any_log_id() if self.chance(0.7) else None
        return {"type": "VoteResponse", "vote": self.any_vote(), "granted": self.chance(), "last_log_id": last}

    def append(self):
        v = self.request_vote(True)
        leader = (v[0], v[1])
        count = self.r.choice([0, 0, 1, 2, 3, 8, 20])
        prev = None
        if self.chance(0.8):
            prev = self.log_id_at_most(leader, U64 - count)
        commit = self.log_id_at_most(leader) if self.chance(0.7) else None
        entries, index = [], 0 if prev is None else prev[2] + 1
        floor = (0, 0) if prev is None else (prev[0], prev[1])
        for _ in range(count):
            floor = self.leader_at_most(leader, floor) if self.chance(0.3) else floor
            kind = self.r.choice(["Normal", "Normal", "Blank", "Membership"])
            e = {"log_id": [floor[0], floor[1], index], "kind": kind}
            if kind == "Normal":
                e["data"] = self.bytes(self.r.choice([0, 1, 5, 64, 300])).hex()
            elif kind == "Blank":
                e["data"] = ""
            else:
                e["membership"] = self.membership()
                e["data"] = membership(e["membership"]).hex()
            entries.append(e)
            index += 1
        return {"type": "Append", "vote": v, "prev_log_id": prev, "leader_commit": commit, "entries": entries}

    def append_response(self):
        result = self.r.choice(list(RESULTS))
        m = {"type": "AppendResponse", "result": result}
        if result == "PartialSuccess":
            m["matching"] = self.any_log_id() if self.chance(0.8) else None
        if result == "HigherVote":
            m["higher_vote"] = self.any_vote()
        return m

    def snapshot(self):
        v = self.request_vote(True)
        leader = (v[0], v[1])
        first = self.chance(0.5)
        total = self.r.choice([0, 1, 10, 1000, self.u64()])
        offset = 0 if first else self.r.randint(1, total) if total > 0 else 0
        if offset == 0 and not first:
            first = True
        # A chunk ends at or before the total (IS-1); it is done exactly at the end (IS-2); a
        # chunk before the last carries data (IS-5).
        room = total - offset
        length = self.r.randint(0, min(room, 200))
        if not self.chance(0.3) and room <= 200:
            length = room
        done = offset + length == total
        if not done and length == 0:
            length = 1
            done = offset + length == total
        meta = None
        if first:
            if self.chance(0.3):
                # An uninitialised node's snapshot: no membership log id, an empty membership.
                last = self.log_id_at_most(leader) if self.chance(0.5) else None
                meta = {"last_log_id": last, "membership_log_id": None,
                        "membership": {"configs": [], "nodes": []}}
            else:
                last = self.log_id_at_most(leader)
                term, node = self.leader_at_most(leader)
                mlog = [term, node, self.u64(0, last[2])]
                meta = {"last_log_id": last, "membership_log_id": mlog, "membership": self.membership()}
        return {"type": "Snapshot", "vote": v, "total_size": total, "offset": offset, "done": done,
                "snapshot_id": self.text(1024), "meta": meta, "data": self.bytes(length).hex()}

    def snapshot_response(self):
        return {"type": "SnapshotResponse", "vote": self.any_vote()}

    def message(self):
        make = self.r.choice([self.vote_request, self.vote_response, self.append, self.append,
                              self.append_response, self.snapshot, self.snapshot, self.snapshot_response])
        m = make()
        m["request_id"] = self.u64(1)
        return m


def main():
    if len(sys.argv) != 4 or sys.argv[1] != "--random":
        sys.exit("usage: rfw_encode.py --random COUNT SEED")
    gen = Gen(int(sys.argv[3]))
    for _ in range(int(sys.argv[2])):
        m = gen.message()
        print(json.dumps({"frame": frame(m).hex(), "message": m}))


if __name__ == "__main__":
    main()
