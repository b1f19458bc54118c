//! The incremental decoder for borrowed views: bytes arrive in any chunking, each frame is handed
//! out as a [`FrameRef`] for as long as the callback runs.
//!
//! Why a second incremental decoder: [`StreamDecoder`](crate::StreamDecoder) hands out owned
//! frames, so every frame costs a shared handle on its chunk and a frame that straddles chunks is
//! copied into a fresh buffer of its own. A transport that handles each frame as it arrives needs
//! neither: here a frame wholly inside a chunk is viewed where it lies, in the caller's (borrowed)
//! read buffer, and a straddling frame is assembled in one buffer reused for the life of the
//! connection. Same verdicts, same bounds as `StreamDecoder` (the `decode_stream` fuzz property
//! runs both on the same chunks).

use crate::error::DecodeError;
use crate::frame::Progress;
use crate::frame_ref::{decode_ref_at, view_checked, FrameRef};
use crate::header::{decode_header, FrameHeader, HeaderProgress, HEADER_LEN};
use crate::limits::Limits;
use crate::stream::stream_end;

/// Decodes one direction of a connection from borrowed chunks of any size into borrowed views.
///
/// Holds at most one frame of its own ([`Limits::max_frame_len`]): only the part of a frame a
/// chunk ended inside, and only once its header has been judged (or while the header itself is
/// still arriving). After an error it stays failed, as [`StreamDecoder`](crate::StreamDecoder)
/// does.
#[derive(Debug)]
pub struct StreamRefDecoder {
    /// The start of a frame the last chunk ended inside; reused, never shrunk.
    held: Vec<u8>,
    /// The judged header of the frame in `held`, once its header is whole.
    straddling: Option<FrameHeader>,
    /// Absolute stream offset of the next byte not yet handed out as part of a frame.
    offset: u64,
    limits: Limits,
    failed: Option<DecodeError>,
}

impl Default for StreamRefDecoder {
    fn default() -> Self {
        StreamRefDecoder::new(Limits::default())
    }
}

impl StreamRefDecoder {
    /// A decoder for a stream that starts at offset 0.
    pub fn new(limits: Limits) -> Self {
        Self::starting_at(0, limits)
    }

    /// A decoder for a stream whose first byte is at absolute offset `offset` (for error reports).
    pub fn starting_at(offset: u64, limits: Limits) -> Self {
        StreamRefDecoder {
            held: Vec::new(),
            straddling: None,
            offset,
            limits,
            failed: None,
        }
    }

    /// Absolute offset of the next byte not yet handed out as part of a frame.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes held: the part of a frame the last chunk ended inside.
    pub fn buffered(&self) -> usize {
        self.held.len()
    }

    /// Decodes all of `chunk`, handing every frame it completes to `on_frame`. A frame lies in
    /// `chunk` itself when it starts and ends there, otherwise in the decoder's own buffer; either
    /// way the view lives only for the call. Keep a frame with [`FrameRef::to_frame`]: given
    /// any buffer (`&Bytes::new()`), it copies the fields the frame needs, since neither the
    /// chunk nor the decoder's buffer outlives the call.
    pub fn feed(&mut self, chunk: &[u8], mut on_frame: impl FnMut(FrameRef<'_>)) -> Result<(), DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let result = self.complete_held(chunk, &mut on_frame).and_then(|rest| match rest {
            Some(rest) => self.walk(rest, &mut on_frame),
            None => Ok(()),
        });
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// Tops up the held frame from the start of `chunk` and hands it out once whole. Returns
    /// the rest of the chunk, or `None` when the chunk was used up before the frame completed.
    fn complete_held<'c>(
        &mut self,
        mut chunk: &'c [u8],
        on_frame: &mut impl FnMut(FrameRef<'_>),
    ) -> Result<Option<&'c [u8]>, DecodeError> {
        while !self.held.is_empty() {
            let header = match self.straddling {
                Some(h) => h,
                None => {
                    // What is held was judged a valid prefix when it was kept: complete the
                    // header from the chunk first, then judge it, once, at once.
                    chunk = self.take(chunk, HEADER_LEN.saturating_sub(self.held.len()));
                    match decode_header(&self.held, self.offset, &self.limits)? {
                        HeaderProgress::Complete(h) => {
                            self.straddling = Some(h);
                            h
                        }
                        // Only when the chunk ran out inside the header.
                        HeaderProgress::NeedMore(_) => return Ok(None),
                    }
                }
            };
            let needed = header.frame_len().saturating_sub(self.held.len());
            // The judged header bounds the frame by the limits: room for exactly its rest, so
            // the buffer never grows past the largest frame seen.
            self.held.reserve_exact(needed);
            chunk = self.take(chunk, needed);
            if self.held.len() < header.frame_len() {
                return Ok(None);
            }
            on_frame(view_checked(&header, &self.held, 0, self.offset)?);
            self.offset += self.held.len() as u64;
            self.held.clear();
            self.straddling = None;
        }
        Ok(Some(chunk))
    }

    /// Moves up to `needed` bytes from the start of `chunk` into `held`; returns the rest.
    fn take<'c>(&mut self, chunk: &'c [u8], needed: usize) -> &'c [u8] {
        let (taken, rest) = chunk.split_at_checked(needed).unwrap_or((chunk, &[]));
        self.held.extend_from_slice(taken);
        rest
    }

    /// With nothing held: every frame wholly inside `chunk` is viewed where it lies, walked
    /// exactly as a one-shot decode walks a buffer ([`decode_ref_at`]); the valid start of a
    /// frame the chunk ends inside (shorter than the frame, whose header bounds it) is held.
    fn walk(&mut self, chunk: &[u8], on_frame: &mut impl FnMut(FrameRef<'_>)) -> Result<(), DecodeError> {
        let mut at = 0;
        let walked = loop {
            match decode_ref_at(chunk, at, &self.limits) {
                Ok(Progress::Frame { frame, len }) => {
                    on_frame(frame);
                    at += len;
                }
                Ok(Progress::NeedMore { .. }) => {
                    self.held.extend_from_slice(chunk.get(at..).unwrap_or_default());
                    break Ok(());
                }
                // Offsets within the chunk become offsets in the stream.
                Err(e) => {
                    break Err(DecodeError {
                        offset: e.offset + self.offset,
                        ..e
                    })
                }
            }
        };
        self.offset += at as u64;
        walked
    }

    /// Declares the end of the stream: an error if it ended inside a frame (FRAME-10).
    pub fn finish(&self) -> Result<(), DecodeError> {
        stream_end(
            self.failed.as_ref(),
            &self.held,
            self.held.len(),
            self.offset,
            &self.limits,
        )
    }
}
