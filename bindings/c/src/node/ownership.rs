//! Range ownership as this member has applied it: `synod_node_owner` with the
//! ownership snapshot it hands out (`synod_ownership`, its getters and its
//! free), and `synod_node_fence_check`, a data plane's fence.

use std::ffi::{c_char, CString};

use synod::catalog::RangeOwnership;
use synod::{Epoch, RangeId};

use super::handle::{node_arg, parsed_arg, synod_node, write_out};
use super::values::{fence_out, synod_fence_status};
use crate::error::{c_string, out_arg, synod_status, Error, SYNOD_ERR_NOT_FOUND};
use crate::identity::identity_arg;

/// Who owns a range, and which log entry made it so: a snapshot taken by
/// `synod_node_owner` or `synod_view_owner`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_ownership_free`.
pub struct synod_ownership {
    owner: CString,
    epoch: u64,
    version: u64,
    term: u64,
    index: u64,
}

/// The snapshot of `range`'s record, `SYNOD_ERR_NOT_FOUND` when it has none.
pub(crate) fn ownership_snapshot(
    range: &RangeId,
    found: Option<&RangeOwnership>,
) -> Result<Box<synod_ownership>, Error> {
    let RangeOwnership {
        owner,
        epoch,
        version,
        term,
        index,
    } = found
        .ok_or_else(|| Error::new(SYNOD_ERR_NOT_FOUND, format!("range {range} has no owner")))?;
    Ok(Box::new(synod_ownership {
        owner: c_string(owner.as_str())?,
        epoch: epoch.get(),
        version: version.get(),
        term: term.get(),
        index: index.get(),
    }))
}

/// Looks up the owner of `range` as this member has applied it.
///
/// Returns `SYNOD_OK` and writes a new snapshot to `*out`. On failure `*out`
/// is left untouched: `SYNOD_ERR_NOT_FOUND` when the range has no owner on
/// this running member; `SYNOD_ERR_SHUTDOWN` once the member is shut down
/// (or removed from the cluster), `SYNOD_ERR_STORAGE` once it stopped on a
/// storage failure (a stopped member never answers "no owner");
/// `SYNOD_ERR_NULL_ARGUMENT`, `SYNOD_ERR_INVALID_ARGUMENT`. The caller owns
/// `*out` and frees it with `synod_ownership_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_owner(
    node: *const synod_node,
    range: *const c_char,
    out: *mut *mut synod_ownership,
) -> synod_status {
    ffi_boundary!(status "synod_node_owner", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let range: RangeId = unsafe { parsed_arg(range, "range")? };
        let found = node.engine.try_owner(&range)?;
        let snapshot = ownership_snapshot(&range, found.as_ref())?;
        unsafe { write_out(out, Box::into_raw(snapshot)) };
        Ok(())
    })
}

/// The owner's identity, or NULL when `ownership` is NULL.
///
/// Borrowed from the handle: valid until `ownership` is freed; the caller must
/// not free it.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_owner(ownership: *const synod_ownership) -> *const c_char {
    ffi_boundary!(value "synod_ownership_owner", std::ptr::null(), {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(std::ptr::null(), |o| o.owner.as_ptr())
    })
}

/// The range's ownership epoch, or 0 when `ownership` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_epoch(ownership: *const synod_ownership) -> u64 {
    ffi_boundary!(value "synod_ownership_epoch", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(0, |o| o.epoch)
    })
}

/// The catalog version the transition produced, or 0 when `ownership` is
/// NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_version(ownership: *const synod_ownership) -> u64 {
    ffi_boundary!(value "synod_ownership_version", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(0, |o| o.version)
    })
}

/// The term of the entry that set the owner, or 0 when `ownership` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_term(ownership: *const synod_ownership) -> u64 {
    ffi_boundary!(value "synod_ownership_term", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(0, |o| o.term)
    })
}

/// The log index of the entry that set the owner, or 0 when `ownership` is
/// NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_index(ownership: *const synod_ownership) -> u64 {
    ffi_boundary!(value "synod_ownership_index", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { ownership.as_ref() }.map_or(0, |o| o.index)
    })
}

/// Frees an ownership snapshot; `synod_ownership_free(NULL)` does nothing.
///
/// Takes ownership of `ownership`, which must come from `synod_node_owner` or
/// `synod_view_owner` and not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_ownership_free(ownership: *mut synod_ownership) {
    ffi_boundary!(value "synod_ownership_free", (), {
        if !ownership.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(ownership) });
        }
    })
}

/// Checks whether (`owner`, `epoch`) is the current owner of `range`, as this
/// member has applied it: a data plane's fence.
///
/// Writes `SYNOD_FENCE_CURRENT`, `SYNOD_FENCE_STALE` or `SYNOD_FENCE_UNKNOWN`
/// to `*out` on `SYNOD_OK` only. A stopped member answers no fence:
/// `SYNOD_ERR_SHUTDOWN` once it is shut down (or removed),
/// `SYNOD_ERR_STORAGE` once it stopped on a storage failure, never
/// `SYNOD_FENCE_UNKNOWN`. The caller owns `*out`; strings are borrowed for
/// the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_node_fence_check(
    node: *const synod_node,
    range: *const c_char,
    owner: *const c_char,
    epoch: u64,
    out: *mut synod_fence_status,
) -> synod_status {
    ffi_boundary!(status "synod_node_fence_check", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let range: RangeId = unsafe { parsed_arg(range, "range")? };
        let owner = unsafe { identity_arg(owner, "owner")? };
        let status = fence_out(&node.engine.try_fence_check(&range, &owner, Epoch(epoch))?);
        unsafe { write_out(out, status) };
        Ok(())
    })
}
