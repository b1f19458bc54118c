//! `validate --html`: reports of real captures (healthy, the shared-connection failure, foreign
//! traffic on the Raft port, a generated capture with an interleaving fault) opened in headless
//! Chromium (Debian's `chromium`; `.ci/run` installs it): the page's script runs without a console
//! message, the DOM holds the sections and marks the report's own JSON says it must, and a
//! screenshot is taken and checked not to be blank. Also: self-contained, and bounded in size.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::hashicorp::{append, appended};
use common::pcap::{Conn, Pcap};
use common::{raftwire, validate_json};

/// Debian's Chromium (or `RAFTWIRE_CHROMIUM`). Missing, the test fails: a browser test that
/// passes without a browser would prove nothing.
fn chromium() -> PathBuf {
    let candidates = [
        std::env::var("RAFTWIRE_CHROMIUM").unwrap_or_default(),
        "/usr/bin/chromium".into(),
        "/usr/bin/chromium-browser".into(),
    ];
    candidates
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no Chromium: `apt-get install chromium` (.ci/run does), or set RAFTWIRE_CHROMIUM"))
}

fn headless(args: &[&str], page: &Path) -> std::process::Output {
    Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap()
}

/// What Chromium made of the page: its DOM after the script ran, and every console message.
fn open(page: &Path) -> (String, Vec<String>) {
    let out = headless(&["--dump-dom"], page);
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (String::from_utf8_lossy(&out.stdout).into_owned(), console)
}

/// A screenshot of the page, checked not to be blank: many colours, and much of it not white.
fn screenshot(page: &Path, png_path: &Path) {
    let size = "--window-size=1280,1600".to_string();
    let shot = format!("--screenshot={}", png_path.display());
    let out = headless(&[&shot, &size], page);
    assert!(
        out.status.success(),
        "chromium: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png_path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(channels).collect();
    let colours: std::collections::HashSet<&[u8]> = pixels.iter().copied().collect();
    let inked = pixels.iter().filter(|p| p.iter().take(3).any(|c| *c < 200)).count();
    assert!(colours.len() > 20, "{} colours: blank?", colours.len());
    assert!(
        inked * 50 > pixels.len(),
        "{inked} of {} pixels inked: blank?",
        pixels.len()
    );
}

/// Validates `input` with `--html`, opens the page, screenshots it; returns the page's DOM and
/// the report's JSON.
fn report(input: &Path, dir: &Path, name: &str) -> (String, serde_json::Value) {
    let page = dir.join(format!("{name}.html"));
    let (_, json) = validate_json(&[input.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    // Self-contained: nothing fetched from anywhere (the SVG namespace is a name, not a fetch).
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for fetch in ["src=", "<link", "@import", "url(", "http://", "https://"] {
        assert!(
            !without_ns.contains(fetch),
            "{name}: the page fetches something: {fetch}"
        );
    }
    let (dom, console) = open(&page);
    assert!(console.is_empty(), "{name}: console messages: {console:?}");
    assert!(
        dom.contains("data-ready=\"1\""),
        "{name}: the page's script did not run to its end"
    );
    for section in [
        "id=\"verdict\"",
        "id=\"cluster\"",
        "id=\"connections\"",
        "id=\"unchecked\"",
    ] {
        assert!(dom.contains(section), "{name}: no {section}");
    }
    screenshot(&page, &dir.join(format!("{name}.png")));
    (dom, json)
}

fn count(dom: &str, needle: &str) -> usize {
    dom.matches(needle).count()
}

#[test]
fn a_healthy_real_cluster_shows_its_timeline_leaders_and_findings() {
    let dir = tempfile::tempdir().unwrap();
    let (dom, json) = report(
        Path::new("tests/fixtures/hashicorp/raft-1.7.3-cluster.pcap"),
        dir.path(),
        "healthy",
    );
    assert!(dom.contains("class=\"ok\""), "verdict first: conforming");
    let cluster = &json["cluster"];
    assert_eq!(
        count(&dom, "class=\"leader\""),
        cluster["leaders"].as_array().unwrap().len()
    );
    for term in [2, 3] {
        assert!(
            dom.contains(&format!("data-term=\"{term}\"")),
            "the leader of term {term}"
        );
    }
    let timed = cluster["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["at"].is_number())
        .count();
    assert_eq!(
        count(&dom, "class=\"finding-mark"),
        timed,
        "every finding with a time is marked"
    );
    assert_eq!(
        count(&dom, "class=\"snapshot\""),
        cluster["snapshots"].as_array().unwrap().len()
    );
    assert_eq!(count(&dom, "class=\"transfer\""), 1, "the leadership transfer");
    assert_eq!(count(&dom, "class=\"down\""), 1, "the refused dial");
    assert_eq!(
        count(&dom, "<tr class=\""),
        json["connections"].as_array().unwrap().len(),
        "a row per connection"
    );
    assert!(count(&dom, "class=\"latency\"") > 0, "latency plots");
    // A finding's mark links to its details.
    assert!(dom.contains("href=\"#finding-0\"") && dom.contains("id=\"finding-0\""));
}

#[test]
fn the_shared_connection_failure_is_shown_with_its_requirement() {
    let dir = tempfile::tempdir().unwrap();
    let (dom, json) = report(
        Path::new("tests/fixtures/hashicorp/raft-1.1.2-shared-connection.pcap"),
        dir.path(),
        "shared",
    );
    assert_eq!(json["summary"]["verdict"], "not_conforming");
    assert!(dom.contains("class=\"bad\""), "verdict first: not conforming");
    assert!(dom.contains("hc_request_in_response_direction"), "the desync is named");
    assert!(
        dom.contains("HC-3: the client→server direction holds only requests"),
        "quoting HASHICORP.md"
    );
    let must = json["connections"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| ["client_to_server", "server_to_client"].map(|d| c["directions"][d]["violations"].clone()))
        .flat_map(|v| v.as_array().unwrap().clone())
        .filter(|v| v["level"] == "MUST")
        .count();
    assert_eq!(
        count(&dom, "class=\"violation level-MUST\""),
        must,
        "every MUST violation shown"
    );
    // The bytes where the request sits in the response direction: its rpc type byte marked as
    // the finding, the map keys after it labelled.
    assert!(
        dom.contains(": rpc type 1; the violation is here\""),
        "the request's type byte"
    );
    assert!(dom.contains("msgpack string 'Candidate' (a map key)"), "its keys");
}

#[test]
fn foreign_traffic_on_the_raft_port_is_shown_with_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Pcap::new(65535);
    p.conn(
        &Conn::new((1, 40001), (2, 8300))
            .c2s(append("1.1", 1, 2, 0))
            .s2c(appended(2)),
    );
    p.conn(&Conn::new((3, 40002), (2, 8300)).c2s(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]));
    let capture = dir.path().join("foreign.pcap");
    p.write(&capture);
    let (dom, _) = report(&capture, dir.path(), "foreign");
    assert!(dom.contains("foreign_protocol") && dom.contains("HC-5: no foreign protocol on the Raft port"));
    // The HTTP request's bytes, the violation's byte marked.
    assert!(dom.contains("GET./.HTTP/1.1"), "the bytes as text");
    assert!(dom.contains("class=\"b  err\""), "the offending byte highlighted");
}

#[test]
fn a_generated_interleaving_is_shown_byte_by_byte() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("interleave.pcap");
    raftwire()
        .args(["gen", "--seed", "3", "--fault", "interleave", "--out"])
        .arg(&capture)
        .assert()
        .success();
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("interleave.faults.json")).unwrap()).unwrap();
    let (dom, _) = report(&capture, dir.path(), "interleave");
    assert!(dom.contains("payload_crc_mismatch") && dom.contains("interleaved_writers"));
    // The hex view marks where the other writer's frame began (at the injection) and annotates
    // its header fields.
    let injected = record[0]["injected_at"].as_u64().unwrap();
    assert!(
        dom.contains(&format!(
            "title=\"offset {injected}: another writer's frame begins here\""
        )),
        "the desync point at {injected}"
    );
    assert!(dom.contains("another writer's frame: marker") && dom.contains("another writer's frame: request id"));
    // The byte the CRC violation is reported at is highlighted as the violation.
    let reported = record[0]["reported_at"].as_u64().unwrap();
    let title = format!("title=\"offset {reported}: ");
    let at = dom
        .find(&title)
        .unwrap_or_else(|| panic!("no byte at {reported} shown"));
    let end = dom[at + title.len()..].find('"').unwrap();
    assert!(
        dom[at..at + title.len() + end].contains("the violation is here"),
        "{}",
        &dom[at..at + title.len() + end]
    );
}

/// A capture of thousands of failing connections gives a bounded page: rows for the listed
/// connections, details and hex views for the first few hundred only.
#[test]
fn a_report_of_very_many_failing_connections_stays_small() {
    let dir = tempfile::tempdir().unwrap();
    let mut p = Pcap::new(65535);
    let mut bad = common::rfw::request(1);
    bad[30] ^= 0xff;
    for i in 0..4000u32 {
        let client = (1 + (i / 200) as u8, 40000 + (i % 200) as u16);
        p.conn(&Conn::new(client, (250, 7000)).c2s(bad.clone()));
    }
    let capture = dir.path().join("many.pcap");
    p.write(&capture);
    let page = dir.path().join("many.html");
    let (code, json) = validate_json(&[capture.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(json["summary"]["connections"], 4000);
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.len() < 5 << 20, "{} bytes", html.len());
    assert!(count(&html, "<details class=\"connection\"") <= 300);
    assert!(count(&html, "class=\"hex\"") <= 200);
    let (dom, console) = open(&page);
    assert!(console.is_empty(), "{console:?}");
    assert!(dom.contains("data-ready=\"1\""));
}

/// A capture's strings are the peer's: node ids with markup in them are shown as text, in the
/// page and in the timeline's SVG, and run no script.
#[test]
fn markup_in_a_capture_is_shown_as_text() {
    use raftwire_hashicorp::craft::{request, response, V};
    let hostile = "<img src=x onerror=alert(1)>";
    let addr = common::hashicorp::node(1);
    let heartbeat = request(
        0,
        &[
            ("Addr", V::S(addr.as_bytes())),
            ("Entries", V::Nil),
            ("ID", V::S(b"n1")),
            ("Leader", V::S(addr.as_bytes())),
            ("LeaderCommitIndex", V::U(0)),
            ("PrevLogEntry", V::U(0)),
            ("PrevLogTerm", V::U(0)),
            ("ProtocolVersion", V::U(3)),
            ("Term", V::U(2)),
        ],
    );
    let answer = response(
        "",
        &[
            ("Addr", V::S(common::hashicorp::node(2).as_bytes())),
            ("ID", V::S(hostile.as_bytes())),
            ("LastLog", V::U(0)),
            ("NoRetryBackoff", V::B(false)),
            ("ProtocolVersion", V::U(3)),
            ("Success", V::B(true)),
            ("Term", V::U(2)),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let mut p = Pcap::new(65535);
    p.conn(&Conn::new((1, 40001), (2, 8300)).c2s(heartbeat).s2c(answer));
    let capture = dir.path().join("markup.pcap");
    p.write(&capture);
    let page = dir.path().join("markup.html");
    let (_, json) = validate_json(&[capture.to_str().unwrap(), "--html", page.to_str().unwrap()]);
    assert_eq!(
        json["cluster"]["nodes"][0]["id"], hostile,
        "the id reaches the report: {}",
        json["cluster"]
    );
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(!html.contains("<img"), "markup from the capture made it into the page");
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the id is shown, as text"
    );
    let (dom, console) = open(&page);
    assert!(console.is_empty(), "{console:?}");
    assert!(dom.contains("data-ready=\"1\"") && !dom.contains("<img"));
}

/// The connections table and the findings' links say what the JSON says: each row's message
/// counts by type, its busiest type's latency, and each finding on a listed connection links to
/// that connection's details. (Read from the page's markup; no browser needed.)
#[test]
fn the_table_and_the_links_say_what_the_json_says() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("t.html");
    let (_, json) = validate_json(&[
        "tests/fixtures/hashicorp/raft-1.7.3-cluster.pcap",
        "--html",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    let connections = json["connections"].as_array().unwrap();
    let rows: Vec<&str> = html.split("<tr class=\"").skip(1).collect();
    assert_eq!(rows.len(), connections.len());
    for (row, c) in rows.iter().zip(connections) {
        let mut by_type = std::collections::BTreeMap::<String, u64>::new();
        for d in ["client_to_server", "server_to_client"] {
            for (name, n) in c["directions"][d]["frames_by_type"].as_object().unwrap() {
                *by_type.entry(name.clone()).or_default() += n.as_u64().unwrap();
            }
        }
        let types: Vec<String> = by_type.iter().map(|(k, n)| format!("{k} {n}")).collect();
        assert!(
            row.contains(&format!("<td class=\"types\">{}</td>", types.join(", "))),
            "{row}"
        );
        let latency = c["latency"].as_object().unwrap();
        match latency.values().map(|s| s["count"].as_u64().unwrap()).max() {
            None => assert!(row.contains("<td data-v=\"-1\" title=\"\">-</td>"), "{row}"),
            Some(most) => {
                let busiest: Vec<(&String, f64)> = latency
                    .iter()
                    .filter(|(_, s)| s["count"].as_u64() == Some(most))
                    .map(|(name, s)| (name, s["p50"].as_f64().unwrap()))
                    .collect();
                assert!(
                    busiest
                        .iter()
                        .any(|(name, p50)| row.contains(&format!("data-v=\"{p50}\" title=\"{name}\""))),
                    "{busiest:?} in {row}"
                );
            }
        }
    }
    let findings = json["cluster"]["findings"].as_array().unwrap();
    let mut linked = 0;
    for f in findings.iter().filter(|f| f["connection"].is_string()) {
        let name = f["connection"].as_str().unwrap();
        let n = connections
            .iter()
            .position(|c| format!("{} -> {}", c["client"].as_str().unwrap(), c["server"].as_str().unwrap()) == name)
            .unwrap()
            + 1;
        let shown = name.replace('>', "&gt;");
        assert!(
            html.contains(&format!("<a href=\"#conn-{n}\">{shown}</a>")),
            "{name} -> #conn-{n}"
        );
        linked += 1;
    }
    assert!(linked >= 2, "the fixture has findings on connections");
}

/// The cluster timeline stays inside its own frame: every coordinate of every mark lies within
/// the SVG's view box, the lanes go down the page, and the time axis counts up evenly from 0 to
/// the end of the capture.
#[test]
fn the_timeline_is_drawn_inside_its_frame() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("t.html");
    validate_json(&[
        "tests/fixtures/hashicorp/raft-1.7.3-cluster.pcap",
        "--html",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    let start = html.find("<svg class=\"timeline\"").unwrap();
    let svg = &html[start..start + html[start..].find("</svg>").unwrap()];
    let number = |s: &str| -> f64 { s.split('"').next().unwrap().parse().unwrap() };
    let view: Vec<f64> = svg
        .split("viewBox=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .split(' ')
        .map(|v| v.parse().unwrap())
        .collect();
    let (w, h) = (view[2], view[3]);
    let mut seen = 0;
    for (attr, limit) in [
        (" x=\"", w),
        (" x1=\"", w),
        (" x2=\"", w),
        (" cx=\"", w),
        (" y=\"", h),
        (" y1=\"", h),
        (" y2=\"", h),
        (" cy=\"", h),
    ] {
        for v in svg.split(attr).skip(1).map(number) {
            assert!((0.0..=limit).contains(&v), "{attr}{v} outside 0..{limit}");
            seen += 1;
        }
    }
    assert!(seen > 50, "{seen} coordinates");
    // The axis's ticks are placed by the same time scale as every mark: evenly, across most of
    // the width.
    let tick_xs: Vec<f64> = svg
        .split("<text")
        .filter(|t| t.split("</text>").next().is_some_and(|t| t.ends_with(" s")))
        .map(|t| number(t.split(" x=\"").nth(1).unwrap()))
        .collect();
    assert_eq!(tick_xs.len(), 6, "{tick_xs:?}");
    let gap = tick_xs[1] - tick_xs[0];
    assert!(
        gap > w / 10.0 && tick_xs.windows(2).all(|p| (p[1] - p[0] - gap).abs() < 0.01),
        "{tick_xs:?}"
    );
    // Lanes: the node labels' y grows by lane.
    let lanes: Vec<f64> = svg
        .split("<text class=\"node\"")
        .skip(1)
        .map(|t| number(t.split(" y=\"").nth(1).unwrap()))
        .collect();
    assert!(lanes.len() >= 3 && lanes.windows(2).all(|p| p[1] > p[0]), "{lanes:?}");
    // The axis: six ticks from 0, evenly spaced, the last at the capture's end.
    let ticks: Vec<f64> = svg
        .split("</text>")
        .filter_map(|t| t.rsplit('>').next()?.strip_suffix(" s")?.parse().ok())
        .collect();
    let ticks = &ticks[ticks.len() - 6..];
    assert_eq!(ticks[0], 0.0);
    let step = ticks[5] / 5.0;
    for (k, t) in ticks.iter().enumerate() {
        assert!((t - step * k as f64).abs() <= 0.0011, "{ticks:?}");
    }
}
