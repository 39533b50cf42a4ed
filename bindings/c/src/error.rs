//! Status codes, the thread-local last error, refusal codes, the helpers
//! behind the panic boundary, and the leader hint handle
//! (`synod_leader_hint`) the last error hands out (its readers are in
//! `node/leader_hint.rs`). Imports nothing from the rest of this crate.
//!
//! Every fallible export returns a [`synod_status`]. On failure it replaces
//! the calling thread's last error (status, message, refusal details, leader
//! hint) as a whole, so no detail of an older failure survives into a newer
//! one. A successful call leaves the last error alone (as `errno` does). The
//! `synod_last_*` readers never change it.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::{c_char, CStr, CString};

use synod::{LeaderHint, ProposeError};

/// The result of every fallible call: `SYNOD_OK` (0) or one of the
/// `SYNOD_ERR_*` codes. A fixed-width integer rather than a C enum so its size
/// never depends on the compiler; codes are never renumbered and new ones
/// only ever fill the gaps left for them.
pub type synod_status = u32;

/// Success.
pub const SYNOD_OK: synod_status = 0;
/// A pointer argument that must not be NULL was NULL.
pub const SYNOD_ERR_NULL_ARGUMENT: synod_status = 1;
/// An argument is out of its domain: a string that is not UTF-8, an unknown
/// enum value, a range id, address or audit reason the core refuses.
pub const SYNOD_ERR_INVALID_ARGUMENT: synod_status = 2;
/// A string is UTF-8 but not a valid member identity.
pub const SYNOD_ERR_INVALID_IDENTITY: synod_status = 3;
/// The caller's buffer is too small; see `synod_last_error_message`.
pub const SYNOD_ERR_BUFFER_TOO_SMALL: synod_status = 4;
/// The thing asked for does not exist (a range without an owner, no leader
/// hint in the last error, ...).
pub const SYNOD_ERR_NOT_FOUND: synod_status = 5;
/// This member is not the leader; `synod_last_leader_hint` tells where to go.
pub const SYNOD_ERR_NOT_LEADER: synod_status = 100;
/// The leader could not reach a quorum.
pub const SYNOD_ERR_NO_QUORUM: synod_status = 101;
/// The deadline passed before the outcome was known; the entry may still
/// commit later.
pub const SYNOD_ERR_TIMEOUT: synod_status = 102;
/// The catalog refused the entry; `synod_last_refusal_code` says why.
pub const SYNOD_ERR_REFUSED: synod_status = 103;
/// The node is shut down (or, a started member, was removed from the
/// cluster): a stopped member answers every call with it, reads included,
/// rather than an empty answer. A proposal answered this did not take
/// effect here.
pub const SYNOD_ERR_SHUTDOWN: synod_status = 104;
/// Whether the proposal took effect is not known and could not be found
/// out: it may have committed. Read the state before acting on it. (Every
/// other error status of a proposal means it did not take effect, except
/// `SYNOD_ERR_TIMEOUT`, whose entry may still commit later.)
pub const SYNOD_ERR_INDETERMINATE: synod_status = 105;
/// The member has as many calls in flight as it takes and none finished in
/// time (a blocking call waited until its deadline; an asynchronous proposal
/// is told at once). Nothing was proposed: the call did not take effect.
/// Retry later, with backoff.
pub const SYNOD_ERR_OVERLOADED: synod_status = 106;
/// A client (`synod_client`) reached no member that could serve the call
/// before its timeout: none answered, or none knew a leader (an election
/// under way, a cluster without quorum). A proposal answered this did not
/// take effect: no attempt of it can have reached a log.
pub const SYNOD_ERR_UNREACHABLE: synod_status = 107;
/// A member refused the client's identity for this call (see the member's
/// `[authorization]` readers, proposers and operators). Nothing was done.
pub const SYNOD_ERR_UNAUTHORIZED: synod_status = 108;
/// A member's answer to a client did not decode or was of the wrong kind
/// (a member of another version, say). For a proposal, whether it took
/// effect is not known: read the state before acting on it.
pub const SYNOD_ERR_PROTOCOL: synod_status = 109;
/// A client (`synod_client`) was refused by every endpoint's TLS handshake,
/// or none presented a certificate it trusts (another CA, expired, the
/// wrong name, revoked or denied): answered at once, after one round,
/// instead of `SYNOD_ERR_UNREACHABLE` after the timeout. Nothing was sent in
/// that round; a proposal is `SYNOD_ERR_INDETERMINATE` instead when an
/// earlier attempt of it may have been.
pub const SYNOD_ERR_TLS: synod_status = 110;
/// Durable storage failed; the member stopped on it and answers every later
/// call with it, reads included (the last error says what failed). Also a
/// damaged or locked data directory at `synod_node_start`.
pub const SYNOD_ERR_STORAGE: synod_status = 200;
/// A member could not start: its listener, TLS material, or joining the
/// cluster failed (the last error says which).
pub const SYNOD_ERR_START: synod_status = 201;
/// A bug: Synod panicked inside the call. The panic was caught at the
/// boundary; the message is in the last error.
pub const SYNOD_ERR_PANIC: synod_status = 900;

/// Why the catalog refused an entry: the stable number of the core's
/// `Refusal::code()`. Numbers are never reused.
pub type synod_refusal_code = u32;

/// No refusal: the last failure was not a refusal.
pub const SYNOD_REFUSAL_NONE: synod_refusal_code = 0;
/// The named member is not admitted.
pub const SYNOD_REFUSAL_UNKNOWN_MEMBER: synod_refusal_code = 1;
/// The member is already admitted with another kind or address.
pub const SYNOD_REFUSAL_MEMBER_CONFLICT: synod_refusal_code = 2;
/// The member is draining.
pub const SYNOD_REFUSAL_MEMBER_DRAINING: synod_refusal_code = 3;
/// The member still owns ranges.
pub const SYNOD_REFUSAL_MEMBER_OWNS_RANGES: synod_refusal_code = 4;
/// The member is the last one and cannot be removed.
pub const SYNOD_REFUSAL_LAST_MEMBER: synod_refusal_code = 5;
/// A witness was named as a range owner.
pub const SYNOD_REFUSAL_WITNESS_CANNOT_OWN: synod_refusal_code = 6;
/// The proposed epoch is not above the range's current epoch (a transition
/// moves a range to exactly its current epoch plus one).
pub const SYNOD_REFUSAL_STALE_EPOCH: synod_refusal_code = 7;
/// The range's epoch cannot grow any more.
pub const SYNOD_REFUSAL_EPOCH_EXHAUSTED: synod_refusal_code = 8;
/// A leader configuration for a term older than the recorded one.
pub const SYNOD_REFUSAL_TERM_REGRESSED: synod_refusal_code = 9;
/// A second, different leader for an already recorded term.
pub const SYNOD_REFUSAL_CONFLICTING_LEADER: synod_refusal_code = 10;
/// A caller proposed a leader configuration other than the current
/// leader's own for its current term (only the engine records elections).
pub const SYNOD_REFUSAL_LEADER_CONFIGURATION_NOT_CURRENT: synod_refusal_code = 11;
/// The proposed epoch skips epochs: a transition moves a range to exactly
/// its current epoch plus one.
pub const SYNOD_REFUSAL_EPOCH_NOT_NEXT: synod_refusal_code = 12;
/// The entry would grow the catalog past one of its documented limits
/// (256 members, 100 MiB of snapshot for the ranges, 16,384 audit records:
/// see docs/configuration.md): admitting a new member, the first transition
/// of a range, or any forced transition (each adds an audit record). It was
/// refused: nothing of it was applied, on any member. Entries that change
/// what exists still apply (moving an owned range, draining, removing or
/// re-admitting a member); removing members makes room for new ones.
/// Whether the limit was members, the ranges' bytes or audit records is in
/// the last error message.
pub const SYNOD_REFUSAL_CATALOG_FULL: synod_refusal_code = 13;

/// The stable names of the refusal codes, indexed by code.
pub(crate) const REFUSAL_NAMES: [&CStr; 14] = [
    c"none",
    c"unknown-member",
    c"member-conflict",
    c"member-draining",
    c"member-owns-ranges",
    c"last-member",
    c"witness-cannot-own",
    c"stale-epoch",
    c"epoch-exhausted",
    c"term-regressed",
    c"conflicting-leader",
    c"leader-configuration-not-current",
    c"epoch-not-next",
    c"catalog-full",
];

/// A failure on its way to the caller: the status it returns and what the
/// last error will hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub(crate) status: synod_status,
    pub(crate) message: String,
    pub(crate) refusal: Option<RefusalDetail>,
    pub(crate) leader: Option<LeaderHint>,
}

/// A refusal's code and, when it was computed at apply time, its log
/// position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RefusalDetail {
    pub(crate) code: synod_refusal_code,
    pub(crate) at: Option<(u64, u64)>,
}

impl Error {
    /// A failure with only a status and a message.
    pub(crate) fn new(status: synod_status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            refusal: None,
            leader: None,
        }
    }

    /// `what` was NULL.
    pub(crate) fn null(what: &str) -> Self {
        Self::new(SYNOD_ERR_NULL_ARGUMENT, format!("{what} is NULL"))
    }
}

impl From<ProposeError> for Error {
    fn from(e: ProposeError) -> Self {
        let message = e.to_string();
        match e {
            ProposeError::NotLeader { leader } => Self {
                leader,
                ..Self::new(SYNOD_ERR_NOT_LEADER, message)
            },
            ProposeError::NoQuorum => Self::new(SYNOD_ERR_NO_QUORUM, message),
            ProposeError::Timeout(_) => Self::new(SYNOD_ERR_TIMEOUT, message),
            ProposeError::Refused { refusal, at } => Self {
                refusal: Some(RefusalDetail {
                    code: refusal.code(),
                    at: at.map(|(index, term)| (index.get(), term.get())),
                }),
                ..Self::new(SYNOD_ERR_REFUSED, message)
            },
            ProposeError::Shutdown => Self::new(SYNOD_ERR_SHUTDOWN, message),
            ProposeError::Storage(_) => Self::new(SYNOD_ERR_STORAGE, message),
            ProposeError::Indeterminate(_) => Self::new(SYNOD_ERR_INDETERMINATE, message),
            // The deadline of the transfer passed; nothing changed.
            ProposeError::NotTransferred(_) => Self::new(SYNOD_ERR_TIMEOUT, message),
            ProposeError::Overloaded(_) => Self::new(SYNOD_ERR_OVERLOADED, message),
        }
    }
}

thread_local! {
    static LAST_ERROR: RefCell<Option<Error>> = const { RefCell::new(None) };
}

/// Replaces this thread's last error with `e` and returns its status.
pub(crate) fn record(e: Error) -> synod_status {
    let status = e.status;
    // `try_with` fails only while the thread is being torn down; the status
    // still reaches the caller.
    let _ = LAST_ERROR.try_with(|last| {
        if let Ok(mut last) = last.try_borrow_mut() {
            *last = Some(e);
        }
    });
    status
}

/// A copy of this thread's last error, if any.
fn last() -> Option<Error> {
    LAST_ERROR
        .try_with(|last| last.try_borrow().ok().and_then(|last| last.clone()))
        .ok()
        .flatten()
}

/// Records a caught panic as the last error and returns `SYNOD_ERR_PANIC`.
pub(crate) fn record_panic(function: &str, payload: Box<dyn Any + Send>) -> synod_status {
    let what = if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a non-string panic payload".to_owned()
    };
    // A payload whose destructor panics must not unwind out of here.
    std::mem::forget(payload);
    record(Error::new(
        SYNOD_ERR_PANIC,
        format!("internal error: {function} panicked: {what}"),
    ))
}

/// The end of `ffi_boundary!(status ...)`.
pub(crate) fn finish_status(
    function: &str,
    result: std::thread::Result<Result<(), Error>>,
) -> synod_status {
    match result {
        Ok(Ok(())) => SYNOD_OK,
        Ok(Err(e)) => record(e),
        Err(payload) => record_panic(function, payload),
    }
}

/// Borrows a NUL-terminated UTF-8 string argument for the call.
pub(crate) unsafe fn str_arg<'a>(p: *const c_char, what: &str) -> Result<&'a str, Error> {
    if p.is_null() {
        return Err(Error::null(what));
    }
    // SAFETY: the caller promises a NUL-terminated string valid for the call.
    let bytes = unsafe { CStr::from_ptr(p) };
    bytes.to_str().map_err(|e| {
        Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            format!("{what} is not valid UTF-8 (at byte {})", e.valid_up_to()),
        )
    })
}

/// Checks that an out-pointer is not NULL.
pub(crate) fn out_arg<T>(p: *mut T, what: &str) -> Result<*mut T, Error> {
    if p.is_null() {
        Err(Error::null(what))
    } else {
        Ok(p)
    }
}

/// A C copy of a string the core has already validated (identities, range
/// ids, addresses never hold NUL). Should one ever hold a NUL, the call fails
/// instead of truncating silently.
pub(crate) fn c_string(s: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| {
        Error::new(
            SYNOD_ERR_INVALID_ARGUMENT,
            "a string holds a NUL byte and cannot cross the C boundary",
        )
    })
}

/// The symbolic name of a status code, e.g. `"SYNOD_ERR_REFUSED"`.
///
/// Never returns NULL: an unknown code gives `"SYNOD_ERR_UNKNOWN"`. The string
/// is static; the caller must not free it.
#[no_mangle]
pub extern "C" fn synod_status_str(status: synod_status) -> *const c_char {
    ffi_boundary!(value "synod_status_str", c"SYNOD_ERR_UNKNOWN".as_ptr(), {
        status_name(status).as_ptr()
    })
}

fn status_name(status: synod_status) -> &'static CStr {
    match status {
        SYNOD_OK => c"SYNOD_OK",
        SYNOD_ERR_NULL_ARGUMENT => c"SYNOD_ERR_NULL_ARGUMENT",
        SYNOD_ERR_INVALID_ARGUMENT => c"SYNOD_ERR_INVALID_ARGUMENT",
        SYNOD_ERR_INVALID_IDENTITY => c"SYNOD_ERR_INVALID_IDENTITY",
        SYNOD_ERR_BUFFER_TOO_SMALL => c"SYNOD_ERR_BUFFER_TOO_SMALL",
        SYNOD_ERR_NOT_FOUND => c"SYNOD_ERR_NOT_FOUND",
        SYNOD_ERR_NOT_LEADER => c"SYNOD_ERR_NOT_LEADER",
        SYNOD_ERR_NO_QUORUM => c"SYNOD_ERR_NO_QUORUM",
        SYNOD_ERR_TIMEOUT => c"SYNOD_ERR_TIMEOUT",
        SYNOD_ERR_REFUSED => c"SYNOD_ERR_REFUSED",
        SYNOD_ERR_SHUTDOWN => c"SYNOD_ERR_SHUTDOWN",
        SYNOD_ERR_INDETERMINATE => c"SYNOD_ERR_INDETERMINATE",
        SYNOD_ERR_OVERLOADED => c"SYNOD_ERR_OVERLOADED",
        SYNOD_ERR_UNREACHABLE => c"SYNOD_ERR_UNREACHABLE",
        SYNOD_ERR_UNAUTHORIZED => c"SYNOD_ERR_UNAUTHORIZED",
        SYNOD_ERR_PROTOCOL => c"SYNOD_ERR_PROTOCOL",
        SYNOD_ERR_TLS => c"SYNOD_ERR_TLS",
        SYNOD_ERR_STORAGE => c"SYNOD_ERR_STORAGE",
        SYNOD_ERR_START => c"SYNOD_ERR_START",
        SYNOD_ERR_PANIC => c"SYNOD_ERR_PANIC",
        _ => c"SYNOD_ERR_UNKNOWN",
    }
}

/// The stable short name of a refusal code, e.g. `"stale-epoch"`.
///
/// Never returns NULL: `SYNOD_REFUSAL_NONE` gives `"none"`, an unknown code
/// gives `"unknown"`. The string is static; the caller must not free it.
#[no_mangle]
pub extern "C" fn synod_refusal_str(code: synod_refusal_code) -> *const c_char {
    ffi_boundary!(value "synod_refusal_str", c"unknown".as_ptr(), {
        usize::try_from(code)
            .ok()
            .and_then(|i| REFUSAL_NAMES.get(i))
            .copied()
            .unwrap_or(c"unknown")
            .as_ptr()
    })
}

/// The status of the most recent failed call on this thread, or `SYNOD_OK`
/// if no call on this thread has failed yet.
///
/// Does not change the last error; owns nothing.
#[no_mangle]
pub extern "C" fn synod_last_error_status() -> synod_status {
    ffi_boundary!(value "synod_last_error_status", SYNOD_ERR_PANIC, {
        last().map_or(SYNOD_OK, |e| e.status)
    })
}

/// Copies the message of the most recent failed call on this thread into
/// `buf`.
///
/// The message is UTF-8; it is empty when no call on this thread has failed.
/// Exactly:
/// * `*n` (when `n` is not NULL) is set to the full message length in bytes,
///   not counting the terminating NUL, whatever the outcome except
///   `SYNOD_ERR_NULL_ARGUMENT`; a buffer of `*n + 1` bytes holds it whole.
/// * If `len > *n`, the whole message and a NUL are written and `SYNOD_OK`
///   is returned.
/// * If `0 < len <= *n`, the longest prefix of at most `len - 1` bytes that
///   ends on a UTF-8 character boundary is written, followed by a NUL, and
///   `SYNOD_ERR_BUFFER_TOO_SMALL` is returned.
/// * If `len == 0`, nothing is written (`buf` may then be NULL, to ask for
///   the size) and `SYNOD_ERR_BUFFER_TOO_SMALL` is returned.
/// * `buf == NULL` with `len > 0` gives `SYNOD_ERR_NULL_ARGUMENT` and writes
///   nothing.
///
/// Never changes the last error, so it can be called repeatedly. The caller
/// owns `buf`; nothing is retained after the call.
#[no_mangle]
pub unsafe extern "C" fn synod_last_error_message(
    buf: *mut c_char,
    len: usize,
    n: *mut usize,
) -> synod_status {
    ffi_boundary!(value "synod_last_error_message", SYNOD_ERR_PANIC, {
        if buf.is_null() && len > 0 {
            return SYNOD_ERR_NULL_ARGUMENT;
        }
        let last = last();
        let message = last.as_ref().map_or("", |e| e.message.as_str());
        if !n.is_null() {
            // SAFETY: `n` is a valid, writable pointer (caller contract).
            unsafe { *n = message.len() };
        }
        if len == 0 {
            return SYNOD_ERR_BUFFER_TOO_SMALL;
        }
        let (copy, status) = if message.len() < len {
            (message.len(), SYNOD_OK)
        } else {
            let mut end = len - 1;
            while !message.is_char_boundary(end) {
                end -= 1;
            }
            (end, SYNOD_ERR_BUFFER_TOO_SMALL)
        };
        // SAFETY: `buf` holds at least `len > copy` writable bytes.
        unsafe {
            std::ptr::copy_nonoverlapping(message.as_ptr().cast::<c_char>(), buf, copy);
            *buf.add(copy) = 0;
        }
        status
    })
}

/// The refusal code of the most recent failed call on this thread when that
/// failure was `SYNOD_ERR_REFUSED`, else `SYNOD_REFUSAL_NONE` (0).
///
/// Does not change the last error; owns nothing.
#[no_mangle]
pub extern "C" fn synod_last_refusal_code() -> synod_refusal_code {
    ffi_boundary!(value "synod_last_refusal_code", SYNOD_REFUSAL_NONE, {
        last()
            .and_then(|e| e.refusal)
            .map_or(SYNOD_REFUSAL_NONE, |r| r.code)
    })
}

/// Where the refused entry of the most recent failed call on this thread sits
/// in the log, when the refusal was computed at apply time.
///
/// Returns `SYNOD_OK` and writes `*index` and `*term`, or
/// `SYNOD_ERR_NOT_FOUND` (writing nothing) when the last failure was not a
/// refusal or the entry was refused before it entered the log. Does not
/// change the last error; the caller owns both out-params.
#[no_mangle]
pub unsafe extern "C" fn synod_last_refusal_position(
    index: *mut u64,
    term: *mut u64,
) -> synod_status {
    ffi_boundary!(value "synod_last_refusal_position", SYNOD_ERR_PANIC, {
        if index.is_null() || term.is_null() {
            return SYNOD_ERR_NULL_ARGUMENT;
        }
        match last().and_then(|e| e.refusal).and_then(|r| r.at) {
            Some((i, t)) => {
                // SAFETY: both pointers are valid and writable (caller contract).
                unsafe {
                    *index = i;
                    *term = t;
                }
                SYNOD_OK
            }
            None => SYNOD_ERR_NOT_FOUND,
        }
    })
}

/// The leader a follower named when it answered `SYNOD_ERR_NOT_LEADER`; see
/// `synod_last_leader_hint`.
///
/// Immutable: one handle may be read from any number of threads at once;
/// free it exactly once with `synod_leader_hint_free`.
pub struct synod_leader_hint {
    pub(crate) id: CString,
    pub(crate) address: Option<CString>,
}

impl synod_leader_hint {
    pub(crate) fn new(hint: &LeaderHint) -> Result<Self, Error> {
        Ok(Self {
            id: c_string(hint.id.as_str())?,
            address: hint
                .address
                .as_ref()
                .map(|a| c_string(a.as_str()))
                .transpose()?,
        })
    }
}

/// The leader named by the most recent failed call on this thread, when that
/// failure was `SYNOD_ERR_NOT_LEADER` and a leader is known.
///
/// Returns `SYNOD_OK` and writes a new `synod_leader_hint` to `*out`, which
/// the caller owns and frees with `synod_leader_hint_free`; or
/// `SYNOD_ERR_NOT_FOUND` (writing nothing) when there is no such leader. Does
/// not change the last error.
#[no_mangle]
pub unsafe extern "C" fn synod_last_leader_hint(out: *mut *mut synod_leader_hint) -> synod_status {
    ffi_boundary!(value "synod_last_leader_hint", SYNOD_ERR_PANIC, {
        if out.is_null() {
            return SYNOD_ERR_NULL_ARGUMENT;
        }
        let hint = last().and_then(|e| e.leader);
        match hint.map(|h| synod_leader_hint::new(&h)) {
            Some(Ok(hint)) => {
                // SAFETY: `out` is valid and writable (caller contract).
                unsafe { *out = Box::into_raw(Box::new(hint)) };
                SYNOD_OK
            }
            Some(Err(_)) | None => SYNOD_ERR_NOT_FOUND,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use synod::{Epoch, Index, NodeId, RangeId, Refusal, Term};

    fn message() -> String {
        let mut n = 0usize;
        let mut buf = vec![0 as c_char; 4096];
        let status = unsafe { synod_last_error_message(buf.as_mut_ptr(), buf.len(), &mut n) };
        assert_eq!(status, SYNOD_OK);
        let s = unsafe { CStr::from_ptr(buf.as_ptr()) };
        s.to_str().unwrap().to_owned()
    }

    #[test]
    fn refusal_constants_match_the_core() {
        let id = NodeId::from_certificate_subject("CN=a").unwrap();
        let range: RangeId = "r".parse().unwrap();
        let all = [
            Refusal::UnknownMember { member: id.clone() },
            Refusal::MemberConflict {
                member: id.clone(),
                kind: synod::MemberKind::Data,
                address: "h:1".parse().unwrap(),
            },
            Refusal::MemberDraining { member: id.clone() },
            Refusal::MemberOwnsRanges {
                member: id.clone(),
                ranges: 1,
            },
            Refusal::LastMember { member: id.clone() },
            Refusal::WitnessCannotOwn { member: id.clone() },
            Refusal::StaleEpoch {
                range: range.clone(),
                current: Epoch(1),
                proposed: Epoch(1),
            },
            Refusal::EpochExhausted { range },
            Refusal::TermRegressed {
                term: Term(1),
                latest: Term(2),
            },
            Refusal::ConflictingLeader {
                term: Term(1),
                recorded: id.clone(),
                proposed: id.clone(),
            },
            Refusal::LeaderConfigurationNotCurrent {
                term: Term(3),
                leader: id,
            },
            Refusal::EpochNotNext {
                range: "r".parse().expect("range"),
                current: Epoch(1),
                proposed: Epoch(3),
            },
            Refusal::CatalogFull {
                what: synod::CatalogLimit::Ranges,
                limit: 65_536,
            },
        ];
        let constants = [
            SYNOD_REFUSAL_UNKNOWN_MEMBER,
            SYNOD_REFUSAL_MEMBER_CONFLICT,
            SYNOD_REFUSAL_MEMBER_DRAINING,
            SYNOD_REFUSAL_MEMBER_OWNS_RANGES,
            SYNOD_REFUSAL_LAST_MEMBER,
            SYNOD_REFUSAL_WITNESS_CANNOT_OWN,
            SYNOD_REFUSAL_STALE_EPOCH,
            SYNOD_REFUSAL_EPOCH_EXHAUSTED,
            SYNOD_REFUSAL_TERM_REGRESSED,
            SYNOD_REFUSAL_CONFLICTING_LEADER,
            SYNOD_REFUSAL_LEADER_CONFIGURATION_NOT_CURRENT,
            SYNOD_REFUSAL_EPOCH_NOT_NEXT,
            SYNOD_REFUSAL_CATALOG_FULL,
        ];
        assert_eq!(all.len() + 1, REFUSAL_NAMES.len());
        for (refusal, constant) in all.iter().zip(constants) {
            assert_eq!(refusal.code(), constant, "{refusal:?}");
            let name = unsafe { CStr::from_ptr(synod_refusal_str(constant)) };
            assert_eq!(name.to_str().unwrap(), refusal.name());
        }
    }

    #[test]
    fn a_panic_becomes_a_status_and_a_message() {
        let status = ffi_boundary!(status "synod_test_panic", {
            if std::hint::black_box(true) {
                panic!("boom {}", 7);
            }
            Ok(())
        });
        assert_eq!(status, SYNOD_ERR_PANIC);
        assert_eq!(synod_last_error_status(), SYNOD_ERR_PANIC);
        assert_eq!(
            message(),
            "internal error: synod_test_panic panicked: boom 7"
        );
        let value: u64 = ffi_boundary!(value "synod_test_value", 42, {
            if std::hint::black_box(true) {
                panic!("static");
            }
            1
        });
        assert_eq!(value, 42);
        assert_eq!(
            message(),
            "internal error: synod_test_value panicked: static"
        );
    }

    #[test]
    fn propose_errors_map_to_stable_statuses() {
        let cases = [
            (ProposeError::NoQuorum, SYNOD_ERR_NO_QUORUM),
            (
                ProposeError::Timeout(Duration::from_millis(5)),
                SYNOD_ERR_TIMEOUT,
            ),
            (ProposeError::Shutdown, SYNOD_ERR_SHUTDOWN),
            (ProposeError::Storage("disk".into()), SYNOD_ERR_STORAGE),
            (
                ProposeError::NotLeader { leader: None },
                SYNOD_ERR_NOT_LEADER,
            ),
        ];
        for (e, status) in cases {
            let text = e.to_string();
            assert_eq!(record(e.into()), status);
            assert_eq!(message(), text);
            assert_eq!(synod_last_refusal_code(), SYNOD_REFUSAL_NONE);
            let mut hint = std::ptr::null_mut();
            assert_eq!(
                unsafe { synod_last_leader_hint(&mut hint) },
                SYNOD_ERR_NOT_FOUND
            );
            assert!(hint.is_null());
        }
    }

    #[test]
    fn a_refusal_at_apply_time_reports_its_position() {
        let e = ProposeError::Refused {
            refusal: Refusal::LastMember {
                member: NodeId::from_certificate_subject("CN=a").unwrap(),
            },
            at: Some((Index(9), Term(3))),
        };
        assert_eq!(record(e.into()), SYNOD_ERR_REFUSED);
        assert_eq!(synod_last_refusal_code(), SYNOD_REFUSAL_LAST_MEMBER);
        let (mut i, mut t) = (0, 0);
        assert_eq!(
            unsafe { synod_last_refusal_position(&mut i, &mut t) },
            SYNOD_OK
        );
        assert_eq!((i, t), (9, 3));
    }
}
