//! Synod: a Raft-replicated control-plane log for cluster membership, leader
//! election, durable vote state and a fenced shard/range ownership catalog.
//!
//! **User data never enters this log.** The only thing a caller can propose
//! is an [`entry::ControlPlaneEntry`], a closed set with no user-payload
//! variant; the C and Python layers expose the same closed set and nothing
//! else.
//!
//! The rooms, each with one job:
//! * [`identity`]: member identities (certificate subjects) and the other
//!   bounded names that enter the log;
//! * [`entry`]: the closed entry set and its versioned binary encoding;
//! * [`catalog`]: membership and ownership, applied only from committed
//!   entries;
//! * [`consensus`]: the [`consensus::ControlPlaneConsensus`] boundary callers
//!   use and the results it answers with;
//! * [`storage`]: the durable raft log, hard state and snapshots of a member;
//! * [`transport`]: the wire codec and the transports between members;
//! * [`engine`]: the engines behind the boundary (the raft replica and the
//!   single-node engine);
//! * [`node`]: the replicated member ([`Node`]), its client protocol, service,
//!   configuration, runner and metrics;
//! * [`sim`]: the seeded deterministic simulator.
//!
//! `docs/architecture.md` draws the rooms and what each may import.

#![deny(missing_docs)]

pub mod catalog;
pub mod consensus;
pub mod engine;
pub mod entry;
pub mod identity;
pub mod node;
pub mod sim;
pub mod storage;
pub mod transport;

pub use catalog::{
    ApplyOutcome, AuditLog, Catalog, CatalogLimit, FenceStatus, InitialMember, Refusal,
};
pub use consensus::{
    Committed, ControlPlaneConsensus, DurableVoteState, LeaderHint, ProposeError, Unsubmitted,
};
pub use engine::SingleNodeControlPlane;
pub use entry::{
    CatalogVersion, ControlPlaneEntry, Epoch, ForcedOwnershipTransition, Index, MembershipChange,
    OwnershipTransition, Term,
};
pub use identity::{AuditReason, IdentityError, MemberAddress, MemberKind, NodeId, RangeId};
pub use node::{Node, NodeOptions};

/// This crate's version, `MAJOR.MINOR.PATCH`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
