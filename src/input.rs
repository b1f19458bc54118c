//! Turning command-line inputs into connections: raw one-direction stream files, pairs of them,
//! and directories of them. Each file is opened once and judged by its first bytes (see
//! [`Source`]), so standard input (`-`), FIFOs and `<(…)` work like files.
//!
//! Pairing convention: `NAME.c2s.bin` (client to server) and `NAME.s2c.bin` (server to client)
//! are the two directions of connection `NAME`; any other file is one direction on its own, its
//! role read from its first frame.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::source::{Kind, Source};

/// One connection's worth of raw input.
pub struct RawConnection {
    pub name: String,
    pub client: Option<Source>,
    pub server: Option<Source>,
    /// A single file whose direction must be read from its content.
    pub unknown: Option<Source>,
}

fn role(path: &Path) -> Option<(String, bool)> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(".bin").unwrap_or(name);
    if let Some(n) = stem.strip_suffix(".c2s") {
        return Some((n.to_string(), true));
    }
    stem.strip_suffix(".s2c").map(|n| (n.to_string(), false))
}

/// What the command line named, sorted out.
#[derive(Default)]
pub struct Inputs {
    /// pcap / pcapng inputs.
    pub captures: Vec<Source>,
    /// Raw stream files, grouped into connections.
    pub raw: Vec<RawConnection>,
}

/// Expands inputs (files and directories, one level deep; `-` is standard input): captures by
/// their magic number, the rest as raw stream files grouped into connections, in a stable order.
/// An input with nothing to check (empty files only) or that is no capture although named as one
/// is an error, never a vacuous pass.
pub fn collect(inputs: &[PathBuf]) -> Result<Inputs, String> {
    let mut files = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
            files.push(input.clone());
            continue;
        }
        let meta = std::fs::metadata(input).map_err(|e| format!("{}: {e}", input.display()))?;
        if meta.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(input)
                .map_err(|e| format!("{}: {e}", input.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "bin"))
                .collect();
            if found.is_empty() {
                return Err(format!(
                    "{}: no stream files (*.bin) in this directory",
                    input.display()
                ));
            }
            found.sort();
            files.extend(found);
        } else {
            files.push(input.clone());
        }
    }
    let mut by_name: BTreeMap<String, RawConnection> = BTreeMap::new();
    let mut singles = Vec::new();
    let mut captures = Vec::new();
    for f in files {
        let source = Source::open(&f)?;
        let kind = source.kind()?;
        if matches!(kind, Kind::Pcap | Kind::Pcapng) {
            captures.push(source);
            continue;
        }
        match role(&f) {
            Some((name, is_client)) => {
                let key = f
                    .parent()
                    .map(|p| p.join(&name))
                    .unwrap_or_else(|| PathBuf::from(&name));
                let c = by_name
                    .entry(key.display().to_string())
                    .or_insert_with(|| RawConnection {
                        name: name.clone(),
                        client: None,
                        server: None,
                        unknown: None,
                    });
                let slot = if is_client { &mut c.client } else { &mut c.server };
                match slot {
                    Some(old) if old.name == source.name => {} // the same file named twice
                    Some(_) => return Err(format!("{}: given twice for connection {name}", f.display())),
                    None => *slot = Some(source),
                }
            }
            None => singles.push(RawConnection {
                name: source.name.clone(),
                client: None,
                server: None,
                unknown: Some(source),
            }),
        }
    }
    let mut raw: Vec<RawConnection> = by_name.into_values().collect();
    raw.extend(singles);
    for c in &raw {
        let all_empty = [&c.client, &c.server, &c.unknown]
            .into_iter()
            .flatten()
            .all(|s| s.head.is_empty());
        if all_empty {
            return Err(format!(
                "{}: empty: there is nothing to check (no bytes in {})",
                c.name,
                [&c.client, &c.server, &c.unknown]
                    .into_iter()
                    .flatten()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ));
        }
    }
    Ok(Inputs { captures, raw })
}
