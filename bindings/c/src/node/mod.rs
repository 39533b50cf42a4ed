//! The node handle (`synod_node`): a control-plane member behind the
//! [`synod::ControlPlaneConsensus`] boundary, its typed proposals and its
//! reads. This file only names the rooms and re-exports what they export.
//!
//! The handle holds a trait object: `synod_node_start` runs a member of a
//! replicated cluster from its configuration file, `synod_node_open_single`
//! the in-memory single-node engine, and every other function works on
//! either. There is one propose function per entry a caller may propose and
//! none that takes bytes.
//!
//! cbindgen reads these rooms in the order they are declared below, and that
//! order is the order of the node's functions and constants in
//! `include/synod.h`: moving a `mod` line reorders the header. (Each line has
//! its own comment, which also keeps rustfmt from sorting them.)

// The handle itself and the argument helpers every room shares.
mod handle;
// Member kinds and states, fence answers, the commit record.
mod values;
// Opening a handle: a cluster member from its configuration, or the
// single-node engine.
mod open;
// What the node says about itself: identity, leadership, term, commit index.
mod state;
// Typed proposals, blocking and with a callback.
mod propose;
// The typed description of an entry (`synod_entry`) and the one place C
// arguments become an entry.
mod entry;
// Every entry kind through one typed description, in an exactly-once
// session, blocking and with a callback.
mod submit;
// Range ownership as applied here: the owner snapshot and the fence check.
mod ownership;
// The member list snapshot.
mod members;
// Reading and freeing the leader hint the last error hands out.
mod leader_hint;
// A started member's leader, status and metrics.
mod status;
// Reads at a chosen level: the view, its cursors and lists.
mod reads;
// The change feed on a thread of its own.
mod watch;
// A member on the host's own transport: its start, delivering to it,
// peer ids.
mod host;
// Stopping and freeing a handle.
mod shutdown;

pub use entry::*;
pub use handle::*;
pub use host::*;
pub use leader_hint::*;
pub use members::*;
pub use open::*;
pub use ownership::*;
pub use propose::*;
pub use reads::*;
pub use shutdown::*;
pub use state::*;
pub use status::*;
pub use submit::*;
pub use values::*;
pub use watch::*;

// Tests of a member that stopped on a storage failure (Rust, no C hook).
#[cfg(test)]
mod stopped_tests;
