//! The codec against an encoder it did not write: `conformance/examples/rfw_encode.py` writes
//! leader-id family frames (SPEC.md §5.7) from the spec text, for messages its own generator
//! chose under the spec's requirements, and says what it encoded. Each frame must be accepted,
//! decode to exactly those values, and be what the codec itself writes for them.
//!
//! Until this test, every family frame the codec had decoded was written by the codec (or mutated
//! from its output; `tests/differential_python.rs` compares verdicts, not values): a field both
//! sides laid out the same wrong way, or two fields swapped on both, would have passed.

use std::process::Command;

use bytes::Bytes;
use raftwire_codec::{decode, LeaderVote, LogEntryKind, LogId, Membership, Message};
use serde_json::{json, Value};

fn vote(v: &LeaderVote) -> Value {
    json!([v.term, v.node, v.committed])
}

fn log_id(l: &Option<LogId>) -> Value {
    l.map_or(Value::Null, |l| json!([l.term, l.node, l.index]))
}

fn membership(m: &Membership) -> Value {
    let nodes: Vec<Value> = m.nodes.iter().map(|n| json!([n.id, n.address])).collect();
    json!({"configs": m.configs, "nodes": nodes})
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The decoded message in the encoder's description format (see the script's doc comment).
fn describe(request_id: u64, message: &Message) -> Value {
    let mut d = match message {
        Message::Vote(v) => json!({"type": "Vote", "vote": vote(&v.vote), "last_log_id": log_id(&v.last_log_id)}),
        Message::VoteResponse(v) => json!({
            "type": "VoteResponse", "vote": vote(&v.vote), "granted": v.granted,
            "last_log_id": log_id(&v.last_log_id),
        }),
        Message::Append(a) => {
            let entries: Vec<Value> = a
                .entries
                .iter()
                .map(|e| {
                    let kind = match e.kind {
                        LogEntryKind::Normal => "Normal",
                        LogEntryKind::Blank => "Blank",
                        LogEntryKind::Membership => "Membership",
                    };
                    let mut d = json!({"log_id": log_id(&Some(e.log_id)), "kind": kind, "data": hex(&e.data)});
                    if let Some(m) = e.membership() {
                        d["membership"] = membership(&m);
                    }
                    d
                })
                .collect();
            json!({
                "type": "Append", "vote": vote(&a.vote), "prev_log_id": log_id(&a.prev_log_id),
                "leader_commit": log_id(&a.leader_commit), "entries": entries,
            })
        }
        Message::AppendResponse(r) => match r {
            raftwire_codec::AppendResponse::Success => json!({"type": "AppendResponse", "result": "Success"}),
            raftwire_codec::AppendResponse::Conflict => json!({"type": "AppendResponse", "result": "Conflict"}),
            raftwire_codec::AppendResponse::PartialSuccess(m) => {
                json!({"type": "AppendResponse", "result": "PartialSuccess", "matching": log_id(m)})
            }
            raftwire_codec::AppendResponse::HigherVote(v) => {
                json!({"type": "AppendResponse", "result": "HigherVote", "higher_vote": vote(v)})
            }
        },
        Message::Snapshot(s) => json!({
            "type": "Snapshot", "vote": vote(&s.vote), "total_size": s.total_size, "offset": s.offset,
            "done": s.done, "snapshot_id": s.snapshot_id, "data": hex(&s.data),
            "meta": s.meta.as_ref().map_or(Value::Null, |m| json!({
                "last_log_id": log_id(&m.last_log_id), "membership_log_id": log_id(&m.membership_log_id),
                "membership": membership(&m.membership),
            })),
        }),
        Message::SnapshotResponse(s) => json!({"type": "SnapshotResponse", "vote": vote(&s.vote)}),
        other => json!({"type": other.message_type().name()}),
    };
    d["request_id"] = json!(request_id);
    d
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[test]
fn the_codec_reads_and_writes_what_an_encoder_written_from_the_spec_writes() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/conformance/examples/rfw_encode.py");
    let out = Command::new("python3")
        .args([script, "--random", "4000", "20261130"])
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = String::from_utf8(out.stdout).expect("utf-8");
    let (mut checked, mut kinds) = (0, std::collections::BTreeMap::<String, usize>::new());
    let (mut stream, mut decoded) = (bytes::BytesMut::new(), Vec::new());
    for (n, line) in lines.lines().enumerate() {
        let case: Value = serde_json::from_str(line).expect("json");
        let bytes = unhex(case["frame"].as_str().expect("frame"));
        let expected = &case["message"];
        let frame = match decode(&Bytes::from(bytes.clone())) {
            Ok(f) => f,
            Err(e) => panic!("line {n}: a valid {} refused: {e}\n{expected}", expected["type"]),
        };
        let got = describe(frame.request_id, &frame.message);
        assert_eq!(&got, expected, "line {n}: decoded values differ from the encoded ones");
        stream.extend_from_slice(&bytes);
        decoded.push(frame.clone());
        let written = frame.to_bytes().expect("encode");
        assert_eq!(
            hex(&written),
            hex(&bytes),
            "line {n}: the codec writes {expected} differently"
        );
        *kinds
            .entry(expected["type"].as_str().unwrap_or("").to_string())
            .or_default() += 1;
        checked += 1;
    }
    assert_eq!(checked, 4000);
    // The same frames back to back, as a transport reads them: `RfwCodec` decodes those that keep
    // nothing of its buffer (votes, responses, heartbeats) in place and splits off the others;
    // either way, each must be exactly what the one-shot decoder read.
    let mut codec = raftwire_codec::RfwCodec::default();
    let mut from_codec = Vec::new();
    while let Some(frame) = tokio_util::codec::Decoder::decode(&mut codec, &mut stream).expect("a valid frame") {
        from_codec.push(frame);
    }
    assert!(stream.is_empty());
    assert_eq!(from_codec.len(), decoded.len());
    for (n, (a, b)) in from_codec.iter().zip(&decoded).enumerate() {
        assert_eq!(a, b, "frame {n}: RfwCodec and decode differ");
    }
    // Every type of the family, and the shapes that matter, were among them.
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    for shape in [
        "\"kind\": \"Membership\"",
        "\"kind\": \"Blank\"",
        "\"result\": \"PartialSuccess\"",
        "\"result\": \"HigherVote\"",
        "\"membership_log_id\": null",
        "\"done\": false",
    ] {
        assert!(lines.contains(shape), "no case with {shape}");
    }
}
