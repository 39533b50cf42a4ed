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
//! * [`node`]: the [`node::ControlPlaneConsensus`] boundary callers use;
//! * [`engine`]: the engines behind it;
//! * [`storage`]: the durable raft log, hard state and snapshots of a node.

#![deny(missing_docs)]

pub mod catalog;
pub mod engine;
pub mod entry;
pub mod identity;
pub mod node;
pub mod sim;
pub mod storage;
pub mod transport;

pub use catalog::{ApplyOutcome, Catalog, FenceStatus, InitialMember, Refusal};
pub use engine::SingleNodeControlPlane;
pub use entry::{
    CatalogVersion, ControlPlaneEntry, Epoch, ForcedOwnershipTransition, Index, MembershipChange,
    OwnershipTransition, Term,
};
pub use identity::{AuditReason, IdentityError, MemberAddress, MemberKind, NodeId, RangeId};
pub use node::{
    Committed, ControlPlaneConsensus, DurableVoteState, LeaderHint, Node, NodeOptions, ProposeError,
};

/// This crate's version, `MAJOR.MINOR.PATCH`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
