//! One direction of a stream, read the way a validator must: every frame checked, and after any
//! error a resynchronisation on the next boundary marker whose header CRC verifies, so nothing
//! after the first error goes unchecked and every skipped byte is counted.

use bytes::{Buf, BytesMut};
use memchr::memmem;
use raftwire_codec::{
    decode_header, decode_prefix, DecodeError, ErrorCode, Expected, Frame, HeaderProgress, Limits, Progress,
    HEADER_LEN, MARKER,
};

/// What the scanner found, in stream order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A valid frame at `offset`, `len` bytes long.
    Frame {
        /// Absolute offset of its first byte.
        offset: u64,
        /// Its length in bytes.
        len: usize,
        /// The frame.
        frame: Frame,
    },
    /// A frame-level error; scanning resumes at the next verified header.
    Error {
        /// What was wrong, and where.
        error: DecodeError,
        /// Offset of the first byte of the frame (or of the bytes) that failed: `error.offset`
        /// names the field, after the damage for a CRC, so this says where the damaged frame began.
        frame: u64,
        /// The bytes around the error, as far as the scanner held them.
        context: Context,
    },
    /// Diagnosis: the frame that failed at `frame` holds a boundary marker at `at`, inside its
    /// claimed extent (or inside its header, when the header itself is broken): another writer's
    /// frame began there. Two writers are sharing the connection without a lock (the failure this
    /// project exists for).
    Interleaved {
        /// Offset of the frame that was cut.
        frame: u64,
        /// Offset where the other writer's frame begins, inside the first one.
        at: u64,
    },
    /// Bytes passed over while resynchronising: from the start of the bad frame (or garbage) to
    /// the next verified header or the end of the stream.
    Skipped {
        /// Absolute offset of the first skipped byte.
        offset: u64,
        /// How many bytes were skipped.
        len: u64,
    },
}

/// Bytes around an error, for hex excerpts in reports.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Context {
    /// Stream offset of `bytes[0]`.
    pub offset: u64,
    /// Up to 16 bytes before the error's offset and 16 from it.
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// At a frame boundary.
    InSync,
    /// Looking for the next marker; skipping started at this offset.
    Hunting { since: u64 },
}

/// Scans one direction of a stream in chunks of any size, holding at most one maximal frame.
#[derive(Debug)]
pub struct Scanner {
    buf: BytesMut,
    /// Absolute offset of `buf[0]`.
    base: u64,
    limits: Limits,
    mode: Mode,
    finished: bool,
}

impl Scanner {
    /// A scanner enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Scanner {
            buf: BytesMut::new(),
            base: 0,
            limits,
            mode: Mode::InSync,
            finished: false,
        }
    }

    /// Bytes held while waiting for the rest of a frame (at most one maximal frame).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Total bytes consumed so far (offset of the next unread byte).
    pub fn offset(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    /// Feeds a chunk, reporting every event it completes.
    pub fn feed(&mut self, mut chunk: &[u8], on_event: &mut impl FnMut(Event)) {
        while !chunk.is_empty() {
            let room = self.limits.max_frame_len().saturating_sub(self.buf.len()).max(1);
            let (now, later) = chunk.split_at(room.min(chunk.len()));
            self.buf.extend_from_slice(now);
            chunk = later;
            self.process(false, on_event);
        }
    }

    /// Declares `len` bytes missing from the capture at the current offset (a TCP gap). A partial
    /// frame before the gap cannot be judged: its bytes are reported skipped, not as a protocol
    /// error. Scanning resumes by hunting for the next verified header after the gap.
    pub fn gap(&mut self, len: u64, on_event: &mut impl FnMut(Event)) {
        let since = match self.mode {
            Mode::Hunting { since } => since,
            Mode::InSync => self.base,
        };
        let held = self.buf.len();
        self.advance(held);
        if self.base > since {
            on_event(Event::Skipped {
                offset: since,
                len: self.base - since,
            });
        }
        self.base += len;
        self.mode = Mode::Hunting { since: self.base };
    }

    /// Declares the end of the stream: a partial frame is `truncated_frame` (FRAME-10), and the
    /// bytes after it are still scanned for frames.
    pub fn finish(&mut self, on_event: &mut impl FnMut(Event)) {
        if !self.finished {
            self.finished = true;
            self.process(true, on_event);
        }
    }

    fn advance(&mut self, n: usize) {
        let n = n.min(self.buf.len());
        self.buf.advance(n);
        self.base += n as u64;
    }

    /// Gives up on the frame at `buf[0]` after `error`: skipping starts there, hunting from the
    /// next byte.
    fn lose_sync(&mut self, error: DecodeError, claimed_len: Option<usize>, on_event: &mut impl FnMut(Event)) {
        let at = error.offset.saturating_sub(self.base) as usize;
        let from = at.saturating_sub(16);
        let context = Context {
            offset: self.base + from as u64,
            bytes: self
                .buf
                .get(from..(at + 16).min(self.buf.len()))
                .unwrap_or_default()
                .to_vec(),
        };
        on_event(Event::Error {
            error,
            frame: self.base,
            context,
        });
        // A marker inside the failed frame's extent (its claimed length, or the header when that
        // is unreadable) is where another writer's frame began: name the interleaving there.
        // Markers that start inside the extent, even if they end past it.
        let window = (claimed_len.unwrap_or(HEADER_LEN) + MARKER.len() - 1).min(self.buf.len());
        if let Some(q) = self.buf.get(1..window).and_then(|inside| memmem::find(inside, &MARKER)) {
            on_event(Event::Interleaved {
                frame: self.base,
                at: self.base + 1 + q as u64,
            });
        }
        self.mode = Mode::Hunting { since: self.base };
        self.advance(1);
    }

    fn process(&mut self, eof: bool, on_event: &mut impl FnMut(Event)) {
        loop {
            match self.mode {
                Mode::InSync => {
                    if self.buf.is_empty() {
                        return;
                    }
                    match decode_header(&self.buf, self.base, &self.limits) {
                        Err(e) => self.lose_sync(e, None, on_event),
                        Ok(progress) => {
                            let (needed, len) = match progress {
                                HeaderProgress::NeedMore(n) => (n, 0),
                                HeaderProgress::Complete(h) => {
                                    (h.frame_len().saturating_sub(self.buf.len()), h.frame_len())
                                }
                            };
                            if needed > 0 {
                                if !eof {
                                    return;
                                }
                                let error = DecodeError {
                                    code: ErrorCode::TruncatedFrame,
                                    offset: self.base,
                                    field: "frame",
                                    found: self.buf.len() as u64,
                                    expected: Expected::AtLeast((self.buf.len() + needed) as u64),
                                };
                                self.lose_sync(error, (len > 0).then_some(len), on_event);
                                continue;
                            }
                            self.take_frame(len, on_event);
                        }
                    }
                }
                Mode::Hunting { since } => {
                    if !self.hunt(eof) {
                        if eof {
                            self.advance(self.buf.len());
                            if self.base > since {
                                on_event(Event::Skipped {
                                    offset: since,
                                    len: self.base - since,
                                });
                            }
                            self.mode = Mode::InSync;
                        }
                        return;
                    }
                    on_event(Event::Skipped {
                        offset: since,
                        len: self.base - since,
                    });
                    self.mode = Mode::InSync;
                }
            }
        }
    }

    /// Decodes the whole frame at `buf[0]`, `len` bytes (its header is valid and all its bytes
    /// are present).
    fn take_frame(&mut self, len: usize, on_event: &mut impl FnMut(Event)) {
        let bytes = self.buf.split_to(len.min(self.buf.len())).freeze();
        match decode_prefix(&bytes, self.base, &self.limits) {
            Ok(Progress::Frame { frame, len }) => {
                on_event(Event::Frame {
                    offset: self.base,
                    len,
                    frame,
                });
                self.base += len as u64;
            }
            other => {
                // Corruption is rare: copying the frame back in front of the buffer to
                // resynchronise inside it costs nothing that matters.
                let mut again = BytesMut::with_capacity(bytes.len() + self.buf.len());
                again.extend_from_slice(&bytes);
                again.extend_from_slice(&self.buf);
                self.buf = again;
                let error = match other {
                    Err(e) => e,
                    // decode_header said the frame was complete, so this cannot happen; treat it
                    // as a truncated frame rather than panicking.
                    Ok(_) => DecodeError {
                        code: ErrorCode::TruncatedFrame,
                        offset: self.base,
                        field: "frame",
                        found: bytes.len() as u64,
                        expected: Expected::AtLeast(bytes.len() as u64 + 1),
                    },
                };
                self.lose_sync(error, Some(len), on_event);
            }
        }
    }

    /// Drops bytes up to the next marker whose header verifies. True when positioned on one;
    /// false when more input is needed (or, at EOF, when there is none).
    fn hunt(&mut self, eof: bool) -> bool {
        let finder = memmem::Finder::new(&MARKER);
        loop {
            let Some(at) = finder.find(&self.buf) else {
                // Keep a possible partial marker at the end for the next chunk.
                let keep = if eof { 0 } else { (MARKER.len() - 1).min(self.buf.len()) };
                self.advance(self.buf.len() - keep);
                return false;
            };
            self.advance(at);
            match decode_header(&self.buf, self.base, &self.limits) {
                Ok(HeaderProgress::Complete(_)) => return true,
                Ok(HeaderProgress::NeedMore(_)) if !eof => return false,
                _ => self.advance(1),
            }
        }
    }
}

/// Scans a complete one-direction stream held in memory.
pub fn scan_all(stream: &[u8], limits: Limits) -> Vec<Event> {
    let mut events = Vec::new();
    let mut s = Scanner::new(limits);
    let mut push = |e| events.push(e);
    s.feed(stream, &mut push);
    s.finish(&mut push);
    events
}
