//! The bytes around a violation, sixteen to a row, each byte annotated: for an RFW/1 frame whose
//! header lies in the excerpt, the field it belongs to (marker, version, type, flags, request id,
//! payload length, header CRC, payload, payload CRC) as a colour and a tooltip; the byte the
//! violation names highlighted, and where another writer's frame began (an interleaving) marked.

use maud::{html, Markup};

use crate::report::Excerpt;

/// Which part of an RFW/1 frame a byte at `rel` (from the frame's first byte) is, given the
/// frame's payload length when the header shows it.
fn rfw_field(rel: u64, payload_len: Option<u64>) -> (&'static str, &'static str) {
    match rel {
        0..=3 => ("f-marker", "marker"),
        4 => ("f-version", "version"),
        5 => ("f-type", "message type"),
        6..=7 => ("f-flags", "flags"),
        8..=15 => ("f-id", "request id"),
        16..=19 => ("f-len", "payload length"),
        20..=23 => ("f-hcrc", "header CRC"),
        _ => match payload_len {
            Some(len) if rel >= 24 + len && rel < 28 + len => ("f-pcrc", "payload CRC"),
            Some(len) if rel >= 28 + len => ("", ""),
            _ => ("f-payload", "payload"),
        },
    }
}

/// The payload length in the header of the frame starting at `frame` (stream offset), if the
/// excerpt holds it.
fn payload_len(x: &Excerpt, frame: u64) -> Option<u64> {
    let at = usize::try_from(frame.checked_sub(x.start)? + 16).ok()?;
    let b = x.bytes.get(at..at + 4)?;
    Some(u64::from(u32::from_be_bytes(b.try_into().ok()?)))
}

/// A hex view of `x`, the violation at `mark`, the failing frame (RFW/1) at `frame`, and
/// `desync`: where another writer's bytes began, if known.
pub fn view(x: &Excerpt, mark: u64, frame: Option<u64>, desync: Option<u64>, rfw: bool) -> Markup {
    let len = frame.and_then(|f| payload_len(x, f));
    // From where another writer's frame began, the bytes are that frame's own fields.
    let other_len = desync.and_then(|d| payload_len(x, d));
    html! {
        div.hex {
            @for (row, chunk) in x.bytes.chunks(16).enumerate() {
                @let row_at = x.start + row as u64 * 16;
                div.row {
                    span.off { (format!("{row_at:>10}")) }
                    @for (i, b) in chunk.iter().enumerate() {
                        @let at = row_at + i as u64;
                        @let (class, field) = match (frame.filter(|f| rfw && at >= *f), desync.filter(|d| rfw && at >= *d)) {
                            (_, Some(d)) => {
                                let (class, field) = rfw_field(at - d, other_len);
                                (class, format!("another writer's frame: {field}"))
                            }
                            (Some(f), None) => {
                                let (class, field) = rfw_field(at - f, len);
                                (class, field.to_string())
                            }
                            (None, None) => ("", String::new()),
                        };
                        @let classes = format!(
                            "b {class}{}{}",
                            if at == mark { " err" } else { "" },
                            if Some(at) == desync { " desync" } else { "" }
                        );
                        @let title = match (field.as_str(), at == mark, Some(at) == desync) {
                            (f, true, _) if !f.is_empty() => format!("offset {at}: {f}; the violation is here"),
                            (_, true, _) => format!("offset {at}: the violation is here"),
                            (_, _, true) => format!("offset {at}: another writer's frame begins here"),
                            ("", _, _) => format!("offset {at}"),
                            (f, _, _) => format!("offset {at}: {f}"),
                        };
                        span class=(classes) title=(title) { (format!("{b:02x}")) }
                    }
                    span.ascii {
                        (chunk.iter().map(|&b| if b.is_ascii_graphic() { b as char } else { '.' }).collect::<String>())
                    }
                }
            }
            @if rfw && frame.is_some() {
                div.legend {
                    span.b.f-marker { "marker" } " " span.b.f-version { "version" } " " span.b.f-type { "type" } " "
                    span.b.f-flags { "flags" } " " span.b.f-id { "request id" } " " span.b.f-len { "payload length" } " "
                    span.b.f-hcrc { "header CRC" } " " span.b.f-payload { "payload" } " " span.b.f-pcrc { "payload CRC" } " "
                    span.b.err { "violation" } " " span.b.desync { "another writer" }
                }
            }
        }
    }
}
