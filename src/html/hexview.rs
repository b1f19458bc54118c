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

/// What each byte of a hashicorp/raft excerpt is, as far as it can be read from the bytes alone
/// (the checker judged them strictly; this only labels them for a person): at the finding's
/// offset, an rpc type byte and the map header after it, or a response's error string; anywhere,
/// a msgpack string of 1-31 letters is labelled as the map key it almost always is.
fn hashicorp_fields(x: &Excerpt, mark: u64) -> Vec<(&'static str, String)> {
    let b = &x.bytes;
    let mut out = vec![("", String::new()); b.len()];
    let mut i = 0;
    while i < b.len() {
        let n = usize::from(b[i].wrapping_sub(0xa0));
        if (0xa1..=0xbf).contains(&b[i]) && i + n < b.len() && b[i + 1..=i + n].iter().all(u8::is_ascii_alphabetic) {
            let key = String::from_utf8_lossy(&b[i + 1..=i + n]).into_owned();
            for slot in out.iter_mut().skip(i).take(n + 1) {
                *slot = ("f-key", format!("msgpack string '{key}' (a map key)"));
            }
            i += n + 1;
        } else {
            i += 1;
        }
    }
    if let Some(at) = mark.checked_sub(x.start).and_then(|m| usize::try_from(m).ok()) {
        match (b.get(at), b.get(at + 1)) {
            (Some(0..=4), Some(0x80..=0x8f | 0xde | 0xdf)) => {
                out[at] = ("f-type", format!("rpc type {}", b[at]));
                out[at + 1] = ("f-len", "msgpack map header".to_string());
            }
            (Some(0xa0..=0xbf), _) => {
                out[at] = (
                    "f-type",
                    "a msgpack string: a response's error text starts so".to_string(),
                );
            }
            _ => {}
        }
    }
    out
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
    let hashicorp = if rfw { Vec::new() } else { hashicorp_fields(x, mark) };
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
                            (None, None) => hashicorp.get((at - x.start) as usize).cloned().unwrap_or_default(),
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
            @if !rfw {
                div.legend {
                    span.b.f-type { "rpc type / response" } " " span.b.f-len { "map header" } " "
                    span.b.f-key { "map key" } " " span.b.err { "finding" }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rfw_header_byte_has_its_field_and_the_trailer_follows_the_payload() {
        let names: Vec<&str> = (0..24).map(|rel| rfw_field(rel, None).1).collect();
        let want = [
            ["marker"; 4].as_slice(),
            &["version"],
            &["message type"],
            &["flags"; 2],
            &["request id"; 8],
            &["payload length"; 4],
            &["header CRC"; 4],
        ]
        .concat();
        assert_eq!(names, want);
        // A 10-byte payload: bytes 24-33, its CRC 34-37, the next frame's bytes from 38 on.
        assert_eq!(rfw_field(33, Some(10)).1, "payload");
        assert_eq!(rfw_field(34, Some(10)).1, "payload CRC");
        assert_eq!(rfw_field(37, Some(10)).1, "payload CRC");
        assert_eq!(rfw_field(38, Some(10)), ("", ""));
        assert_eq!(rfw_field(40, None).1, "payload", "no length: all payload");
    }

    #[test]
    fn hashicorp_keys_are_labelled_and_a_key_cut_by_the_excerpt_is_not() {
        let x = |bytes: &[u8]| Excerpt {
            start: 100,
            bytes: bytes.to_vec(),
        };
        let whole = hashicorp_fields(&x(b"\x00\x81\xa4Term\x05"), 100);
        assert_eq!(whole[0].1, "rpc type 0");
        assert_eq!(whole[1].1, "msgpack map header");
        assert!(whole[2..7].iter().all(|(c, _)| *c == "f-key"), "{whole:?}");
        assert_eq!(whole[7].0, "");
        let cut = hashicorp_fields(&x(b"\xa4Ter"), 0);
        assert!(cut.iter().all(|(c, _)| c.is_empty()), "{cut:?}");
        let error = hashicorp_fields(&x(b"\xa3bad\xc0"), 100);
        assert!(error[0].1.contains("error text"), "{error:?}");
    }
}
