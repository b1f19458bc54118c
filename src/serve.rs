//! `raftwire serve`: the reference RFW/1 node (a `raftwire-transport` server around a
//! `Follower`), bounded for running unattended: no test taps, only the latest drops kept, every
//! dropped connection logged with its code and offset, a status line every minute.

use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use raftwire_transport::{Follower, Server, ServerOptions};

pub fn run(listen: &str, term: u64, max_connections: usize) -> Result<ExitCode, String> {
    if term == 0 {
        return Err("--term 0: a Raft term starts at 1 (MSG-1)".into());
    }
    let rt = tokio::runtime::Runtime::new().map_err(|e| format!("starting the runtime: {e}"))?;
    rt.block_on(async {
        let follower = Arc::new(Follower::new(term));
        let options = ServerOptions {
            max_connections: max_connections.max(1),
            ..ServerOptions::long_running()
        };
        let server = Server::start_with(listen, follower.clone(), options)
            .await
            .map_err(|e| format!("--listen {listen}: {e}"))?;
        let (t, last, commit) = follower.status();
        eprintln!(
            "raftwire serve: RFW/1 follower on {} (term {t}, log 1..{last}, commit {commit}); Ctrl-C stops it",
            server.addr
        );
        let mut tick = tokio::time::interval(Duration::from_secs(60));
        tick.tick().await;
        loop {
            tick.tick().await;
            let (t, last, commit) = follower.status();
            let s = &server.stats;
            eprintln!(
                "raftwire serve: {} answers, {} connections dropped; term {t}, last index {last}, commit {commit}",
                s.answered.load(Ordering::Relaxed),
                s.dropped_total.load(Ordering::Relaxed)
            );
        }
    })
}
