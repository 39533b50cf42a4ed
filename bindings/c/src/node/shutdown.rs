//! Stopping and freeing a node handle: `synod_node_shutdown` stops it and
//! answers every proposal still waiting, `synod_node_free` also releases it.
//! `open.rs` makes the handles these take.

use std::sync::atomic::Ordering;

use super::handle::{node_arg, synod_node};
use crate::error::synod_status;

/// Stops the node: every later proposal answers `SYNOD_ERR_SHUTDOWN`; reads
/// keep working. Calling it again does nothing more.
///
/// Does not free `node`; the caller still owns it and frees it with
/// `synod_node_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_shutdown(node: *const synod_node) -> synod_status {
    ffi_boundary!(status "synod_node_shutdown", {
        let node = unsafe { node_arg(node)? };
        node.shut_down.store(true, Ordering::SeqCst);
        (node.stop)();
        Ok(())
    })
}

/// Shuts the node down if it is not already, and frees it;
/// `synod_node_free(NULL)` does nothing.
///
/// Takes ownership of `node`, which must come from `synod_node_start` or
/// `synod_node_open_single` and not be used again; strings borrowed from it become invalid.
#[no_mangle]
pub unsafe extern "C" fn synod_node_free(node: *mut synod_node) {
    ffi_boundary!(value "synod_node_free", (), {
        if !node.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            let node = unsafe { Box::from_raw(node) };
            (node.stop)();
            drop(node);
        }
    })
}
