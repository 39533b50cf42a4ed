//! Stopping and freeing a node handle: `synod_node_shutdown` stops it and
//! answers every proposal still waiting, `synod_node_free` also releases it.
//! `open.rs` makes the handles these take.

use std::sync::atomic::Ordering;

use super::handle::{node_arg, synod_node};
use super::host::refuse_shutdown_from_send;
use super::propose::in_callback_of;
use super::watch::{end_watches, refuse_shutdown_from_watch};
use crate::error::{synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT};

/// Stops the node: every proposal still waiting is answered. Afterwards a
/// started member (`synod_node_start`) answers every call but
/// `synod_node_id`, `synod_node_shutdown` and `synod_node_free` with
/// `SYNOD_ERR_SHUTDOWN` (`SYNOD_ERR_STORAGE` if it had stopped on a storage
/// failure), reads and `synod_node_is_leader` included; the single-node
/// engine (`synod_node_open_single`) answers `SYNOD_ERR_SHUTDOWN` to
/// proposals and keeps answering reads. Calling it again does nothing more.
///
/// Every watch on the node (`synod_node_watch`) ends before this returns:
/// each gets its last callback (`SYNOD_WATCH_END`, status
/// `SYNOD_ERR_SHUTDOWN`) and its free function, and no watch callback runs
/// after this returns.
///
/// A member started with `synod_node_start_host` calls its send callback
/// no more once this returns, and has released the callback's user data
/// (its free function, exactly once) before it returns.
///
/// May be called from a proposal callback of the same started member (it
/// then runs the member's remaining callbacks before it returns). From a
/// callback of the same single-node engine, or from a watch callback of the
/// same node, or from the send callback of the same member on the host's
/// transport, it would wait for that very callback: it returns
/// `SYNOD_ERR_INVALID_ARGUMENT` and does nothing.
///
/// Does not free `node`; the caller still owns it and frees it with
/// `synod_node_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_shutdown(node: *const synod_node) -> synod_status {
    ffi_boundary!(status "synod_node_shutdown", {
        let raw = node;
        let node = unsafe { node_arg(node)? };
        if node.inline_callbacks && in_callback_of(raw) {
            return Err(Error::new(
                SYNOD_ERR_INVALID_ARGUMENT,
                "synod_node_shutdown was called from a callback of the same single-node engine, \
                 which runs before its registration returns: shut it down after that",
            ));
        }
        refuse_shutdown_from_watch(raw)?;
        refuse_shutdown_from_send(node)?;
        node.shut_down.store(true, Ordering::SeqCst);
        (node.stop)();
        end_watches(node);
        Ok(())
    })
}

/// Shuts the node down if it is not already (ending its watches as
/// `synod_node_shutdown` does), and frees it; `synod_node_free(NULL)` does
/// nothing. Watch handles of the node stay valid until freed.
///
/// Takes ownership of `node`, which must come from `synod_node_start` or
/// `synod_node_open_single` and not be used again; strings borrowed from it become invalid.
#[no_mangle]
pub unsafe extern "C" fn synod_node_free(node: *mut synod_node) {
    ffi_boundary!(value "synod_node_free", (), {
        if !node.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            let node = unsafe { Box::from_raw(node) };
            node.shut_down.store(true, Ordering::SeqCst);
            (node.stop)();
            end_watches(&node);
            drop(node);
        }
    })
}
