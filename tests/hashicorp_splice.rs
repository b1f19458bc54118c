//! Two writers on one hashicorp/raft connection, from real library traffic (#14): streams of the
//! real raft 1.1.2 and 1.7.3 captures are spliced as an unlocked second writer would splice them,
//! `A[..i] + B[j..j+n] + A[i..]`, with cuts on, near and off message boundaries, write sizes of
//! 7, 512, 4096 and 1-64 bytes, responses written where requests go, and the last byte of a
//! message displaced. An oracle of the test's own knows every message really sent (the units of
//! the clean streams: the real streams check clean and match the nodes' own counts, which
//! `tests/hashicorp.rs` asserts) and where each lands in the splice, and judges what the checker
//! made of it: whether the splice was noticed, whether a message nobody sent was accepted clean,
//! how many genuine messages after the splice were still counted, and whether a misplaced
//! response was named at its offset.

mod common;

use std::path::Path;

use common::raftwire;
use common::rfw::Rng;
use raftwire_hashicorp::check;

/// A direction's stream and the offsets where its messages (with any snapshot data) begin.
struct Stream {
    bytes: Vec<u8>,
    starts: Vec<usize>,
}

impl Stream {
    /// Unit `k`: `[starts[k], starts[k + 1])`.
    fn unit(&self, k: usize) -> std::ops::Range<usize> {
        self.starts[k]..self.starts.get(k + 1).copied().unwrap_or(self.bytes.len())
    }

    /// The message of unit `k` without the InstallSnapshot data that follows it: a splice inside
    /// snapshot data leaves the request whole (and is undetectable there: the data is opaque).
    fn message(&self, k: usize) -> std::ops::Range<usize> {
        let u = self.unit(k);
        if self.bytes[u.start] == 2 {
            if let Ok((rest, _)) = raftwire_hashicorp::msgpack::value(&self.bytes[u.start + 1..u.end]) {
                return u.start..u.end - rest.len();
            }
        }
        u
    }
}

fn streams_of(capture: &str, dir: &Path) -> (Vec<Stream>, Vec<Stream>) {
    raftwire()
        .args(["streams", "--out"])
        .arg(dir)
        .arg(capture)
        .assert()
        .success();
    let mut requests = Vec::new();
    let mut responses = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for c2s in files.iter().filter(|p| p.to_string_lossy().ends_with(".c2s.bin")) {
        let s2c = std::path::PathBuf::from(c2s.to_string_lossy().replace(".c2s.bin", ".s2c.bin"));
        let (q, r) = (std::fs::read(c2s).unwrap(), std::fs::read(&s2c).unwrap());
        let c = check(&q, &r);
        let must = |d: &raftwire_hashicorp::Direction| d.findings.iter().filter(|f| f.level == "MUST").count();
        assert_eq!(
            (must(&c.requests), must(&c.responses)),
            (0, 0),
            "{}: real streams check clean",
            c2s.display()
        );
        let starts = |d: &raftwire_hashicorp::Direction| d.messages.iter().map(|(o, _)| *o as usize).collect();
        if c.requests.messages.len() >= 2 {
            requests.push(Stream {
                starts: starts(&c.requests),
                bytes: q,
            });
        }
        if c.responses.messages.len() >= 2 {
            responses.push(Stream {
                starts: starts(&c.responses),
                bytes: r,
            });
        }
    }
    std::fs::remove_dir_all(dir).unwrap();
    (requests, responses)
}

/// Picking from a slice with the shared generator.
trait Pick {
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T;
}

impl Pick for Rng {
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
}

/// True if `bytes` are, byte for byte, a sequence of whole messages of `a` and `b` (identical
/// heartbeats make some splices exactly such a sequence: no reader can tell them from genuine).
fn reads_as_genuine(bytes: &[u8], a: &Stream, b: &Stream) -> bool {
    let units: Vec<&[u8]> = [a, b]
        .iter()
        .flat_map(|s| (0..s.starts.len()).map(|k| &s.bytes[s.unit(k)]))
        .collect();
    let mut reachable = vec![false; bytes.len() + 1];
    reachable[0] = true;
    for p in 0..bytes.len() {
        if reachable[p] {
            for u in &units {
                if bytes[p..].starts_with(u) {
                    reachable[p + u.len()] = true;
                }
            }
        }
    }
    reachable[bytes.len()]
}

/// One splice: the bytes, and where every whole genuine message lands in them.
struct Splice {
    bytes: Vec<u8>,
    /// Offsets in `bytes` of whole genuine messages (units copied whole and contiguous).
    genuine: Vec<usize>,
    /// Of those, the ones after the inserted piece (A's own, resumed).
    after: Vec<usize>,
    /// Where a whole response was put in the request direction, if one was.
    response_at: Option<usize>,
    /// True if the result is a sequence of whole genuine messages the library could write.
    valid: bool,
    /// The bytes are, byte for byte, whole genuine messages (see [`reads_as_genuine`]).
    indistinguishable: bool,
}

/// `A[..i] + piece + A[i..]`, where `piece` is `src[j..j + n]`.
fn splice(a: &Stream, i: usize, src: &Stream, j: usize, n: usize) -> Splice {
    let n = n.min(src.bytes.len() - j);
    let mut bytes = a.bytes[..i].to_vec();
    bytes.extend_from_slice(&src.bytes[j..j + n]);
    bytes.extend_from_slice(&a.bytes[i..]);
    let mut genuine = Vec::new();
    let mut after = Vec::new();
    for k in 0..a.starts.len() {
        let u = a.unit(k);
        if a.message(k).end <= i {
            genuine.push(u.start);
        } else if u.start >= i {
            genuine.push(u.start + n);
            after.push(u.start + n);
        }
    }
    for k in 0..src.starts.len() {
        let u = src.message(k);
        if u.start >= j && u.end <= j + n {
            genuine.push(i + u.start - j);
        }
    }
    genuine.sort_unstable();
    Splice {
        bytes,
        genuine,
        after,
        response_at: None,
        valid: false,
        indistinguishable: false,
    }
}

#[derive(Default, Debug)]
struct Tally {
    trials: usize,
    invalid: usize,
    invalid_noticed: usize,
    valid: usize,
    valid_clean: usize,
    forged_clean: usize,
    random: usize,
    after_total: usize,
    after_counted: usize,
    responses: usize,
    responses_named: usize,
    missed: Vec<String>,
    forged: Vec<String>,
    lost: Vec<String>,
    indistinguishable: usize,
}

fn judge(t: &mut Tally, s: &Splice, random: bool, what: &str) {
    let c = check(&s.bytes, &[]);
    let d = &c.requests;
    let must: Vec<_> = d.findings.iter().filter(|f| f.level == "MUST").collect();
    t.trials += 1;
    if s.valid {
        t.valid += 1;
        t.valid_clean += usize::from(must.is_empty());
    } else if must.is_empty() && s.indistinguishable {
        t.indistinguishable += 1;
    } else {
        t.invalid += 1;
        if must.is_empty() {
            if t.missed.len() < 12 {
                let first: Vec<_> = d.messages.iter().take(3).collect();
                let info: Vec<_> = d.findings.iter().map(|f| (f.offset, f.code)).collect();
                let at = s.genuine.first().copied().unwrap_or(0);
                t.missed.push(format!(
                    "{what}: messages {first:?}, findings {info:?}, bytes {:02x?}",
                    &s.bytes[at..(at + 140).min(s.bytes.len())]
                ));
            }
        } else {
            t.invalid_noticed += 1;
        }
    }
    if random {
        t.random += 1;
        // A message counted where no whole genuine message starts, with no finding at it.
        let forged = d.messages.iter().find(|(o, _)| {
            let o = *o as usize;
            s.genuine.binary_search(&o).is_err() && !must.iter().any(|f| f.offset as usize == o)
        });
        t.forged_clean += usize::from(forged.is_some());
        if let Some((o, name)) = forged {
            if t.forged.len() < 16 {
                let o = *o as usize;
                let end = (o + 48).min(s.bytes.len());
                t.forged
                    .push(format!("{what}: {name} at {o}: {:02x?}", &s.bytes[o..end]));
            }
        }
    }
    let counted: std::collections::BTreeSet<usize> = d.messages.iter().map(|(o, _)| *o as usize).collect();
    t.after_total += s.after.len();
    t.after_counted += s.after.iter().filter(|o| counted.contains(o)).count();
    if let Some(o) = s.after.iter().find(|o| !counted.contains(o)) {
        if t.lost.len() < 10 {
            let near: Vec<_> = d
                .findings
                .iter()
                .filter(|f| f.level == "MUST")
                .take(4)
                .map(|f| (f.offset, f.code))
                .collect();
            t.lost
                .push(format!("{what}: genuine message at {o} not counted; findings {near:?}"));
        }
    }
    if let Some(at) = s.response_at {
        t.responses += 1;
        t.responses_named += usize::from(
            d.findings
                .iter()
                .any(|f| f.offset as usize == at && f.code == "hc_response_in_request_direction"),
        );
    }
}

fn measure(seed: u64, trials: usize) -> Tally {
    let dir = tempfile::tempdir().unwrap();
    let (mut requests, mut responses) = streams_of(
        "tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap",
        &dir.path().join("a"),
    );
    let (q, r) = streams_of(
        "tests/fixtures/hashicorp/raft-1.7.3-cluster.pcap",
        &dir.path().join("b"),
    );
    requests.extend(q);
    responses.extend(r);
    let mut rng = Rng(seed);
    let mut t = Tally::default();
    const WRITES: [usize; 3] = [7, 512, 4096];
    for trial in 0..trials {
        let a = rng.pick(&requests);
        let kind = trial % 5;
        let boundary = |rng: &mut Rng, s: &Stream| s.starts[1 + rng.below(s.starts.len() - 1)];
        let n_write = |rng: &mut Rng| {
            if rng.below(2) == 0 {
                *rng.pick(&WRITES)
            } else {
                1 + rng.below(64)
            }
        };
        match kind {
            // Random: cuts on, near or off boundaries, in either stream.
            0 | 1 => {
                let b = rng.pick(&requests);
                let i = match rng.below(3) {
                    0 => boundary(&mut rng, a),
                    1 => (boundary(&mut rng, a) + rng.below(5)).saturating_sub(2).max(1),
                    _ => 1 + rng.below(a.bytes.len() - 1),
                };
                let j = if rng.below(2) == 0 {
                    boundary(&mut rng, b)
                } else {
                    rng.below(b.bytes.len())
                };
                let n = n_write(&mut rng);
                let s = splice(a, i, b, j, n);
                let whole = a.starts.contains(&i)
                    && b.starts.contains(&j)
                    && (b.starts.contains(&(j + n)) || j + n >= b.bytes.len());
                let mut s = s;
                // Whole messages of another connection at a boundary may be valid; the oracle
                // does not judge their terms, so they are left out of the valid/invalid counts.
                if whole {
                    continue;
                }
                s.valid = false;
                s.indistinguishable = reads_as_genuine(&s.bytes, a, b);
                judge(
                    &mut t,
                    &s,
                    true,
                    &format!("random a={} i={i} j={j} n={n}", a.bytes.len()),
                );
            }
            // The other writer's bytes land on the last byte of a message: before it, or over it.
            2 => {
                let b = rng.pick(&requests);
                let i = boundary(&mut rng, a) - 1;
                let j = rng.below(b.bytes.len());
                let n = n_write(&mut rng);
                let mut s = splice(a, i, b, j, n);
                if rng.below(2) == 0 {
                    // Over it: that byte is lost.
                    let at = i + n.min(b.bytes.len() - j);
                    s.bytes.remove(at);
                    for o in s.genuine.iter_mut().chain(s.after.iter_mut()) {
                        if *o > at {
                            *o -= 1;
                        }
                    }
                }
                s.indistinguishable = reads_as_genuine(&s.bytes, a, b);
                judge(&mut t, &s, false, &format!("last-byte i={i} j={j} n={n}"));
            }
            // An intact response written where requests go.
            3 => {
                let r = rng.pick(&responses);
                let k = rng.below(r.starts.len());
                let u = r.unit(k);
                let i = if rng.below(4) == 0 { 0 } else { boundary(&mut rng, a) };
                let mut s = splice(a, i, r, u.start, u.len());
                s.response_at = Some(i);
                judge(&mut t, &s, false, &format!("response i={i} k={k}"));
            }
            // Valid: the message before a boundary written again (a retransmission by the same
            // writer), which the library could send.
            _ => {
                let k = 1 + rng.below(a.starts.len() - 1);
                let u = a.unit(k - 1);
                let i = a.starts[k];
                let mut s = splice(a, i, a, u.start, u.len());
                s.valid = true;
                judge(&mut t, &s, false, &format!("duplicate k={k}"));
            }
        }
    }
    t
}

#[test]
fn splices_of_real_hashicorp_streams_are_noticed_and_lose_nothing() {
    let seed = std::env::var("SPLICE_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(14);
    let t = measure(seed, 2000);
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    eprintln!(
        "splices: {} trials; invalid noticed {}/{} ({:.1}%); valid clean {}/{}; forged accepted clean in {}/{} random ({:.2}%); genuine after counted {}/{} ({:.2}%); responses named {}/{} ({:.1}%)",
        t.trials,
        t.invalid_noticed,
        t.invalid,
        pct(t.invalid_noticed, t.invalid),
        t.valid_clean,
        t.valid,
        t.forged_clean,
        t.random,
        pct(t.forged_clean, t.random),
        t.after_counted,
        t.after_total,
        pct(t.after_counted, t.after_total),
        t.responses_named,
        t.responses,
        pct(t.responses_named, t.responses),
    );
    eprintln!("missed: {:#?}", t.missed);
    eprintln!("forged: {:#?}", t.forged);
    eprintln!("lost: {:#?}", t.lost);
    eprintln!(
        "indistinguishable from genuine (not counted either way): {}",
        t.indistinguishable
    );
    // The targets of #14. The only misses allowed are the one kind no reader of one connection
    // can catch (HASHICORP.md, "What stays undetectable"): a plausible Term written over the last
    // byte of a message that no later message with a Term follows.
    assert!(
        t.invalid - t.invalid_noticed <= t.invalid / 500,
        "invalid splices not noticed: {:#?}",
        t.missed
    );
    assert!(t.missed.iter().all(|m| m.starts_with("last-byte")), "{:#?}", t.missed);
    assert_eq!(t.valid_clean, t.valid, "a false alarm on a valid splice");
    assert!(
        t.forged_clean * 100 <= t.random,
        "forged messages accepted clean: {:#?}",
        t.forged
    );
    assert!(
        t.after_counted * 100 >= t.after_total * 99,
        "genuine messages lost: {:#?}",
        t.lost
    );
    assert!(
        t.responses_named * 100 >= t.responses * 95,
        "responses in the request direction not named"
    );
    assert!(t.trials > 1900 && t.random > 700 && t.responses > 300 && t.valid > 300);
}

/// Auto-detection never takes these hashicorp/raft streams for RFW/1 (#14): a request stream that
/// starts with a response (the incident's own bytes), and one whose only request is cut after
/// its type byte. Through the CLI, as raw client->server files.
#[test]
fn a_request_stream_starting_with_a_response_or_a_cut_request_is_hashicorp() {
    let dir = tempfile::tempdir().unwrap();
    let (requests, responses) = streams_of(
        "tests/fixtures/hashicorp/raft-1.1.2-cluster.pcap",
        &dir.path().join("s"),
    );
    let (a, r) = (&requests[0], &responses[0]);
    let response = &r.bytes[r.unit(0)];
    let started = [response, &a.bytes[..]].concat();
    let path = dir.path().join("first.c2s.bin");
    std::fs::write(&path, &started).unwrap();
    let (code, report) = common::validate_json(&[&path]);
    assert_eq!(code, 1);
    let c = &report["connections"][0];
    assert_eq!(c["dialect"], "hashicorp", "{report}");
    let v = &c["directions"]["client_to_server"]["violations"][0];
    assert_eq!(
        (v["code"].as_str(), v["offset"].as_u64()),
        (Some("hc_response_in_request_direction"), Some(0))
    );
    assert_eq!(
        c["directions"]["client_to_server"]["frames"].as_u64(),
        Some(a.starts.len() as u64),
        "every request after it counted"
    );
    let cut = dir.path().join("cut.c2s.bin");
    std::fs::write(&cut, [0x00]).unwrap();
    let (code, report) = common::validate_json(&[&cut]);
    assert_eq!(code, 1);
    assert_eq!(report["connections"][0]["dialect"], "hashicorp", "{report}");
    let v = &report["connections"][0]["directions"]["client_to_server"]["violations"][0];
    assert_eq!(v["code"], "hc_truncated");
}
