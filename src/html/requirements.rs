//! The sentence of the requirement a violation breaks, quoted from the document that states it:
//! SPEC.md for RFW/1 (read by `raftwire_conformance::requirements`), the rule tables of
//! HASHICORP.md for hashicorp/raft (HC-n) and for the cluster view's findings (by code).

/// HASHICORP.md, compiled in: the report quotes the rules as the document states them.
const HASHICORP: &str = include_str!("../../conformance/HASHICORP.md");

/// The cells of a Markdown table row (`| a | b | c |`), trimmed.
fn cells(line: &str) -> Option<Vec<&str>> {
    let inner = line.trim().strip_prefix('|')?.strip_suffix('|')?;
    Some(inner.split('|').map(str::trim).collect())
}

/// The requirement's sentence for a violation with requirement id `id` and code `code`.
pub fn sentence(id: &str, code: &str) -> Option<String> {
    if let Some(r) = raftwire_conformance::requirements::get(id) {
        return Some(r.text);
    }
    let quoted = format!("`{code}`");
    HASHICORP
        .lines()
        .filter_map(cells)
        .find_map(|row| match row.as_slice() {
            [rule_id, rule, _codes] if *rule_id == id && id.starts_with("HC-") => Some(rule.to_string()),
            [name, _level, rule] if *name == quoted => Some(rule.to_string()),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_of_requirement_is_quoted() {
        let frame = sentence("FRAME-8", "payload_crc_mismatch").unwrap();
        assert!(frame.contains("CRC"), "{frame}");
        let hc = sentence("HC-3", "hc_response_in_request_direction").unwrap();
        assert!(hc.contains("only requests"), "{hc}");
        let cluster = sentence("-", "cluster_incompatible_rpc").unwrap();
        assert!(cluster.contains("RequestPreVote"), "{cluster}");
        assert_eq!(sentence("-", "capture_gap"), None);
    }
}
