//! Reads at a chosen freshness, each saying the log position it reflects:
//! `synod_node_read` hands out a `synod_view` (the member's applied catalog
//! at one index, an immutable `Arc<CatalogView>`) with its owner, fence,
//! members, ranges (`synod_range_cursor`) and audit (`synod_audit_list`)
//! readers; `synod_node_read_index` and `synod_node_wait_applied` are the
//! two halves of a linearizable read for callers that read elsewhere.
//!
//! What each level promises is `docs/adr/0008-read-levels.md`; this room
//! adds no promise of its own. A view never changes and never depends on
//! its node: it stays valid after the node is shut down or freed. A single
//! node engine has no read levels (`SYNOD_ERR_INVALID_ARGUMENT`; its
//! `synod_node_owner` and friends are local reads already).

use std::ffi::{c_char, CString};
use std::sync::Arc;
use std::time::Duration;

use synod::catalog::{AuditRecord, CatalogView};
use synod::node::ReadLevel;
use synod::{Epoch, Index, NodeId, RangeId};

use super::handle::{node_arg, parsed_arg, running_member, synod_node, write_out};
use super::members::{member_list, synod_member_list};
use super::ownership::{ownership_snapshot, synod_ownership};
use super::values::{fence_out, synod_fence_status};
use crate::error::{
    c_string, out_arg, synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT, SYNOD_ERR_NOT_FOUND,
};
use crate::identity::identity_arg;

/// How fresh a read must be (`synod_node_read`). 0 is never a level.
pub type synod_read_level = u32;
/// What this member has applied, now: never waits, may be behind the
/// cluster by as much as the view's index says.
pub const SYNOD_READ_LOCAL: synod_read_level = 1;
/// At least the given log index applied here: waits (up to the timeout)
/// for this member to catch up. Read-your-writes across members: pass the
/// index of a commit to any member.
pub const SYNOD_READ_AT_LEAST: synod_read_level = 2;
/// Everything committed before the call began: the leader confirms its
/// commit index (ReadIndex), this member applies up to it, and the view is
/// served from that applied state. Works on followers.
pub const SYNOD_READ_LINEARIZABLE: synod_read_level = 3;

/// The catalog as one member applied it at one log position
/// (`synod_view_applied_index`): ranges, members, the audit list. Taken by
/// `synod_node_read`.
///
/// Immutable: one handle may be read from any number of threads at once,
/// and it never changes; it does not depend on its node (it stays valid
/// after the node is shut down or freed). Free it exactly once with
/// `synod_view_free`, after every other use (cursors and lists taken from
/// it keep what they need and may outlive it).
pub struct synod_view {
    pub(super) view: Arc<CatalogView>,
}

fn millis(ms: u32) -> Duration {
    Duration::from_millis(u64::from(ms))
}

/// Reads the catalog of a started member at `level`, waiting at most
/// `timeout_ms` for it: `SYNOD_READ_LOCAL` never waits (and ignores the
/// timeout); `SYNOD_READ_AT_LEAST` waits until this member applied
/// `at_least_index`; `SYNOD_READ_LINEARIZABLE` asks the leader for its commit
/// index and waits until this member applied it. `at_least_index` must be 0
/// for the other levels.
///
/// Returns `SYNOD_OK` and writes a new `synod_view` to `*out` (its
/// `synod_view_applied_index` is the index it reflects: at least
/// `at_least_index`, or the read index). The caller owns `*out` and frees
/// it with `synod_view_free`. On failure `*out` is untouched:
/// `SYNOD_ERR_TIMEOUT` when the member did not get there in time (an index
/// far ahead; no leader answered the read index), `SYNOD_ERR_NOT_LEADER` /
/// `SYNOD_ERR_NO_QUORUM` when a linearizable read found no leader to
/// confirm it, `SYNOD_ERR_OVERLOADED` (a linearizable read found no call
/// slot in time), `SYNOD_ERR_SHUTDOWN` / `SYNOD_ERR_STORAGE` once the member
/// stopped (also while waiting), `SYNOD_ERR_INVALID_ARGUMENT` for an unknown
/// level, a non-zero index with another level than `SYNOD_READ_AT_LEAST`, or
/// a single-node engine; `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe; may be
/// called from any callback of the node.
#[no_mangle]
pub unsafe extern "C" fn synod_node_read(
    node: *const synod_node,
    level: synod_read_level,
    at_least_index: u64,
    timeout_ms: u32,
    out: *mut *mut synod_view,
) -> synod_status {
    ffi_boundary!(status "synod_node_read", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let level = match level {
            SYNOD_READ_AT_LEAST => ReadLevel::AtLeast(Index(at_least_index)),
            SYNOD_READ_LOCAL | SYNOD_READ_LINEARIZABLE if at_least_index != 0 => {
                return Err(Error::new(
                    SYNOD_ERR_INVALID_ARGUMENT,
                    format!("at_least_index {at_least_index} given with a level other than SYNOD_READ_AT_LEAST"),
                ))
            }
            SYNOD_READ_LOCAL => ReadLevel::Local,
            SYNOD_READ_LINEARIZABLE => ReadLevel::Linearizable,
            other => {
                return Err(Error::new(
                    SYNOD_ERR_INVALID_ARGUMENT,
                    format!("level {other} is not a synod_read_level"),
                ))
            }
        };
        let member = running_member(node, "synod_node_read")?;
        let view = member.read_view(level, millis(timeout_ms))?;
        unsafe { write_out(out, Box::into_raw(Box::new(synod_view { view }))) };
        Ok(())
    })
}

/// Asks the leader, through this started member, for the index a
/// linearizable read must reflect (ReadIndex), and waits until this member
/// applied it; writes that index to `*out`.
///
/// Every entry committed before the call began is at or below it. Returns
/// `SYNOD_OK`; on failure `*out` is untouched, with the statuses of
/// `synod_node_read` at `SYNOD_READ_LINEARIZABLE`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn synod_node_read_index(
    node: *const synod_node,
    timeout_ms: u32,
    out: *mut u64,
) -> synod_status {
    ffi_boundary!(status "synod_node_read_index", {
        let node = unsafe { node_arg(node)? };
        let out = out_arg(out, "out")?;
        let member = running_member(node, "synod_node_read_index")?;
        let index = member.read_linearizable(millis(timeout_ms), |_, index| index)?;
        unsafe { write_out(out, index.get()) };
        Ok(())
    })
}

/// Waits at most `timeout_ms` until this started member has applied log
/// index `index`.
///
/// Returns `SYNOD_OK` once it has (at once if it already had);
/// `SYNOD_ERR_TIMEOUT` when it had not in time; `SYNOD_ERR_SHUTDOWN` /
/// `SYNOD_ERR_STORAGE` once the member stopped (also while waiting);
/// `SYNOD_ERR_INVALID_ARGUMENT` for a single-node engine;
/// `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn synod_node_wait_applied(
    node: *const synod_node,
    index: u64,
    timeout_ms: u32,
) -> synod_status {
    ffi_boundary!(status "synod_node_wait_applied", {
        let node = unsafe { node_arg(node)? };
        let member = running_member(node, "synod_node_wait_applied")?;
        member.wait_applied(Index(index), millis(timeout_ms))?;
        Ok(())
    })
}

unsafe fn view_arg<'a>(view: *const synod_view) -> Result<&'a CatalogView, Error> {
    // SAFETY: NULL or a live handle (caller contract).
    unsafe { view.as_ref() }
        .map(|v| &*v.view)
        .ok_or_else(|| Error::null("view"))
}

/// The log index of the last entry the view reflects, or 0 when `view` is
/// NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_view_applied_index(view: *const synod_view) -> u64 {
    ffi_boundary!(value "synod_view_applied_index", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { view.as_ref() }.map_or(0, |v| v.view.applied().0.get())
    })
}

/// The term of that entry, or 0 when `view` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_view_applied_term(view: *const synod_view) -> u64 {
    ffi_boundary!(value "synod_view_applied_term", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { view.as_ref() }.map_or(0, |v| v.view.applied().1.get())
    })
}

/// The catalog version of the view, or 0 when `view` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_view_version(view: *const synod_view) -> u64 {
    ffi_boundary!(value "synod_view_version", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { view.as_ref() }.map_or(0, |v| v.view.version().get())
    })
}

/// Looks up the owner of `range` in the view.
///
/// Returns `SYNOD_OK` and writes a new `synod_ownership` (the same snapshot
/// `synod_node_owner` hands out) to `*out`, which the caller owns and frees
/// with `synod_ownership_free`. On failure `*out` is untouched:
/// `SYNOD_ERR_NOT_FOUND` when the range has no owner in this view,
/// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_NULL_ARGUMENT`.
#[no_mangle]
pub unsafe extern "C" fn synod_view_owner(
    view: *const synod_view,
    range: *const c_char,
    out: *mut *mut synod_ownership,
) -> synod_status {
    ffi_boundary!(status "synod_view_owner", {
        let view = unsafe { view_arg(view)? };
        let out = out_arg(out, "out")?;
        let range: RangeId = unsafe { parsed_arg(range, "range")? };
        let snapshot = ownership_snapshot(&range, view.owner(&range))?;
        unsafe { write_out(out, Box::into_raw(snapshot)) };
        Ok(())
    })
}

/// Checks whether (`owner`, `epoch`) is the current owner of `range` in the
/// view: a data plane's fence, at the view's index.
///
/// Writes `SYNOD_FENCE_CURRENT`, `SYNOD_FENCE_STALE` or `SYNOD_FENCE_UNKNOWN`
/// (the range has no owner in the view, or `epoch` is newer than the view's)
/// to `*out` on `SYNOD_OK` only; `SYNOD_ERR_NULL_ARGUMENT`,
/// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY` otherwise.
#[no_mangle]
pub unsafe extern "C" fn synod_view_fence_check(
    view: *const synod_view,
    range: *const c_char,
    owner: *const c_char,
    epoch: u64,
    out: *mut synod_fence_status,
) -> synod_status {
    ffi_boundary!(status "synod_view_fence_check", {
        let view = unsafe { view_arg(view)? };
        let out = out_arg(out, "out")?;
        let range: RangeId = unsafe { parsed_arg(range, "range")? };
        let owner = unsafe { identity_arg(owner, "owner")? };
        let status = fence_out(&view.fence_check(&range, &owner, Epoch(epoch)));
        unsafe { write_out(out, status) };
        Ok(())
    })
}

/// Takes the view's members, in identity order.
///
/// Returns `SYNOD_OK` and writes a new `synod_member_list` (the same snapshot
/// `synod_node_members` hands out) to `*out`, which the caller owns and
/// frees with `synod_member_list_free`; `SYNOD_ERR_NULL_ARGUMENT` otherwise,
/// leaving `*out` untouched.
#[no_mangle]
pub unsafe extern "C" fn synod_view_members(
    view: *const synod_view,
    out: *mut *mut synod_member_list,
) -> synod_status {
    ffi_boundary!(status "synod_view_members", {
        let view = unsafe { view_arg(view)? };
        let out = out_arg(out, "out")?;
        let list = member_list(view.members())?;
        unsafe { write_out(out, Box::into_raw(list)) };
        Ok(())
    })
}

/// Frees a view; `synod_view_free(NULL)` does nothing.
///
/// Takes ownership of `view`, which must come from `synod_node_read` and not
/// be used again (a view handed to a watch callback is borrowed: never free
/// it). Cursors and lists taken from it stay valid.
#[no_mangle]
pub unsafe extern "C" fn synod_view_free(view: *mut synod_view) {
    ffi_boundary!(value "synod_view_free", (), {
        if !view.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(view) });
        }
    })
}

/// One owned range, as `synod_range_cursor_next` copies it out. The strings
/// are borrowed from the cursor: valid until the next
/// `synod_range_cursor_next` on it or its free.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synod_range {
    /// The range id.
    pub range: *const c_char,
    /// Its current owner.
    pub owner: *const c_char,
    /// Its ownership epoch.
    pub epoch: u64,
    /// The catalog version the transition that set it produced.
    pub version: u64,
    /// The term of that entry.
    pub term: u64,
    /// The log index of that entry.
    pub index: u64,
}

/// A walk over the owned ranges of one view, in range id order, optionally
/// only those of one owner: made by `synod_view_ranges`.
///
/// Not thread-safe: one thread at a time (each call advances it). It holds
/// the view's catalog itself, so it stays valid after the view is freed;
/// free it exactly once with `synod_range_cursor_free`.
pub struct synod_range_cursor {
    view: Arc<CatalogView>,
    owner: Option<NodeId>,
    /// The last range handed out (the walk goes on after it).
    last: Option<RangeId>,
    /// The strings of the last row handed out.
    range_text: CString,
    owner_text: CString,
}

/// Starts a walk over the view's owned ranges in range id order: those of
/// `owner` only, or all when `owner` is NULL; after the range id `after`
/// (which need not exist), or from the first when `after` is NULL. To page,
/// take rows with `synod_range_cursor_next` and start the next page's cursor
/// (of this view, or of a newer one) after the last range of the previous
/// page.
///
/// Returns `SYNOD_OK` and writes a new cursor to `*out`, which the caller
/// owns and frees with `synod_range_cursor_free`; on failure
/// (`SYNOD_ERR_NULL_ARGUMENT`, `SYNOD_ERR_INVALID_ARGUMENT`,
/// `SYNOD_ERR_INVALID_IDENTITY`) `*out` is untouched.
#[no_mangle]
pub unsafe extern "C" fn synod_view_ranges(
    view: *const synod_view,
    owner: *const c_char,
    after: *const c_char,
    out: *mut *mut synod_range_cursor,
) -> synod_status {
    ffi_boundary!(status "synod_view_ranges", {
        // SAFETY: NULL or a live handle (caller contract).
        let view = unsafe { view.as_ref() }.ok_or_else(|| Error::null("view"))?;
        let out = out_arg(out, "out")?;
        let owner = if owner.is_null() {
            None
        } else {
            Some(unsafe { identity_arg(owner, "owner")? })
        };
        let last = if after.is_null() {
            None
        } else {
            Some(unsafe { parsed_arg::<RangeId>(after, "after")? })
        };
        let cursor = Box::new(synod_range_cursor {
            view: Arc::clone(&view.view),
            owner,
            last,
            range_text: CString::default(),
            owner_text: CString::default(),
        });
        unsafe { write_out(out, Box::into_raw(cursor)) };
        Ok(())
    })
}

/// Copies the next range of the walk to `*out`.
///
/// Returns `SYNOD_OK`, or `SYNOD_ERR_NOT_FOUND` when the walk is over (and
/// again on every later call), `SYNOD_ERR_NULL_ARGUMENT`; `*out` is written
/// only on `SYNOD_OK`. Its strings are borrowed from the cursor: valid until
/// the next call on it or its free.
#[no_mangle]
pub unsafe extern "C" fn synod_range_cursor_next(
    cursor: *mut synod_range_cursor,
    out: *mut synod_range,
) -> synod_status {
    ffi_boundary!(status "synod_range_cursor_next", {
        // SAFETY: NULL or a live handle used by one thread (caller contract).
        let cursor = unsafe { cursor.as_mut() }.ok_or_else(|| Error::null("cursor"))?;
        let out = out_arg(out, "out")?;
        let found = cursor
            .view
            .ranges_after(cursor.last.as_ref())
            .find(|(_, o)| cursor.owner.as_ref().is_none_or(|want| *want == o.owner))
            .map(|(r, o)| (r.clone(), o.clone()));
        let Some((range, o)) = found else {
            return Err(Error::new(SYNOD_ERR_NOT_FOUND, "no more ranges"));
        };
        cursor.range_text = c_string(range.as_str())?;
        cursor.owner_text = c_string(o.owner.as_str())?;
        cursor.last = Some(range);
        let row = synod_range {
            range: cursor.range_text.as_ptr(),
            owner: cursor.owner_text.as_ptr(),
            epoch: o.epoch.get(),
            version: o.version.get(),
            term: o.term.get(),
            index: o.index.get(),
        };
        unsafe { write_out(out, row) };
        Ok(())
    })
}

/// Frees a range cursor; `synod_range_cursor_free(NULL)` does nothing.
///
/// Takes ownership of `cursor`, which must come from `synod_view_ranges` and
/// not be used again; strings it handed out become invalid.
#[no_mangle]
pub unsafe extern "C" fn synod_range_cursor_free(cursor: *mut synod_range_cursor) {
    ffi_boundary!(value "synod_range_cursor_free", (), {
        if !cursor.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(cursor) });
        }
    })
}

/// One forced ownership transition of the audit list, as
/// `synod_audit_list_get` copies it out. The strings are borrowed from the
/// list: valid until it is freed.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synod_audit_record {
    /// The log index of the forced transition.
    pub index: u64,
    /// Its term.
    pub term: u64,
    /// The range that was moved.
    pub range: *const c_char,
    /// The owner before, or NULL when the range had none.
    pub previous_owner: *const c_char,
    /// The epoch before (0 when the range had no owner).
    pub previous_epoch: u64,
    /// The owner after.
    pub new_owner: *const c_char,
    /// The epoch after.
    pub epoch: u64,
    /// The operator who forced it.
    pub operator_id: *const c_char,
    /// Why.
    pub reason: *const c_char,
}

/// The audit list of a view: every forced ownership transition, oldest
/// first. Taken by `synod_view_audit`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_audit_list_free`.
pub struct synod_audit_list {
    pub(crate) records: Vec<AuditRow>,
}

pub(crate) struct AuditRow {
    index: u64,
    term: u64,
    range: CString,
    previous_owner: Option<CString>,
    previous_epoch: u64,
    new_owner: CString,
    epoch: u64,
    operator: CString,
    reason: CString,
}

pub(crate) fn audit_row(r: &AuditRecord) -> Result<AuditRow, Error> {
    Ok(AuditRow {
        index: r.index.get(),
        term: r.term.get(),
        range: c_string(r.range.as_str())?,
        previous_owner: match &r.previous_owner {
            Some(p) => Some(c_string(p.as_str())?),
            None => None,
        },
        previous_epoch: r.previous_epoch.get(),
        new_owner: c_string(r.new_owner.as_str())?,
        epoch: r.epoch.get(),
        operator: c_string(r.operator.as_str())?,
        reason: c_string(r.reason.as_str())?,
    })
}

/// Takes the view's audit list (every forced ownership transition, oldest
/// first).
///
/// Returns `SYNOD_OK` and writes a new `synod_audit_list` to `*out`, which
/// the caller owns and frees with `synod_audit_list_free`;
/// `SYNOD_ERR_NULL_ARGUMENT` otherwise, leaving `*out` untouched.
#[no_mangle]
pub unsafe extern "C" fn synod_view_audit(
    view: *const synod_view,
    out: *mut *mut synod_audit_list,
) -> synod_status {
    ffi_boundary!(status "synod_view_audit", {
        let view = unsafe { view_arg(view)? };
        let out = out_arg(out, "out")?;
        let records = view
            .audit_log()
            .iter()
            .map(audit_row)
            .collect::<Result<Vec<_>, Error>>()?;
        unsafe { write_out(out, Box::into_raw(Box::new(synod_audit_list { records }))) };
        Ok(())
    })
}

/// The number of records in the list, 0 when `list` is NULL.
///
/// Owns nothing.
#[no_mangle]
pub unsafe extern "C" fn synod_audit_list_len(list: *const synod_audit_list) -> usize {
    ffi_boundary!(value "synod_audit_list_len", 0, {
        // SAFETY: NULL or a live handle (caller contract).
        unsafe { list.as_ref() }.map_or(0, |l| l.records.len())
    })
}

/// Copies record `i` (0 is the oldest) to `*out`.
///
/// Returns `SYNOD_OK`, or `SYNOD_ERR_NOT_FOUND` when `i` is not below
/// `synod_audit_list_len`, `SYNOD_ERR_NULL_ARGUMENT`; `*out` is written only
/// on `SYNOD_OK`. Its strings are borrowed from `list`: valid until `list`
/// is freed.
#[no_mangle]
pub unsafe extern "C" fn synod_audit_list_get(
    list: *const synod_audit_list,
    i: usize,
    out: *mut synod_audit_record,
) -> synod_status {
    ffi_boundary!(status "synod_audit_list_get", {
        // SAFETY: NULL or a live handle (caller contract).
        let list = unsafe { list.as_ref() }.ok_or_else(|| Error::null("list"))?;
        let out = out_arg(out, "out")?;
        let r = list.records.get(i).ok_or_else(|| {
            Error::new(
                SYNOD_ERR_NOT_FOUND,
                format!("audit record {i} of {}", list.records.len()),
            )
        })?;
        let record = synod_audit_record {
            index: r.index,
            term: r.term,
            range: r.range.as_ptr(),
            previous_owner: r
                .previous_owner
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr()),
            previous_epoch: r.previous_epoch,
            new_owner: r.new_owner.as_ptr(),
            epoch: r.epoch,
            operator_id: r.operator.as_ptr(),
            reason: r.reason.as_ptr(),
        };
        unsafe { write_out(out, record) };
        Ok(())
    })
}

/// Frees an audit list; `synod_audit_list_free(NULL)` does nothing.
///
/// Takes ownership of `list`, which must come from `synod_view_audit` and
/// not be used again.
#[no_mangle]
pub unsafe extern "C" fn synod_audit_list_free(list: *mut synod_audit_list) {
    ffi_boundary!(value "synod_audit_list_free", (), {
        if !list.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(list) });
        }
    })
}
