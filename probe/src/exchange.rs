//! One connection of a case: perform its steps, then read the node's answers until the case is
//! decided, the node closes, or the timeout passes. Blocking sockets with deadlines: the probe
//! runs one connection at a time, and nothing here needs a runtime.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::case::Step;
use crate::record::{Event, Trace};
use crate::{Dialect, Seen};

/// The most of a node's answers one exchange keeps: a node that floods the connection is cut
/// off there, and the probe's memory stays bounded.
const MAX_RECEIVED: usize = 1 << 20;

/// How the node's side of the connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The node closed it (FIN).
    Closed,
    /// The node reset it (RST), or it was reset while we wrote.
    Reset,
    /// Still open when the probe stopped: the case was decided, or the timeout passed.
    Open {
        /// The timeout passed before the case was decided.
        timed_out: bool,
    },
}

/// What happened on one connection.
#[derive(Debug, Clone)]
pub struct Exchange {
    /// Every byte the probe wrote.
    pub sent: Vec<u8>,
    /// Every byte the node wrote (up to [`MAX_RECEIVED`]).
    pub received: Vec<u8>,
    /// The node's complete answers.
    pub answers: Vec<Seen>,
    /// The node's answers broke the dialect: why.
    pub malformed: Option<String>,
    /// How the node's side ended.
    pub end: End,
    /// Bytes the probe could not write because the node had closed or reset the connection.
    pub unsent: usize,
    /// From connecting to deciding.
    pub elapsed: Duration,
    /// The probe's end of the connection.
    pub client: Option<SocketAddr>,
    /// Everything that happened, when recording.
    pub trace: Option<Trace>,
}

/// Why an exchange could not start.
#[derive(Debug)]
pub struct ConnectError(pub std::io::Error);

struct Conn<'a> {
    stream: TcpStream,
    dialect: &'a dyn Dialect,
    ex: Exchange,
    /// The node's side has ended (closed, reset or malformed): nothing more to read.
    over: bool,
    /// When the run began, for the trace's times.
    epoch: Instant,
}

impl Conn<'_> {
    fn log(&mut self, e: Event) {
        let at = self.epoch.elapsed();
        if let Some(t) = self.ex.trace.as_mut() {
            t.events.push((at, e));
        }
    }

    fn write(&mut self, bytes: &[u8]) {
        if self.over || self.ex.unsent > 0 {
            self.ex.unsent += bytes.len();
            return;
        }
        match self.stream.write_all(bytes) {
            Ok(()) => {
                self.ex.sent.extend_from_slice(bytes);
                self.log(Event::Sent(bytes.to_vec()));
            }
            Err(e) => {
                // The node closed or reset before taking everything: that is an outcome, not an
                // error of the probe's.
                self.ex.unsent += bytes.len();
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::BrokenPipe | ErrorKind::ConnectionAborted
                ) {
                    self.ex.end = End::Reset;
                    self.log(Event::NodeRst);
                }
            }
        }
    }

    /// Reads until `done` holds of the answers so far, the node's side ends, or `deadline`.
    fn read_until(&mut self, deadline: Instant, done: &dyn Fn(&[Seen]) -> bool) {
        let mut buf = vec![0u8; 64 * 1024];
        while !self.over && !done(&self.ex.answers) {
            let now = Instant::now();
            if now >= deadline {
                self.ex.end = End::Open { timed_out: true };
                return;
            }
            let _ = self
                .stream
                .set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))));
            match self.stream.read(&mut buf) {
                Ok(0) => {
                    self.ex.end = End::Closed;
                    self.over = true;
                    self.log(Event::NodeFin);
                }
                Ok(n) => {
                    self.log(Event::Received(buf[..n].to_vec()));
                    let room = MAX_RECEIVED - self.ex.received.len();
                    self.ex.received.extend_from_slice(&buf[..n.min(room)]);
                    if n >= room {
                        self.ex.malformed = Some(format!("the node sent more than {MAX_RECEIVED} bytes of answers"));
                        self.over = true;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                    ) => {}
                Err(_) => {
                    if self.ex.end != End::Reset {
                        self.log(Event::NodeRst);
                    }
                    self.ex.end = End::Reset;
                    self.over = true;
                }
            }
            let ended = matches!(self.ex.end, End::Closed | End::Reset);
            match self.dialect.answers(&self.ex.sent, &self.ex.received, ended) {
                Ok(answers) => self.ex.answers = answers,
                Err(why) => {
                    self.ex.malformed.get_or_insert(why);
                    self.over = true;
                }
            }
        }
        if !self.over {
            self.ex.end = End::Open { timed_out: false };
        }
    }
}

/// How an exchange is run.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// How long to wait for a connection, an answer or a close.
    pub timeout: Duration,
    /// When the run began (the trace's times count from it).
    pub epoch: Instant,
    /// Keep a trace of everything that happened.
    pub record: bool,
}

/// Connects to `addr`, performs `steps`, and reads until `decided` holds, the node's side ends,
/// or the timeout passes (counted from the end of the steps; each `AwaitAnswers` step gets its
/// own). The connection is handed back still open: a node that hangs only while it is open (a
/// handler waiting for bytes that never come, holding a lock) is caught before it is closed.
pub fn exchange(
    addr: SocketAddr,
    dialect: &dyn Dialect,
    steps: &[Step],
    decided: &dyn Fn(&[Seen]) -> bool,
    setting: Setting,
) -> Result<(Exchange, TcpStream), ConnectError> {
    let timeout = setting.timeout;
    let start = Instant::now();
    let opened = setting.epoch.elapsed();
    let stream = TcpStream::connect_timeout(&addr, timeout).map_err(ConnectError)?;
    let _ = stream.set_nodelay(true);
    let client = stream.local_addr().ok();
    let trace = match (setting.record, client) {
        (true, Some(client)) => Some(Trace {
            client,
            server: addr,
            opened,
            events: Vec::new(),
        }),
        _ => None,
    };
    let mut c = Conn {
        stream,
        dialect,
        ex: Exchange {
            sent: Vec::new(),
            received: Vec::new(),
            answers: Vec::new(),
            malformed: None,
            end: End::Open { timed_out: false },
            unsent: 0,
            elapsed: Duration::ZERO,
            client,
            trace,
        },
        over: false,
        epoch: setting.epoch,
    };
    for step in steps {
        match step {
            Step::Send(bytes) => c.write(bytes),
            Step::Drip { bytes, gap } => {
                for b in bytes {
                    c.write(std::slice::from_ref(b));
                    std::thread::sleep(*gap);
                }
            }
            Step::Pause(d) => std::thread::sleep(*d),
            Step::HalfClose => {
                let _ = c.stream.shutdown(Shutdown::Write);
                c.log(Event::ProbeFin);
            }
            Step::AwaitAnswers(n) => {
                let n = *n;
                c.read_until(Instant::now() + timeout, &move |a: &[Seen]| a.len() >= n);
            }
        }
    }
    c.read_until(Instant::now() + timeout, decided);
    c.ex.elapsed = start.elapsed();
    Ok((c.ex, c.stream))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::net::TcpListener;

    use super::*;
    use crate::rfw::Rfw;

    fn setting() -> Setting {
        Setting {
            timeout: Duration::from_secs(2),
            epoch: Instant::now(),
            record: true,
        }
    }

    /// A peer that accepts one connection and hands it to `f`.
    fn peer(f: impl FnOnce(TcpStream) + Send + 'static) -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((c, _)) = l.accept() {
                f(c);
            }
        });
        addr
    }

    #[test]
    fn bytes_the_node_closed_on_are_counted_as_unsent() {
        // The peer reads the first write, then closes: later writes fail (at once, or after the
        // kernel learns of the reset), and every byte not written is counted.
        let addr = peer(|mut c| {
            let mut b = [0u8; 10];
            let _ = c.read_exact(&mut b);
        });
        let steps = [
            Step::Send(vec![1; 10]),
            Step::Pause(Duration::from_millis(200)),
            Step::Send(vec![2; 100]),
            Step::Pause(Duration::from_millis(200)),
            Step::Send(vec![3; 1000]),
            Step::Send(vec![4; 7]),
        ];
        let (ex, _) = exchange(addr, &Rfw, &steps, &|_: &[Seen]| false, setting()).unwrap();
        assert_eq!(
            ex.sent.len() + ex.unsent,
            1117,
            "every byte either sent or counted unsent"
        );
        assert!(ex.unsent >= 1007, "the writes after the close: {}", ex.unsent);
        assert!(matches!(ex.end, End::Closed | End::Reset));
    }

    #[test]
    fn a_reset_is_recorded_once() {
        // Closing with our bytes unread makes the kernel reset the connection.
        let addr = peer(|c| {
            std::thread::sleep(Duration::from_millis(100));
            drop(c);
        });
        let steps = [Step::Send(vec![7; 64])];
        let (ex, _) = exchange(addr, &Rfw, &steps, &|_: &[Seen]| false, setting()).unwrap();
        assert_eq!(ex.end, End::Reset);
        let trace = ex.trace.unwrap();
        let resets = trace.events.iter().filter(|(_, e)| *e == Event::NodeRst).count();
        assert_eq!(resets, 1, "{:?}", trace.events);
        assert_eq!(
            trace.events.first().map(|(_, e)| e.clone()),
            Some(Event::Sent(vec![7; 64]))
        );
    }

    #[test]
    fn a_close_is_recorded_with_what_was_read_before_it() {
        let mut answer = bytes::BytesMut::new();
        let vote = raftwire_codec::RequestVoteResponse {
            term: 3,
            granted: false,
        };
        raftwire_codec::encode(
            &raftwire_codec::Frame::new(9, raftwire_codec::Message::RequestVoteResponse(vote)),
            &mut answer,
        )
        .unwrap();
        let bytes = answer.to_vec();
        let sent = bytes.clone();
        let addr = peer(move |mut c| {
            let _ = c.write_all(&sent);
        });
        let (ex, _) = exchange(addr, &Rfw, &[Step::HalfClose], &|_: &[Seen]| false, setting()).unwrap();
        assert_eq!(ex.end, End::Closed);
        assert_eq!(ex.received, bytes);
        assert_eq!(ex.answers.len(), 1);
        assert_eq!((ex.answers[0].id, ex.answers[0].term), (Some(9), Some(3)));
        let events: Vec<Event> = ex.trace.unwrap().events.into_iter().map(|(_, e)| e).collect();
        assert_eq!(events, [Event::ProbeFin, Event::Received(bytes), Event::NodeFin]);
    }

    #[test]
    fn bytes_that_break_the_dialect_stop_the_reading() {
        let addr = peer(|mut c| {
            let _ = c.write_all(b"hello");
            std::thread::sleep(Duration::from_secs(1));
        });
        let (ex, _) = exchange(addr, &Rfw, &[], &|_: &[Seen]| false, setting()).unwrap();
        assert!(
            ex.malformed.as_deref().is_some_and(|m| m.contains("bad_marker")),
            "{:?}",
            ex.malformed
        );
        assert!(
            ex.elapsed < Duration::from_millis(900),
            "it waited for more: {:?}",
            ex.elapsed
        );
    }
}
