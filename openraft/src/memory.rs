//! An in-memory node for tests, examples and benchmarks: a log store, a key-value state machine
//! with snapshots, and the type configuration they use. Nothing is durable; a "restarted" node
//! here is a new `Raft` over the same in-memory log and state machine.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::io::Cursor;
use std::ops::RangeBounds;
use std::sync::{Arc, Mutex};

use openraft::storage::{LogFlushed, LogState, RaftLogStorage, RaftStateMachine, Snapshot};
use openraft::{
    BasicNode, Entry, EntryPayload, LogId, OptionalSend, RaftLogReader, RaftSnapshotBuilder, SnapshotMeta,
    StorageError, StoredMembership, Vote,
};
use serde::{Deserialize, Serialize};

/// The command: set a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Set {
    /// The key.
    pub key: String,
    /// Its new value.
    pub value: String,
}

openraft::declare_raft_types!(
    /// A key-value store's types: openraft's defaults, which RFW/1's network needs.
    pub KvTypes: D = Set, R = u64
);

fn poisoned() -> StorageError<u64> {
    StorageError::from_io_error(
        openraft::ErrorSubject::Store,
        openraft::ErrorVerb::Read,
        std::io::Error::other("lock poisoned"),
    )
}

#[derive(Debug, Default)]
struct LogInner {
    vote: Option<Vote<u64>>,
    committed: Option<LogId<u64>>,
    last_purged: Option<LogId<u64>>,
    entries: BTreeMap<u64, Entry<KvTypes>>,
}

/// The log: shared by the store and its readers.
#[derive(Debug, Clone, Default)]
pub struct MemLog(Arc<Mutex<LogInner>>);

impl RaftLogReader<KvTypes> for MemLog {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry<KvTypes>>, StorageError<u64>> {
        let log = self.0.lock().map_err(|_| poisoned())?;
        Ok(log.entries.range(range).map(|(_, e)| e.clone()).collect())
    }
}

impl RaftLogStorage<KvTypes> for MemLog {
    type LogReader = MemLog;

    async fn get_log_state(&mut self) -> Result<LogState<KvTypes>, StorageError<u64>> {
        let log = self.0.lock().map_err(|_| poisoned())?;
        let last = log.entries.values().next_back().map(|e| e.log_id).or(log.last_purged);
        Ok(LogState {
            last_purged_log_id: log.last_purged,
            last_log_id: last,
        })
    }

    async fn get_log_reader(&mut self) -> Self::LogReader {
        self.clone()
    }

    async fn save_vote(&mut self, vote: &Vote<u64>) -> Result<(), StorageError<u64>> {
        self.0.lock().map_err(|_| poisoned())?.vote = Some(*vote);
        Ok(())
    }

    async fn read_vote(&mut self) -> Result<Option<Vote<u64>>, StorageError<u64>> {
        Ok(self.0.lock().map_err(|_| poisoned())?.vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId<u64>>) -> Result<(), StorageError<u64>> {
        self.0.lock().map_err(|_| poisoned())?.committed = committed;
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId<u64>>, StorageError<u64>> {
        Ok(self.0.lock().map_err(|_| poisoned())?.committed)
    }

    async fn append<I>(&mut self, entries: I, callback: LogFlushed<KvTypes>) -> Result<(), StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<KvTypes>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        {
            let mut log = self.0.lock().map_err(|_| poisoned())?;
            for e in entries {
                log.entries.insert(e.log_id.index, e);
            }
        }
        callback.log_io_completed(Ok(()));
        Ok(())
    }

    async fn truncate(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut log = self.0.lock().map_err(|_| poisoned())?;
        log.entries.split_off(&log_id.index);
        Ok(())
    }

    async fn purge(&mut self, log_id: LogId<u64>) -> Result<(), StorageError<u64>> {
        let mut log = self.0.lock().map_err(|_| poisoned())?;
        log.last_purged = Some(log_id);
        let keep = log.entries.split_off(&(log_id.index + 1));
        log.entries = keep;
        Ok(())
    }
}

/// What a snapshot holds besides its metadata.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Image {
    data: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
struct MachineInner {
    last_applied: Option<LogId<u64>>,
    membership: StoredMembership<u64, BasicNode>,
    data: BTreeMap<String, String>,
    /// Every command applied, in order: how tests see that each write is applied exactly once.
    applied: Vec<Set>,
    snapshot: Option<(SnapshotMeta<u64, BasicNode>, Vec<u8>)>,
    snapshots_built: u64,
}

/// The key-value state machine.
#[derive(Debug, Clone, Default)]
pub struct MemStateMachine(Arc<Mutex<MachineInner>>);

impl MemStateMachine {
    /// The keys and values.
    pub fn data(&self) -> BTreeMap<String, String> {
        self.0.lock().map(|m| m.data.clone()).unwrap_or_default()
    }

    /// Every command applied since start or the last snapshot installed, in order.
    pub fn applied(&self) -> Vec<Set> {
        self.0.lock().map(|m| m.applied.clone()).unwrap_or_default()
    }

    /// The size of the snapshot it holds (built or installed), 0 for none.
    pub fn snapshot_len(&self) -> usize {
        self.0
            .lock()
            .ok()
            .and_then(|m| m.snapshot.as_ref().map(|(_, b)| b.len()))
            .unwrap_or(0)
    }

    /// The last log id applied.
    pub fn last_applied(&self) -> Option<LogId<u64>> {
        self.0.lock().ok().and_then(|m| m.last_applied)
    }
}

impl RaftSnapshotBuilder<KvTypes> for MemStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<KvTypes>, StorageError<u64>> {
        let mut m = self.0.lock().map_err(|_| poisoned())?;
        let bytes = serde_json::to_vec(&Image { data: m.data.clone() }).map_err(|e| {
            StorageError::from_io_error(
                openraft::ErrorSubject::Snapshot(None),
                openraft::ErrorVerb::Write,
                e.into(),
            )
        })?;
        m.snapshots_built += 1;
        let meta = SnapshotMeta {
            last_log_id: m.last_applied,
            last_membership: m.membership.clone(),
            snapshot_id: format!("{}-{}", m.last_applied.map_or(0, |l| l.index), m.snapshots_built),
        };
        m.snapshot = Some((meta.clone(), bytes.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(bytes)),
        })
    }
}

impl RaftStateMachine<KvTypes> for MemStateMachine {
    type SnapshotBuilder = MemStateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<(Option<LogId<u64>>, StoredMembership<u64, BasicNode>), StorageError<u64>> {
        let m = self.0.lock().map_err(|_| poisoned())?;
        Ok((m.last_applied, m.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<u64>, StorageError<u64>>
    where
        I: IntoIterator<Item = Entry<KvTypes>> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut m = self.0.lock().map_err(|_| poisoned())?;
        let mut out = Vec::new();
        for e in entries {
            m.last_applied = Some(e.log_id);
            match e.payload {
                EntryPayload::Blank => {}
                EntryPayload::Normal(set) => {
                    m.data.insert(set.key.clone(), set.value.clone());
                    m.applied.push(set);
                }
                EntryPayload::Membership(mem) => m.membership = StoredMembership::new(Some(e.log_id), mem),
            }
            out.push(e.log_id.index);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> Self::SnapshotBuilder {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError<u64>> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta<u64, BasicNode>,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError<u64>> {
        let bytes = snapshot.into_inner();
        let image: Image = serde_json::from_slice(&bytes).map_err(|e| {
            StorageError::from_io_error(
                openraft::ErrorSubject::Snapshot(None),
                openraft::ErrorVerb::Read,
                e.into(),
            )
        })?;
        let mut m = self.0.lock().map_err(|_| poisoned())?;
        m.data = image.data;
        m.applied.clear();
        m.last_applied = meta.last_log_id;
        m.membership = meta.last_membership.clone();
        m.snapshot = Some((meta.clone(), bytes));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<KvTypes>>, StorageError<u64>> {
        let m = self.0.lock().map_err(|_| poisoned())?;
        Ok(m.snapshot.as_ref().map(|(meta, bytes)| Snapshot {
            meta: meta.clone(),
            snapshot: Box::new(Cursor::new(bytes.clone())),
        }))
    }
}

/// A running in-memory node: its Raft, its storage, and the RFW/1 server that answers its peers.
pub struct MemNode {
    /// The node id.
    pub id: u64,
    /// Where its server listens (its `BasicNode` address).
    pub addr: String,
    /// The Raft.
    pub raft: openraft::Raft<KvTypes>,
    /// Its log.
    pub log: MemLog,
    /// Its state machine.
    pub machine: MemStateMachine,
    /// Its network (the transport clients it made, for their statistics).
    pub network: crate::RfwNetworkFactory<KvTypes>,
    /// Its server.
    pub server: raftwire_transport::Server,
}

impl MemNode {
    /// Starts node `id` listening on `listen` (`127.0.0.1:0` for any port), with empty storage.
    pub async fn start(
        id: u64,
        listen: &str,
        config: Arc<openraft::Config>,
        client: raftwire_transport::ClientConfig,
    ) -> Result<MemNode, Box<dyn std::error::Error + Send + Sync>> {
        MemNode::start_with(
            id,
            listen,
            config,
            client,
            MemLog::default(),
            MemStateMachine::default(),
        )
        .await
    }

    /// Starts node `id` over existing storage: a restart.
    pub async fn start_with(
        id: u64,
        listen: &str,
        config: Arc<openraft::Config>,
        client: raftwire_transport::ClientConfig,
        log: MemLog,
        machine: MemStateMachine,
    ) -> Result<MemNode, Box<dyn std::error::Error + Send + Sync>> {
        let network = crate::RfwNetworkFactory::<KvTypes>::new(client, crate::Json);
        MemNode::start_on(id, listen, config, network, log, machine).await
    }

    /// Starts node `id` over existing storage with the network `network` (its chunk size, its
    /// transport settings).
    pub async fn start_on(
        id: u64,
        listen: &str,
        config: Arc<openraft::Config>,
        network: crate::RfwNetworkFactory<KvTypes>,
        log: MemLog,
        machine: MemStateMachine,
    ) -> Result<MemNode, Box<dyn std::error::Error + Send + Sync>> {
        let raft = openraft::Raft::new(id, config, network.clone(), log.clone(), machine.clone()).await?;
        let service = crate::RaftService::<KvTypes>::new(raft.clone());
        let server = raftwire_transport::Server::start_async(
            listen,
            Arc::new(service),
            raftwire_transport::ServerOptions::long_running(),
        )
        .await?;
        Ok(MemNode {
            id,
            addr: server.addr.to_string(),
            raft,
            log,
            machine,
            network,
            server,
        })
    }

    /// This node as a member.
    pub fn member(&self) -> (u64, BasicNode) {
        (
            self.id,
            BasicNode {
                addr: self.addr.clone(),
            },
        )
    }

    /// Stops the node: Raft shut down, server closed. Its storage is returned for a restart.
    pub async fn stop(self) -> (MemLog, MemStateMachine) {
        let _ = self.raft.shutdown().await;
        drop(self.server);
        (self.log, self.machine)
    }
}

/// The leader every node of `nodes` names, once they agree on one of themselves; `None` if they
/// have not within `within`.
pub async fn agreed_leader(nodes: &[MemNode], within: std::time::Duration) -> Option<u64> {
    let start = std::time::Instant::now();
    loop {
        let seen: Vec<Option<u64>> = nodes.iter().map(|n| n.raft.metrics().borrow().current_leader).collect();
        if let Some(Some(l)) = seen.first() {
            if seen.iter().all(|s| *s == Some(*l)) && nodes.iter().any(|n| n.id == *l) {
                return Some(*l);
            }
        }
        if start.elapsed() > within {
            return None;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Waits until every node of `nodes` has applied the same last log id; false if they have not
/// within `within`.
pub async fn converged(nodes: &[MemNode], within: std::time::Duration) -> bool {
    let start = std::time::Instant::now();
    loop {
        let applied: Vec<_> = nodes.iter().map(|n| n.machine.last_applied()).collect();
        if applied.first().is_some_and(Option::is_some) && applied.windows(2).all(|w| w[0] == w[1]) {
            return true;
        }
        if start.elapsed() > within {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
