//! An input file, opened once and sniffed from the same reader that is then read to the end.
//!
//! Why not a path: a FIFO, `<(…)` process substitution or standard input (`-`) can be read only
//! once, so judging a file by its first bytes and then opening it again hangs (a FIFO) or loses
//! those bytes (process substitution). A `Source` keeps the bytes it sniffed and hands them back in
//! front of the rest of the stream.

use std::fs::File;
use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// How many first bytes are sniffed.
const SNIFF: usize = 16;

/// What the first bytes of an input say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pcap,
    Pcapng,
    /// Anything else: a raw stream of one direction.
    Raw,
    /// Nothing at all (an empty file, `/dev/null`): a raw stream with nothing to check.
    Empty,
}

/// One input, opened.
pub struct Source {
    /// How to name it in messages and reports.
    pub name: String,
    /// The first bytes (fewer only if the input is shorter).
    pub head: Vec<u8>,
    /// The size, where the input is a regular file.
    pub size: Option<u64>,
    /// The reader, positioned after `head`, until it is taken.
    rest: Mutex<Option<Box<dyn Read + Send>>>,
    /// For a regular file, a second reading opens it again.
    path: Option<PathBuf>,
}

fn read_head(r: &mut dyn Read) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(SNIFF);
    r.take(SNIFF as u64).read_to_end(&mut head)?;
    Ok(head)
}

impl Source {
    /// Opens `path`; `-` is standard input.
    pub fn open(path: &Path) -> Result<Source, String> {
        let fail = |e: std::io::Error| format!("{}: {e}", path.display());
        if path.as_os_str() == "-" {
            let mut stdin: Box<dyn Read + Send> = Box::new(std::io::stdin());
            let head = read_head(&mut stdin).map_err(fail)?;
            return Ok(Source {
                name: "<stdin>".into(),
                head,
                size: None,
                rest: Mutex::new(Some(stdin)),
                path: None,
            });
        }
        let mut file = File::open(path).map_err(fail)?;
        let meta = file.metadata().map_err(fail)?;
        let head = read_head(&mut file).map_err(fail)?;
        // A regular file is opened again when it is read, so a directory of many stream files
        // does not hold a descriptor per file; anything else keeps its one reader.
        let regular = meta.is_file();
        Ok(Source {
            name: path.display().to_string(),
            head,
            size: regular.then_some(meta.len()),
            rest: Mutex::new((!regular).then(|| Box::new(file) as Box<dyn Read + Send>)),
            path: regular.then(|| path.to_path_buf()),
        })
    }

    /// The whole input from its first byte. A regular file can be read any number of times; a
    /// pipe once.
    pub fn reader(&self) -> Result<Box<dyn Read + Send>, String> {
        let taken = self.rest.lock().ok().and_then(|mut r| r.take());
        if let Some(rest) = taken {
            return Ok(Box::new(Filling(Cursor::new(self.head.clone()).chain(rest))));
        }
        match &self.path {
            Some(p) => File::open(p)
                .map(|f| Box::new(f) as Box<dyn Read + Send>)
                .map_err(|e| format!("{}: {e}", self.name)),
            None => Err(format!("{}: a pipe can be read only once", self.name)),
        }
    }

    /// What the input is, or why it cannot be read: a compressed file, or a file named as a
    /// capture that is not one (exit 2 for each, with what was found).
    pub fn kind(&self) -> Result<Kind, String> {
        let h = &self.head;
        let magic = h.get(..4).map(|m| u32::from_le_bytes([m[0], m[1], m[2], m[3]]));
        match magic {
            Some(0xA1B2_C3D4 | 0xD4C3_B2A1 | 0xA1B2_3C4D | 0x4D3C_B2A1) => return Ok(Kind::Pcap),
            Some(0x0A0D_0D0A) => return Ok(Kind::Pcapng),
            _ => {}
        }
        if h.is_empty() {
            return Ok(Kind::Empty);
        }
        let compressed = [
            (&[0x1f, 0x8b][..], "gzip", "gunzip"),
            (&[0x28, 0xb5, 0x2f, 0xfd][..], "zstd", "unzstd"),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0][..], "xz", "unxz"),
            (&b"BZh"[..], "bzip2", "bunzip2"),
        ];
        if let Some((_, what, tool)) = compressed.iter().find(|(m, _, _)| h.starts_with(m)) {
            return Err(format!(
                "{}: {what}-compressed (starts {}): decompress it first ({tool} -k FILE, or {tool} -c FILE | raftwire … -)",
                self.name,
                crate::capture::unrecognised::hex(h.get(..h.len().min(4)).unwrap_or_default())
            ));
        }
        let named_capture = [".pcap", ".pcapng", ".cap"].iter().any(|e| self.name.ends_with(e));
        if named_capture {
            return Err(format!(
                "{}: not a pcap or pcapng capture: it starts {} ({} byte(s) read), not with a pcap magic number (a1b2c3d4, \
                 d4c3b2a1, a1b23c4d, 4d3cb2a1) or a pcapng section header (0a0d0d0a)",
                self.name,
                crate::capture::unrecognised::hex(h),
                h.len()
            ));
        }
        Ok(Kind::Raw)
    }
}

/// Fills each read as far as the input allows: a pipe, and the sniffed head chained before the
/// rest, hand over short reads, and pcap-parser takes a short first read for a cut file.
struct Filling<R>(R);

impl<R: Read> Read for Filling<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.0.read(buf.get_mut(filled..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) if filled == 0 => return Err(e),
                Err(_) => break,
            }
        }
        Ok(filled)
    }
}
