//! The member list: `synod_node_members` and the snapshot it hands out
//! (`synod_member_list`, its per-row getters and its free).

use std::ffi::{c_char, CString};

use synod::catalog::{Member, MemberState};

use super::handle::{node_arg, synod_node, write_out};
use super::values::{
    kind_out, synod_member_kind, synod_member_state, SYNOD_MEMBER_STATE_ACTIVE,
    SYNOD_MEMBER_STATE_DRAINING,
};
use crate::error::{c_string, out_arg, synod_status, Error};

/// The members of the catalog, in identity order: a snapshot taken by
/// `synod_node_members` or `synod_view_members`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_member_list_free`.
pub struct synod_member_list {
    members: Vec<MemberRow>,
}

struct MemberRow {
    id: CString,
    address: CString,
    kind: synod_member_kind,
    state: synod_member_state,
}

/// The snapshot of `members` (in the order given).
pub(crate) fn member_list<'a>(
    members: impl Iterator<Item = &'a Member>,
) -> Result<Box<synod_member_list>, Error> {
    let members = members
        .map(|m| {
            Ok(MemberRow {
                id: c_string(m.id.as_str())?,
                address: c_string(m.address.as_str())?,
                kind: kind_out(m.kind),
                state: match m.state {
                    MemberState::Active => SYNOD_MEMBER_STATE_ACTIVE,
                    MemberState::Draining => SYNOD_MEMBER_STATE_DRAINING,
                },
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Box::new(synod_member_list { members }))
}

/// Takes a snapshot of the members, in identity order.
///
/// Returns `SYNOD_OK` and writes `*out`, leaving it untouched on failure:
/// `SYNOD_ERR_SHUTDOWN` once the member is shut down (or removed),
/// `SYNOD_ERR_STORAGE` once it stopped on a storage failure (a stopped member
/// never answers an empty list), `SYNOD_ERR_NULL_ARGUMENT`. The caller owns
/// `*out` and frees it with `synod_member_list_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_members(
    node: *const synod_node,
    out: *mut *mut synod_member_list,
) -> synod_status {
    ffi_boundary!(status "synod_node_members", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let list = member_list(node.engine.try_members()?.iter())?;
        unsafe { write_out(out, Box::into_raw(list)) };
        Ok(())
    })
}

/// Runs `f` on row `i` of `list`, or returns `none` when `list` is NULL or
/// `i` is out of range.
unsafe fn row<R>(
    list: *const synod_member_list,
    i: usize,
    none: R,
    f: impl FnOnce(&MemberRow) -> R,
) -> R {
    // SAFETY: NULL or a live handle (caller contract).
    match unsafe { list.as_ref() }.and_then(|l| l.members.get(i)) {
        Some(row) => f(row),
        None => none,
    }
}

/// The number of members in the snapshot, 0 when `list` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_len(list: *const synod_member_list) -> usize {
    ffi_boundary!(value "synod_member_list_len", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { list.as_ref() }.map_or(0, |l| l.members.len())
    })
}

/// The identity of member `i`, or NULL when `list` is NULL or `i` is out of
/// range.
///
/// Borrowed from the handle: valid until `list` is freed; the caller must not
/// free it.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_id(
    list: *const synod_member_list,
    i: usize,
) -> *const c_char {
    ffi_boundary!(value "synod_member_list_id", std::ptr::null(), {
        unsafe { row(list, i, std::ptr::null(), |r| r.id.as_ptr()) }
    })
}

/// The peer address of member `i`, or NULL when `list` is NULL or `i` is out
/// of range.
///
/// Borrowed from the handle: valid until `list` is freed; the caller must not
/// free it.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_address(
    list: *const synod_member_list,
    i: usize,
) -> *const c_char {
    ffi_boundary!(value "synod_member_list_address", std::ptr::null(), {
        unsafe { row(list, i, std::ptr::null(), |r| r.address.as_ptr()) }
    })
}

/// The kind of member `i`, or 0 (no kind) when `list` is NULL or `i` is out
/// of range.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_kind(
    list: *const synod_member_list,
    i: usize,
) -> synod_member_kind {
    ffi_boundary!(value "synod_member_list_kind", 0, {
        unsafe { row(list, i, 0, |r| r.kind) }
    })
}

/// The state of member `i`, or 0 (no state) when `list` is NULL or `i` is out
/// of range.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_state(
    list: *const synod_member_list,
    i: usize,
) -> synod_member_state {
    ffi_boundary!(value "synod_member_list_state", 0, {
        unsafe { row(list, i, 0, |r| r.state) }
    })
}

/// Frees a member snapshot; `synod_member_list_free(NULL)` does nothing.
///
/// Takes ownership of `list`, which must come from `synod_node_members` or
/// `synod_view_members` and not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_member_list_free(list: *mut synod_member_list) {
    ffi_boundary!(value "synod_member_list_free", (), {
        if !list.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(list) });
        }
    })
}
