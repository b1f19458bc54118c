//! Saying what bytes most likely are when a hashicorp/raft stream stops parsing, the way a
//! protocol engineer would read a hex dump.

/// A diagnosis: a stable code and an explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnosis {
    /// Stable code, e.g. `hc_response_in_request_direction`.
    pub code: &'static str,
    /// What the bytes are and why this happens.
    pub message: String,
}

fn is_map_start(b: u8) -> bool {
    matches!(b, 0x80..=0x8f | 0xde | 0xdf)
}

fn is_str_start(b: u8) -> bool {
    matches!(b, 0xa0..=0xbf | 0xd9..=0xdb)
}

/// The HTTP/1.x request methods, as a request line starts.
const HTTP: [&[u8]; 9] = [
    b"GET ",
    b"POST ",
    b"PUT ",
    b"HEAD ",
    b"DELETE ",
    b"OPTIONS ",
    b"PATCH ",
    b"CONNECT ",
    b"TRACE ",
];

/// What a stream's first bytes are when they are a protocol other than Raft (HTTP/1.x, HTTP/2,
/// TLS, SSH, libp2p's multistream-select, RFW/1), or `None`: used for any stream that should be
/// hashicorp/raft and is not, and by the CLI to name traffic on a Raft port.
pub fn foreign(bytes: &[u8]) -> Option<Diagnosis> {
    let first = bytes.first().copied().unwrap_or_default();
    if bytes.starts_with(b"PRI * HTTP/2.0") {
        return Some(Diagnosis { code: "hc_foreign_http2", message: "the HTTP/2 connection preface (\"PRI * HTTP/2.0\"): an HTTP/2 or gRPC client is talking to the Raft port".into() });
    }
    if HTTP.iter().any(|m| bytes.starts_with(m)) {
        let line = bytes.split(|b| *b == b'\r' || *b == b'\n').next().unwrap_or_default();
        return Some(Diagnosis {
            code: "hc_foreign_http",
            message: format!(
                "an HTTP/1.x request ({:?}) sent to the Raft port; hashicorp/raft logs this as \"unknown rpc type {first}\" (hashicorp/raft#505, #246)",
                String::from_utf8_lossy(line.get(..line.len().min(60)).unwrap_or_default())
            ),
        });
    }
    if bytes.starts_with(b"HTTP/1.") {
        return Some(Diagnosis {
            code: "hc_foreign_http",
            message: "an HTTP/1.x response on the Raft connection".into(),
        });
    }
    if let [0x16, 0x03, 0x00..=0x04, ..] = bytes {
        return Some(Diagnosis {
            code: "hc_foreign_tls",
            message: "a TLS handshake record (16 03 ..): TLS spoken to a plaintext Raft port, or a TLS stream read as plaintext".into(),
        });
    }
    if bytes.starts_with(b"SSH-") {
        return Some(Diagnosis {
            code: "hc_foreign_ssh",
            message: "an SSH banner: an SSH client is connected to the Raft port".into(),
        });
    }
    if bytes.starts_with(b"\x13/multistream/") {
        return Some(Diagnosis {
            code: "hc_foreign_multistream",
            message: "libp2p's multistream-select handshake (0x13 \"/multistream/1.0.0\"): a libp2p peer is talking to the Raft port; hashicorp/raft reports \"unknown rpc type 19\" (hashicorp/raft#599)".into(),
        });
    }
    if bytes.starts_with(&[0xC1, b'R', b'F', b'W']) {
        return Some(Diagnosis {
            code: "hc_foreign_rfw",
            message: "an RFW/1 frame (raftwire's framed format): the peer speaks RFW/1, not NetworkTransport".into(),
        });
    }
    None
}

/// What the bytes at a point where a request was expected most likely are.
pub fn in_requests(bytes: &[u8]) -> Diagnosis {
    if let Some(d) = foreign(bytes) {
        return d;
    }
    let first = bytes.first().copied().unwrap_or_default();
    let second = bytes.get(1).copied().unwrap_or_default();
    if is_str_start(first)
        && crate::msgpack::value(bytes)
            .is_ok_and(|(rest, _)| rest.first().is_some_and(|b| is_map_start(*b) || *b == 0xc0))
    {
        let what = if first == 0xa0 {
            "an empty msgpack string, the first byte of a successful response"
        } else {
            "a msgpack string, the error text that starts a response"
        };
        return Diagnosis {
            code: "hc_response_in_request_direction",
            message: format!(
                "byte {first:#04x} ({first}) is not an rpc type; it is {what}, and a response map follows: responses are being written into the request direction. The connection is shared by concurrent RPCs or by both directions of a multiplexed link. hashicorp/raft reports this as \"unknown rpc type {first}\""
            ),
        };
    }
    if first > 4 && is_map_start(second) {
        return Diagnosis {
            code: "hc_unknown_rpc_type",
            message: format!("rpc type {first} followed by a msgpack map: a request type this release does not know (a newer peer?); hashicorp/raft reports \"unknown rpc type {first}\""),
        };
    }
    if first <= 4 {
        return Diagnosis {
            code: "hc_malformed_request",
            message: format!("rpc type {first} is not followed by a well-formed request map: the request bytes are cut or interleaved with another writer's"),
        };
    }
    Diagnosis {
        code: "hc_lost_framing",
        message: format!(
            "byte {first:#04x} ({first}) starts no request: the stream lost its framing here (bytes of another message or writer, or surplus InstallSnapshot data); hashicorp/raft reports \"unknown rpc type {first}\""
        ),
    }
}

/// What the bytes at a point where a response was expected most likely are.
pub fn in_responses(bytes: &[u8]) -> Diagnosis {
    if let Some(d) = foreign(bytes) {
        return d;
    }
    let first = bytes.first().copied().unwrap_or_default();
    if first <= 4 && bytes.get(1).is_some_and(|b| is_map_start(*b)) {
        return Diagnosis {
            code: "hc_request_in_response_direction",
            message: format!(
                "byte {first:#04x} followed by a map is a request (rpc type {first}, {}), not a response: requests are being written into the response direction; the connection is shared by both directions of a multiplexed link",
                crate::messages::rpc_name(first)
            ),
        };
    }
    Diagnosis {
        code: "hc_malformed_response",
        message: format!("byte {first:#04x} starts no response (a msgpack error string, then the response map): the stream lost its framing here"),
    }
}
