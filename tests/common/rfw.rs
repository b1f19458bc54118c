//! Small RFW/1 exchanges for capture tests, encoded by the codec.
#![allow(dead_code)]

use bytes::BytesMut;
use raftwire_codec::{encode, Frame, Id, Message, TimeoutNowRequest, TimeoutNowResponse};

/// `message` as a frame with request id `id`.
pub fn frame(id: u64, message: Message) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode(&Frame::new(id, message), &mut out).unwrap();
    out.to_vec()
}

/// A TimeoutNow request (43 bytes).
pub fn request(id: u64) -> Vec<u8> {
    frame(
        id,
        Message::TimeoutNow(TimeoutNowRequest {
            term: 3,
            leader_id: Id::try_from("node-1").unwrap(),
        }),
    )
}

/// Its response (37 bytes).
pub fn response(id: u64) -> Vec<u8> {
    frame(
        id,
        Message::TimeoutNowResponse(TimeoutNowResponse { term: 3, success: true }),
    )
}

/// A tiny seeded generator (splitmix64), so property tests are repeatable.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number below `n` (0 for `n` = 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}
