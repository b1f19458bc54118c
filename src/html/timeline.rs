//! The cluster timeline: one lane per node, time across; leaders by term as bars, elections,
//! leadership transfers, snapshots installed, refused dials (a node down) and every finding as
//! marks. Hand-written SVG: the picture is a few dozen rectangles, circles and lines, which a
//! plotting crate would draw no better and with fonts to inline; every mark has a tooltip, and a
//! finding's mark links to its details.

use std::fmt::Write;

use maud::{html, Markup, PreEscaped};

use crate::cluster::Cluster;

const WIDTH: f64 = 1000.0;
const LEFT: f64 = 210.0;
const LANE: f64 = 30.0;
const TOP: f64 = 24.0;

/// Escapes text for SVG (written by hand here, not by maud).
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The capture's span: the latest time anything in the model was seen.
fn span(c: &Cluster) -> f64 {
    let times = c
        .nodes
        .iter()
        .flat_map(|n| [n.first_seen, n.last_seen])
        .flatten()
        .chain(c.leaders.iter().map(|l| l.first_seen))
        .chain(c.elections.iter().map(|e| e.first_seen))
        .chain(c.leadership_transfers.iter().map(|t| t.at))
        .chain(c.snapshots.iter().map(|s| s.at))
        .chain(c.unreachable.iter().map(|u| u.last))
        .chain(c.findings.iter().filter_map(|f| f.at));
    times.filter(|t| t.is_finite()).fold(0.0f64, f64::max).max(1e-3)
}

/// The cluster timeline of `c`, findings linked to `#finding-N` (their place in `c.findings`).
pub fn svg(c: &Cluster) -> Markup {
    let end = span(c);
    let lanes: Vec<&str> = c.nodes.iter().map(|n| n.address.as_str()).collect();
    let lane = |node: &str| lanes.iter().position(|l| *l == node);
    let x = |t: f64| LEFT + (t / end).clamp(0.0, 1.0) * (WIDTH - LEFT - 10.0);
    let y = |i: usize| TOP + i as f64 * LANE;
    let height = TOP + lanes.len().max(1) as f64 * LANE + 24.0;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="timeline" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" aria-label="cluster timeline">"#
    );
    for (i, n) in c.nodes.iter().enumerate() {
        let label = match &n.id {
            Some(id) => format!("{} ({id})", n.address),
            None => n.address.clone(),
        };
        let _ = write!(
            s,
            r#"<rect class="lane" x="{LEFT}" y="{}" width="{}" height="{}"/><text class="node" x="4" y="{}">{}</text>"#,
            y(i),
            WIDTH - LEFT - 10.0,
            LANE - 4.0,
            y(i) + LANE / 2.0,
            esc(&label)
        );
        if let (Some(a), Some(b)) = (n.first_seen, n.last_seen) {
            let _ = write!(
                s,
                r#"<line class="seen" x1="{}" x2="{}" y1="{}" y2="{}"><title>{} seen from {a:.3} s to {b:.3} s</title></line>"#,
                x(a),
                x(b),
                y(i) + LANE - 6.0,
                y(i) + LANE - 6.0,
                esc(&n.address)
            );
        }
    }
    for (k, l) in c.leaders.iter().enumerate() {
        let Some(i) = l.node.as_deref().and_then(lane) else {
            continue;
        };
        let until = c.leaders.get(k + 1).map_or(end, |next| next.first_seen);
        let _ = write!(
            s,
            r#"<g class="leader" data-term="{t}"><rect x="{}" y="{}" width="{}" height="{}"/><text x="{}" y="{}">term {t}</text><title>leader of term {t} from {:.3} s</title></g>"#,
            x(l.first_seen),
            y(i) + 4.0,
            (x(until) - x(l.first_seen)).max(2.0),
            LANE - 14.0,
            x(l.first_seen) + 3.0,
            y(i) + 15.0,
            l.first_seen,
            t = l.term
        );
    }
    for e in &c.elections {
        let Some(i) = e.candidate.as_deref().and_then(lane) else {
            continue;
        };
        let kind = if e.pre_vote { "pre-vote" } else { "election" };
        let _ = write!(
            s,
            r#"<circle class="{kind}" cx="{}" cy="{}" r="5"><title>{kind} for term {} at {:.3} s: granted by {} of {} asked{}</title></circle>"#,
            x(e.first_seen),
            y(i) + LANE / 2.0 - 2.0,
            e.term,
            e.first_seen,
            e.granted.len(),
            e.asked.len(),
            if e.leadership_transfer {
                " (leadership transfer)"
            } else {
                ""
            }
        );
    }
    for t in &c.leadership_transfers {
        let (Some(a), Some(b)) = (t.from.as_deref().and_then(lane), t.to.as_deref().and_then(lane)) else {
            continue;
        };
        let _ = write!(
            s,
            r#"<line class="transfer" x1="{x}" x2="{x}" y1="{}" y2="{}"><title>leadership transfer at {:.3} s</title></line>"#,
            y(a) + LANE / 2.0,
            y(b) + LANE / 2.0,
            t.at,
            x = x(t.at)
        );
    }
    for sn in &c.snapshots {
        let Some(i) = sn.to.as_deref().and_then(lane) else {
            continue;
        };
        let (cx, cy) = (x(sn.at), y(i) + LANE / 2.0 - 2.0);
        let _ = write!(
            s,
            r#"<path class="snapshot" d="M{} {cy} L{cx} {} L{} {cy} L{cx} {} Z"><title>snapshot of {} bytes (term {}) installed at {:.3} s{}</title></path>"#,
            cx - 6.0,
            cy - 6.0,
            cx + 6.0,
            cy + 6.0,
            sn.size,
            sn.term,
            sn.at,
            match sn.success {
                Some(false) => ": refused",
                _ => "",
            }
        );
    }
    for u in &c.unreachable {
        let Some(i) = lane(&u.node) else { continue };
        let _ = write!(
            s,
            r#"<rect class="down" x="{}" y="{}" width="{}" height="6"><title>{} refused {} dial(s) from {:.3} s to {:.3} s: down</title></rect>"#,
            x(u.first) - 2.0,
            y(i) + LANE - 10.0,
            (x(u.last) - x(u.first)).max(4.0),
            esc(&u.node),
            u.refused_dials,
            u.first,
            u.last
        );
    }
    for (k, f) in c.findings.iter().enumerate() {
        let Some(at) = f.at else { continue };
        let i = f.nodes.first().and_then(|n| lane(n)).unwrap_or(0);
        let (cx, top) = (x(at), y(i) + 2.0);
        let _ = write!(
            s,
            r##"<a href="#finding-{k}" class="finding-mark level-{level}"><path d="M{} {top} L{} {top} L{cx} {} Z"/><title>{code} ({level}) at {at:.3} s: {msg}</title></a>"##,
            cx - 6.0,
            cx + 6.0,
            top + 10.0,
            level = esc(&f.level),
            code = esc(&f.code),
            msg = esc(&f.message)
        );
    }
    let axis = y(lanes.len().max(1)) + 4.0;
    for k in 0..=5 {
        let t = end * k as f64 / 5.0;
        let anchor = match k {
            0 => "start",
            5 => "end",
            _ => "middle",
        };
        let _ = write!(
            s,
            r#"<text class="tick" x="{}" y="{}" text-anchor="{anchor}">{t:.3} s</text>"#,
            x(t),
            axis + 14.0
        );
    }
    s.push_str("</svg>");
    html! {
        (PreEscaped(s))
        p.legend {
            span.key.leader-key {} " leader (by term) "
            span.key.election-key {} " election "
            span.key.prevote-key {} " pre-vote "
            span.key.snapshot-key {} " snapshot installed "
            span.key.transfer-key {} " leadership transfer "
            span.key.down-key {} " dials refused (down) "
            span.key.finding-key {} " finding (click for details)"
        }
    }
}
