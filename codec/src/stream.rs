//! The incremental decoder: bytes arrive in any chunking, frames come out, memory stays bounded.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{DecodeError, ErrorCode, Expected};
use crate::frame::{decode_checked, frame_extent, take_owned, Frame, Progress};
use crate::header::{decode_header, FrameHeader, HeaderProgress};
use crate::limits::Limits;

/// Decodes one direction of a connection from chunks of any size.
///
/// Two ways in: [`push`](Self::push) copies borrowed bytes; [`push_bytes`](Self::push_bytes)
/// takes an owned chunk (what a socket read into a `BytesMut` and `split().freeze()` gives) and
/// decodes the frames that lie wholly inside it in place, zero-copy, copying only a frame that
/// straddles two chunks.
///
/// It never holds more than one maximal frame ([`Limits::max_frame_len`]) of its own: `push`
/// accepts only what fits and a straddling frame is copied only as far as its checked header
/// says, so a peer that streams garbage or announces a huge payload cannot make it allocate more.
/// After an error it stays failed (FRAME-10, §7: a receiver drops the connection; it never
/// guesses where the next frame starts). Validators that want to go on
/// resynchronise with a new decoder at the next boundary marker.
#[derive(Debug)]
pub struct StreamDecoder {
    /// A frame being assembled across chunks; when it is empty, frames are decoded in `chunk`.
    buf: BytesMut,
    /// The unread rest of the owned chunk given to `push_bytes`; it follows `buf` in the stream.
    chunk: Bytes,
    /// The judged header of the frame being assembled in `buf`, once it is whole.
    straddling: Option<FrameHeader>,
    /// Absolute stream offset of `buf[0]`.
    offset: u64,
    limits: Limits,
    failed: Option<DecodeError>,
}

impl Default for StreamDecoder {
    fn default() -> Self {
        StreamDecoder::new(Limits::default())
    }
}

impl StreamDecoder {
    /// A decoder for a stream that starts at offset 0.
    pub fn new(limits: Limits) -> Self {
        Self::starting_at(0, limits)
    }

    /// A decoder for a stream whose first byte is at absolute offset `offset` (for error reports).
    pub fn starting_at(offset: u64, limits: Limits) -> Self {
        StreamDecoder {
            buf: BytesMut::new(),
            chunk: Bytes::new(),
            straddling: None,
            offset,
            limits,
            failed: None,
        }
    }

    /// Absolute offset of the next byte not yet returned as part of a frame.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes held but not yet returned as part of a frame (including an owned chunk's rest).
    pub fn buffered(&self) -> usize {
        self.buf.len() + self.chunk.len()
    }

    /// Appends as much of `chunk` as the buffer bound allows and returns how many bytes it took.
    /// Taking fewer than offered means a whole frame is waiting (or an owned chunk is still
    /// unread): call [`next_frame`](Self::next_frame) until it needs more.
    pub fn push(&mut self, chunk: &[u8]) -> usize {
        if !self.chunk.is_empty() {
            return 0;
        }
        let room = self.limits.max_frame_len().saturating_sub(self.buf.len());
        let take = chunk.len().min(room);
        self.buf.extend_from_slice(chunk.get(..take).unwrap_or_default());
        take
    }

    /// Takes an owned chunk, to be decoded in place: fields of the frames inside it are slices of
    /// it, and nothing is copied but a frame that straddles two chunks. Accepted only when the
    /// previous chunk has been read to its end (call [`next_frame`](Self::next_frame) until it
    /// needs more); otherwise the chunk is handed back untouched.
    pub fn push_bytes(&mut self, chunk: Bytes) -> Result<(), Bytes> {
        if !self.chunk.is_empty() {
            return Err(chunk);
        }
        self.chunk = chunk;
        Ok(())
    }

    /// The next frame, or how many more bytes are needed before one can be judged.
    #[inline]
    pub fn next_frame(&mut self) -> Result<Progress, DecodeError> {
        self.recorded(|d| d.judge_next())
    }

    /// Runs `step`, remembering an error: after one, the decoder stays failed.
    #[inline]
    fn recorded<T>(&mut self, step: impl FnOnce(&mut Self) -> Result<T, DecodeError>) -> Result<T, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = step(self);
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    #[inline]
    fn judge_next(&mut self) -> Result<Progress, DecodeError> {
        loop {
            if self.buf.is_empty() {
                match self.next_in_chunk()? {
                    Ok((frame, len)) => return Ok(Progress::Frame { frame, len }),
                    // Nothing was held at all.
                    Err(needed) if self.buf.is_empty() => return Ok(Progress::NeedMore { needed }),
                    Err(_) => {}
                }
            }
            let header = match self.straddling {
                Some(h) => h,
                None => match decode_header(&self.buf, self.offset, &self.limits)? {
                    HeaderProgress::Complete(h) => {
                        self.straddling = Some(h);
                        h
                    }
                    HeaderProgress::NeedMore(needed) => {
                        if self.chunk.is_empty() {
                            return Ok(Progress::NeedMore { needed });
                        }
                        self.top_up(needed);
                        continue;
                    }
                },
            };
            let len = header.frame_len();
            if let Some(needed) = len.checked_sub(self.buf.len()).filter(|n| *n > 0) {
                if self.chunk.is_empty() {
                    return Ok(Progress::NeedMore { needed });
                }
                self.top_up(needed);
                continue;
            }
            self.straddling = None;
            let frame = take_owned::<_, DecodeError>(&header, &mut self.buf, len, self.offset, |f| f)?;
            self.offset += len as u64;
            return Ok(Progress::Frame { frame, len });
        }
    }

    /// With nothing held in `buf`: the frame at the start of the owned chunk, decoded in place
    /// (zero-copy), or how many more bytes it needs when the chunk ends inside it; that rest is
    /// then held (copied) to be completed from the next chunks, and its header, once whole, is
    /// not judged again.
    #[inline]
    fn next_in_chunk(&mut self) -> Result<Result<(Frame, usize), usize>, DecodeError> {
        let needed = match decode_header(&self.chunk, self.offset, &self.limits)? {
            HeaderProgress::Complete(header) => {
                let len = header.frame_len();
                match len.checked_sub(self.chunk.len()).filter(|n| *n > 0) {
                    None => {
                        let frame = decode_checked(&header, &self.chunk, 0, self.offset)?;
                        // `advance` panics past the end; the chunk holds all `len` bytes.
                        self.chunk.advance(len);
                        self.offset += len as u64;
                        return Ok(Ok((frame, len)));
                    }
                    Some(needed) => {
                        self.straddling = Some(header);
                        needed
                    }
                }
            }
            HeaderProgress::NeedMore(needed) => needed,
        };
        if !self.chunk.is_empty() {
            // A valid prefix, shorter than one frame: keep it with room for the rest, so the
            // frame is assembled without regrowing.
            self.buf.reserve(self.chunk.len() + needed);
            self.buf.extend_from_slice(&self.chunk);
            self.chunk = Bytes::new();
        }
        Ok(Err(needed))
    }

    /// Tops the straddling frame up from the chunk, no further than `needed` (judged from its
    /// header, or the rest of the header). At most what the chunk holds, so the `advance` below
    /// cannot overrun.
    fn top_up(&mut self, needed: usize) {
        let take = needed.min(self.chunk.len());
        self.buf.reserve(needed);
        self.buf.extend_from_slice(self.chunk.get(..take).unwrap_or_default());
        self.chunk.advance(take);
    }

    /// Hands every frame the held bytes complete to `on_frame`, until more input is needed.
    #[inline]
    fn drain(&mut self, on_frame: &mut impl FnMut(Frame)) -> Result<(), DecodeError> {
        self.recorded(|d| loop {
            if d.buf.is_empty() {
                d.walk_chunk(on_frame)?;
            }
            match d.judge_next()? {
                Progress::Frame { frame, .. } => on_frame(frame),
                Progress::NeedMore { .. } => return Ok(()),
            }
        })
    }

    /// The common case of a socket read holding many small frames: every frame wholly inside the
    /// owned chunk is decoded in place and handed to `on_frame`, walked like a one-shot decode of
    /// a buffer, and the chunk is advanced once past them all. A frame the chunk ends inside is
    /// left for [`judge_next`](Self::judge_next).
    #[inline]
    fn walk_chunk(&mut self, on_frame: &mut impl FnMut(Frame)) -> Result<(), DecodeError> {
        let mut at = 0;
        let walked = loop {
            let rest = self.chunk.get(at..).unwrap_or_default();
            let offset = self.offset + at as u64;
            match frame_extent(rest, offset, &self.limits) {
                Ok(Ok((header, len))) => match decode_checked(&header, &self.chunk, at, offset) {
                    Ok(frame) => {
                        on_frame(frame);
                        at += len;
                    }
                    Err(e) => break Err(e),
                },
                Ok(Err(_)) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        // `at` is the end of the last whole frame found in the chunk, so `advance` cannot overrun.
        self.chunk.advance(at);
        self.offset += at as u64;
        walked
    }

    /// Pushes all of `chunk`, handing every completed frame to `on_frame`.
    pub fn feed(&mut self, mut chunk: &[u8], mut on_frame: impl FnMut(Frame)) -> Result<(), DecodeError> {
        loop {
            let took = self.push(chunk);
            chunk = chunk.get(took..).unwrap_or_default();
            self.drain(&mut on_frame)?;
            if chunk.is_empty() {
                return Ok(());
            }
        }
    }

    /// Pushes all of an owned `chunk` ([`push_bytes`](Self::push_bytes)), handing every
    /// completed frame to `on_frame`.
    pub fn feed_bytes(&mut self, chunk: Bytes, mut on_frame: impl FnMut(Frame)) -> Result<(), DecodeError> {
        let mut next = Some(chunk);
        while let Some(chunk) = next.take() {
            if let Err(back) = self.push_bytes(chunk) {
                next = Some(back);
            }
            self.drain(&mut on_frame)?;
        }
        Ok(())
    }

    /// Declares the end of the stream: an error if it ended inside a frame (FRAME-10).
    pub fn finish(&self) -> Result<(), DecodeError> {
        // Unread bytes sit in `buf` or, when nothing straddles, at the start of the chunk.
        let held: &[u8] = if self.buf.is_empty() { &self.chunk } else { &self.buf };
        stream_end(self.failed.as_ref(), held, self.buffered(), self.offset, &self.limits)
    }
}

/// The end of a stream whose decoder failed with `failed` (if it did) and holds `buffered` unread
/// bytes, starting with `held`, from absolute offset `offset`: an error if it ended inside a frame
/// (FRAME-10), reporting how much of that frame was still missing.
pub(crate) fn stream_end(
    failed: Option<&DecodeError>,
    held: &[u8],
    buffered: usize,
    offset: u64,
    limits: &Limits,
) -> Result<(), DecodeError> {
    if let Some(e) = failed {
        return Err(e.clone());
    }
    if buffered == 0 {
        return Ok(());
    }
    let needed = match frame_extent(held, offset, limits) {
        Ok(Err(needed)) => needed,
        Ok(Ok(_)) => 0,
        Err(e) => return Err(e),
    };
    Err(DecodeError {
        code: ErrorCode::TruncatedFrame,
        offset,
        field: "frame",
        found: buffered as u64,
        expected: Expected::AtLeast((buffered + needed) as u64),
    })
}
