//! The node handle's definition (`synod_node`: the engine behind the
//! consensus boundary, how to stop it, its identity) and the argument and
//! out-param helpers every room of the node shares. Exports nothing itself.

use std::ffi::{c_char, CString};
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use synod::ControlPlaneConsensus;

use crate::error::{str_arg, Error, SYNOD_ERR_INVALID_ARGUMENT};

/// A control-plane member.
///
/// Thread safety: every function taking a `const synod_node *` may be called
/// from any number of threads at once; `synod_node_free` must not race with
/// any other call on the same handle.
pub struct synod_node {
    pub(super) engine: Arc<dyn ControlPlaneConsensus>,
    pub(super) stop: Box<dyn Fn() + Send + Sync>,
    /// Set when `synod_node_shutdown` (or free) began: no new callback is
    /// registered from then on.
    pub(super) shut_down: AtomicBool,
    /// True for the single-node engine, whose callbacks run on the
    /// registering thread before the registration returns (a started member
    /// runs them on its own callback thread).
    pub(super) inline_callbacks: bool,
    pub(super) id: CString,
    /// A started member: re-reads the revocation lists (`[tls] deny` and
    /// `crl`) of a configuration; `None` for the single-node engine.
    pub(super) reload: Option<Box<Reload>>,
    /// A started member's node, for what only a replicated member offers
    /// (read levels, status, watches, metrics); `None` for the single-node
    /// engine.
    pub(super) member: Option<Arc<synod::Node>>,
    /// The watches started on this node and not yet ended: shutdown ends
    /// each (its final callback and its free function) before it returns.
    pub(super) watches: Mutex<Vec<Arc<dyn EndsWithNode>>>,
    /// A member started with `synod_node_start_host`: where the host
    /// delivers its peers' messages (the host room's `HostLink`, kept
    /// opaque here); `None` otherwise.
    pub(super) host: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// What runs on a node and must end before its shutdown returns (a watch).
pub(super) trait EndsWithNode: Send + Sync {
    /// Its node is stopping: it ends (with a final event).
    fn node_stopping(&self);
    /// Waits until it ended (returns at once on its own thread).
    fn wait_ended(&self);
    /// Whether it ended.
    fn ended(&self) -> bool;
}

/// What `synod_node_reload_revocation` runs on a started member.
pub(super) type Reload = dyn Fn(&synod::node::config::NodeConfig) -> Result<synod::node::runner::RevocationSummary, Error>
    + Send
    + Sync;

/// Parses a string argument with `T`'s `FromStr`, refusals becoming
/// `SYNOD_ERR_INVALID_ARGUMENT`.
pub(crate) unsafe fn parsed_arg<T>(p: *const c_char, what: &str) -> Result<T, Error>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    // SAFETY: forwarded caller contract.
    let s = unsafe { str_arg(p, what)? };
    s.parse()
        .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, format!("{what}: {e}")))
}

pub(super) unsafe fn node_arg<'a>(node: *const synod_node) -> Result<&'a synod_node, Error> {
    // SAFETY: NULL or a live handle (caller contract).
    unsafe { node.as_ref() }.ok_or_else(|| Error::null("node"))
}

/// Writes `value` to `out` (checked non-NULL beforehand).
pub(super) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: `out` is valid and writable (caller contract, checked non-NULL).
    unsafe { out.write(value) }
}

/// The started member behind `node`, running: `SYNOD_ERR_INVALID_ARGUMENT`
/// for the single-node engine (`what` says which call), the stopped error
/// (`SYNOD_ERR_SHUTDOWN`, `SYNOD_ERR_STORAGE`) once it stopped.
pub(super) fn running_member<'a>(
    node: &'a synod_node,
    what: &str,
) -> Result<&'a Arc<synod::Node>, Error> {
    let member = node.member.as_ref().ok_or_else(|| {
        Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            format!(
                "{what} needs a member started with synod_node_start, not a single-node engine"
            ),
        )
    })?;
    node.engine.check_running()?;
    Ok(member)
}
