//! Differential test against a second implementation: the codec and the Python decoder written
//! from SPEC.md alone (`conformance/examples/rfw_decode.py`) must give the same verdict, accept
//! or the same error code at the same byte, on thousands of mutated frames of every type. The
//! vectors check both on inputs someone chose; this checks them on inputs nobody chose, where a
//! rule the spec states loosely (or one implementation reads differently) shows as a
//! disagreement. The leader-id family (SPEC.md §5.7) is most of the input: it is the newest text.

use std::io::Write;
use std::process::{Command, Stdio};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use raftwire_codec::craft::RawFrame;
use raftwire_codec::{decode_all, Frame, Limits, HEADER_LEN, TRAILER_LEN};
use raftwire_conformance::cases::valid_messages;

/// xorshift64*: deterministic, so a failure reproduces from its seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// (type byte, payload) of every seed: the named valid messages and generated ones.
fn seeds() -> Vec<(u8, Vec<u8>)> {
    let mut frames: Vec<Frame> = valid_messages().into_iter().map(|(_, _, m)| Frame::new(1, m)).collect();
    let mut rng = Rng(0xd1ff);
    let mut family = 0;
    while family < 200 {
        let raw: Vec<u8> = (0..64 + rng.below(400)).map(|_| rng.next() as u8).collect();
        if let Ok(f) = Frame::arbitrary(&mut Unstructured::new(&raw)) {
            // The leader-id family's type bytes have bit 0x10 set.
            if f.message_type() as u8 & 0x10 != 0 {
                family += 1;
                frames.push(f);
            }
        }
    }
    frames
        .iter()
        .filter_map(|f| f.to_bytes().ok())
        .map(|b| (b[5], b[HEADER_LEN..b.len() - TRAILER_LEN].to_vec()))
        .collect()
}

/// One to three edits of `payload` that keep its CRCs valid (the frame is resealed), so the body
/// rules decide: bytes set at random or to edge values, a u64 field set to a small number, a cut,
/// an inserted byte.
fn mutate(rng: &mut Rng, payload: &[u8]) -> Vec<u8> {
    let mut p = payload.to_vec();
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(p.len());
        match rng.below(6) {
            0 if !p.is_empty() => p[at] = rng.next() as u8,
            1 if !p.is_empty() => p[at] = [0, 1, 2, 3, 0xFF][rng.below(5)],
            2 if p.len() >= at + 8 => {
                let small = rng.below(14) as u64;
                p[at..at + 8].copy_from_slice(&small.to_be_bytes());
            }
            3 => p.truncate(at),
            4 => p.insert(at, rng.next() as u8),
            _ if !p.is_empty() => p[at] ^= 1 << rng.below(8),
            _ => {}
        }
    }
    p
}

/// The codec's verdict in the contract's words.
fn ours(bytes: &[u8]) -> String {
    match decode_all(&Bytes::copy_from_slice(bytes), &Limits::default()) {
        Ok(frames) => format!("accept {}", frames.len()),
        Err(e) => format!("reject {} {}", e.code.as_str(), e.offset),
    }
}

/// The Python decoder's verdicts, one per input, from one process.
fn theirs(inputs: &[Vec<u8>]) -> Vec<String> {
    let mut child = Command::new("python3")
        .args(["conformance/examples/rfw_decode.py", "--lines"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut text = String::new();
    for input in inputs {
        text.extend(input.iter().map(|b| format!("{b:02x}")));
        text.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            match v["verdict"].as_str() {
                Some("accept") => format!("accept {}", v["frames"].as_array().map_or(0, Vec::len)),
                _ => format!("reject {} {}", v["code"].as_str().unwrap_or("?"), v["offset"]),
            }
        })
        .collect()
}

#[test]
fn the_codec_and_the_python_decoder_agree_on_mutated_frames_of_every_type() {
    let seeds = seeds();
    let mut rng = Rng(0x005e_ed0f_d1ff);
    let inputs: Vec<Vec<u8>> = (0..20_000)
        .map(|i| {
            let (ty, payload) = &seeds[i % seeds.len()];
            // Every seed once as it is, then mutated.
            let body = if i < seeds.len() {
                payload.clone()
            } else {
                mutate(&mut rng, payload)
            };
            RawFrame::new(*ty, body).bytes()
        })
        .collect();
    let expected: Vec<String> = inputs.iter().map(|b| ours(b)).collect();
    let got = theirs(&inputs);
    assert_eq!(got.len(), inputs.len());
    let disagreements: Vec<String> = (0..inputs.len())
        .filter(|&i| expected[i] != got[i])
        .map(|i| {
            let hex: String = inputs[i].iter().map(|b| format!("{b:02x}")).collect();
            format!("input {i} ({hex}): codec says {}, Python says {}", expected[i], got[i])
        })
        .collect();
    assert!(
        disagreements.is_empty(),
        "{} disagreements, the first:\n{}",
        disagreements.len(),
        disagreements[..disagreements.len().min(5)].join("\n")
    );
    // Not vacuous: the mutations reach the family's own rules and many others, and some
    // mutated frames are still valid.
    let codes: std::collections::BTreeSet<&str> = expected
        .iter()
        .filter_map(|v| v.strip_prefix("reject "))
        .filter_map(|v| v.split(' ').next())
        .collect();
    for code in [
        "bad_vote_commit",
        "log_id_after_vote",
        "ids_out_of_order",
        "entry_index_gap",
        "bad_snapshot_point",
    ] {
        assert!(codes.contains(code), "no mutated input reached {code}: {codes:?}");
    }
    assert!(codes.len() >= 15, "{codes:?}");
    let accepted_mutants = expected[seeds.len()..]
        .iter()
        .filter(|v| v.starts_with("accept"))
        .count();
    assert!(accepted_mutants > 100, "{accepted_mutants}");
}
