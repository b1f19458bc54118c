//! Hand-assembled frames, valid or deliberately broken, for tests, conformance vectors and fuzz
//! mutators: anything that must put exact bytes on the wire that the encoder (rightly) refuses to
//! produce.

use crate::header::{at, HEADER_LEN, MARKER, TRAILER_LEN, VERSION};

/// A frame assembled field by field. [`RawFrame::bytes`] computes the length and both CRCs unless
/// overridden, so a test can break exactly one thing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    /// Boundary marker.
    pub marker: [u8; 4],
    /// Version byte.
    pub version: u8,
    /// Type byte.
    pub message_type: u8,
    /// Flags field.
    pub flags: u16,
    /// Request id.
    pub request_id: u64,
    /// Payload bytes.
    pub payload: Vec<u8>,
    /// Length field value; `None` = the payload's length.
    pub payload_len: Option<u32>,
    /// Header CRC; `None` = the correct one.
    pub header_crc: Option<u32>,
    /// Payload CRC; `None` = the correct one.
    pub payload_crc: Option<u32>,
}

impl RawFrame {
    /// A frame of type `message_type` with request id 1 around `payload`, everything else valid.
    pub fn new(message_type: u8, payload: impl Into<Vec<u8>>) -> RawFrame {
        RawFrame {
            marker: MARKER,
            version: VERSION,
            message_type,
            flags: 0,
            request_id: 1,
            payload: payload.into(),
            payload_len: None,
            header_crc: None,
            payload_crc: None,
        }
    }

    /// Splits encoded frame bytes back into fields (the CRCs are kept as given, as overrides).
    /// `None` if `bytes` is shorter than a header and trailer.
    pub fn parse(bytes: &[u8]) -> Option<RawFrame> {
        let head: &[u8; HEADER_LEN] = bytes.get(..HEADER_LEN)?.try_into().ok()?;
        let trailer_at = bytes.len().checked_sub(TRAILER_LEN).filter(|&t| t >= HEADER_LEN)?;
        let be32 = |b: &[u8]| -> Option<u32> { Some(u32::from_be_bytes(b.try_into().ok()?)) };
        Some(RawFrame {
            marker: head.get(..4)?.try_into().ok()?,
            version: head[at::VERSION as usize],
            message_type: head[at::TYPE as usize],
            flags: u16::from_be_bytes([head[6], head[7]]),
            request_id: u64::from_be_bytes(head.get(8..16)?.try_into().ok()?),
            payload: bytes.get(HEADER_LEN..trailer_at)?.to_vec(),
            payload_len: Some(be32(head.get(16..20)?)?),
            header_crc: Some(be32(head.get(20..24)?)?),
            payload_crc: Some(be32(bytes.get(trailer_at..)?)?),
        })
    }

    /// Forgets the length and CRC overrides, so [`bytes`](Self::bytes) writes correct values.
    pub fn reseal(mut self) -> RawFrame {
        self.payload_len = None;
        self.header_crc = None;
        self.payload_crc = None;
        self
    }

    /// The wire bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN + self.payload.len() + TRAILER_LEN);
        out.extend_from_slice(&self.marker);
        out.push(self.version);
        out.push(self.message_type);
        out.extend_from_slice(&self.flags.to_be_bytes());
        out.extend_from_slice(&self.request_id.to_be_bytes());
        let len = self.payload_len.unwrap_or(self.payload.len() as u32);
        out.extend_from_slice(&len.to_be_bytes());
        let hcrc = self.header_crc.unwrap_or_else(|| crc32fast::hash(&out));
        out.extend_from_slice(&hcrc.to_be_bytes());
        out.extend_from_slice(&self.payload);
        let pcrc = self.payload_crc.unwrap_or_else(|| crc32fast::hash(&self.payload));
        out.extend_from_slice(&pcrc.to_be_bytes());
        out
    }
}

/// Rewrites the length and both CRCs of the frame at the start of `buf` so they match its
/// contents, treating everything after the header but the last four bytes as payload. Returns
/// false (and changes nothing) when `buf` is too short to be a frame. Fuzz mutators use this to
/// get mutated bodies past the checksums.
pub fn reseal_in_place(buf: &mut [u8]) -> bool {
    let Some(trailer_at) = buf.len().checked_sub(TRAILER_LEN).filter(|&t| t >= HEADER_LEN) else {
        return false;
    };
    let payload_len = (trailer_at - HEADER_LEN) as u32;
    buf[16..20].copy_from_slice(&payload_len.to_be_bytes());
    let hcrc = crc32fast::hash(&buf[..20]);
    buf[20..24].copy_from_slice(&hcrc.to_be_bytes());
    let pcrc = crc32fast::hash(&buf[HEADER_LEN..trailer_at]);
    buf[trailer_at..].copy_from_slice(&pcrc.to_be_bytes());
    true
}
