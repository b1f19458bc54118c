//! `--fuzz N`: mutations of valid, stale requests sent to a live node, one per connection, with
//! the sanity exchanges deciding after each whether it hung or died. A finding is saved as a
//! reproducer file (`--replay FILE` sends it again) and, while the node is (or comes back) alive,
//! minimised: shorter inputs are tried, and kept if they still make the node hang or die.
//!
//! The mutations are libFuzzer's kinds (bit flips, interesting bytes and lengths, insertions,
//! deletions, duplications, splices of two requests), then the dialect's repair (RFW/1: the
//! length and both CRCs, seven times in eight, as the fuzz targets' mutator does), so most inputs
//! get past the checksums into the body parsers. An input whose terms might not be stale for the
//! node, as far as the dialect can read them, is not sent unless `--disruptive`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::case::{Level, Step};
use crate::exchange::{exchange, Setting};
use crate::report::{CaseResult, Outcome, Report, Summary};
use crate::runner::{aftermath, node_term, Health, ProbeError};
use crate::Dialect;

/// How a fuzzing run behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuzzOptions {
    /// Inputs to send.
    pub inputs: usize,
    /// The PRNG seed: the same seed against the same node sends the same inputs.
    pub seed: u64,
    /// Timeout for connections and sanity exchanges.
    pub timeout: Duration,
    /// How long to read the node's answer to an input before the sanity exchanges (a node that
    /// waits for more bytes is normal: a mutated length announces them).
    pub wait: Duration,
    /// Also send inputs whose terms might not be stale for the node.
    pub disruptive: bool,
    /// Where reproducers are written.
    pub out: PathBuf,
    /// How long to wait for a node that died to come back (restarted by its supervisor) before
    /// minimising or going on; zero to stop at the first death.
    pub restart_wait: Duration,
    /// Inputs tried while minimising one finding, at most.
    pub minimise_tries: usize,
    /// Stop after this many findings.
    pub max_findings: usize,
}

/// The longest input the fuzzer makes.
const MAX_INPUT: usize = 4096;

/// splitmix64: small, fast, and the same everywhere, so a seed reproduces a run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes libFuzzer's "interesting values" and msgpack's length-prefixed type bytes.
const INTERESTING: &[u8] = &[0x00, 0x01, 0x7f, 0x80, 0xff, 0xc0, 0xc1, 0xc6, 0xdb, 0xdd, 0xdf, 0xa0];

/// The kinds of mutation, as libFuzzer names its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Mutation {
    /// One bit flipped.
    BitFlip,
    /// One byte set to an interesting value.
    Interesting,
    /// Four bytes set to a length claiming everything, or nothing.
    Length,
    /// Up to 8 random bytes inserted.
    Insert,
    /// Up to 16 bytes removed.
    Delete,
    /// Up to 32 bytes of the input copied elsewhere in it.
    Duplicate,
    /// The input's head, then another request's tail.
    Splice,
    /// The input cut short.
    Truncate,
    /// One random byte appended (what is left for a one-byte input).
    Append,
}

/// One mutation of `input`, in place (never empty, never beyond `max` bytes); which one.
fn mutate(input: &mut Vec<u8>, seeds: &[Vec<u8>], rng: &mut Rng, max: usize) -> Mutation {
    let len = input.len();
    let done = match rng.below(8) {
        0 if len > 0 => {
            let i = rng.below(len);
            input[i] ^= 1 << rng.below(8);
            Mutation::BitFlip
        }
        1 if len > 0 => {
            let i = rng.below(len);
            input[i] = INTERESTING[rng.below(INTERESTING.len())];
            Mutation::Interesting
        }
        2 if len >= 4 => {
            let i = rng.below(len - 3);
            input[i..i + 4].copy_from_slice(&LENGTHS[rng.below(LENGTHS.len())]);
            Mutation::Length
        }
        3 if len < max => {
            let i = rng.below(len + 1);
            let n = 1 + rng.below(8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            input.splice(i..i, bytes);
            Mutation::Insert
        }
        4 if len > 1 => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(16));
            input.drain(i..(i + n).min(len));
            Mutation::Delete
        }
        5 if len > 1 && len < max => {
            let i = rng.below(len);
            let n = 1 + rng.below((len - i).min(32));
            let part = input[i..i + n].to_vec();
            let at = rng.below(len + 1);
            input.splice(at..at, part);
            Mutation::Duplicate
        }
        6 if !seeds.is_empty() => {
            // Two writers on one connection, or a stream cut and resumed elsewhere.
            let other = &seeds[rng.below(seeds.len())];
            let cut = rng.below(len + 1);
            let from = rng.below(other.len());
            input.truncate(cut);
            input.extend_from_slice(&other[from..]);
            Mutation::Splice
        }
        _ if len > 1 => {
            let keep = 1 + rng.below(len - 1);
            input.truncate(keep);
            Mutation::Truncate
        }
        _ => {
            input.push(rng.next() as u8);
            Mutation::Append
        }
    };
    if input.is_empty() {
        input.push(0);
    }
    input.truncate(max);
    done
}

/// The 32-bit lengths the `Length` mutation writes: everything, nothing, everything signed.
const LENGTHS: [[u8; 4]; 3] = [[0xff; 4], [0; 4], [0x7f, 0xff, 0xff, 0xff]];

/// What one input did.
fn try_input(
    addr: SocketAddr,
    dialect: &dyn Dialect,
    input: &[u8],
    setting: Setting,
    wait: Duration,
    sanity_id: &mut u64,
) -> Result<Health, ProbeError> {
    let read = Setting {
        timeout: wait,
        ..setting
    };
    let (_, open) = exchange(addr, dialect, &[Step::Send(input.to_vec())], &|a| !a.is_empty(), read)
        .map_err(|e| ProbeError::Connect(format!("could not connect: {}", e.0)))?;
    Ok(aftermath(
        addr,
        dialect,
        open,
        setting,
        &mut None,
        "a fuzz input",
        sanity_id,
    ))
}

/// Polls the sanity exchange until the node answers or `wait` passes.
fn back_alive(addr: SocketAddr, dialect: &dyn Dialect, setting: Setting, wait: Duration) -> bool {
    let until = Instant::now() + wait;
    loop {
        if node_term(addr, dialect, setting).is_ok() {
            return true;
        }
        if Instant::now() >= until {
            return false;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The same kind of finding: a hang stays a hang, a death a death.
fn same(a: &Health, b: &Health) -> bool {
    matches!(
        (a, b),
        (Health::Hung(_), Health::Hung(_)) | (Health::Died(_), Health::Died(_))
    )
}

/// Delta debugging on bytes: removes chunks, from half the input down to single bytes, while
/// what is left still `reproduces` the finding, within `tries` calls. `reproduces` answers `None`
/// when it can no longer tell (the node did not come back), which ends the search.
fn ddmin(input: &[u8], tries: usize, mut reproduces: impl FnMut(&[u8]) -> Option<bool>) -> Vec<u8> {
    let mut best = input.to_vec();
    let mut calls = 0;
    let mut chunk = best.len() / 2;
    while chunk >= 1 && calls < tries {
        let mut at = 0;
        let mut shrunk = false;
        while at < best.len() && calls < tries {
            let end = (at + chunk).min(best.len());
            let mut candidate = best[..at].to_vec();
            candidate.extend_from_slice(&best[end..]);
            if candidate.is_empty() {
                break;
            }
            calls += 1;
            match reproduces(&candidate) {
                None => return best,
                Some(true) => {
                    best = candidate;
                    shrunk = true;
                }
                Some(false) => at += chunk,
            }
        }
        if !shrunk {
            chunk /= 2;
        }
    }
    best
}

/// The shortest input found that still makes the node hang or die as `input` did. A node that
/// dies must come back (restarted by its supervisor) before each try.
fn minimise(
    addr: SocketAddr,
    dialect: &dyn Dialect,
    input: &[u8],
    finding: &Health,
    setting: Setting,
    o: &FuzzOptions,
    sanity_id: &mut u64,
) -> Vec<u8> {
    ddmin(input, o.minimise_tries, |candidate| {
        if !back_alive(addr, dialect, setting, o.restart_wait) {
            return None;
        }
        let health = try_input(addr, dialect, candidate, setting, o.wait, sanity_id).ok()?;
        Some(same(&health, finding))
    })
}

fn save(dir: &Path, dialect: &str, kind: &str, n: usize, bytes: &[u8]) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join(format!("{dialect}-{kind}-{n}.bin"));
    std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path)
}

/// Runs `o.inputs` mutated inputs against `addr`. The report has one case per finding (failed,
/// with its reproducer's path); its summary counts inputs: `passed` sent without harm, `skipped`
/// not sent (not stale for the node), `failed` findings.
pub fn fuzz(
    addr: SocketAddr,
    dialect: &dyn Dialect,
    o: &FuzzOptions,
    progress: &mut dyn FnMut(usize, &[CaseResult]),
) -> Result<Report, ProbeError> {
    let setting = Setting {
        timeout: o.timeout,
        epoch: Instant::now(),
        record: false,
    };
    let term = match node_term(addr, dialect, setting) {
        Ok(t) => t,
        Err(why) if why.starts_with("could not connect") => return Err(ProbeError::Connect(why)),
        Err(why) => {
            return Err(ProbeError::Connect(format!(
                "the node does not answer the sanity exchange: {why}"
            )))
        }
    };
    let seeds = dialect.fuzz_seeds();
    let mut rng = Rng(o.seed);
    let mut report = Report {
        target: addr.to_string(),
        dialect: dialect.name().to_string(),
        node_term: term,
        summary: Summary {
            target_alive: true,
            ..Summary::default()
        },
        cases: Vec::new(),
    };
    let (mut passed, mut skipped) = (0, 0);
    let mut sanity_id = u64::MAX - 1;
    for n in 0..o.inputs {
        progress(n, &report.cases);
        let mut input = seeds[rng.below(seeds.len())].clone();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut input, &seeds, &mut rng, MAX_INPUT);
        }
        dialect.repair(&mut input, rng.next() as u32);
        if !o.disruptive && dialect.may_disrupt(&input, term.unwrap_or(0)) {
            skipped += 1;
            continue;
        }
        let started = Instant::now();
        let health = try_input(addr, dialect, &input, setting, o.wait, &mut sanity_id)?;
        if health == Health::Alive {
            passed += 1;
            continue;
        }
        let (kind, why) = match &health {
            Health::Hung(w) => ("hang", w.clone()),
            Health::Died(w) => ("crash", w.clone()),
            Health::Alive => unreachable!("handled above"),
        };
        let id = report.cases.len() + 1;
        let first = save(&o.out, dialect.name(), kind, id, &input).map_err(ProbeError::Output)?;
        let note = if back_alive(addr, dialect, setting, o.restart_wait) {
            let m = minimise(addr, dialect, &input, &health, setting, o, &mut sanity_id);
            let path = save(&o.out, dialect.name(), &format!("{kind}-min"), id, &m).map_err(ProbeError::Output)?;
            format!("; minimised to {} bytes: {}", m.len(), path.display())
        } else {
            "; the node did not come back, so it was not minimised".to_string()
        };
        report.cases.push(CaseResult {
            id: format!("{}/fuzz/{kind}-{id}", dialect.name()),
            requirement: "fuzz".into(),
            level: Level::Must,
            result: Outcome::Failed,
            expected: "the node keeps answering the sanity exchange".into(),
            observed: format!(
                "input {n} ({} bytes, saved as {}) made the node {}: {why}{note}",
                input.len(),
                first.display(),
                if kind == "hang" {
                    "hang while its connection was open"
                } else {
                    "stop answering"
                },
            ),
            duration_ms: started.elapsed().as_millis() as u64,
            client: None,
        });
        if !back_alive(addr, dialect, setting, o.restart_wait) {
            report.summary.target_alive = false;
            break;
        }
        if report.cases.len() >= o.max_findings {
            break;
        }
    }
    report.summary.passed = passed;
    report.summary.skipped = skipped;
    report.summary.failed = report.cases.len();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// `new` is `old` with `n` bytes inserted at one place; the inserted bytes.
    fn inserted<'a>(old: &[u8], new: &'a [u8]) -> Option<&'a [u8]> {
        let n = new.len().checked_sub(old.len()).filter(|&n| n > 0)?;
        (0..=old.len()).find_map(|i| (new[..i] == old[..i] && new[i + n..] == old[i..]).then(|| &new[i..i + n]))
    }

    /// Each mutation does what its name says, every kind happens, and a seed repeats a run.
    #[test]
    fn each_mutation_does_what_it_says() {
        let seeds = vec![(0u8..60).collect::<Vec<u8>>(), vec![0xee; 40]];
        let mut rng = Rng(7);
        let mut seen: HashMap<Mutation, usize> = HashMap::new();
        for k in 0..20_000 {
            let old = if k % 97 == 0 { vec![5u8] } else { seeds[k % 2].clone() };
            let mut new = old.clone();
            let kind = mutate(&mut new, &seeds, &mut rng, 1 << 20);
            *seen.entry(kind).or_default() += 1;
            let diff: Vec<usize> = (0..old.len().min(new.len())).filter(|&i| old[i] != new[i]).collect();
            match kind {
                Mutation::BitFlip => {
                    assert_eq!(new.len(), old.len());
                    assert_eq!(diff.len(), 1);
                    assert_eq!((old[diff[0]] ^ new[diff[0]]).count_ones(), 1);
                }
                Mutation::Interesting => {
                    assert_eq!(new.len(), old.len());
                    assert!(diff.len() <= 1);
                    assert!(diff.iter().all(|&i| INTERESTING.contains(&new[i])));
                }
                Mutation::Length => {
                    assert_eq!(new.len(), old.len());
                    let hit = (0..=new.len() - 4).any(|i| {
                        LENGTHS.iter().any(|l| new[i..i + 4] == *l)
                            && new[..i] == old[..i]
                            && new[i + 4..] == old[i + 4..]
                    });
                    assert!(hit, "{old:02x?} -> {new:02x?}");
                }
                Mutation::Insert => {
                    let added = inserted(&old, &new).expect("an insertion");
                    assert!((1..=8).contains(&added.len()));
                }
                Mutation::Delete => {
                    let removed = inserted(&new, &old).expect("a removal");
                    assert!((1..=16).contains(&removed.len()));
                }
                Mutation::Duplicate => {
                    let copy = inserted(&old, &new).expect("an insertion");
                    assert!((1..=32).contains(&copy.len()));
                    assert!(
                        old.windows(copy.len()).any(|w| w == copy),
                        "a copy of the input's own bytes"
                    );
                }
                Mutation::Splice => {
                    let ok = (0..=old.len())
                        .any(|cut| new.starts_with(&old[..cut]) && seeds.iter().any(|s| s.ends_with(&new[cut..])));
                    assert!(ok, "{old:02x?} -> {new:02x?}");
                }
                Mutation::Truncate => {
                    assert!(!new.is_empty() && new.len() < old.len() && old.starts_with(&new));
                }
                Mutation::Append => {
                    assert_eq!(new.len(), old.len() + 1);
                    assert!(new.starts_with(&old));
                }
            }
        }
        for kind in [
            Mutation::BitFlip,
            Mutation::Interesting,
            Mutation::Length,
            Mutation::Insert,
            Mutation::Delete,
            Mutation::Duplicate,
            Mutation::Splice,
            Mutation::Truncate,
            Mutation::Append,
        ] {
            assert!(seen.get(&kind).copied().unwrap_or(0) > 10, "{kind:?} happened {seen:?}");
        }
    }

    #[test]
    fn inputs_stay_within_bounds_and_a_seed_repeats_itself() {
        let seeds = vec![vec![1u8, 2, 3, 4, 5, 6, 7, 8], vec![9u8; 40]];
        let run = |seed| {
            let mut rng = Rng(seed);
            (0..2000)
                .map(|k| {
                    let mut input = seeds[k % 2].clone();
                    for _ in 0..4 {
                        mutate(&mut input, &seeds, &mut rng, 64);
                    }
                    assert!(!input.is_empty() && input.len() <= 64);
                    input
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        assert!(run(7).iter().any(|i| i.len() == 64), "growth is cut at the maximum");
    }

    #[test]
    fn delta_debugging_finds_the_bytes_that_matter_without_wasting_tries() {
        // A node that dies when it sees 0xEE and, later, 0xFF.
        let input: Vec<u8> = (0..64u8)
            .map(|i| {
                if i == 10 {
                    0xee
                } else if i == 50 {
                    0xff
                } else {
                    i
                }
            })
            .collect();
        let mut calls = 0;
        let kills = |c: &[u8]| {
            c.iter()
                .position(|&b| b == 0xee)
                .is_some_and(|i| c[i..].contains(&0xff))
        };
        let min = ddmin(&input, 500, |c| {
            calls += 1;
            Some(kills(c))
        });
        assert_eq!(min, [0xee, 0xff]);
        assert!(calls < 100, "{calls} tries for 64 bytes");
        // The budget is kept, and a node that stops coming back ends the search with the best so far.
        let mut calls = 0;
        let _ = ddmin(&input, 5, |c| {
            calls += 1;
            Some(kills(c))
        });
        assert_eq!(calls, 5);
        let mut calls = 0;
        let min = ddmin(&input, 500, |c| {
            calls += 1;
            (calls < 3).then(|| kills(c))
        });
        assert_eq!(calls, 3);
        assert_eq!(
            min, input,
            "nothing smaller was found before the node stopped coming back"
        );
    }

    #[test]
    fn the_generator_spreads_over_its_range() {
        let mut rng = Rng(1);
        let mut counts = [0usize; 8];
        for _ in 0..8000 {
            counts[rng.below(8)] += 1;
        }
        assert!(counts.iter().all(|&c| (800..1200).contains(&c)), "{counts:?}");
        assert_eq!(Rng(3).below(0), 0);
    }
}
