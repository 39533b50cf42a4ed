//! Engines behind [`crate::consensus::ControlPlaneConsensus`].
//!
//! * [`replica::Replica`]: one member of the replicated log, raft-rs's
//!   `RawNode` + a [`ReplicaStore`] + the catalog, with no threads, clock or
//!   sockets: the driver thread and the simulator both drive it.
//! * [`single_node::SingleNodeControlPlane`]: the seed's degenerate engine,
//!   one member that is its own quorum, kept in memory.
//!
//! The engine imports neither the node nor the simulator. The simulator's
//! mutants reach the replica only through a crate-private test seam
//! (`deviation`).

pub mod config;
pub(crate) mod deviation;
pub mod durable;
pub mod logger;
pub mod replica;
pub mod rng;
pub mod single_node;

use raft::eraftpb::{ConfState, Entry, HardState, Snapshot, SnapshotMetadata};

pub use config::EngineConfig;
pub use replica::{Applied, Completion, MessageSink, ProposalToken, ReadToken, Replica};
pub use single_node::SingleNodeControlPlane;

/// Errors of the engine layer.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// raft-rs reported an error.
    #[error("raft: {0}")]
    Raft(#[from] raft::Error),
    /// The durable store failed; the replica must stop.
    #[error("storage: {0}")]
    Storage(String),
    /// A committed entry cannot be applied: the log is damaged.
    #[error("committed entry {index} cannot be applied: {detail}")]
    CorruptEntry {
        /// Its index.
        index: u64,
        /// Why.
        detail: String,
    },
    /// A peer sent a proposal: only typed proposals through the API are
    /// accepted.
    #[error("refused a proposal message from peer {from}: proposals enter only through the API")]
    RemoteProposal {
        /// The sending peer.
        from: u64,
    },
    /// A message was refused for another reason.
    #[error("refused message: {0}")]
    Refused(String),
    /// The configuration cannot work.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// This member is not in the catalog of its own store: it was removed
    /// (or never admitted) and must not rejoin with its old state.
    #[error(
        "{id} is not a member of the cluster this store belongs to (removed, or never admitted)"
    )]
    NotAMember {
        /// This member.
        id: crate::entry::NodeId,
    },
    /// Bootstrap was asked of a store that already holds a log.
    #[error("the store is already initialized")]
    AlreadyInitialized,
}

/// What a replica needs from durable storage. raft-rs reads through
/// [`ReplicaStore::Handle`] (its read-only [`raft::Storage`]); the replica
/// writes through the store itself. Staged writes (`append`,
/// `set_hard_state`, `set_conf_state`) become durable together at the next
/// [`ReplicaStore::sync`]; snapshot calls are durable when they return.
pub trait ReplicaStore {
    /// What raft-rs reads through. Its `initial_state` must report the
    /// configuration as of the latest snapshot (the replica replays every
    /// committed entry above the snapshot, configuration changes included).
    type Handle: raft::Storage + Send;
    /// The store's error.
    type Error: std::fmt::Display;

    /// A handle for raft-rs.
    fn raft_handle(&self) -> Self::Handle;

    /// Stages `entries`, replacing any conflicting suffix.
    fn append(&mut self, entries: &[Entry]) -> Result<(), Self::Error>;

    /// Stages the hard state (term, vote, commit).
    fn set_hard_state(&mut self, hs: &HardState) -> Result<(), Self::Error>;

    /// The hard state as last staged.
    fn hard_state(&self) -> HardState;

    /// Stages the configuration in force after an applied change (kept for
    /// inspection; recovery rebuilds it from the snapshot and the log).
    fn set_conf_state(&mut self, cs: &ConfState) -> Result<(), Self::Error>;

    /// Makes everything staged durable with one fsync.
    fn sync(&mut self) -> Result<(), Self::Error>;

    /// Replaces the log with a snapshot received from the leader.
    fn install_snapshot(&mut self, snap: &Snapshot) -> Result<(), Self::Error>;

    /// Records a local snapshot of the catalog and compacts the log below it.
    fn create_snapshot(&mut self, meta: SnapshotMetadata, data: Vec<u8>)
        -> Result<(), Self::Error>;

    /// The latest snapshot (index 0 when there is none).
    fn latest_snapshot(&self) -> Snapshot;
}
