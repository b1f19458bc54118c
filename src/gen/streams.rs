//! Writing generated traffic as raw streams, `NAME.c2s.bin` and `NAME.s2c.bin` per connection in
//! a directory, appended to as the traffic is simulated.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use raftwire_conformance::Direction;

use super::traffic::{Endpoints, Segment};

/// One connection's two files and what `gen` says about it when done.
struct Files {
    summary: String,
    rank: usize,
    /// Client to server, server to client.
    sides: [Option<BufWriter<File>>; 2],
}

/// The directory being written.
pub struct StreamsOutput {
    dir: PathBuf,
    connections: Vec<Option<Files>>,
    error: Option<String>,
}

impl StreamsOutput {
    pub fn new(dir: &Path) -> StreamsOutput {
        StreamsOutput {
            dir: dir.to_path_buf(),
            connections: Vec::new(),
            error: None,
        }
    }

    fn create(&mut self, name: &str, suffix: &str) -> Option<BufWriter<File>> {
        let path = self.dir.join(format!("{name}.{suffix}.bin"));
        match File::create(&path) {
            Ok(f) => Some(BufWriter::new(f)),
            Err(e) => {
                self.error.get_or_insert(format!("{}: {e}", path.display()));
                None
            }
        }
    }
}

impl super::Output for StreamsOutput {
    fn open(&mut self, id: usize, endpoints: &Endpoints, rank: usize, segments: usize) {
        let sides = [self.create(&endpoints.name, "c2s"), self.create(&endpoints.name, "s2c")];
        if self.connections.len() <= id {
            self.connections.resize_with(id + 1, || None);
        }
        self.connections[id] = Some(Files {
            summary: format!(
                "{}: {} -> {}, {segments} segments",
                endpoints.name, endpoints.client, endpoints.server
            ),
            rank,
            sides,
        });
    }

    fn segment(&mut self, id: usize, segment: &Segment) {
        let side = usize::from(segment.direction == Direction::ServerToClient);
        let Some(Some(files)) = self.connections.get_mut(id) else {
            return;
        };
        if let Some(w) = files.sides[side].as_mut() {
            if let Err(e) = w.write_all(&segment.bytes) {
                self.error.get_or_insert(format!("{}: {e}", self.dir.display()));
            }
        }
    }

    fn settled(&mut self, _time_us: u64) {}

    fn finish(&mut self) -> std::io::Result<()> {
        let mut done: Vec<Files> = self.connections.drain(..).flatten().collect();
        done.sort_by_key(|f| f.rank);
        for files in &mut done {
            eprintln!("{}", files.summary);
            for w in files.sides.iter_mut().flatten() {
                if let Err(e) = w.flush() {
                    self.error.get_or_insert(format!("{}: {e}", self.dir.display()));
                }
            }
        }
        self.error.take().map_or(Ok(()), |e| Err(std::io::Error::other(e)))
    }
}
