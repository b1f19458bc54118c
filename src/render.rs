//! Rendering a [`Report`] for a person (text) or a program (JSON).

use std::fmt::Write;

use crate::report::{DirectionReport, Excerpt, Report};

/// `n thing` or `n things`.
fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}

/// Classic 16-bytes-per-line hex dump, the offending byte in brackets.
pub fn hexdump(out: &mut String, x: &Excerpt, mark: u64) {
    for (row, chunk) in x.bytes.chunks(16).enumerate() {
        let at = x.start + row as u64 * 16;
        // Decimal, like every offset in the report.
        let _ = write!(out, "      {at:>10} ");
        for (i, b) in chunk.iter().enumerate() {
            if at + i as u64 == mark {
                let _ = write!(out, "[{b:02x}]");
            } else {
                let _ = write!(out, " {b:02x} ");
            }
        }
        out.push_str("  |");
        out.extend(
            chunk
                .iter()
                .map(|&b| if b.is_ascii_graphic() { b as char } else { '.' }),
        );
        out.push_str("|\n");
    }
}

fn direction(out: &mut String, name: &str, d: &DirectionReport, strict: bool) {
    let types: Vec<String> = d.frames_by_type.iter().map(|(t, n)| format!("{t} {n}")).collect();
    let _ = writeln!(
        out,
        "  {name}: {} bytes, {}{}{}",
        d.bytes,
        count(d.frames, "frame"),
        if types.is_empty() {
            String::new()
        } else {
            format!(" ({})", types.join(", "))
        },
        if d.bytes_skipped > 0 {
            format!(", {} bytes skipped", d.bytes_skipped)
        } else {
            String::new()
        }
    );
    if d.bytes_missing > 0 {
        let _ = writeln!(
            out,
            "    {} bytes missing from the capture (not checked; see the capture_gap notes)",
            d.bytes_missing
        );
    }
    for v in &d.violations {
        let grade = match (v.level.as_str(), v.fails(strict)) {
            (_, true) => "FAIL",
            ("SHOULD", false) => "NON-STRICT",
            _ => "INFO",
        };
        let _ = writeln!(
            out,
            "    {grade} offset {} {} [{}]: {}",
            v.offset, v.code, v.requirement, v.message
        );
        if let Some(x) = &v.excerpt {
            hexdump(out, x, v.offset);
        }
    }
    if d.violations_omitted > 0 {
        let _ = writeln!(
            out,
            "    ... {} more violation(s) not listed ({} MUST, {} SHOULD)",
            d.violations_omitted, d.omitted_must, d.omitted_should
        );
    }
}

/// The cluster view, before the connections: readable at a glance.
fn cluster(out: &mut String, c: &crate::cluster::Cluster, strict: bool) {
    let node = |addr: &Option<String>| -> String {
        let Some(a) = addr else { return "an unknown node".into() };
        match c.nodes.iter().find(|n| &n.address == a).and_then(|n| n.id.as_ref()) {
            Some(id) => format!("{a} ({id})"),
            None => a.clone(),
        }
    };
    let _ = writeln!(out, "cluster: {}", count(c.nodes.len() as u64, "node"));
    for n in &c.nodes {
        let release = match (&n.release.min, &n.release.max) {
            (Some(a), Some(b)) if a == b => format!("raft {a}"),
            (Some(a), Some(b)) => format!("raft {a} to {b}"),
            (Some(a), None) => format!("raft {a} or later"),
            (None, Some(b)) => format!("raft {b} or earlier"),
            (None, None) if n.dialects.iter().all(|d| d == "rfw") && !n.dialects.is_empty() => "RFW/1".into(),
            (None, None) => "release unknown".into(),
        };
        let roles = if n.roles.is_empty() {
            String::new()
        } else {
            format!(" [{}]", n.roles.join(", "))
        };
        let _ = writeln!(
            out,
            "  node {}{}: {release}{roles}; accepted {}, dialed {}",
            n.address,
            n.id.as_ref().map(|i| format!(" id {i}")).unwrap_or_default(),
            count(n.connections_accepted, "connection"),
            n.connections_dialed
        );
    }
    let leaders: Vec<String> = c
        .leaders
        .iter()
        .map(|l| format!("term {} {} from {:.3} s", l.term, node(&l.node), l.first_seen))
        .collect();
    if !leaders.is_empty() {
        let _ = writeln!(out, "  leaders: {}", leaders.join("; "));
    }
    for e in &c.elections {
        let _ = writeln!(
            out,
            "  {} term {} at {:.3} s by {}{}: granted by {} of {} asked{}{}",
            if e.pre_vote { "pre-vote" } else { "election" },
            e.term,
            e.first_seen,
            node(&e.candidate),
            if e.leadership_transfer {
                " (leadership transfer)"
            } else {
                ""
            },
            e.granted.len(),
            e.asked.len(),
            if e.denied.is_empty() {
                String::new()
            } else {
                format!(", denied by {}", e.denied.join(", "))
            },
            if e.unanswered.is_empty() {
                String::new()
            } else {
                format!(", unanswered by {}", e.unanswered.join(", "))
            }
        );
    }
    for t in &c.leadership_transfers {
        let _ = writeln!(
            out,
            "  leadership transfer at {:.3} s: {} -> {}",
            t.at,
            node(&t.from),
            node(&t.to)
        );
    }
    for s in &c.snapshots {
        let _ = writeln!(
            out,
            "  snapshot at {:.3} s: {} -> {}, {} bytes, term {}{}",
            s.at,
            node(&s.from),
            node(&s.to),
            s.size,
            s.term,
            match s.success {
                Some(true) => ", installed",
                Some(false) => ", rejected",
                None => ", not answered",
            }
        );
    }
    for f in &c.findings {
        let grade = match f.level.as_str() {
            "MUST" => "FAIL",
            "SHOULD" if strict => "FAIL",
            "SHOULD" => "NON-STRICT",
            _ => "INFO",
        };
        let _ = writeln!(out, "  {grade} {}: {}", f.code, f.message);
    }
    for n in &c.notes {
        let _ = writeln!(out, "  note: {n}");
    }
}

/// The human-readable report.
pub fn text(report: &Report, strict: bool) -> String {
    let mut out = String::new();
    if let Some(c) = &report.cluster {
        cluster(&mut out, c, strict);
    }
    for (i, c) in report.connections.iter().enumerate() {
        let arrow = match (c.client.is_empty(), c.server.is_empty()) {
            (false, false) => format!("{} -> {}", c.client, c.server),
            (false, true) => format!("{} (client->server only)", c.client),
            _ => format!("{} (server->client only)", c.server),
        };
        let nodes = match (&c.client_node, &c.server_node) {
            (None, None) => String::new(),
            (client, server) => format!(
                ", node {} -> node {}",
                client.as_deref().unwrap_or("unknown"),
                server.as_deref().unwrap_or("unknown")
            ),
        };
        let _ = writeln!(out, "connection {}: {arrow} [{}{nodes}]", i + 1, c.dialect);
        for n in &c.notes {
            let _ = writeln!(out, "  note: {n}");
        }
        if !c.latency.is_empty() {
            let l: Vec<String> = c
                .latency
                .iter()
                .map(|(t, s)| format!("{t} p50 {} p99 {}", millis(s.p50), millis(s.p99)))
                .collect();
            let _ = writeln!(out, "  latency: {}", l.join(", "));
        }
        if !c.client.is_empty() {
            direction(&mut out, "client_to_server", &c.directions.client_to_server, strict);
        }
        if !c.server.is_empty() {
            direction(&mut out, "server_to_client", &c.directions.server_to_client, strict);
        }
    }
    let n = &report.connections_not_listed;
    if n.connections > 0 {
        let _ = writeln!(
            out,
            "{} more connection(s) checked but not listed (the first {} with violations and {} without are): \
             {} with violations ({} MUST, {} SHOULD), {} frames, {} bytes skipped",
            n.connections,
            crate::report::MAX_LISTED,
            crate::report::MAX_LISTED,
            n.with_violations,
            n.must,
            n.should,
            n.frames,
            n.bytes_skipped
        );
    }
    unchecked(&mut out, &report.unchecked_connections);
    let s = &report.summary;
    for n in &s.not_checked {
        let _ = writeln!(out, "NOT CHECKED: {n}");
    }
    let verdict = match s.verdict.as_str() {
        "conforming" => "CONFORMING",
        "incomplete" => "INCOMPLETE (no violation in what was checked; see NOT CHECKED above)",
        _ => "NOT CONFORMING",
    };
    let _ = writeln!(
        out,
        "{verdict}: {} connection(s), {}, {} violation(s){}, {} bytes skipped{}",
        s.connections,
        count(s.frames, "frame"),
        s.violations,
        if s.cluster_violations > 0 {
            format!(" (of which {} between nodes, see cluster)", s.cluster_violations)
        } else {
            String::new()
        },
        s.bytes_skipped,
        if s.bytes_missing > 0 {
            format!(", {} bytes missing from the capture", s.bytes_missing)
        } else {
            String::new()
        }
    );
    out
}

/// A latency for a person: milliseconds, or microseconds below 1 ms.
fn millis(seconds: f64) -> String {
    if seconds < 0.001 {
        format!("{:.0} µs", seconds * 1e6)
    } else {
        format!("{:.1} ms", seconds * 1e3)
    }
}

/// Connections not checked, each with its ports and first bytes, so none passes unseen.
fn unchecked(out: &mut String, u: &crate::report::Unchecked) {
    if u.connections == 0 {
        return;
    }
    let mut why = Vec::new();
    if u.with_data > 0 {
        why.push(format!(
            "{} not Raft traffic, on ports where no Raft connection was seen (--port P checks a port)",
            u.with_data
        ));
    }
    if u.connections > u.with_data {
        why.push(format!("{} carried no data", u.connections - u.with_data));
    }
    let _ = writeln!(
        out,
        "{} TCP connection(s) not checked: {}",
        u.connections,
        why.join("; ")
    );
    for c in &u.listed {
        let named = c.looks_like.as_ref().map(|l| format!(" [{l}]")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {} -> {}: {} + {} bytes{named}: {}",
            c.client, c.server, c.bytes_client_to_server, c.bytes_server_to_client, c.reason
        );
        for (dir, first) in [
            ("client_to_server", &c.first_bytes_client_to_server),
            ("server_to_client", &c.first_bytes_server_to_client),
        ] {
            if !first.is_empty() {
                let _ = writeln!(out, "    {dir} starts: {first}");
            }
        }
    }
    if u.not_listed > 0 {
        let _ = writeln!(out, "  ... {} more not listed", u.not_listed);
    }
}

/// The JSON report (schema in the README).
pub fn json(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// JUnit XML for CI systems: one suite per connection, one case per direction, failing when the
/// direction has a violation that fails at this strictness.
pub fn junit(report: &Report, strict: bool) -> String {
    use quick_junit::{NonSuccessKind, Report as Junit, TestCase, TestCaseStatus, TestSuite};
    let mut out = Junit::new("raftwire validate");
    for c in &report.connections {
        let mut suite = TestSuite::new(format!("{} -> {}", c.client, c.server));
        for (name, d) in [
            ("client_to_server", &c.directions.client_to_server),
            ("server_to_client", &c.directions.server_to_client),
        ] {
            let failing: Vec<_> = d.violations.iter().filter(|v| v.fails(strict)).collect();
            let status = match (d.failing(strict), failing.first()) {
                (0, _) => TestCaseStatus::success(),
                (n, None) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!("{n} violation(s), none of them listed"));
                    s
                }
                (n, Some(first)) => {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(format!(
                        "{n} violation(s); first: offset {} {} [{}]",
                        first.offset, first.code, first.requirement
                    ));
                    s.set_type(first.code.clone());
                    let all: Vec<String> = failing
                        .iter()
                        .map(|v| format!("offset {} {} [{}]: {}", v.offset, v.code, v.requirement, v.message))
                        .collect();
                    s.set_description(all.join("\n"));
                    s
                }
            };
            suite.add_test_case(TestCase::new(name, status));
        }
        out.add_test_suite(suite);
    }
    let n = &report.connections_not_listed;
    if n.connections > 0 {
        // One case stands for the connections not listed, failing if any of them does.
        let failing = n.must + if strict { n.should } else { 0 };
        let status = if failing == 0 {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(format!(
                "{failing} violation(s) in {} connection(s) not listed",
                n.with_violations
            ));
            s
        };
        let mut suite = TestSuite::new(format!("{} connections not listed", n.connections));
        suite.add_test_case(TestCase::new("all", status));
        out.add_test_suite(suite);
    }
    if let Some(c) = report.cluster.as_ref().filter(|c| !c.findings.is_empty()) {
        // Findings between nodes: a case each, failing at MUST (and SHOULD with --strict), so a
        // capture that fails on the cluster alone does not show all green.
        let mut suite = TestSuite::new("cluster");
        for (i, f) in c.findings.iter().enumerate() {
            let fails = f.level == "MUST" || strict && f.level == "SHOULD";
            let status = if fails {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("{} [{}]", f.code, f.nodes.join(", ")));
                s.set_type(f.code.clone());
                s.set_description(f.message.clone());
                s
            } else {
                TestCaseStatus::success()
            };
            suite.add_test_case(TestCase::new(format!("{}_{}", f.code, i + 1), status));
        }
        out.add_test_suite(suite);
    }
    if !report.summary.not_checked.is_empty() {
        // What could not be checked is a case of its own, skipped with the reason, so a CI view
        // of the results shows it next to the passes.
        let mut suite = TestSuite::new("not checked");
        for (i, why) in report.summary.not_checked.iter().enumerate() {
            let mut status = TestCaseStatus::skipped();
            status.set_message(why.clone());
            suite.add_test_case(TestCase::new(format!("not_checked_{}", i + 1), status));
        }
        out.add_test_suite(suite);
    }
    out.to_string().unwrap_or_default()
}
