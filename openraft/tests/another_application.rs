//! The adapter with an application that is not the crate's key-value store: raw byte commands
//! (`D = Vec<u8>`) through a codec of the application's own that keeps `DataCodec`'s default
//! `encode_into`, and snapshots of binary data, empty or in many chunks. Through the real client
//! (`RfwNetwork`), the real transport and the real server (`RaftService`), what the receiving
//! node's Raft is handed must be exactly what the sender's Raft gave its network.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Cursor;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse};
use openraft::{
    BasicNode, CommittedLeaderId, Entry, EntryPayload, LogId, Membership, Snapshot, SnapshotMeta, StoredMembership,
    Vote,
};
use raftwire_openraft::{DataCodec, RaftApi, RaftService, RfwNetworkFactory};
use raftwire_transport::{ClientConfig, Server, ServerOptions};

openraft::declare_raft_types!(
    /// Commands are raw bytes.
    pub Blobs: D = Vec<u8>, R = ()
);

/// The application's own codec: the bytes as they are. Only `encode` and `decode`, so the
/// trait's default `encode_into` is what the network uses.
#[derive(Default)]
struct Raw;

impl DataCodec<Vec<u8>> for Raw {
    fn encode(&self, data: &Vec<u8>) -> Result<Vec<u8>, String> {
        Ok(data.clone())
    }

    fn decode(&self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        Ok(bytes.to_vec())
    }
}

type Installed = (Vote<u64>, SnapshotMeta<u64, BasicNode>, Vec<u8>);

/// The receiving node's Raft: records what it is handed.
#[derive(Clone, Default)]
struct Recorder {
    appends: Arc<Mutex<Vec<AppendEntriesRequest<Blobs>>>>,
    snapshots: Arc<Mutex<Vec<Installed>>>,
}

impl RaftApi<Blobs> for Recorder {
    async fn vote(&self, rpc: VoteRequest<u64>) -> Result<VoteResponse<u64>, String> {
        Ok(VoteResponse::new(rpc.vote, rpc.last_log_id, true))
    }

    async fn append_entries(&self, rpc: AppendEntriesRequest<Blobs>) -> Result<AppendEntriesResponse<u64>, String> {
        self.appends.lock().unwrap().push(rpc);
        Ok(AppendEntriesResponse::Success)
    }

    async fn install_full_snapshot(
        &self,
        vote: Vote<u64>,
        s: Snapshot<Blobs>,
    ) -> Result<SnapshotResponse<u64>, String> {
        self.snapshots
            .lock()
            .unwrap()
            .push((vote, s.meta, s.snapshot.into_inner()));
        Ok(SnapshotResponse::new(vote))
    }

    fn current_vote(&self) -> Vote<u64> {
        Vote::new_committed(7, 1)
    }
}

fn lid(term: u64, node: u64, index: u64) -> LogId<u64> {
    LogId::new(CommittedLeaderId::new(term, node), index)
}

/// `n` bytes that differ from one call to the next (`seed`) and along the buffer.
fn bytes(seed: u64, n: usize) -> Vec<u8> {
    (0..n as u64)
        .map(|i| (i.wrapping_mul(0x9e37) ^ seed.wrapping_mul(131)) as u8)
        .collect()
}

fn membership() -> Membership<u64, BasicNode> {
    let nodes: BTreeMap<u64, BasicNode> = (1..=3)
        .map(|i| (i, BasicNode::new(format!("10.0.0.{i}:700{i}"))))
        .collect();
    Membership::new(vec![BTreeSet::from([1, 2, 3])], nodes)
}

async fn pair() -> (Server, Recorder, raftwire_openraft::RfwNetwork<Blobs, Raw>) {
    let recorder = Recorder::default();
    let server = Server::start_async(
        "127.0.0.1:0",
        Arc::new(RaftService::<Blobs, Raw, Recorder>::with_codec(recorder.clone(), Raw)),
        ServerOptions::default(),
    )
    .await
    .unwrap();
    let mut factory = RfwNetworkFactory::<Blobs, Raw>::new(ClientConfig::default(), Raw).with_chunk_size(1000);
    let net = factory.new_client(2, &BasicNode::new(server.addr.to_string())).await;
    (server, recorder, net)
}

fn option() -> RPCOption {
    RPCOption::new(Duration::from_secs(5))
}

#[tokio::test]
async fn raw_byte_commands_of_every_size_arrive_exactly_as_sent() {
    let (_server, recorder, mut net) = pair().await;
    let vote = Vote::new_committed(7, 1);
    let mut sent = Vec::new();
    let mut index = 0u64;
    // Batches of different shapes one after another: the network sizes each batch's command
    // buffer from the one before, so a batch of small commands after large ones (and the other
    // way round) must come out the same.
    for (batch, size) in [(64, 256), (3, 0), (1, 1 << 20), (40, 7), (0, 0), (16, 4096), (200, 1)] {
        let prev = index.checked_sub(1).map(|i| lid(7, 1, i));
        let entries: Vec<Entry<Blobs>> = (0..batch)
            .map(|k| {
                index += 1;
                let payload = match k % 9 {
                    4 => EntryPayload::Blank,
                    8 => EntryPayload::Membership(membership()),
                    _ => EntryPayload::Normal(bytes(index, size)),
                };
                Entry {
                    log_id: lid(7, 1, index - 1),
                    payload,
                }
            })
            .collect();
        let rpc = AppendEntriesRequest {
            vote,
            prev_log_id: prev,
            leader_commit: prev,
            entries,
        };
        sent.push(rpc.clone());
        let answer = net.append_entries(rpc, option()).await.unwrap();
        assert!(answer.is_success());
    }
    let got = recorder.appends.lock().unwrap().clone();
    assert_eq!(got.len(), sent.len());
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!(
            (g.vote, g.prev_log_id, g.leader_commit),
            (s.vote, s.prev_log_id, s.leader_commit)
        );
        assert!(g.entries == s.entries, "entries differ after {:?}", s.prev_log_id);
    }
}

#[tokio::test]
async fn snapshots_of_binary_data_empty_or_in_many_chunks_are_installed_whole() {
    let (_server, recorder, mut net) = pair().await;
    let vote = Vote::new_committed(7, 1);
    let meta = SnapshotMeta {
        last_log_id: Some(lid(7, 1, 500)),
        last_membership: StoredMembership::new(Some(lid(6, 2, 3)), membership()),
        snapshot_id: "500-7-ü".into(),
    };
    // Empty, one byte short of a chunk, exactly a chunk, and 25 chunks and a bit.
    let sizes = [0usize, 999, 1000, 25_037];
    for size in sizes {
        let data = bytes(size as u64, size);
        let snapshot = Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(data.clone())),
        };
        let answer = net
            .full_snapshot(vote, snapshot, std::future::pending(), option())
            .await
            .unwrap();
        assert_eq!(answer.vote, vote);
        let (v, m, bytes) = recorder.snapshots.lock().unwrap().last().cloned().unwrap();
        assert_eq!((v, &m), (vote, &meta), "{size} bytes: vote and metadata");
        assert!(bytes == data, "{size} bytes: the data");
    }
    assert_eq!(
        recorder.snapshots.lock().unwrap().len(),
        sizes.len(),
        "each installed once"
    );
}
