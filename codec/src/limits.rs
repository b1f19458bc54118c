//! Receiver limits: the only knobs, and what exactly each one measures.

/// The default maximum payload length: 16 MiB (FRAME-7).
pub const DEFAULT_MAX_PAYLOAD_LEN: u32 = 16 * 1024 * 1024;

/// Limits a receiver (and, symmetrically, an encoder) enforces.
///
/// `max_payload_len` measures the **payload only**: the value of the header's `payload_len` field,
/// excluding the 24-byte header and the 4-byte payload CRC. A whole frame is therefore at most
/// `max_payload_len + 28` bytes, which is also the most the incremental decoder ever buffers.
/// (tokio-util's `LengthDelimitedCodec` leaves "what does max_frame_length include" to the length
/// adjustment, which has let oversize frames through; here there is nothing to adjust.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted payload, in bytes.
    pub max_payload_len: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload_len: DEFAULT_MAX_PAYLOAD_LEN,
        }
    }
}

impl Limits {
    /// Limits with the given maximum payload length.
    pub fn with_max_payload_len(max_payload_len: u32) -> Self {
        Limits { max_payload_len }
    }

    /// The largest whole frame these limits accept (header + payload + payload CRC).
    pub fn max_frame_len(&self) -> usize {
        crate::header::HEADER_LEN + self.max_payload_len as usize + crate::header::TRAILER_LEN
    }
}
