//! `raftwire validate --html FILE`: the report as one self-contained HTML page (no network, no
//! external script, style or font: inline CSS, inline SVG and one small inline script; it opens
//! from `file://` and prints). Verdict first, then the cluster timeline, the connections (a
//! sortable table, then per connection a latency plot and every violation with the requirement it
//! breaks and its bytes), then what was not checked.
//!
//! Markup by maud: templates checked at compile time, and every interpolated string escaped, so
//! the ids, addresses and error texts a capture carries can never become markup. The charts are
//! hand-written SVG (`timeline.rs`, `connections.rs`): lanes and dots need no plotting crate.
//! Bounded for huge captures like the text report: at most [`connections::MAX_DETAILED`]
//! connections detailed, [`connections::MAX_VIOLATIONS`] violations and
//! [`connections::MAX_HEX`] hex views in all, and the rest counted.

mod connections;
mod hexview;
mod requirements;
mod timeline;

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::report::Report;

const STYLE: &str = include_str!("report.css");
const SCRIPT: &str = include_str!("report.js");

/// A duration in seconds, in the unit a person reads best.
pub(crate) fn seconds(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.2} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else {
        format!("{:.0} µs", s * 1e6)
    }
}

fn verdict(report: &Report, strict: bool) -> Markup {
    let s = &report.summary;
    let (class, title, exit) = match s.verdict.as_str() {
        "conforming" => ("ok", "CONFORMING", "0"),
        "incomplete" => ("incomplete", "INCOMPLETE", "3"),
        _ => ("bad", "NOT CONFORMING", "1"),
    };
    html! {
        section #verdict class=(class) {
            h2 { (title) }
            p.exit { "exit status " (exit) ": "
                (match exit {
                    "0" => "no MUST violation anywhere, and everything was checked",
                    "3" => "no violation in what was checked, but part of the input could not be checked (below)",
                    _ => "at least one MUST violation (or SHOULD, with --strict)",
                })
                @if strict { " (--strict: SHOULD violations fail too)" }
            }
            table.counts { tbody {
                tr { th { "connections" } td #count-connections { (s.connections) } }
                tr { th { "messages" } td { (s.frames) } }
                tr { th { "violations" } td #count-violations { (s.violations) } }
                tr { th { "of which between nodes (cluster)" } td { (s.cluster_violations) } }
                tr { th { "bytes skipped (resynchronising)" } td { (s.bytes_skipped) } }
                tr { th { "bytes missing from the capture" } td { (s.bytes_missing) } }
            } }
            @if !s.not_checked.is_empty() {
                div #not-checked {
                    h3 { "Not checked" }
                    ul { @for n in &s.not_checked { li { (n) } } }
                }
            }
        }
    }
}

/// The number (from 1) of the detailed connection a finding names (`CLIENT -> SERVER`), if any.
fn listed(report: &Report, name: &str) -> Option<usize> {
    report
        .connections
        .iter()
        .take(connections::MAX_DETAILED)
        .position(|c| format!("{} -> {}", c.client, c.server) == name)
        .map(|i| i + 1)
}

fn cluster(report: &Report) -> Markup {
    let Some(c) = &report.cluster else {
        return html! { section #cluster { h2 { "Cluster" } p.note { "raw stream inputs carry no addresses or times: no cluster timeline" } } };
    };
    html! {
        section #cluster {
            h2 { "Cluster timeline" }
            @if c.nodes.is_empty() { p.note { "no node was identified" } } @else { (timeline::svg(c)) }
            h3 { "Findings between nodes" }
            @if c.findings.is_empty() { p.note { "none" } }
            ol.findings {
                @for (k, f) in c.findings.iter().enumerate() {
                    li id={"finding-" (k)} class={"level-" (f.level)} {
                        span.level { (f.level) } " " code { (f.code) }
                        @if let Some(at) = f.at { " at " (format!("{at:.3}")) " s" }
                        @if let Some(conn) = &f.connection {
                            " on "
                            @match listed(report, conn) {
                                Some(n) => a href={"#conn-" (n)} { (conn) },
                                None => (conn),
                            }
                        }
                        @if let Some(o) = f.offset { " (offset " (o) ")" }
                        p { (f.message) }
                        @if let Some(s) = requirements::sentence("-", &f.code) { blockquote.requirement { (s) } }
                    }
                }
            }
            @if !c.notes.is_empty() { ul.notes { @for n in &c.notes { li { (n) } } } }
        }
    }
}

fn unchecked(report: &Report) -> Markup {
    let u = &report.unchecked_connections;
    let listed = &report.connections_not_listed;
    html! {
        section #unchecked {
            h2 { "What the report leaves out" }
            p { (u.connections) " TCP connection(s) of the captures were not checked (not Raft traffic, or on a port where no Raft connection was seen)." }
            @if listed.connections > 0 {
                p { (listed.connections) " connection(s) were checked and counted but not listed ("
                    (listed.with_violations) " with violations)." }
            }
            @for cap in &report.captures {
                p.capture { (cap.file) ": " (cap.packets) " packets, " (cap.not_tcp) " not TCP, "
                    (cap.reassembled_fragments) " IP fragments reassembled, " (cap.fragments)
                    " that could not be, " (cap.truncated_packets) " cut at the snap length" }
            }
        }
    }
}

/// The whole page.
pub fn render(report: &Report, strict: bool) -> String {
    let detailed = report.connections.len().min(connections::MAX_DETAILED);
    let mut budget = connections::Budget {
        violations: connections::MAX_VIOLATIONS,
        hex: connections::MAX_HEX,
        left_out: 0,
    };
    let details: Vec<Markup> = report
        .connections
        .iter()
        .take(detailed)
        .enumerate()
        .map(|(i, c)| connections::details(i + 1, c, strict, &mut budget))
        .collect();
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "raftwire report: " (report.summary.verdict) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { "raftwire report" }
                    p.inputs { @for cap in &report.captures { span.file { (cap.file) } " " } }
                    nav { a href="#verdict" { "verdict" } " · " a href="#cluster" { "cluster" } " · "
                          a href="#connections-section" { "connections" } " · " a href="#unchecked" { "left out" } }
                }
                (verdict(report, strict))
                (cluster(report))
                section #connections-section {
                    h2 { "Connections" }
                    p.note { "Click a column to sort. " (report.connections.len()) " listed"
                        @if detailed < report.connections.len() { ", the first " (detailed) " detailed below" } "." }
                    (connections::table(&report.connections, strict))
                    @for d in &details { (d) }
                    @if budget.left_out > 0 {
                        p.note { (budget.left_out) " more violations are in the text and JSON reports, not repeated here." }
                    }
                }
                (unchecked(report))
                script { (PreEscaped(SCRIPT)) }
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_are_given_in_the_unit_a_person_reads() {
        assert_eq!(super::seconds(2.5), "2.50 s");
        assert_eq!(super::seconds(1.0), "1.00 s");
        assert_eq!(super::seconds(0.012), "12.00 ms");
        assert_eq!(super::seconds(0.000_037), "37 µs");
    }
}
