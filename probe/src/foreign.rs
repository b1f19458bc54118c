//! Other protocols' first bytes, as they reach a Raft port by mistake: the same inputs for every
//! dialect's cases.

/// An HTTP/1.1 request (`unknown rpc type 71` to hashicorp/raft).
pub const HTTP_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: raft\r\n\r\n";

/// The HTTP/2 connection preface (`unknown rpc type 80`).
pub const HTTP2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The first 32 bytes of a TLS 1.2 ClientHello: a record header (`0x16`, version, length), the
/// handshake header and the start of the client version and random (`unknown rpc type 22`).
pub const TLS_CLIENT_HELLO: &[u8] = &[
    0x16, 0x03, 0x01, 0x00, 0xa5, 0x01, 0x00, 0x00, 0xa1, 0x03, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0,
];
