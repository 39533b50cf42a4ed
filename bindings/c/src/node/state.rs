//! What a node says about itself: its identity, whether it is the leader,
//! its current term and its commit index.

use std::ffi::c_char;

use super::handle::{node_arg, synod_node, write_out};
use crate::error::{out_arg, synod_status};

/// This member's identity, or NULL when `node` is NULL.
///
/// The string is borrowed from the handle: valid until `node` is freed; the
/// caller must not free it.
#[no_mangle]
pub unsafe extern "C" fn synod_node_id(node: *const synod_node) -> *const c_char {
    ffi_boundary!(value "synod_node_id", std::ptr::null(), {
        // SAFETY: NULL or a live handle (caller contract).
        match unsafe { node.as_ref() } {
            Some(node) => node.id.as_ptr(),
            None => std::ptr::null(),
        }
    })
}

/// Writes whether this member is the leader to `*out`.
///
/// `*out` is written only on `SYNOD_OK`; the caller owns it. A stopped member
/// answers `SYNOD_ERR_SHUTDOWN` (shut down or removed) or `SYNOD_ERR_STORAGE`
/// (stopped on a storage failure) instead.
#[no_mangle]
pub unsafe extern "C" fn synod_node_is_leader(
    node: *const synod_node,
    out: *mut bool,
) -> synod_status {
    ffi_boundary!(status "synod_node_is_leader", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        node.engine.check_running()?;
        unsafe { write_out(out, node.engine.is_leader()) };
        Ok(())
    })
}

/// Writes the current election term to `*out`.
///
/// `*out` is written only on `SYNOD_OK`; the caller owns it. A stopped member
/// answers `SYNOD_ERR_SHUTDOWN` or `SYNOD_ERR_STORAGE` instead.
#[no_mangle]
pub unsafe extern "C" fn synod_node_current_term(
    node: *const synod_node,
    out: *mut u64,
) -> synod_status {
    ffi_boundary!(status "synod_node_current_term", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        node.engine.check_running()?;
        unsafe { write_out(out, node.engine.current_term().get()) };
        Ok(())
    })
}

/// Writes the index of the highest committed entry to `*out`, 0 when nothing
/// is committed yet (log indices start at 1).
///
/// `*out` is written only on `SYNOD_OK`; the caller owns it. A stopped member
/// answers `SYNOD_ERR_SHUTDOWN` or `SYNOD_ERR_STORAGE` instead.
#[no_mangle]
pub unsafe extern "C" fn synod_node_commit_index(
    node: *const synod_node,
    out: *mut u64,
) -> synod_status {
    ffi_boundary!(status "synod_node_commit_index", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        node.engine.check_running()?;
        let index = node.engine.commit_index().map_or(0, |i| i.get());
        unsafe { write_out(out, index) };
        Ok(())
    })
}
