//! The configuration builder (`synod_config`): a member's configuration
//! built in code, one setter per key of the configuration file, or read from
//! a file and then changed. `synod_node_start_config` (in `node/open.rs`)
//! starts a member from it.
//!
//! What it promises: every setter checks its value at once, with the core's
//! own rules, and on failure leaves the configuration as it was and names
//! the field (`tls.deny: ...`) in the last error. The builder keeps the
//! document it builds as TOML, the format of `synod node --config`, and
//! the start hands it to the core's parser (`NodeConfig::parse`), so a built
//! configuration and a file are checked by the same code; rules that tie
//! fields together (this member among the bootstrap members, plain TCP on
//! loopback only, `heartbeat_ticks` below `election_ticks` once both are
//! known) are checked again as a whole at the start.
//! What it does not carry: TLS material as PEM bytes (the core reads
//! certificates and keys from files only), and any way to propose bytes.
//! Imports `error` and `identity` only.

use std::ffi::c_char;
use std::path::{Path, PathBuf};

use synod::node::config::{check_key_permissions, ConfigError, NodeConfig, TlsSettings};
use synod::MemberAddress;
use toml::{Table, Value};

use crate::error::{
    out_arg, str_arg, synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT, SYNOD_ERR_INVALID_IDENTITY,
};
use crate::identity::parse_identity;

/// A member's configuration under construction: the keys of the
/// configuration file (docs/configuration.md), set one at a time.
///
/// Thread safety: one thread at a time while it is changed; any number of
/// threads may start members from it at once (`synod_node_start_config`
/// only reads it). Free it exactly once with `synod_config_free`; a member
/// started from it does not depend on it.
pub struct synod_config {
    pub(crate) doc: Table,
}

/// What the core's parser names a configuration built in code.
const BUILT: &str = "synod_config";

impl synod_config {
    /// The validated configuration of the core, as `NodeConfig::load` would
    /// give it for a file: parsed by the core, and (on Unix) the private
    /// key's permissions checked.
    pub(crate) fn node_config(&self) -> Result<NodeConfig, Error> {
        for (key, setter) in [
            ("id", "synod_config_set_id"),
            ("listen", "synod_config_set_listen"),
            ("data_dir", "synod_config_set_data_dir"),
        ] {
            if !self.doc.contains_key(key) {
                return Err(invalid(key, format!("not set (call {setter})")));
            }
        }
        let cluster = self.doc.get("cluster").and_then(Value::as_table);
        if cluster.is_none_or(Table::is_empty) {
            return Err(invalid(
                "cluster",
                "not set: add the bootstrap members (synod_config_add_bootstrap_member) or set \
                 the member to join through (synod_config_set_join)",
            ));
        }
        let text = toml::to_string(&self.doc)
            .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let mut config = NodeConfig::parse(&text, Path::new(BUILT)).map_err(config_error)?;
        if let TlsSettings::Mutual { key, .. } = &config.tls {
            let key = key.clone();
            if let Some(w) =
                check_key_permissions(Path::new(BUILT), &key, config.allow_key_readable_by_others)
                    .map_err(config_error)?
            {
                config.warnings.push(w);
            }
        }
        Ok(config)
    }
}

impl synod_config {
    /// The configuration of a member whose host carries its messages
    /// (`synod_node_start_host`): `listen` and the `[tls]` files and flags
    /// belong to the TCP transport and are ignored (the core's parser sees a
    /// placeholder loopback listener without TLS); the settings that would
    /// silently do nothing with a host's transport are refused, each named:
    /// `tls.deny`, `tls.crl` (the host authenticates and refuses peers) and
    /// `admin.metrics_listen` (no listener: `synod_node_metrics_text`).
    pub(crate) fn host_node_config(&self) -> Result<NodeConfig, Error> {
        if let Some(tls) = self.doc.get("tls").and_then(Value::as_table) {
            for key in ["deny", "crl"] {
                if tls.contains_key(key) {
                    return Err(invalid(
                        &format!("tls.{key}"),
                        "revocation lists belong to the TCP transport; with a host's transport \
                         the host authenticates its peers and refuses them itself",
                    ));
                }
            }
        }
        if let Some(admin) = self.doc.get("admin").and_then(Value::as_table) {
            if admin.contains_key("metrics_listen") {
                return Err(invalid(
                    "admin.metrics_listen",
                    "a member on a host's transport opens no listener; read its metrics with \
                     synod_node_metrics_text",
                ));
            }
        }
        let mut doc = self.doc.clone();
        doc.insert("listen".into(), "127.0.0.1:0".into());
        let mut tls = Table::new();
        tls.insert("insecure".into(), true.into());
        doc.insert("tls".into(), Value::Table(tls));
        synod_config { doc }.node_config()
    }
}

fn invalid(field: &str, message: impl std::fmt::Display) -> Error {
    Error::new(SYNOD_ERR_INVALID_ARGUMENT, format!("{field}: {message}"))
}

/// A refusal of the core's parser, as the last error: `field: why`.
fn config_error(e: ConfigError) -> Error {
    match e {
        ConfigError::Invalid { field, message, .. } => invalid(&field, message),
        other => Error::new(SYNOD_ERR_INVALID_ARGUMENT, other.to_string()),
    }
}

/// Runs the core's parser on a minimal valid document changed by `edit`:
/// the check of one value by the core's own rules.
fn probe(edit: impl FnOnce(&mut Table)) -> Result<(), ConfigError> {
    let mut doc = Table::new();
    doc.insert("id".into(), "CN=synod-probe".into());
    doc.insert("listen".into(), "127.0.0.1:1".into());
    doc.insert("data_dir".into(), "/synod-probe".into());
    let tls = section(&mut doc, "tls");
    for (key, path) in [("cert", "/c.pem"), ("key", "/k.pem"), ("ca", "/ca.pem")] {
        tls.insert(key.into(), path.into());
    }
    section(&mut doc, "cluster").insert("join".into(), "127.0.0.1:1".into());
    edit(&mut doc);
    let text = toml::to_string(&doc).map_err(|e| ConfigError::Parse {
        path: BUILT.into(),
        message: e.to_string(),
    })?;
    NodeConfig::parse(&text, Path::new(BUILT)).map(|_| ())
}

/// The table `name` of `doc`, created empty if missing.
fn section<'a>(doc: &'a mut Table, name: &str) -> &'a mut Table {
    let entry = doc
        .entry(name.to_string())
        .or_insert_with(|| Value::Table(Table::new()));
    if !entry.is_table() {
        *entry = Value::Table(Table::new());
    }
    match entry {
        Value::Table(t) => t,
        _ => unreachable!("replaced by a table just above"),
    }
}

/// The configuration behind `cfg` (NULL: `SYNOD_ERR_NULL_ARGUMENT`).
unsafe fn config_arg<'a>(cfg: *mut synod_config) -> Result<&'a mut synod_config, Error> {
    // SAFETY: NULL or a live handle used by one thread (caller contract).
    unsafe { cfg.as_mut() }.ok_or_else(|| Error::null("cfg"))
}

/// A string argument for `field`: NULL and non-UTF-8 named by the field.
unsafe fn text_arg<'a>(p: *const c_char, field: &str) -> Result<&'a str, Error> {
    // SAFETY: forwarded caller contract.
    unsafe { str_arg(p, field) }
}

/// An identity for `field`, checked as the core checks the file's
/// identities (a certificate subject in RFC 4514 form).
unsafe fn identity_for(p: *const c_char, field: &str) -> Result<String, Error> {
    let s = unsafe { text_arg(p, field)? };
    let id = parse_identity(s, field)?;
    probe(|doc| {
        doc.insert("id".into(), s.into());
    })
    .map_err(|e| {
        let why = match e {
            ConfigError::Invalid { message, .. } => message,
            other => other.to_string(),
        };
        Error::new(SYNOD_ERR_INVALID_IDENTITY, format!("{field}: {why}"))
    })?;
    Ok(id.as_str().to_string())
}

/// A `host:port` address for `field` (port 0 allowed: any free port).
unsafe fn address_for(p: *const c_char, field: &str) -> Result<String, Error> {
    let s = unsafe { text_arg(p, field)? }.trim();
    s.parse::<MemberAddress>().map_err(|e| invalid(field, e))?;
    let bad = || invalid(field, format!("{s:?} is not host:port"));
    let (host, port) = s.rsplit_once(':').ok_or_else(bad)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.is_empty() || port.parse::<u16>().is_err() {
        return Err(bad());
    }
    Ok(s.to_string())
}

/// A file or directory path for `field`, made absolute against the current
/// working directory.
unsafe fn path_for(p: *const c_char, field: &str) -> Result<String, Error> {
    let s = unsafe { text_arg(p, field)? };
    if s.trim().is_empty() {
        return Err(invalid(field, "the path is empty"));
    }
    let path = std::path::absolute(s).map_err(|e| invalid(field, e))?;
    path.to_str()
        .map(str::to_string)
        .ok_or_else(|| invalid(field, "the path is not UTF-8"))
}

/// Appends `value` to the list `section.key`.
fn push(doc: &mut Table, section_name: &str, key: &str, value: Value) {
    let list = section(doc, section_name)
        .entry(key.to_string())
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Array(items) = list {
        items.push(value);
    } else {
        *list = Value::Array(vec![value]);
    }
}

/// Sets the number `section.key` to `value` (at least `min`), checked with
/// the other settings of its section as set so far.
unsafe fn set_number(
    cfg: *mut synod_config,
    section_name: &str,
    key: &str,
    value: u64,
    min: u64,
) -> Result<(), Error> {
    let cfg = unsafe { config_arg(cfg)? };
    let field = format!("{section_name}.{key}");
    if value < min {
        return Err(invalid(&field, format!("must be at least {min}")));
    }
    let number =
        i64::try_from(value).map_err(|_| invalid(&field, format!("{value} is too large")))?;
    let mut candidate = cfg
        .doc
        .get(section_name)
        .and_then(Value::as_table)
        .cloned()
        .unwrap_or_default();
    candidate.insert(key.into(), Value::Integer(number));
    let checked = candidate.clone();
    probe(move |doc| {
        doc.insert(section_name.into(), Value::Table(checked));
    })
    .map_err(|e| match e {
        ConfigError::Invalid { message, .. } => invalid(&field, message),
        other => invalid(&field, other),
    })?;
    cfg.doc.insert(section_name.into(), Value::Table(candidate));
    Ok(())
}

/// Sets the flag `tls.key` (`false` removes it).
fn set_flag(cfg: &mut synod_config, key: &str, value: bool) -> Result<(), Error> {
    let tls = section(&mut cfg.doc, "tls");
    if value {
        tls.insert(key.into(), Value::Boolean(true));
    } else {
        tls.remove(key);
    }
    Ok(())
}

/// Adds an identity to `authorization.<key>`.
unsafe fn authorize(
    cfg: *mut synod_config,
    key: &str,
    identity: *const c_char,
) -> Result<(), Error> {
    let cfg = unsafe { config_arg(cfg)? };
    let id = unsafe { identity_for(identity, &format!("authorization.{key}"))? };
    push(&mut cfg.doc, "authorization", key, id.into());
    Ok(())
}

/// Creates an empty configuration: every key unset (the defaults of
/// docs/configuration.md); `id`, `listen`, `data_dir`, the TLS settings and
/// the bootstrap members or join address must be set before a start.
///
/// Returns `SYNOD_OK` and writes `*out`, or `SYNOD_ERR_NULL_ARGUMENT`
/// leaving it untouched. The caller owns `*out` and frees it with
/// `synod_config_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_new(out: *mut *mut synod_config) -> synod_status {
    ffi_boundary!(status "synod_config_new", {
        let out = out_arg(out, "out")?;
        let cfg = Box::new(synod_config { doc: Table::new() });
        // SAFETY: `out` is valid and writable (caller contract).
        unsafe { out.write(Box::into_raw(cfg)) };
        Ok(())
    })
}

/// Reads a configuration file (the format of `synod node --config`,
/// docs/configuration.md) into a new configuration that the setters may
/// then change. The file is checked whole, as `synod_node_start` checks it
/// (on Unix, the private key's permissions too), and its relative paths are
/// made absolute against the file's directory.
///
/// Returns `SYNOD_OK` and writes `*out`. On failure `*out` is untouched:
/// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_ARGUMENT` for a file that
/// cannot be read or is refused (the last error names the file and the
/// field). The caller owns `*out` and frees it with `synod_config_free`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_from_file(
    path: *const c_char,
    out: *mut *mut synod_config,
) -> synod_status {
    ffi_boundary!(status "synod_config_from_file", {
        let out = out_arg(out, "out")?;
        let path = Path::new(unsafe { str_arg(path, "path")? });
        NodeConfig::load(path).map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::new(SYNOD_ERR_INVALID_ARGUMENT, format!("cannot read {}: {e}", path.display()))
        })?;
        let mut doc: Table = toml::from_str(&text).map_err(|e| {
            Error::new(SYNOD_ERR_INVALID_ARGUMENT, format!("{}: {e}", path.display()))
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let absolute = |v: &mut Value| {
            if let Value::String(s) = v {
                let joined: PathBuf = base.join(s.as_str());
                if let Some(text) = std::path::absolute(joined).ok().and_then(|p| {
                    p.to_str().map(str::to_string)
                }) {
                    *s = text;
                }
            }
        };
        if let Some(v) = doc.get_mut("data_dir") {
            absolute(v);
        }
        if let Some(Value::Table(tls)) = doc.get_mut("tls") {
            for key in ["cert", "key", "ca", "crl"] {
                if let Some(v) = tls.get_mut(key) {
                    absolute(v);
                }
            }
        }
        let cfg = Box::new(synod_config { doc });
        // SAFETY: `out` is valid and writable (caller contract).
        unsafe { out.write(Box::into_raw(cfg)) };
        Ok(())
    })
}

/// Frees a configuration; `synod_config_free(NULL)` does nothing.
///
/// Takes ownership of `cfg`, which must not be used again. Members started
/// from it keep running.
#[no_mangle]
pub unsafe extern "C" fn synod_config_free(cfg: *mut synod_config) {
    ffi_boundary!(value "synod_config_free", (), {
        if !cfg.is_null() {
            // SAFETY: created by `Box::into_raw` here, freed once (caller
            // contract).
            drop(unsafe { Box::from_raw(cfg) });
        }
    })
}

/// The configuration as the text of a configuration file (TOML, paths
/// absolute): what `synod_node_start_config` checks and starts, and what
/// `synod node --config` would read.
///
/// Returns `SYNOD_OK` and writes a new string to `*out`, which the caller
/// owns and frees with `synod_string_free`; `SYNOD_ERR_NULL_ARGUMENT`
/// leaves it untouched. Does not check the configuration.
#[no_mangle]
pub unsafe extern "C" fn synod_config_to_toml(
    cfg: *const synod_config,
    out: *mut *mut c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_to_toml", {
        let out = out_arg(out, "out")?;
        // SAFETY: NULL or a live handle (caller contract).
        let cfg = unsafe { cfg.as_ref() }.ok_or_else(|| Error::null("cfg"))?;
        let text = toml::to_string(&cfg.doc)
            .map_err(|e| Error::new(SYNOD_ERR_INVALID_ARGUMENT, e.to_string()))?;
        let text = crate::error::c_string(&text)?;
        // SAFETY: `out` is valid and writable (caller contract).
        unsafe { out.write(text.into_raw()) };
        Ok(())
    })
}

/// Sets `id`: this member's identity, the subject of its certificate in
/// RFC 4514 form (`"CN=node-a,O=Acme"`).
///
/// Every setter returns `SYNOD_OK`, or fails leaving the configuration as
/// it was, the last error naming the field: `SYNOD_ERR_NULL_ARGUMENT` (`cfg`
/// or a string is NULL), `SYNOD_ERR_INVALID_ARGUMENT` (not UTF-8, a bad
/// address or path, a number out of range), `SYNOD_ERR_INVALID_IDENTITY` (an
/// identity the core refuses, OpenSSL's `"CN=a, O=b"` style included).
/// Strings are borrowed for the call only. A setter replaces an earlier
/// value of its key; `add` functions append to a list.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_id(
    cfg: *mut synod_config,
    identity: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_id", {
        let cfg = unsafe { config_arg(cfg)? };
        let id = unsafe { identity_for(identity, "id")? };
        cfg.doc.insert("id".into(), id.into());
        Ok(())
    })
}

/// Sets `listen`: the `host:port` this member binds for peers and clients
/// (port 0: any free port). Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_listen(
    cfg: *mut synod_config,
    address: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_listen", {
        let cfg = unsafe { config_arg(cfg)? };
        let address = unsafe { address_for(address, "listen")? };
        cfg.doc.insert("listen".into(), address.into());
        Ok(())
    })
}

/// Sets `data_dir`: the member's durable store, created if missing. A
/// relative path is made absolute against the current working directory
/// now. Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_data_dir(
    cfg: *mut synod_config,
    path: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_data_dir", {
        let cfg = unsafe { config_arg(cfg)? };
        let path = unsafe { path_for(path, "data_dir")? };
        cfg.doc.insert("data_dir".into(), path.into());
        Ok(())
    })
}

/// Adds a founding member to `cluster.bootstrap`: its identity, kind
/// (`SYNOD_MEMBER_KIND_DATA` or `SYNOD_MEMBER_KIND_WITNESS`) and the
/// `host:port` the others reach it at (its advertised address). Every
/// founding member lists the same members; this member must be among them.
///
/// Also `SYNOD_ERR_INVALID_ARGUMENT` when a join address is set (a member
/// bootstraps or joins, not both), or the identity is listed already. Other
/// statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_add_bootstrap_member(
    cfg: *mut synod_config,
    identity: *const c_char,
    kind: u32,
    address: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_add_bootstrap_member", {
        let cfg = unsafe { config_arg(cfg)? };
        let field = "cluster.bootstrap";
        let id = unsafe { identity_for(identity, &format!("{field}.id"))? };
        let kind = match kind {
            crate::SYNOD_MEMBER_KIND_DATA => "data",
            crate::SYNOD_MEMBER_KIND_WITNESS => "witness",
            other => {
                return Err(invalid(
                    &format!("{field}.kind"),
                    format!("{other} is not a synod_member_kind"),
                ))
            }
        };
        let address = unsafe { address_for(address, &format!("{field}.address"))? };
        let cluster = cfg.doc.get("cluster").and_then(Value::as_table);
        if cluster.is_some_and(|c| c.contains_key("join")) {
            return Err(invalid(field, "a join address is set: a member bootstraps or joins"));
        }
        let listed = cluster
            .and_then(|c| c.get("bootstrap"))
            .and_then(Value::as_array)
            .is_some_and(|members| {
                members.iter().any(|m| {
                    m.get("id")
                        .and_then(Value::as_str)
                        .and_then(|s| parse_identity(s, field).ok())
                        .is_some_and(|m| m.as_str() == id)
                })
            });
        if listed {
            return Err(invalid(field, format!("{id} is listed already")));
        }
        let mut member = Table::new();
        member.insert("id".into(), id.into());
        member.insert("kind".into(), kind.into());
        member.insert("address".into(), address.into());
        push(&mut cfg.doc, "cluster", "bootstrap", Value::Table(member));
        Ok(())
    })
}

/// Sets `cluster.join`: the `host:port` of a member of an existing cluster
/// this member joins through (an operator must have admitted it first).
/// Used only when the data directory holds no cluster yet.
///
/// Also `SYNOD_ERR_INVALID_ARGUMENT` when bootstrap members are set. Other
/// statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_join(
    cfg: *mut synod_config,
    address: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_join", {
        let cfg = unsafe { config_arg(cfg)? };
        let address = unsafe { address_for(address, "cluster.join")? };
        let cluster = section(&mut cfg.doc, "cluster");
        if cluster.contains_key("bootstrap") {
            return Err(invalid(
                "cluster.join",
                "bootstrap members are set: a member bootstraps or joins",
            ));
        }
        cluster.insert("join".into(), address.into());
        Ok(())
    })
}

/// Sets `tls.cert`, `tls.key` and `tls.ca`: mutual TLS with these PEM files
/// (this member's certificate chain, its private key, the CA bundle).
/// Relative paths are made absolute against the current working directory
/// now; the files are read at the start (on Unix the key must not be
/// readable by group or others, see `synod_config_set_allow_key_readable_by_others`).
///
/// Also `SYNOD_ERR_INVALID_ARGUMENT` when `insecure` is set. Other
/// statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_tls_files(
    cfg: *mut synod_config,
    cert: *const c_char,
    key: *const c_char,
    ca: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_tls_files", {
        let cfg = unsafe { config_arg(cfg)? };
        let cert = unsafe { path_for(cert, "tls.cert")? };
        let key = unsafe { path_for(key, "tls.key")? };
        let ca = unsafe { path_for(ca, "tls.ca")? };
        let tls = section(&mut cfg.doc, "tls");
        if tls.get("insecure").and_then(Value::as_bool) == Some(true) {
            return Err(invalid("tls", "insecure is set: mutual TLS or plain TCP, not both"));
        }
        tls.insert("cert".into(), cert.into());
        tls.insert("key".into(), key.into());
        tls.insert("ca".into(), ca.into());
        Ok(())
    })
}

/// Sets `tls.insecure`: plain TCP, identities merely claimed (tests and
/// development only; refused at the start on a `listen` address that is
/// not loopback unless `allow_insecure_non_loopback` is set). `false`
/// removes the setting.
///
/// Also `SYNOD_ERR_INVALID_ARGUMENT` when TLS files are set. Other statuses:
/// see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_insecure(
    cfg: *mut synod_config,
    insecure: bool,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_insecure", {
        let cfg = unsafe { config_arg(cfg)? };
        let tls = section(&mut cfg.doc, "tls");
        if insecure && ["cert", "key", "ca"].iter().any(|k| tls.contains_key(*k)) {
            return Err(invalid(
                "tls.insecure",
                "TLS files are set: mutual TLS or plain TCP, not both",
            ));
        }
        set_flag(cfg, "insecure", insecure)
    })
}

/// Sets `tls.allow_insecure_non_loopback`: with `insecure`, accept a
/// `listen` address that is not loopback (a warning is logged at start).
/// Checked with the rest at the start. Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_allow_insecure_non_loopback(
    cfg: *mut synod_config,
    allow: bool,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_allow_insecure_non_loopback", {
        let cfg = unsafe { config_arg(cfg)? };
        set_flag(cfg, "allow_insecure_non_loopback", allow)
    })
}

/// Sets `tls.allow_key_readable_by_others`: accept a private key file that
/// its group or others have permissions on (a warning at start instead of
/// a refusal). Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_allow_key_readable_by_others(
    cfg: *mut synod_config,
    allow: bool,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_allow_key_readable_by_others", {
        let cfg = unsafe { config_arg(cfg)? };
        set_flag(cfg, "allow_key_readable_by_others", allow)
    })
}

/// Adds an identity to `tls.deny`: refused although the CA signed it, as a
/// client and as a peer (mutual TLS only; not this member's own identity,
/// checked at the start). Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_add_deny(
    cfg: *mut synod_config,
    identity: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_add_deny", {
        let cfg = unsafe { config_arg(cfg)? };
        let id = unsafe { identity_for(identity, "tls.deny")? };
        push(&mut cfg.doc, "tls", "deny", id.into());
        Ok(())
    })
}

/// Sets `tls.crl`: a PEM file of the CA's revocation lists (mutual TLS
/// only), read at the start. Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_crl(
    cfg: *mut synod_config,
    path: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_crl", {
        let cfg = unsafe { config_arg(cfg)? };
        let path = unsafe { path_for(path, "tls.crl")? };
        section(&mut cfg.doc, "tls").insert("crl".into(), path.into());
        Ok(())
    })
}

/// Adds an identity to `authorization.readers` (may read). Statuses: see
/// `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_add_reader(
    cfg: *mut synod_config,
    identity: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_add_reader", {
        unsafe { authorize(cfg, "readers", identity) }
    })
}

/// Adds an identity to `authorization.proposers` (may read and propose
/// ownership transitions). Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_add_proposer(
    cfg: *mut synod_config,
    identity: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_add_proposer", {
        unsafe { authorize(cfg, "proposers", identity) }
    })
}

/// Adds an identity to `authorization.operators` (may do everything).
/// Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_add_operator(
    cfg: *mut synod_config,
    identity: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_add_operator", {
        unsafe { authorize(cfg, "operators", identity) }
    })
}

/// Sets `engine.tick_ms`: one tick, in milliseconds (default 50; at least
/// 1). Every `engine` setter is checked with the engine settings set so far
/// (`heartbeat_ticks` below `election_ticks`, an election timeout of at
/// most a day); set `election_ticks` before a `heartbeat_ticks` it must
/// exceed. Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_tick_ms(cfg: *mut synod_config, ms: u64) -> synod_status {
    ffi_boundary!(status "synod_config_set_tick_ms", {
        unsafe { set_number(cfg, "engine", "tick_ms", ms, 1) }
    })
}

/// Sets `engine.heartbeat_ticks`: ticks between leader heartbeats (default
/// 1; at least 1, below `election_ticks`). See `synod_config_set_tick_ms`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_heartbeat_ticks(
    cfg: *mut synod_config,
    ticks: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_heartbeat_ticks", {
        unsafe { set_number(cfg, "engine", "heartbeat_ticks", ticks, 1) }
    })
}

/// Sets `engine.election_ticks`: the base election timeout in ticks
/// (default 10; above `heartbeat_ticks`). See `synod_config_set_tick_ms`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_election_ticks(
    cfg: *mut synod_config,
    ticks: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_election_ticks", {
        unsafe { set_number(cfg, "engine", "election_ticks", ticks, 1) }
    })
}

/// Sets `engine.snapshot_every`: applied entries between snapshots, the
/// snapshot threshold (default 10000; at least 1). See
/// `synod_config_set_tick_ms`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_snapshot_every(
    cfg: *mut synod_config,
    entries: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_snapshot_every", {
        unsafe { set_number(cfg, "engine", "snapshot_every", entries, 1) }
    })
}

/// Sets `engine.max_learner_lag`: a learner within this many entries of the
/// leader is promoted to voter (default 64; 0 allowed). See
/// `synod_config_set_tick_ms`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_max_learner_lag(
    cfg: *mut synod_config,
    entries: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_max_learner_lag", {
        unsafe { set_number(cfg, "engine", "max_learner_lag", entries, 0) }
    })
}

/// Sets `engine.max_pending_calls`: calls in flight at once, past which
/// calls answer `SYNOD_ERR_OVERLOADED` (default 4096; at least 1).
/// Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_max_pending_calls(
    cfg: *mut synod_config,
    calls: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_max_pending_calls", {
        unsafe { set_number(cfg, "engine", "max_pending_calls", calls, 1) }
    })
}

/// Sets `engine.max_inbound_messages`: peer messages waiting for the
/// driver (default 4096; at least 1). Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_max_inbound_messages(
    cfg: *mut synod_config,
    messages: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_max_inbound_messages", {
        unsafe { set_number(cfg, "engine", "max_inbound_messages", messages, 1) }
    })
}

/// Sets `engine.watch_history`: recent committed entries kept for watches
/// that start in the past (default 65536; at least 1). Statuses: see
/// `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_watch_history(
    cfg: *mut synod_config,
    entries: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_watch_history", {
        unsafe { set_number(cfg, "engine", "watch_history", entries, 1) }
    })
}

/// Sets `admin.metrics_listen`: the `host:port` of the plain-HTTP
/// `GET /metrics` listener, or a port alone (`"9401"`), which binds
/// 127.0.0.1 (port 0: any free port). Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_metrics_listen(
    cfg: *mut synod_config,
    address: *const c_char,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_metrics_listen", {
        let cfg = unsafe { config_arg(cfg)? };
        let field = "admin.metrics_listen";
        let address = unsafe { text_arg(address, field)? }.trim().to_string();
        let checked = address.clone();
        probe(move |doc| {
            section(doc, "admin").insert("metrics_listen".into(), checked.into());
        })
        .map_err(config_error)?;
        section(&mut cfg.doc, "admin").insert("metrics_listen".into(), address.into());
        Ok(())
    })
}

/// Sets `transport.max_inbound`: connections in their TLS handshake plus
/// accepted peer connections at once (default 64; at least 1). Statuses:
/// see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_max_inbound(
    cfg: *mut synod_config,
    connections: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_max_inbound", {
        unsafe { set_number(cfg, "transport", "max_inbound", connections, 1) }
    })
}

/// Sets `transport.max_client_connections`: client connections open at
/// once (default 16384; at least 1). Statuses: see `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_max_client_connections(
    cfg: *mut synod_config,
    connections: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_max_client_connections", {
        unsafe { set_number(cfg, "transport", "max_client_connections", connections, 1) }
    })
}

/// Sets `transport.max_client_connections_per_identity`: client connections
/// one identity may hold at once (default 16; at least 1). Statuses: see
/// `synod_config_set_id`.
#[no_mangle]
pub unsafe extern "C" fn synod_config_set_max_client_connections_per_identity(
    cfg: *mut synod_config,
    connections: u64,
) -> synod_status {
    ffi_boundary!(status "synod_config_set_max_client_connections_per_identity", {
        unsafe {
            set_number(
                cfg,
                "transport",
                "max_client_connections_per_identity",
                connections,
                1,
            )
        }
    })
}
