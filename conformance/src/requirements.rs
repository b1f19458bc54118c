//! The numbered requirements of `SPEC.md`, read from the spec itself (so the sentence a report
//! quotes is always the one the spec says).

use crate::rules::Level;

/// One requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// e.g. `FRAME-8`.
    pub id: String,
    /// The requirement's paragraph, as one line.
    pub text: String,
    /// MUST if the paragraph says MUST (or MUST NOT), else SHOULD if it says SHOULD, else INFO.
    pub level: Level,
}

/// The spec, compiled in.
pub const SPEC: &str = include_str!("../SPEC.md");

/// Every requirement, in spec order: the bullets that start `- **ID**`.
pub fn all() -> Vec<Requirement> {
    let mut out: Vec<Requirement> = Vec::new();
    let mut current: Option<Requirement> = None;
    for line in SPEC.lines() {
        let trimmed = line.trim();
        let new_bullet = trimmed.strip_prefix("- **").and_then(|rest| rest.split_once("**"));
        if let Some((id, rest)) = new_bullet {
            out.extend(current.take());
            let is_id = id
                .split_once('-')
                .is_some_and(|(a, n)| a.chars().all(|c| c.is_ascii_uppercase()) && n.parse::<u32>().is_ok());
            if is_id {
                current = Some(Requirement {
                    id: id.to_string(),
                    text: rest.trim().to_string(),
                    level: Level::Info,
                });
            }
            continue;
        }
        match &mut current {
            Some(r) if !trimmed.is_empty() && !trimmed.starts_with('#') && !trimmed.starts_with('-') => {
                r.text.push(' ');
                r.text.push_str(trimmed);
            }
            Some(_) => out.extend(current.take()),
            None => {}
        }
    }
    out.extend(current);
    for r in &mut out {
        r.level = if r.text.contains("MUST") {
            Level::Must
        } else if r.text.contains("SHOULD") {
            Level::Should
        } else {
            Level::Info
        };
    }
    out
}

/// Looks one up by id.
pub fn get(id: &str) -> Option<Requirement> {
    all().into_iter().find(|r| r.id == id)
}
