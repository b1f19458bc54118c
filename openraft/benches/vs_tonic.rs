//! AppendEntries through the RFW/1 network next to what users would pick instead: a tonic (gRPC,
//! prost) network for the same openraft types, on loopback, in one run.
//!
//! ```sh
//! cargo bench -p raftwire-openraft --bench vs_tonic            # full run
//! cargo bench -p raftwire-openraft --bench vs_tonic -- --quick # CI smoke run
//! # one cell, one side, e.g. to put under `perf record`:
//! cargo bench -p raftwire-openraft --bench vs_tonic -- --only binary/64/16 --side rfw
//! ```
//!
//! Both sides do the same work: the client turns openraft's `AppendEntriesRequest<C>` into its
//! wire messages (commands encoded as JSON, as `Json` does), the server turns them back into
//! openraft's types and answers `Success` without a Raft behind it (so the transport, not a log
//! store, is measured). Workloads: 64 entries of 256 B, and heartbeats; one RPC in flight (what
//! one replication stream does) and 16 (several streams, or linearizable reads beside them).
//! Rounds alternate RFW/1 and tonic; the figures are medians over rounds: RPCs per second, and the
//! p99 latency of each round's RPCs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, Snapshot, Vote};
use raftwire_openraft::memory::{KvTypes, Set};
use raftwire_openraft::{DataCodec, Json, RaftApi, RaftService, RfwNetworkFactory};
use raftwire_transport::{ClientConfig, Server, ServerOptions};
use tonic::codegen::{http, Body, BoxFuture, Context, Poll, Service, StdError};

// ---- the gRPC messages a tonic network for openraft would define (prost) ----

#[derive(Clone, PartialEq, prost::Message)]
struct PbVote {
    #[prost(uint64, tag = "1")]
    term: u64,
    #[prost(uint64, tag = "2")]
    node_id: u64,
    #[prost(bool, tag = "3")]
    committed: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PbLogId {
    #[prost(uint64, tag = "1")]
    term: u64,
    #[prost(uint64, tag = "2")]
    node_id: u64,
    #[prost(uint64, tag = "3")]
    index: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PbEntry {
    #[prost(message, optional, tag = "1")]
    log_id: Option<PbLogId>,
    /// 0 normal, 1 blank (memberships are not in this workload).
    #[prost(uint32, tag = "2")]
    kind: u32,
    #[prost(bytes = "vec", tag = "3")]
    data: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PbAppendRequest {
    #[prost(message, optional, tag = "1")]
    vote: Option<PbVote>,
    #[prost(message, optional, tag = "2")]
    prev_log_id: Option<PbLogId>,
    #[prost(message, optional, tag = "3")]
    leader_commit: Option<PbLogId>,
    #[prost(message, repeated, tag = "4")]
    entries: Vec<PbEntry>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PbAppendResponse {
    /// 0 success, 1 partial, 2 conflict, 3 higher vote.
    #[prost(uint32, tag = "1")]
    result: u32,
    #[prost(message, optional, tag = "2")]
    matching: Option<PbLogId>,
    #[prost(message, optional, tag = "3")]
    higher_vote: Option<PbVote>,
}

fn pb_log_id(l: &LogId<u64>) -> PbLogId {
    PbLogId {
        term: l.leader_id.term,
        node_id: l.leader_id.node_id,
        index: l.index,
    }
}

fn from_pb_log_id(l: &PbLogId) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(l.term, l.node_id), l.index)
}

fn to_pb<K: DataCodec<Set>>(req: &AppendEntriesRequest<KvTypes>, codec: &K) -> PbAppendRequest {
    PbAppendRequest {
        vote: Some(PbVote {
            term: req.vote.leader_id.term,
            node_id: req.vote.leader_id.node_id,
            committed: req.vote.committed,
        }),
        prev_log_id: req.prev_log_id.as_ref().map(pb_log_id),
        leader_commit: req.leader_commit.as_ref().map(pb_log_id),
        entries: req
            .entries
            .iter()
            .map(|e| match &e.payload {
                EntryPayload::Normal(d) => PbEntry {
                    log_id: Some(pb_log_id(&e.log_id)),
                    kind: 0,
                    data: codec.encode(d).unwrap_or_default(),
                },
                _ => PbEntry {
                    log_id: Some(pb_log_id(&e.log_id)),
                    kind: 1,
                    data: Vec::new(),
                },
            })
            .collect(),
    }
}

fn from_pb<K: DataCodec<Set>>(req: PbAppendRequest, codec: &K) -> Result<AppendEntriesRequest<KvTypes>, String> {
    let vote = req.vote.ok_or("no vote")?;
    let entries = req
        .entries
        .iter()
        .map(|e| {
            let log_id = from_pb_log_id(e.log_id.as_ref().ok_or("no log id")?);
            let payload = match e.kind {
                0 => EntryPayload::Normal(codec.decode(&e.data)?),
                _ => EntryPayload::Blank,
            };
            Ok(Entry { log_id, payload })
        })
        .collect::<Result<Vec<_>, String>>()?;
    Ok(AppendEntriesRequest {
        vote: Vote {
            leader_id: openraft::LeaderId::new(vote.term, vote.node_id),
            committed: vote.committed,
        },
        prev_log_id: req.prev_log_id.as_ref().map(from_pb_log_id),
        leader_commit: req.leader_commit.as_ref().map(from_pb_log_id),
        entries,
    })
}

// ---- the tonic server: what tonic-build would generate for one unary method ----

#[derive(Clone)]
struct RaftGrpc<K>(K);

impl<K> tonic::server::NamedService for RaftGrpc<K> {
    const NAME: &'static str = "raft.Raft";
}

struct AppendSvc<K>(K);

impl<K: DataCodec<Set> + Clone> tonic::server::UnaryService<PbAppendRequest> for AppendSvc<K> {
    type Response = PbAppendResponse;
    type Future = BoxFuture<tonic::Response<PbAppendResponse>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<PbAppendRequest>) -> Self::Future {
        let codec = self.0.clone();
        Box::pin(async move {
            let req = from_pb(request.into_inner(), &codec).map_err(tonic::Status::invalid_argument)?;
            std::hint::black_box(&req);
            Ok(tonic::Response::new(PbAppendResponse {
                result: 0,
                matching: None,
                higher_vote: None,
            }))
        })
    }
}

impl<B, K: DataCodec<Set> + Clone> Service<http::Request<B>> for RaftGrpc<K>
where
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let codec = self.0.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::default());
            Ok(grpc.unary(AppendSvc(codec), req).await)
        })
    }
}

// ---- the RFW/1 server: RaftService over a sink that answers Success ----

#[derive(Clone)]
struct Sink;

impl RaftApi<KvTypes> for Sink {
    async fn vote(&self, rpc: VoteRequest<u64>) -> Result<VoteResponse<u64>, String> {
        Ok(VoteResponse::new(rpc.vote, None, true))
    }

    async fn append_entries(&self, rpc: AppendEntriesRequest<KvTypes>) -> Result<AppendEntriesResponse<u64>, String> {
        std::hint::black_box(&rpc);
        Ok(AppendEntriesResponse::Success)
    }

    async fn install_full_snapshot(
        &self,
        vote: Vote<u64>,
        _s: Snapshot<KvTypes>,
    ) -> Result<SnapshotResponse<u64>, String> {
        Ok(SnapshotResponse::new(vote))
    }

    fn current_vote(&self) -> Vote<u64> {
        Vote::default()
    }
}

// ---- the workload ----

fn request(entries: usize) -> AppendEntriesRequest<KvTypes> {
    // A 256-byte command: its JSON encoding is exactly 256 bytes.
    let overhead = Json.encode(&Set {
        key: "k0000".into(),
        value: String::new(),
    });
    let pad = 256 - overhead.map_or(0, |o| o.len());
    AppendEntriesRequest {
        vote: Vote {
            leader_id: openraft::LeaderId::new(3, 1),
            committed: true,
        },
        prev_log_id: Some(LogId::new(CommittedLeaderId::new(3, 1), 1000)),
        leader_commit: Some(LogId::new(CommittedLeaderId::new(3, 1), 1000)),
        entries: (0..entries as u64)
            .map(|i| Entry {
                log_id: LogId::new(CommittedLeaderId::new(3, 1), 1001 + i),
                payload: EntryPayload::Normal(Set {
                    key: format!("k{i:04}"),
                    value: "v".repeat(pad),
                }),
            })
            .collect(),
    }
}

/// `total` RPCs, one worker per state in `states` (each worker owns its state: its network
/// handle), so `states.len()` are in flight; the wall time, every RPC's latency, and the states.
async fn run<S, F, Fut>(total: usize, states: Vec<S>, call: F) -> (Duration, Vec<Duration>, Vec<S>)
where
    S: Send + 'static,
    F: Fn(S) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = (S, bool)> + Send,
{
    let concurrency = states.len().max(1);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for (w, state) in states.into_iter().enumerate() {
        let call = call.clone();
        let n = total / concurrency + usize::from(w < total % concurrency);
        tasks.push(tokio::spawn(async move {
            let (mut state, mut lat) = (state, Vec::with_capacity(n));
            for _ in 0..n {
                let t = Instant::now();
                let (back, ok) = call(state).await;
                assert!(ok, "an RPC failed");
                state = back;
                lat.push(t.elapsed());
            }
            (state, lat)
        }));
    }
    let (mut all, mut states) = (Vec::new(), Vec::new());
    for t in tasks {
        if let Ok((state, lat)) = t.await {
            states.push(state);
            all.extend(lat);
        }
    }
    (start.elapsed(), all, states)
}

fn p99(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get((v.len() * 99 / 100).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Commands as a little binary record (key length, key, value): the cheapest codec an
/// application could give either network, so that what remains is the network's own cost.
#[derive(Clone, Copy, Default)]
struct Binary;

impl DataCodec<Set> for Binary {
    fn encode(&self, d: &Set) -> Result<Vec<u8>, String> {
        let mut out = Vec::with_capacity(2 + d.key.len() + d.value.len());
        out.extend_from_slice(&(d.key.len() as u16).to_be_bytes());
        out.extend_from_slice(d.key.as_bytes());
        out.extend_from_slice(d.value.as_bytes());
        Ok(out)
    }

    fn encode_into(&self, d: &Set, out: &mut Vec<u8>) -> Result<(), String> {
        out.extend_from_slice(&(d.key.len() as u16).to_be_bytes());
        out.extend_from_slice(d.key.as_bytes());
        out.extend_from_slice(d.value.as_bytes());
        Ok(())
    }

    fn decode(&self, b: &[u8]) -> Result<Set, String> {
        let n = b.get(..2).map_or(0, |l| u16::from_be_bytes([l[0], l[1]]) as usize);
        let text = |r: Option<&[u8]>| String::from_utf8(r.unwrap_or_default().to_vec()).map_err(|e| e.to_string());
        Ok(Set {
            key: text(b.get(2..2 + n))?,
            value: text(b.get(2 + n..))?,
        })
    }
}

/// Which cells and sides to run (all, unless the command line narrows them).
#[derive(Clone, Default)]
struct Only {
    /// `CODEC/ENTRIES/IN_FLIGHT`, e.g. `binary/64/16`.
    cell: Option<String>,
    /// `rfw` or `tonic`: the other side is not run (its rate reads 0).
    side: Option<String>,
}

impl Only {
    fn from_args() -> Only {
        let args: Vec<String> = std::env::args().collect();
        let after = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .and_then(|i| args.get(i + 1))
                .cloned()
        };
        Only {
            cell: after("--only"),
            side: after("--side"),
        }
    }

    fn cell(&self, codec: &str, entries: usize, in_flight: usize) -> bool {
        self.cell
            .as_ref()
            .is_none_or(|c| *c == format!("{codec}/{entries}/{in_flight}"))
    }

    fn side(&self, side: &str) -> bool {
        self.side.as_ref().is_none_or(|s| s == side)
    }
}

/// Every workload through both networks, commands encoded with `K`.
async fn compare<K: DataCodec<Set> + Clone + Default>(codec_name: &str, rounds: usize, per_round: usize, only: &Only) {
    let rfw = Server::start_async(
        "127.0.0.1:0",
        Arc::new(RaftService::<KvTypes, K, Sink>::new(Sink)),
        ServerOptions {
            log_drops: false,
            ..ServerOptions::long_running()
        },
    )
    .await
    .expect("rfw server");
    let mut factory = RfwNetworkFactory::<KvTypes, K>::new(ClientConfig::default(), K::default());
    let mut rfw_nets = Vec::new();
    for _ in 0..16 {
        let node = BasicNode {
            addr: rfw.addr.to_string(),
        };
        rfw_nets.push(factory.new_client(2, &node).await);
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let grpc_addr: SocketAddr = listener.local_addr().expect("addr");
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RaftGrpc(K::default()))
            .serve_with_incoming(tokio_stream::StreamExt::map(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                |s| {
                    // Both sides without Nagle's algorithm, as the RFW/1 transport.
                    if let Ok(s) = &s {
                        let _ = s.set_nodelay(true);
                    }
                    s
                },
            )),
    );
    let channel = tonic::transport::Channel::from_shared(format!("http://{grpc_addr}"))
        .expect("uri")
        .tcp_nodelay(true)
        .connect()
        .await
        .expect("tonic connect");
    let grpc = tonic::client::Grpc::new(channel);

    for (name, entries) in [("64 entries x 256 B", 64), ("heartbeat", 0)] {
        let req = Arc::new(request(entries));
        for concurrency in [1, 16] {
            if !only.cell(codec_name, entries, concurrency) {
                continue;
            }
            let (mut ours, mut theirs, mut ratio) = (Vec::new(), Vec::new(), Vec::new());
            let (mut our_p99, mut their_p99) = (Vec::new(), Vec::new());
            for _ in 0..rounds {
                // RFW/1: the adapter's RaftNetwork::append_entries, a network per caller (all on
                // one multiplexed connection, as openraft's clients for one target are).
                let (mut rfw_rate, mut tonic_rate) = (0.0, 0.0);
                let r = req.clone();
                let workers: Vec<_> = rfw_nets.drain(..concurrency).collect();
                if only.side("rfw") {
                    let (t, lat, back) = run(per_round, workers, move |mut net| {
                        let r = r.clone();
                        async move {
                            let ok = net
                                .append_entries((*r).clone(), RPCOption::new(Duration::from_secs(5)))
                                .await
                                .is_ok_and(|a| a.is_success());
                            (net, ok)
                        }
                    })
                    .await;
                    rfw_nets.extend(back);
                    rfw_rate = per_round as f64 / t.as_secs_f64();
                    our_p99.push(p99(lat).as_secs_f64() * 1e6);
                } else {
                    rfw_nets.extend(workers);
                }
                // tonic: the same conversion, one HTTP/2 channel (it multiplexes streams).
                if only.side("tonic") {
                    let r = req.clone();
                    let workers = vec![grpc.clone(); concurrency];
                    let (t, lat, _) = run(per_round, workers, move |mut g| {
                        let r = r.clone();
                        async move {
                            // Owned, as RaftNetwork::append_entries receives it (the RFW/1 side too).
                            let r = (*r).clone();
                            if g.ready().await.is_err() {
                                return (g, false);
                            }
                            let path = http::uri::PathAndQuery::from_static("/raft.Raft/AppendEntries");
                            let message = to_pb(&r, &K::default());
                            let answer: Result<tonic::Response<PbAppendResponse>, _> = g
                                .unary(tonic::Request::new(message), path, tonic_prost::ProstCodec::default())
                                .await;
                            let ok = answer.is_ok_and(|a| a.into_inner().result == 0);
                            (g, ok)
                        }
                    })
                    .await;
                    tonic_rate = per_round as f64 / t.as_secs_f64();
                    their_p99.push(p99(lat).as_secs_f64() * 1e6);
                }
                ours.push(rfw_rate);
                theirs.push(tonic_rate);
                ratio.push(rfw_rate / tonic_rate);
            }
            println!(
                "{codec_name:<7} {name:<20} {concurrency:>9}  {:>11.0}  {:>11.0}  {:>5.2}x  {:>7.0} µs  {:>7.0} µs",
                median(ours),
                median(theirs),
                median(ratio),
                median(our_p99),
                median(their_p99)
            );
        }
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (rounds, per_round) = if quick { (3, 200) } else { (9, 2000) };
    println!("codec   workload             in flight  RFW/1 RPC/s   tonic RPC/s  ratio   RFW/1 p99   tonic p99");
    let only = Only::from_args();
    compare::<Json>("json", rounds, per_round, &only).await;
    compare::<Binary>("binary", rounds, per_round, &only).await;
}
