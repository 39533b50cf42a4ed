//! The client handle (`synod_client`): a process that is not a member talks
//! to a cluster over the network through `synod::node::client::Client`,
//! following the leader. This file only names the rooms and re-exports what
//! they export.
//!
//! What it promises: the node API's conventions and, where the answers are
//! the same, the node API's result types (`synod_commit`,
//! `synod_ownership`, `synod_member_list`, `synod_audit_list`,
//! `synod_leader`, `synod_fence_status`, `synod_watch_event`). Every call on
//! one client is serialized by a mutex (the Rust client is `&mut self`);
//! use one client per thread for parallelism. A client watch holds a
//! connection of its own and does not depend on its client.
//! What it does not carry: any way to propose bytes, and no state of its own
//! beyond the Rust client's (its connection, the leader it last saw, its
//! exactly-once session).
//!
//! cbindgen reads these rooms in the order they are declared below (the
//! order of the client's functions in `include/synod.h`).

// The handle, its creation from endpoints and TLS files, the error mapping.
mod handle;
// The member status, the leader, leadership transfer and metrics.
mod status;
// Reads with the index and term they reflect: owner, fence, members,
// ranges, audit.
mod reads;
// Typed proposals, one at a time or pipelined.
mod propose;
// The change feed over the network on a thread of its own.
mod watch;

pub use handle::*;
pub use propose::*;
pub use reads::*;
pub use status::*;
pub use watch::*;
