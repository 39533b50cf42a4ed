//! Opening a node handle: `synod_node_start` starts a member of a replicated
//! cluster from its configuration file, `synod_node_start_config` from a
//! built configuration within a deadline (the start on a thread of its own,
//! abandoned and cleaned up when late), `synod_node_open_single` opens the
//! in-memory single-node engine. `shutdown.rs` stops and frees what these
//! return.

use std::collections::BTreeSet;
use std::ffi::c_char;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use synod::{
    ControlPlaneConsensus, InitialMember, MemberAddress, MemberKind, SingleNodeControlPlane,
};

use super::handle::{parsed_arg, synod_node, write_out};
use crate::config::synod_config;
use crate::error::{
    c_string, out_arg, str_arg, synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT,
    SYNOD_ERR_SHUTDOWN, SYNOD_ERR_START, SYNOD_ERR_STORAGE, SYNOD_ERR_TIMEOUT,
};
use crate::identity::identity_arg;

/// Starts a member of a replicated cluster from its configuration file, the
/// format `synod node --config` reads: opens its data directory (or writes
/// the genesis of a new cluster, or joins through the configured member),
/// binds its listener with mutual TLS, and starts its driver thread. The
/// returned node proposes, reads and answers exactly like any other.
///
/// Returns `SYNOD_OK` and writes `*out`. On failure `*out` is left untouched:
/// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_ARGUMENT` for an unreadable
/// or invalid configuration (the last error names the field);
/// `SYNOD_ERR_STORAGE` for a damaged or locked data directory;
/// `SYNOD_ERR_START` when the listener, the TLS material or joining fails.
/// The caller owns `*out` and frees it with `synod_node_free`, which shuts
/// the member down.
#[no_mangle]
pub unsafe extern "C" fn synod_node_start(
    config_path: *const c_char,
    out: *mut *mut synod_node,
) -> synod_status {
    ffi_boundary!(status "synod_node_start", {
        let out = out_arg(out, "out")?;
        let path = unsafe { str_arg(config_path, "config_path")? };
        let config = synod::node::config::NodeConfig::load(std::path::Path::new(path))
            .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let member = synod::node::runner::start_member(&config).map_err(start_error)?;
        let node = member_handle(member, &config)?;
        unsafe { write_out(out, Box::into_raw(node)) };
        Ok(())
    })
}

/// Starts a member of a replicated cluster from a configuration built with
/// the `synod_config_*` functions (or read by `synod_config_from_file`),
/// exactly as `synod_node_start` does from a file, and waits at most
/// `timeout_ms` for the start to finish. The configuration is checked whole
/// first (the core's parser, and on Unix the private key's permissions);
/// `cfg` is only read and may be freed once this returns.
///
/// Returns `SYNOD_OK` and writes `*out`. On failure `*out` is left untouched:
/// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_ARGUMENT` for an incomplete
/// or invalid configuration (the last error names the field);
/// `SYNOD_ERR_STORAGE` for a damaged or locked data directory;
/// `SYNOD_ERR_START` when the listener, the TLS material or joining fails;
/// `SYNOD_ERR_TIMEOUT` when the start did not finish by the deadline.
///
/// The deadline: the start runs on a thread of its own (named
/// `synod-start`), because the core cannot abort one in progress (joining
/// through an unreachable member takes about 10 s to fail, one not yet
/// admitted up to 30 s). When the deadline passes first, this returns
/// `SYNOD_ERR_TIMEOUT` and the start is abandoned: if it still succeeds,
/// that thread shuts the member down at once, before anything else sees
/// it (it never proposes, never calls a callback of the caller's, and is
/// gone when the thread ends); if it fails, nothing is left. Until the
/// thread ends, the abandoned start may hold the data directory's lock, so
/// a later `synod_node_start_config` on the same `data_dir` (as written in
/// the configuration) first waits, within its own deadline, for the
/// abandoned one to end (and answers `SYNOD_ERR_TIMEOUT` if it does not in
/// time). Log records of the abandoned start still reach the log callback
/// (`synod_set_log_callback`). `timeout_ms = 0` is a deadline already
/// passed, as everywhere in this header: after the configuration is
/// checked, the call returns `SYNOD_ERR_TIMEOUT` and starts nothing. For
/// no practical bound pass `UINT32_MAX` (49 days).
///
/// The caller owns `*out` and frees it with `synod_node_free`, which shuts
/// the member down. Thread-safe: any number of starts may run at once.
#[no_mangle]
pub unsafe extern "C" fn synod_node_start_config(
    cfg: *const synod_config,
    timeout_ms: u32,
    out: *mut *mut synod_node,
) -> synod_status {
    ffi_boundary!(status "synod_node_start_config", {
        let out = out_arg(out, "out")?;
        // SAFETY: NULL or a live configuration not being changed (caller
        // contract).
        let cfg = unsafe { cfg.as_ref() }.ok_or_else(|| Error::null("cfg"))?;
        let config = cfg.node_config()?;
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let deadline = Instant::now() + timeout;
        if timeout.is_zero() {
            return Err(Error::new(
                SYNOD_ERR_TIMEOUT,
                "timeout_ms is 0: a start cannot finish in no time; nothing was started",
            ));
        }
        tracing::info!(id = %config.id, timeout_ms, "starting a member");
        let member = start_bounded(&config, deadline, timeout_ms)?;
        let node = member_handle(member, &config)?;
        unsafe { write_out(out, Box::into_raw(node)) };
        Ok(())
    })
}

/// Where a start on its own thread stands.
enum Outcome {
    /// Still running; the caller waits.
    Running,
    /// The caller's deadline passed: whoever finishes shuts the member down.
    Abandoned,
    /// Finished, not yet taken by the caller.
    Done(Result<synod::node::runner::RunningMember, Error>),
}

/// A start's outcome, handed from its thread to the caller.
struct Handoff {
    outcome: Mutex<Outcome>,
    changed: Condvar,
}

/// The data directories with a start in progress (abandoned ones
/// included), and a signal each time one ends.
static STARTING: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
static START_ENDED: Condvar = Condvar::new();

fn timed_out(config: &synod::node::config::NodeConfig, timeout_ms: u32, what: &str) -> Error {
    Error::new(
        SYNOD_ERR_TIMEOUT,
        format!(
            "the start of {} did not finish within {timeout_ms} ms: {what}",
            config.id
        ),
    )
}

/// Runs `start_member` on a thread of its own and waits for it until
/// `deadline` (see `synod_node_start_config`).
fn start_bounded(
    config: &synod::node::config::NodeConfig,
    deadline: Instant,
    timeout_ms: u32,
) -> Result<synod::node::runner::RunningMember, Error> {
    let dir = std::path::absolute(&config.data_dir).unwrap_or_else(|_| config.data_dir.clone());
    {
        let mut starting = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        while starting.contains(&dir) {
            let now = Instant::now();
            if now >= deadline {
                return Err(timed_out(
                    config,
                    timeout_ms,
                    &format!(
                        "an earlier start on {} (one that timed out) is still ending; nothing \
                         was started",
                        dir.display()
                    ),
                ));
            }
            starting = START_ENDED
                .wait_timeout(starting, deadline - now)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        starting.insert(dir.clone());
    }
    let handoff = Arc::new(Handoff {
        outcome: Mutex::new(Outcome::Running),
        changed: Condvar::new(),
    });
    let theirs = Arc::clone(&handoff);
    let owned = config.clone();
    let their_dir = dir.clone();
    let spawned = std::thread::Builder::new()
        .name("synod-start".into())
        .spawn(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                synod::node::runner::start_member(&owned)
            }));
            let result = match result {
                Ok(r) => r.map_err(start_error),
                Err(_) => Err(Error::new(
                    crate::error::SYNOD_ERR_PANIC,
                    "internal error: the start panicked",
                )),
            };
            let late = {
                let mut outcome = theirs.outcome.lock().unwrap_or_else(|p| p.into_inner());
                if matches!(*outcome, Outcome::Abandoned) {
                    Some(result)
                } else {
                    *outcome = Outcome::Done(result);
                    theirs.changed.notify_all();
                    None
                }
            };
            if let Some(Ok(member)) = late {
                tracing::warn!(
                    id = %owned.id,
                    "a start that timed out finished late; the member is shut down"
                );
                member.shutdown();
            }
            let mut starting = STARTING.lock().unwrap_or_else(|p| p.into_inner());
            starting.remove(&their_dir);
            START_ENDED.notify_all();
        });
    if let Err(e) = spawned {
        let mut starting = STARTING.lock().unwrap_or_else(|p| p.into_inner());
        starting.remove(&dir);
        START_ENDED.notify_all();
        return Err(Error::new(
            SYNOD_ERR_START,
            format!("cannot start the start thread: {e}"),
        ));
    }
    let mut outcome = handoff.outcome.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if matches!(*outcome, Outcome::Done(_)) {
            let Outcome::Done(result) = std::mem::replace(&mut *outcome, Outcome::Abandoned) else {
                unreachable!("matched just above");
            };
            return result;
        }
        let now = Instant::now();
        if now >= deadline {
            *outcome = Outcome::Abandoned;
            tracing::warn!(id = %config.id, timeout_ms, "the start timed out and is abandoned");
            return Err(timed_out(
                config,
                timeout_ms,
                "it was abandoned (if it still succeeds, the member is shut down at once; a \
                 later start on the same data directory waits for it to end)",
            ));
        }
        outcome = handoff
            .changed
            .wait_timeout(outcome, deadline - now)
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
}

/// The status and message of a start that failed.
fn start_error(e: synod::node::runner::RunError) -> Error {
    let status = match &e {
        synod::node::runner::RunError::Storage(_) => SYNOD_ERR_STORAGE,
        _ => SYNOD_ERR_START,
    };
    Error::new(status, e.to_string())
}

/// The handle of a started member.
fn member_handle(
    member: synod::node::runner::RunningMember,
    config: &synod::node::config::NodeConfig,
) -> Result<Box<synod_node>, Error> {
    let id_text = c_string(config.id.as_str())?;
    let started = Arc::clone(member.node());
    let engine: Arc<dyn ControlPlaneConsensus> = started.clone();
    let running = Arc::new(std::sync::Mutex::new(Some(member)));
    let reloading = Arc::clone(&running);
    Ok(Box::new(synod_node {
        engine,
        shut_down: AtomicBool::new(false),
        inline_callbacks: false,
        stop: Box::new(move || {
            let m = running.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(m) = m {
                m.shutdown();
            }
        }),
        id: id_text,
        reload: Some(Box::new(move |config| {
            let guard = reloading.lock().unwrap_or_else(|p| p.into_inner());
            match guard.as_ref() {
                None => Err(Error::new(SYNOD_ERR_SHUTDOWN, "the node is shut down")),
                Some(m) => m
                    .reload_revocation(config)
                    .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, e.to_string())),
            }
        })),
        member: Some(started),
        watches: std::sync::Mutex::new(Vec::new()),
        host: None,
    }))
}

/// Opens a single-member control plane: `identity` is its only member (a data
/// member listening at `address`) and the leader of term 1. Kept in memory.
///
/// Returns `SYNOD_OK` and writes `*out`; on failure (`SYNOD_ERR_NULL_ARGUMENT`,
/// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY`) `*out` is left
/// untouched. The caller owns `*out` and frees it with `synod_node_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_open_single(
    identity: *const c_char,
    address: *const c_char,
    out: *mut *mut synod_node,
) -> synod_status {
    ffi_boundary!(status "synod_node_open_single", {
        let out = out_arg(out, "out")?;
        let id = unsafe { identity_arg(identity, "identity")? };
        let address: MemberAddress = unsafe { parsed_arg(address, "address")? };
        let id_text = c_string(id.as_str())?;
        let engine = SingleNodeControlPlane::bootstrap_leader(InitialMember {
            id,
            kind: MemberKind::Data,
            address,
        })
        .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let engine = Arc::new(engine);
        let stopper = Arc::clone(&engine);
        let node = Box::new(synod_node {
            engine,
            stop: Box::new(move || stopper.shutdown()),
            shut_down: AtomicBool::new(false),
            inline_callbacks: true,
            id: id_text,
            reload: None,
            member: None,
            watches: std::sync::Mutex::new(Vec::new()),
            host: None,
        });
        unsafe { write_out(out, Box::into_raw(node)) };
        Ok(())
    })
}

/// The outcome of `synod_node_reload_revocation`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct synod_revocation_summary {
    /// Identities on the deny list now in force.
    pub denied: u64,
    /// Certificate revocation lists now in force.
    pub crls: u64,
}

/// Re-reads the revocation lists (`[tls] deny` and `[tls] crl`) of the
/// configuration file at `config_path` (normally the one the member started
/// from) and puts them in force on a started member without a restart: new
/// connections see them at once, open connections of a newly refused
/// identity fail at their next read or write. This is what `synod node`
/// does on SIGHUP; the library never handles signals itself, so a host
/// calls this from wherever it learns of a change (its own SIGHUP handler
/// thread, an admin command). Only these two settings are re-read.
///
/// Returns `SYNOD_OK` and, if `out` is not NULL, writes what is now in
/// force. On failure nothing changed (the lists in force stay):
/// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_ARGUMENT` for an unreadable
/// or invalid configuration, a CRL that cannot be read or belongs to
/// another CA, lists that would refuse the member's own certificate, lists
/// on a member running without TLS, or a node from
/// `synod_node_open_single` or `synod_node_start_host` (nothing to
/// reload); `SYNOD_ERR_SHUTDOWN` once the node was shut down. Thread-safe:
/// any thread, any time before `synod_node_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_node_reload_revocation(
    node: *const synod_node,
    config_path: *const c_char,
    out: *mut synod_revocation_summary,
) -> synod_status {
    ffi_boundary!(status "synod_node_reload_revocation", {
        let node = unsafe { super::handle::node_arg(node)? };
        let path = unsafe { str_arg(config_path, "config_path")? };
        let Some(reload) = node.reload.as_ref() else {
            return Err(Error::new(
                SYNOD_ERR_INVALID_ARGUMENT,
                "this node has no TLS transport and no revocation lists to reload (a \
                 single-node engine, or a member on the host's transport)",
            ));
        };
        let config = synod::node::config::NodeConfig::load(std::path::Path::new(path))
            .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let summary = reload(&config)?;
        if !out.is_null() {
            let value = synod_revocation_summary {
                denied: summary.denied as u64,
                crls: summary.crls as u64,
            };
            unsafe { write_out(out, value) };
        }
        Ok(())
    })
}
