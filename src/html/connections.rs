//! The connections: a sortable table (nodes, dialect, bytes, messages by type, latency p50/p99,
//! violations), and per connection a small plot of RPC latency over time and every violation
//! with the requirement it breaks and the bytes around it.

use maud::{html, Markup, PreEscaped};

use super::{hexview, requirements, seconds};
use crate::report::{ConnectionReport, DirectionReport, Violation};

/// Most connections detailed below the table (each with its plot and violations).
pub const MAX_DETAILED: usize = 300;
/// Most violations shown across the report, and of those, most shown with their bytes.
pub const MAX_VIOLATIONS: usize = 2000;
pub const MAX_HEX: usize = 200;

/// The busiest request type's latency (name, p50, p99), if any request was answered.
fn busiest_latency(c: &ConnectionReport) -> Option<(&str, f64, f64)> {
    c.latency
        .iter()
        .max_by_key(|(_, s)| s.count)
        .map(|(name, s)| (name.as_str(), s.p50, s.p99))
}

fn failing(c: &ConnectionReport, strict: bool) -> u64 {
    c.directions().iter().map(|d| d.failing(strict)).sum()
}

fn messages(c: &ConnectionReport) -> String {
    let mut by_type = std::collections::BTreeMap::<&str, u64>::new();
    for d in c.directions() {
        for (name, n) in &d.frames_by_type {
            *by_type.entry(name.as_str()).or_default() += n;
        }
    }
    by_type
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The table, rows linking to their details (`#conn-N`).
pub fn table(connections: &[ConnectionReport], strict: bool) -> Markup {
    html! {
        table.sortable #connections {
            thead { tr {
                th data-type="num" { "#" }
                th { "client" } th { "server" } th { "nodes" } th { "dialect" }
                th data-type="num" { "bytes" } th data-type="num" { "messages" } th { "by type" }
                th data-type="num" { "latency p50" } th data-type="num" { "p99" }
                th data-type="num" { "violations" }
            } }
            tbody {
                @for (n, c) in connections.iter().enumerate() {
                    @let bytes: u64 = c.directions().iter().map(|d| d.bytes).sum();
                    @let frames: u64 = c.directions().iter().map(|d| d.frames).sum();
                    @let lat = busiest_latency(c);
                    @let bad = failing(c, strict);
                    tr class=(if bad > 0 { "bad" } else { "" }) {
                        td data-v=(n + 1) {
                            @if n < MAX_DETAILED { a href={"#conn-" (n + 1)} { (n + 1) } } @else { (n + 1) }
                        }
                        td { (c.client) } td { (c.server) }
                        td { (c.client_node.as_deref().unwrap_or("?")) " → " (c.server_node.as_deref().unwrap_or("?")) }
                        td { (c.dialect) }
                        td data-v=(bytes) { (bytes) } td data-v=(frames) { (frames) }
                        td.types { (messages(c)) }
                        td data-v=(lat.map_or(-1.0, |l| l.1)) title=(lat.map_or(String::new(), |l| l.0.to_string())) {
                            (lat.map_or("-".to_string(), |l| seconds(l.1)))
                        }
                        td data-v=(lat.map_or(-1.0, |l| l.2)) { (lat.map_or("-".to_string(), |l| seconds(l.2))) }
                        td data-v=(bad) { (bad) }
                    }
                }
            }
        }
    }
}

/// RPC latency over time as a small scatter plot (hand-written SVG: a few hundred dots).
pub fn latency_plot(samples: &[(f32, f32)]) -> Markup {
    if samples.is_empty() {
        return html! { p.note { "no request was answered cleanly: no latency to plot" } };
    }
    let (w, h, pad) = (360.0f32, 90.0f32, 4.0f32);
    let t0 = samples.iter().map(|p| p.0).fold(f32::INFINITY, f32::min);
    let t1 = samples.iter().map(|p| p.0).fold(f32::NEG_INFINITY, f32::max);
    let top = samples.iter().map(|p| p.1).fold(0.0f32, f32::max).max(1e-9);
    let mut dots = String::new();
    for (t, l) in samples {
        let x = pad + (t - t0) / (t1 - t0).max(1e-9) * (w - 2.0 * pad);
        let y = h - pad - l / top * (h - 2.0 * pad);
        dots.push_str(&format!(r#"<circle cx="{x:.1}" cy="{y:.1}" r="1.6"/>"#));
    }
    let svg = format!(
        r#"<svg class="latency" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-label="latency over time"><rect class="frame" x="0" y="0" width="{w}" height="{h}"/>{dots}</svg>"#
    );
    html! {
        figure.plot {
            (PreEscaped(svg))
            figcaption { "RPC latency over time, " (samples.len()) " requests plotted: "
                (format!("{t0:.3}")) " s to " (format!("{t1:.3}")) " s, up to " (seconds(f64::from(top))) }
        }
    }
}

/// Budgets shared by every connection's details, so a huge capture's report stays bounded.
pub struct Budget {
    pub violations: usize,
    pub hex: usize,
    pub left_out: usize,
}

fn violation(v: &Violation, id: &str, desync: Option<u64>, rfw: bool, budget: &mut Budget) -> Markup {
    let sentence = requirements::sentence(&v.requirement, &v.code);
    let hex = match &v.excerpt {
        Some(x) if budget.hex > 0 => {
            budget.hex -= 1;
            let desync = desync.filter(|d| *d >= x.start && *d < x.start + x.bytes.len() as u64);
            Some(hexview::view(x, v.offset, v.frame_offset, desync, rfw))
        }
        _ => None,
    };
    html! {
        div class={"violation level-" (v.level)} id=(id) {
            p.head {
                span.level { (v.level) } " " code { (v.code) } " at offset " (v.offset)
                @if let Some(f) = v.frame_offset { " (frame at " (f) ")" }
                " — " span.req { (v.requirement) }
                @if v.after_capture_gap { " " span.gap { "after a hole in the capture: not judged" } }
            }
            p.message { (v.message) }
            @if let Some(s) = sentence { blockquote.requirement { (v.requirement) ": " (s) } }
            @if let Some(h) = hex { (h) }
        }
    }
}

fn direction(name: &str, n: usize, d: &DirectionReport, rfw: bool, budget: &mut Budget) -> Markup {
    // Where another writer's frame began in this direction, for the hex views.
    let desync = d
        .violations
        .iter()
        .find(|v| v.code == "interleaved_writers")
        .map(|v| v.offset);
    let shown = d.violations.len().min(budget.violations);
    budget.violations -= shown;
    budget.left_out += d.violations.len() - shown;
    let items: Vec<Markup> = d
        .violations
        .iter()
        .take(shown)
        .enumerate()
        .map(|(k, v)| violation(v, &format!("conn-{n}-{name}-{k}"), desync, rfw, budget))
        .collect();
    html! {
        h4 { (name) ": " (d.bytes) " bytes, " (d.frames) " messages"
            @if d.bytes_skipped > 0 { ", " (d.bytes_skipped) " skipped" }
            @if d.bytes_missing > 0 { ", " (d.bytes_missing) " missing from the capture" } }
        @for item in &items { (item) }
        @if d.violations_omitted > 0 {
            p.note { (d.violations_omitted) " more violations counted but not listed (" (d.omitted_must) " MUST, " (d.omitted_should) " SHOULD)" }
        }
    }
}

/// One connection's details: its plot, its notes and its violations.
pub fn details(n: usize, c: &ConnectionReport, strict: bool, budget: &mut Budget) -> Markup {
    let bad = failing(c, strict);
    let rfw = c.dialect == "rfw";
    html! {
        details.connection id={"conn-" (n)} open[bad > 0] {
            summary {
                "#" (n) " " (c.client) " → " (c.server) " [" (c.dialect) "]"
                @if bad > 0 { " " span.badbadge { (bad) " violation(s)" } }
            }
            (latency_plot(&c.latency_samples))
            @if !c.notes.is_empty() { ul.notes { @for note in &c.notes { li { (note) } } } }
            (direction("client_to_server", n, &c.directions.client_to_server, rfw, budget))
            (direction("server_to_client", n, &c.directions.server_to_client, rfw, budget))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The (cx, cy) of every dot.
    fn dots(svg: &str) -> Vec<(f32, f32)> {
        svg.split("<circle ")
            .skip(1)
            .map(|c| {
                let attr = |name: &str| -> f32 {
                    let at = c.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                    c[at..].split('"').next().unwrap().parse().unwrap()
                };
                (attr("cx"), attr("cy"))
            })
            .collect()
    }

    #[test]
    fn the_latency_plot_spans_its_frame_from_the_first_sample_to_the_last() {
        let svg = latency_plot(&[(10.0, 0.001), (12.0, 0.004), (11.0, 0.002)]).into_string();
        let d = dots(&svg);
        // 360 x 90, 4 of padding: the earliest at the left, the latest at the right, the slowest
        // at the top, time and latency proportional.
        assert_eq!(d, [(4.0, 65.5), (356.0, 4.0), (180.0, 45.0)]);
        assert!(
            svg.contains("3 requests plotted: 10.000 s to 12.000 s, up to 4.00 ms"),
            "{svg}"
        );
        assert!(latency_plot(&[]).into_string().contains("no request was answered"));
    }
}
