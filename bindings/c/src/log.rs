//! The library's log records to a host callback: `synod_set_log_callback`
//! and `synod_log_dropped_total`.
//!
//! What it owns: one `tracing` layer, installed as the process's global
//! default subscriber the first time a callback is set, and the callback
//! in force, swapped under a lock that is never held while a callback runs.
//! What it promises: a record below the level asked for is not formatted
//! (the layer says it is not enabled); the old callback's free function runs
//! exactly once, after its last call returned and before the call that
//! replaced or unset it returns; a record emitted while a callback runs on
//! the same thread (the callback called into the library) is dropped, never
//! delivered re-entrantly, and counted, like every record that could not be
//! delivered. Without a callback libsynod writes no log anywhere.
//! Imports `error` and the free-function type of `node`.

use std::cell::Cell;
use std::ffi::{c_char, c_void, CString};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, RwLock};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

use crate::error::{synod_status, Error, SYNOD_ERR_INVALID_ARGUMENT};
use crate::node::synod_free_callback;

/// The severity of a log record, from `SYNOD_LOG_TRACE` (1, the most
/// verbose) to `SYNOD_LOG_ERROR` (5).
pub type synod_log_level = u32;

/// Very verbose records (none today).
pub const SYNOD_LOG_TRACE: synod_log_level = 1;
/// Details: connections opening and ending, leadership hand-overs.
pub const SYNOD_LOG_DEBUG: synod_log_level = 2;
/// Milestones: a cluster bootstrapped, a member joining or removed.
pub const SYNOD_LOG_INFO: synod_log_level = 3;
/// Something was refused or recovered from: a refused connection, a torn
/// write cut off, an exposed configuration.
pub const SYNOD_LOG_WARN: synod_log_level = 4;
/// A member stops, a write failed.
pub const SYNOD_LOG_ERROR: synod_log_level = 5;

/// No level: nothing is enabled.
const OFF: u32 = u32::MAX;

/// One key/value field of a record. Both strings are borrowed for the
/// callback's call only.
#[repr(C)]
pub struct synod_log_field {
    /// The field's name (`"peer"`, `"identity"`).
    pub key: *const c_char,
    /// Its value, formatted as text.
    pub value: *const c_char,
}

/// A log record, borrowed for the callback's call only: copy what must
/// outlive it.
#[repr(C)]
pub struct synod_log_record {
    /// Its severity.
    pub level: synod_log_level,
    /// Where it comes from: a Rust module path, `"synod::node::runner"` for
    /// the core, `"synod::node::open"` for this ABI.
    pub target: *const c_char,
    /// The message (may be empty).
    pub message: *const c_char,
    /// `field_count` key/value fields, in the order they were written
    /// (NULL when there are none).
    pub fields: *const synod_log_field,
    /// How many fields.
    pub field_count: usize,
    /// The source file, or NULL when unknown.
    pub file: *const c_char,
    /// The source line, or 0 when unknown.
    pub line: u32,
}

/// Receives the library's log records (see `synod_set_log_callback`).
/// Called from any library thread, several at once: it must be
/// thread-safe. It may call any libsynod function except
/// `synod_set_log_callback` (refused from a callback); records that such a
/// call emits on this thread are dropped and counted, not delivered.
pub type synod_log_callback =
    Option<unsafe extern "C" fn(user_data: *mut c_void, record: *const synod_log_record)>;

/// The callback in force with its user data; dropping it frees the user
/// data.
struct Sink {
    callback: unsafe extern "C" fn(*mut c_void, *const synod_log_record),
    user_data: *mut c_void,
    free: synod_free_callback,
}

// SAFETY: the host promises a thread-safe callback and user data
// (documented on `synod_set_log_callback`).
unsafe impl Send for Sink {}
unsafe impl Sync for Sink {}

impl Drop for Sink {
    fn drop(&mut self) {
        if let Some(free) = self.free {
            // SAFETY: the host's free function, called exactly once.
            unsafe { free(self.user_data) };
        }
    }
}

static SINK: RwLock<Option<Arc<Sink>>> = RwLock::new(None);
static LEVEL: AtomicU32 = AtomicU32::new(OFF);
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Signalled each time a callback's call ended.
static CALL_ENDED: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
/// Whether the layer is the global default (`Err`: another one was).
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

thread_local! {
    /// Set while this thread runs the log callback.
    static IN_CALLBACK: Cell<bool> = const { Cell::new(false) };
}

fn level_number(level: &Level) -> u32 {
    match *level {
        Level::ERROR => SYNOD_LOG_ERROR,
        Level::WARN => SYNOD_LOG_WARN,
        Level::INFO => SYNOD_LOG_INFO,
        Level::DEBUG => SYNOD_LOG_DEBUG,
        Level::TRACE => SYNOD_LOG_TRACE,
    }
}

/// The message and the fields of one record.
#[derive(Default)]
struct Fields {
    message: String,
    pairs: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message = value.to_string();
        } else {
            self.pairs
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.message = text;
        } else {
            self.pairs.push((field.name().to_string(), text));
        }
    }
}

/// A C copy of `s` (a NUL inside becomes `\0`).
fn c_text(s: &str) -> CString {
    CString::new(s.replace('\0', "\\0")).unwrap_or_default()
}

struct CallbackLayer;

impl<S: Subscriber> Layer<S> for CallbackLayer {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        // The level and the callback change at run time: ask every time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        metadata.is_event() && level_number(metadata.level()) >= LEVEL.load(Ordering::Relaxed)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        deliver(event);
    }
}

fn deliver(event: &Event<'_>) {
    match IN_CALLBACK.try_with(Cell::get) {
        Ok(false) => {}
        // Re-entered from the callback, or a thread being torn down.
        Ok(true) | Err(_) => {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    let sink = SINK.read().unwrap_or_else(|p| p.into_inner()).clone();
    let Some(sink) = sink else {
        return;
    };
    let metadata = event.metadata();
    let mut fields = Fields::default();
    event.record(&mut fields);
    let target = c_text(metadata.target());
    let message = c_text(&fields.message);
    let file = metadata.file().map(c_text);
    let pairs: Vec<(CString, CString)> = fields
        .pairs
        .iter()
        .map(|(k, v)| (c_text(k), c_text(v)))
        .collect();
    let c_fields: Vec<synod_log_field> = pairs
        .iter()
        .map(|(k, v)| synod_log_field {
            key: k.as_ptr(),
            value: v.as_ptr(),
        })
        .collect();
    let record = synod_log_record {
        level: level_number(metadata.level()),
        target: target.as_ptr(),
        message: message.as_ptr(),
        fields: if c_fields.is_empty() {
            std::ptr::null()
        } else {
            c_fields.as_ptr()
        },
        field_count: c_fields.len(),
        file: file.as_ref().map_or(std::ptr::null(), |f| f.as_ptr()),
        line: metadata.line().unwrap_or(0),
    };
    IN_CALLBACK.with(|c| c.set(true));
    // SAFETY: the host's callback with its user data; the record and its
    // strings live until it returns.
    unsafe { (sink.callback)(sink.user_data, &record) };
    IN_CALLBACK.with(|c| c.set(false));
    drop(sink);
    let _guard = CALL_ENDED.0.lock().unwrap_or_else(|p| p.into_inner());
    CALL_ENDED.1.notify_all();
}

/// Makes the layer the global default subscriber, once.
fn install() -> Result<(), Error> {
    INSTALLED
        .get_or_init(|| {
            let subscriber = tracing_subscriber::registry().with(CallbackLayer);
            tracing::subscriber::set_global_default(subscriber).map_err(|_| {
                "another tracing subscriber is already the process's global default, so \
                 libsynod cannot deliver its records"
                    .to_string()
            })
        })
        .clone()
        .map_err(|m| Error::new(SYNOD_ERR_INVALID_ARGUMENT, m))
}

/// Sends the library's log records at `level` and above (`SYNOD_LOG_TRACE`
/// .. `SYNOD_LOG_ERROR`) to `callback`, replacing the callback in force; a
/// NULL `callback` unsets it (then `level` and `user_data` are ignored).
/// Records below `level` are not even formatted. Without a callback libsynod
/// writes no log at all (nothing to stderr either).
///
/// The callback runs on the thread that emitted the record (any library
/// thread: drivers, transports, a start, the caller's own thread), possibly
/// on several threads at once, so it and `user_data` must be thread-safe.
/// It receives a borrowed `synod_log_record`. It may call into the library;
/// a record that such a call emits on the same thread is dropped (never
/// delivered re-entrantly) and counted in `synod_log_dropped_total`, and
/// `synod_set_log_callback` itself is refused from inside a callback.
///
/// `free_user_data` (if not NULL) releases `user_data`, exactly once: when
/// a later call replaces or unsets this callback, after the last call of
/// this callback has returned and before that later call returns (it waits
/// for calls in progress on other threads). On failure the callback is not
/// installed, the one in force stays, and `free_user_data` is called before
/// this function returns.
///
/// The first callback makes libsynod's `tracing` layer the process's global
/// default subscriber, for good. Returns `SYNOD_OK`;
/// `SYNOD_ERR_INVALID_ARGUMENT` for an unknown level, a call from inside a
/// log callback, or a process where another `tracing` subscriber is the
/// global default already (a Rust host that installed its own). Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn synod_set_log_callback(
    level: synod_log_level,
    callback: synod_log_callback,
    user_data: *mut c_void,
    free_user_data: synod_free_callback,
) -> synod_status {
    ffi_boundary!(status "synod_set_log_callback", {
        // Owns `user_data` from here on: freed on every failure below.
        let new = callback.map(|callback| {
            Arc::new(Sink {
                callback,
                user_data,
                free: free_user_data,
            })
        });
        if IN_CALLBACK.try_with(Cell::get).unwrap_or(true) {
            return Err(Error::new(
                SYNOD_ERR_INVALID_ARGUMENT,
                "synod_set_log_callback was called from inside a log callback",
            ));
        }
        if new.is_some() {
            if !(SYNOD_LOG_TRACE..=SYNOD_LOG_ERROR).contains(&level) {
                return Err(Error::new(
                    SYNOD_ERR_INVALID_ARGUMENT,
                    format!("level {level} is not a synod_log_level"),
                ));
            }
            install()?;
        }
        let old = {
            let mut sink = SINK.write().unwrap_or_else(|p| p.into_inner());
            LEVEL.store(if new.is_some() { level } else { OFF }, Ordering::Relaxed);
            std::mem::replace(&mut *sink, new)
        };
        if let Some(old) = old {
            // Wait until no thread still runs the old callback, then free
            // its user data here (dropping the last reference).
            let mut guard = CALL_ENDED.0.lock().unwrap_or_else(|p| p.into_inner());
            while Arc::strong_count(&old) > 1 {
                guard = CALL_ENDED
                    .1
                    .wait_timeout(guard, Duration::from_millis(10))
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            drop(guard);
            drop(old);
        }
        Ok(())
    })
}

/// How many log records were dropped since the process started: emitted
/// while a log callback ran on the same thread (the callback called into
/// the library), or on a thread being torn down. Records below the level
/// asked for, or emitted while no callback is set, are not counted.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn synod_log_dropped_total() -> u64 {
    ffi_boundary!(value "synod_log_dropped_total", 0, {
        DROPPED.load(Ordering::Relaxed)
    })
}
