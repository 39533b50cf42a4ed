//! Opening a node handle: `synod_node_start` starts a member of a replicated
//! cluster from its configuration file, `synod_node_open_single` opens the
//! in-memory single-node engine. `shutdown.rs` stops and frees what these
//! return.

use std::ffi::c_char;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use synod::{
    ControlPlaneConsensus, InitialMember, MemberAddress, MemberKind, SingleNodeControlPlane,
};

use super::handle::{parsed_arg, synod_node, write_out};
use crate::error::{
    c_string, out_arg, str_arg, synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT,
    SYNOD_ERR_SHUTDOWN, SYNOD_ERR_START, SYNOD_ERR_STORAGE,
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
        let member = synod::node::runner::start_member(&config).map_err(|e| {
            let status = match &e {
                synod::node::runner::RunError::Storage(_) => SYNOD_ERR_STORAGE,
                _ => SYNOD_ERR_START,
            };
            Error::new(status, e.to_string())
        })?;
        let id_text = c_string(config.id.as_str())?;
        let started = Arc::clone(member.node());
        let engine: Arc<dyn ControlPlaneConsensus> = started.clone();
        let running = Arc::new(std::sync::Mutex::new(Some(member)));
        let reloading = Arc::clone(&running);
        let node = Box::new(synod_node {
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
        });
        unsafe { write_out(out, Box::into_raw(node)) };
        Ok(())
    })
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
/// `synod_node_open_single` (nothing to reload); `SYNOD_ERR_SHUTDOWN` once
/// the node was shut down. Thread-safe: any thread, any time before
/// `synod_node_free`.
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
                "a single-node engine has no transport and no revocation lists to reload",
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
