//! The client handle's definition (`synod_client`: a `Client` behind a
//! mutex), `synod_client_new` / `synod_client_free`, the argument helpers
//! the client's rooms share, and the mapping of the client's errors to
//! status codes.

use std::ffi::c_char;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use synod::node::client::{Client, ClientCallError};
use synod::node::protocol::RemoteError;
use synod::transport::tls::TlsConfig;
use synod::transport::Security;
use synod::MemberAddress;

use crate::error::{
    out_arg, str_arg, synod_status, Error, RefusalDetail, SYNOD_ERR_INDETERMINATE,
    SYNOD_ERR_INVALID_ARGUMENT, SYNOD_ERR_INVALID_IDENTITY, SYNOD_ERR_NOT_LEADER,
    SYNOD_ERR_NO_QUORUM, SYNOD_ERR_OVERLOADED, SYNOD_ERR_PROTOCOL, SYNOD_ERR_REFUSED,
    SYNOD_ERR_SHUTDOWN, SYNOD_ERR_STORAGE, SYNOD_ERR_TIMEOUT, SYNOD_ERR_TLS,
    SYNOD_ERR_UNAUTHORIZED, SYNOD_ERR_UNREACHABLE,
};
use crate::identity::identity_arg;

/// A connection to a cluster for a process that is not a member: it knows
/// a few member endpoints and its own identity, sends reads to whichever
/// member answers and proposals to the leader, and follows the leader.
///
/// Thread safety: every function taking a `const synod_client *` may be
/// called from any thread, but calls on one client are serialized (each
/// waits for the one before it to return); use one client per thread for
/// parallelism. `synod_client_free` must not race with any other call on
/// the same handle.
pub struct synod_client {
    pub(crate) inner: Mutex<Client>,
    /// The bound of calls given `timeout_ms == 0`.
    pub(crate) default_timeout: Duration,
}

/// The mutual-TLS files of a client: PEM paths, borrowed for the call of
/// `synod_client_new` only. The client's identity is the subject of the
/// certificate.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct synod_client_tls {
    /// The client's certificate chain, its own certificate first.
    pub cert: *const c_char,
    /// Its private key.
    pub key: *const c_char,
    /// The CA bundle the members' certificates must chain to.
    pub ca: *const c_char,
}

pub(crate) unsafe fn client_arg<'a>(
    client: *const synod_client,
) -> Result<&'a synod_client, Error> {
    // SAFETY: NULL or a live handle (caller contract).
    unsafe { client.as_ref() }.ok_or_else(|| Error::null("client"))
}

/// Writes `value` to `out` (checked non-NULL beforehand).
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: `out` is valid and writable (caller contract, checked non-NULL).
    unsafe { out.write(value) }
}

/// Parses a string argument (the node's `parsed_arg`, under the name the
/// client's rooms use).
pub(crate) use crate::node::parsed_arg as parsed;

impl synod_client {
    /// Locks the client and sets the bound of the next call: `timeout_ms`,
    /// or the client's default when it is 0.
    pub(crate) fn lock(&self, timeout_ms: u32) -> MutexGuard<'_, Client> {
        // A panic inside an earlier call leaves the client usable: its
        // state is a connection and a leader address, both re-checked.
        let mut c = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let timeout = if timeout_ms == 0 {
            self.default_timeout
        } else {
            Duration::from_millis(u64::from(timeout_ms))
        };
        c.set_timeout(timeout);
        c
    }
}

/// The status a client's failure returns, with the last error's details.
pub(crate) fn client_error(e: ClientCallError) -> Error {
    let message = e.to_string();
    match e {
        ClientCallError::Remote(remote) => match remote {
            RemoteError::NotLeader { leader } => Error {
                leader,
                ..Error::new(SYNOD_ERR_NOT_LEADER, message)
            },
            RemoteError::NoQuorum => Error::new(SYNOD_ERR_NO_QUORUM, message),
            RemoteError::Timeout(_) => Error::new(SYNOD_ERR_TIMEOUT, message),
            RemoteError::Refused { refusal, at } => Error {
                refusal: Some(RefusalDetail {
                    code: refusal.code,
                    at: at.map(|(i, t)| (i.get(), t.get())),
                }),
                ..Error::new(SYNOD_ERR_REFUSED, message)
            },
            RemoteError::Shutdown => Error::new(SYNOD_ERR_SHUTDOWN, message),
            RemoteError::Storage(_) => Error::new(SYNOD_ERR_STORAGE, message),
            RemoteError::Unauthorized(_) => Error::new(SYNOD_ERR_UNAUTHORIZED, message),
            RemoteError::BadRequest(_) => Error::new(SYNOD_ERR_INVALID_ARGUMENT, message),
            RemoteError::Indeterminate(_) => Error::new(SYNOD_ERR_INDETERMINATE, message),
            // The deadline of the transfer passed; nothing changed.
            RemoteError::NotTransferred(_) => Error::new(SYNOD_ERR_TIMEOUT, message),
            RemoteError::Overloaded(_) => Error::new(SYNOD_ERR_OVERLOADED, message),
        },
        ClientCallError::Unreachable(_) => Error::new(SYNOD_ERR_UNREACHABLE, message),
        ClientCallError::Protocol(_) | ClientCallError::Unexpected(_) => {
            Error::new(SYNOD_ERR_PROTOCOL, message)
        }
        ClientCallError::NoEndpoints => Error::new(SYNOD_ERR_INVALID_ARGUMENT, message),
        ClientCallError::Indeterminate(_) => Error::new(SYNOD_ERR_INDETERMINATE, message),
        ClientCallError::Tls(_) => Error::new(SYNOD_ERR_TLS, message),
    }
}

/// Splits and checks a comma-separated endpoint list.
fn endpoints_arg(text: &str) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for (i, part) in text.split(',').enumerate() {
        let part = part.trim();
        let bad = |why: String| {
            Error::new(
                SYNOD_ERR_INVALID_ARGUMENT,
                format!("endpoints: entry {i} ({part:?}): {why}"),
            )
        };
        part.parse::<MemberAddress>()
            .map_err(|e| bad(e.to_string()))?;
        match part.rsplit_once(':') {
            Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p != 0) => {
            }
            _ => return Err(bad("not host:port (a port from 1 to 65535)".into())),
        }
        out.push(part.to_owned());
    }
    Ok(out)
}

unsafe fn security_arg(
    tls: *const synod_client_tls,
    identity: *const c_char,
) -> Result<Security, Error> {
    // SAFETY: NULL or a valid struct for the call (caller contract).
    let Some(tls) = (unsafe { tls.as_ref() }) else {
        if identity.is_null() {
            return Err(Error::null(
                "identity (needed when tls is NULL: an insecure client claims it)",
            ));
        }
        // SAFETY: forwarded caller contract.
        let identity = unsafe { identity_arg(identity, "identity")? };
        return Ok(Security::Insecure { identity });
    };
    // SAFETY: forwarded caller contract.
    let (cert, key, ca) = unsafe {
        (
            str_arg(tls.cert, "tls->cert")?,
            str_arg(tls.key, "tls->key")?,
            str_arg(tls.ca, "tls->ca")?,
        )
    };
    let config = TlsConfig::from_pem_files(Path::new(cert), Path::new(key), Path::new(ca))
        .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, format!("tls: {e}")))?;
    if !identity.is_null() {
        // SAFETY: forwarded caller contract.
        let want = unsafe { identity_arg(identity, "identity")? };
        if &want != config.identity() {
            return Err(Error::new(
                SYNOD_ERR_INVALID_IDENTITY,
                format!(
                    "identity {want} is not the subject of the certificate {cert} ({})",
                    config.identity()
                ),
            ));
        }
    }
    Ok(Security::Tls(config))
}

/// Makes a client for the members at `endpoints`: a comma-separated list of
/// `host:port` (spaces around entries ignored, at least one entry, e.g.
/// `"10.0.0.1:7401, 10.0.0.2:7401"`).
///
/// `tls` not NULL: mutual TLS with those files; the identity is the
/// certificate's subject, and `identity`, when not NULL, must equal it
/// (`SYNOD_ERR_INVALID_IDENTITY` otherwise). `tls` NULL: plain TCP claiming
/// `identity` (required then), for tests and development only. `timeout_ms`
/// (above 0) bounds each call given a `timeout_ms` of 0, retries included,
/// and each connection attempt of a client watch.
///
/// Connects lazily: nothing is sent until the first call, so an unreachable
/// cluster is reported by the calls (`SYNOD_ERR_UNREACHABLE`), not here.
/// Returns `SYNOD_OK` and writes a new client to `*out`, which the caller
/// owns and frees with `synod_client_free`. On failure `*out` is untouched:
/// `SYNOD_ERR_NULL_ARGUMENT`, `SYNOD_ERR_INVALID_ARGUMENT` (an endpoint that
/// is not `host:port`, an empty list, `timeout_ms` 0, TLS files that do not
/// load; the last error names which), `SYNOD_ERR_INVALID_IDENTITY`. Strings
/// are borrowed for the call only.
#[no_mangle]
pub unsafe extern "C" fn synod_client_new(
    endpoints: *const c_char,
    tls: *const synod_client_tls,
    identity: *const c_char,
    timeout_ms: u32,
    out: *mut *mut synod_client,
) -> synod_status {
    ffi_boundary!(status "synod_client_new", {
        let out = out_arg(out, "out")?;
        let endpoints = endpoints_arg(unsafe { str_arg(endpoints, "endpoints")? })?;
        if timeout_ms == 0 {
            return Err(Error::new(SYNOD_ERR_INVALID_ARGUMENT, "timeout_ms is 0"));
        }
        let security = unsafe { security_arg(tls, identity)? };
        let timeout = Duration::from_millis(u64::from(timeout_ms));
        let client = synod_client {
            inner: Mutex::new(Client::new(endpoints, security, timeout)),
            default_timeout: timeout,
        };
        unsafe { write_out(out, Box::into_raw(Box::new(client))) };
        Ok(())
    })
}

/// Closes the client's connection and frees it; `synod_client_free(NULL)`
/// does nothing.
///
/// Takes ownership of `client`, which must come from `synod_client_new` and
/// not be used again. Its watches (`synod_client_watch`) do not depend on it
/// and go on until cancelled or freed.
#[no_mangle]
pub unsafe extern "C" fn synod_client_free(client: *mut synod_client) {
    ffi_boundary!(value "synod_client_free", (), {
        if !client.is_null() {
            // SAFETY: created by `Box::into_raw`, freed once (caller contract).
            drop(unsafe { Box::from_raw(client) });
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_split_and_checked() {
        assert_eq!(
            endpoints_arg("127.0.0.1:1, localhost:2").unwrap(),
            vec!["127.0.0.1:1".to_string(), "localhost:2".to_string()]
        );
        for bad in [
            "",
            "a:1,",
            "nohost",
            "h:notaport",
            ",h:1",
            ":1",
            "h:0",
            "h:70000",
        ] {
            let e = endpoints_arg(bad).unwrap_err();
            assert_eq!(e.status, SYNOD_ERR_INVALID_ARGUMENT, "{bad:?}");
        }
    }

    #[test]
    fn client_errors_map_to_stable_statuses() {
        use synod::node::protocol::RemoteRefusal;
        let refused = client_error(ClientCallError::Remote(RemoteError::Refused {
            refusal: RemoteRefusal {
                code: 7,
                name: "stale-epoch".into(),
                text: "t".into(),
                refusal: None,
            },
            at: None,
        }));
        assert_eq!(refused.status, SYNOD_ERR_REFUSED);
        assert_eq!(refused.refusal.map(|r| r.code), Some(7));
        let cases = [
            (
                ClientCallError::Unreachable("x".into()),
                SYNOD_ERR_UNREACHABLE,
            ),
            (
                ClientCallError::Indeterminate("x".into()),
                SYNOD_ERR_INDETERMINATE,
            ),
            (ClientCallError::Unexpected("x"), SYNOD_ERR_PROTOCOL),
            (
                ClientCallError::Remote(RemoteError::Unauthorized("x".into())),
                SYNOD_ERR_UNAUTHORIZED,
            ),
            (
                ClientCallError::Remote(RemoteError::Timeout(5)),
                SYNOD_ERR_TIMEOUT,
            ),
        ];
        for (e, status) in cases {
            assert_eq!(client_error(e).status, status);
        }
    }
}
