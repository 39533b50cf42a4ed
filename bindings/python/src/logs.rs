//! The logging bridge: the library's `tracing` records go to Python's
//! `logging`, under the `synod` logger (target `synod::transport::tcp` to
//! `synod.transport.tcp`, raft's `raft` to `synod.raft`).
//!
//! A global `tracing` subscriber ([`Bridge`]) is installed when the module
//! is imported. It never takes the GIL and never blocks: a record is
//! formatted only if its level is one some `synod` logger is enabled for
//! (the drain thread re-reads those levels every [`REFRESH`], and
//! `refresh_logging()` at once), then put on a bounded queue
//! ([`CAPACITY`] records); when the queue is full the record is dropped and
//! counted (`log_dropped()`), and the next batch carries a WARNING on the
//! `synod` logger saying how many were lost. A drain thread (a Rust thread)
//! takes records off the queue and, holding the GIL, hands each batch to
//! `logs.py`, which builds the `LogRecord`s and passes them to their
//! loggers. `flush_logs()` waits until every record queued before it has
//! been handed over; an `atexit` hook does it at interpreter exit and stops
//! the drain thread, before `logging` shuts its handlers down.
//!
//! Nothing is printed unless the application configures logging: the
//! `synod` logger has a `NullHandler`, as a library's should.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError, TrySendError};
use std::sync::{Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyModule, PyString, PyTuple};

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record as SpanRecord};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use crate::blocking::SLICE;
use crate::errors::invalid_argument;

/// How many records wait for the drain thread at most.
const CAPACITY: usize = 8192;
/// How many records the drain thread hands over per GIL acquisition.
const BATCH: usize = 512;
/// How often the drain thread re-reads the `synod` loggers' levels.
const REFRESH: Duration = Duration::from_millis(250);
/// How often at most a WARNING reports dropped records.
const DROP_REPORT: Duration = Duration::from_secs(1);
/// How long the exit hook waits for the drain thread.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// A field's value, kept typed for `record.synod_fields`.
enum Value {
    Str(String),
    I64(i64),
    U64(u64),
    I128(i128),
    U128(u128),
    F64(f64),
    Bool(bool),
}

/// One `tracing` event, as queued.
struct LogRecord {
    target: &'static str,
    level: Level,
    message: String,
    fields: Vec<(&'static str, Value)>,
    file: Option<&'static str>,
    line: Option<u32>,
    /// Seconds since the Unix epoch.
    created: f64,
    thread: Option<String>,
}

enum Msg {
    Record(Box<LogRecord>),
    /// Answered once every message before it has been handed over.
    Flush(SyncSender<()>),
    /// Wakes the drain thread (to see `stopped`).
    Wake,
}

/// The state the subscriber, the drain thread and the module's functions
/// share.
struct Shared {
    tx: SyncSender<Msg>,
    /// Records dropped so far (queue full, or the bridge stopped).
    dropped: AtomicU64,
    /// The most verbose level enabled, as a [`rank`] (0: none).
    level: AtomicUsize,
    /// Set by the exit hook: the drain thread hands over what is queued and
    /// ends.
    stopped: AtomicBool,
    drain: Mutex<Option<JoinHandle<()>>>,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

/// `logs.py`'s `_emit` and `_threshold`.
static PYTHON: PyOnceLock<(Py<PyAny>, Py<PyAny>)> = PyOnceLock::new();

/// 1 (ERROR) to 5 (TRACE): a level is enabled when its rank is at most the
/// shared one.
fn rank(level: &Level) -> usize {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

/// The `logging` level number of a `tracing` level (TRACE is 5).
fn levelno(level: &Level) -> u32 {
    match *level {
        Level::ERROR => 40,
        Level::WARN => 30,
        Level::INFO => 20,
        Level::DEBUG => 10,
        Level::TRACE => 5,
    }
}

/// The rank of the most verbose `tracing` level a `logging` threshold lets
/// through.
fn rank_of_threshold(threshold: i64) -> usize {
    match threshold {
        t if t <= 5 => 5,
        t if t <= 10 => 4,
        t if t <= 20 => 3,
        t if t <= 30 => 2,
        t if t <= 40 => 1,
        _ => 0,
    }
}

fn filter_of_rank(rank: usize) -> LevelFilter {
    match rank {
        0 => LevelFilter::OFF,
        1 => LevelFilter::ERROR,
        2 => LevelFilter::WARN,
        3 => LevelFilter::INFO,
        4 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    }
}

impl Shared {
    fn enabled(&self, level: &Level) -> bool {
        rank(level) <= self.level.load(Ordering::Relaxed)
    }

    /// Sets the level rank; tells `tracing` when it changed.
    fn set_rank(&self, rank: usize) {
        if self.level.swap(rank, Ordering::AcqRel) != rank {
            tracing::callsite::rebuild_interest_cache();
        }
    }
}

/// Collects an event's message and fields.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    fields: Vec<(&'static str, Value)>,
}

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            let text = match value {
                Value::Str(s) => s,
                Value::I64(v) => v.to_string(),
                Value::U64(v) => v.to_string(),
                Value::I128(v) => v.to_string(),
                Value::U128(v) => v.to_string(),
                Value::F64(v) => v.to_string(),
                Value::Bool(v) => v.to_string(),
            };
            self.message = Some(text);
        } else {
            self.fields.push((field.name(), value));
        }
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field, Value::Str(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::Str(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::U64(value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.put(field, Value::I128(value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.put(field, Value::U128(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.put(field, Value::F64(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.put(field, Value::Str(value.to_string()));
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// The global subscriber: events only (the library opens no spans; a span
/// is never enabled), filtered by the shared level, queued without
/// blocking.
struct Bridge;

impl Subscriber for Bridge {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && SHARED.get().is_some_and(|s| s.enabled(metadata.level()))
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(SHARED.get().map_or(LevelFilter::OFF, |s| {
            filter_of_rank(s.level.load(Ordering::Relaxed))
        }))
    }

    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, _: &SpanRecord<'_>) {}

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let Some(shared) = SHARED.get() else { return };
        let meta = event.metadata();
        let mut visit = Fields::default();
        event.record(&mut visit);
        let record = LogRecord {
            target: meta.target(),
            level: *meta.level(),
            message: visit.message.unwrap_or_default(),
            fields: visit.fields,
            file: meta.file(),
            line: meta.line(),
            created: now(),
            thread: Some(
                std::thread::current()
                    .name()
                    .unwrap_or("<unnamed>")
                    .to_owned(),
            ),
        };
        if shared.stopped.load(Ordering::Acquire)
            || shared.tx.try_send(Msg::Record(Box::new(record))).is_err()
        {
            shared.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

fn value_object<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Str(s) => PyString::new(py, s).into_any(),
        Value::I64(v) => v.into_pyobject(py)?.into_any(),
        Value::U64(v) => v.into_pyobject(py)?.into_any(),
        Value::I128(v) => v.into_pyobject(py)?.into_any(),
        Value::U128(v) => v.into_pyobject(py)?.into_any(),
        Value::F64(v) => v.into_pyobject(py)?.into_any(),
        Value::Bool(v) => pyo3::types::PyBool::new(py, *v).to_owned().into_any(),
    })
}

/// The tuple `logs.py`'s `_emit` takes for one record.
fn record_tuple<'py>(py: Python<'py>, r: &LogRecord) -> PyResult<Bound<'py, PyTuple>> {
    let fields = PyDict::new(py);
    for (name, value) in &r.fields {
        fields.set_item(name, value_object(py, value)?)?;
    }
    (
        r.target,
        levelno(&r.level),
        r.message.as_str(),
        fields,
        r.file,
        r.line,
        r.created,
        r.thread.as_deref(),
    )
        .into_pyobject(py)
}

/// Hands `batch` to `_emit` (a failure is printed, never raised).
fn emit(py: Python<'_>, batch: &[LogRecord]) {
    let Some((emit, _)) = PYTHON.get(py) else {
        return;
    };
    let result = batch
        .iter()
        .map(|r| record_tuple(py, r))
        .collect::<PyResult<Vec<_>>>()
        .and_then(|rows| PyList::new(py, rows))
        .and_then(|list| emit.call1(py, (list,)));
    if let Err(e) = result {
        e.print(py);
    }
}

/// Asks `_threshold` which levels are enabled; the new rank, if it could
/// tell.
fn threshold_rank(py: Python<'_>) -> Option<usize> {
    let (_, threshold) = PYTHON.get(py)?;
    match threshold.call0(py).and_then(|t| t.extract::<i64>(py)) {
        Ok(t) => Some(rank_of_threshold(t)),
        Err(e) => {
            e.print(py);
            None
        }
    }
}

/// The drain thread: takes records off the queue, hands them over in
/// batches, re-reads the levels every [`REFRESH`], reports drops, and ends
/// once the exit hook stopped the bridge and the queue is empty.
fn drain(shared: &'static Shared, rx: Receiver<Msg>) {
    let mut batch: Vec<LogRecord> = Vec::with_capacity(BATCH);
    let mut acks: Vec<SyncSender<()>> = Vec::new();
    let mut refreshed: Option<Instant> = None;
    let mut reported_drops = 0u64;
    let mut drop_report: Option<Instant> = None;
    loop {
        let mut ended = false;
        let mut take = |m: Msg, batch: &mut Vec<LogRecord>| match m {
            Msg::Record(r) => batch.push(*r),
            Msg::Flush(ack) => acks.push(ack),
            Msg::Wake => {}
        };
        match rx.recv_timeout(REFRESH) {
            Ok(m) => take(m, &mut batch),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => ended = true,
        }
        let stopping = shared.stopped.load(Ordering::Acquire);
        // A batch, or everything queued once the bridge stops.
        while stopping || batch.len() < BATCH {
            match rx.try_recv() {
                Ok(m) => take(m, &mut batch),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    ended = true;
                    break;
                }
            }
        }
        let dropped = shared.dropped.load(Ordering::Relaxed);
        if dropped > reported_drops && drop_report.is_none_or(|t| t.elapsed() >= DROP_REPORT) {
            let lost = dropped - reported_drops;
            reported_drops = dropped;
            drop_report = Some(Instant::now());
            batch.push(LogRecord {
                target: "synod",
                level: Level::WARN,
                message: format!(
                    "log records were dropped: the queue of {CAPACITY} was full \
                     (synod.log_dropped() counts them)"
                ),
                fields: vec![("dropped", Value::U64(lost))],
                file: None,
                line: None,
                created: now(),
                thread: Some(
                    std::thread::current()
                        .name()
                        .unwrap_or("<unnamed>")
                        .to_owned(),
                ),
            });
        }
        let refresh = !stopping && refreshed.is_none_or(|t| t.elapsed() >= REFRESH);
        if !batch.is_empty() || refresh {
            let attached = Python::try_attach(|py| {
                if !batch.is_empty() {
                    emit(py, &batch);
                }
                if refresh {
                    threshold_rank(py)
                } else {
                    None
                }
            });
            let Some(rank) = attached else {
                // The interpreter is gone: nothing can be handed over.
                shared
                    .dropped
                    .fetch_add(batch.len() as u64, Ordering::Relaxed);
                return;
            };
            batch.clear();
            if refresh {
                refreshed = Some(Instant::now());
            }
            if let Some(rank) = rank {
                shared.set_rank(rank);
            }
        }
        for ack in acks.drain(..) {
            let _ = ack.try_send(());
        }
        if ended || stopping {
            return;
        }
    }
}

/// Installs the bridge: runs `logs.py`, starts the drain thread, sets the
/// global subscriber and registers the exit hook. Called once, at import.
pub(crate) fn register(module: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = module.py();
    module.add_function(wrap_pyfunction!(log_dropped, module)?)?;
    module.add_function(wrap_pyfunction!(refresh_logging, module)?)?;
    module.add_function(wrap_pyfunction!(flush_logs, module)?)?;
    // A test hook, not API (not in `__all__`): see `_log_test_emit`.
    module.setattr("_log_test_emit", wrap_pyfunction!(_log_test_emit, module)?)?;
    if SHARED.get().is_some() {
        // Imported again (a second interpreter would share the statics):
        // the bridge runs already.
        return Ok(());
    }

    let globals = PyDict::new(py);
    globals.set_item("__name__", format!("{}._logs", module.name()?))?;
    globals.set_item("__builtins__", py.import("builtins")?)?;
    py.run(
        pyo3::ffi::c_str!(include_str!("logs.py")),
        Some(&globals),
        None,
    )?;
    let function = |name: &str| -> PyResult<Py<PyAny>> {
        globals
            .get_item(name)?
            .map(Bound::unbind)
            .ok_or_else(|| PyRuntimeError::new_err(format!("logs.py did not define {name}")))
    };
    let functions = (function("_emit")?, function("_threshold")?);
    let threshold = functions.1.call0(py)?.extract::<i64>(py)?;
    let _ = PYTHON.set(py, functions);

    let (tx, rx) = mpsc::sync_channel(CAPACITY);
    let shared = SHARED.get_or_init(|| Shared {
        tx,
        dropped: AtomicU64::new(0),
        level: AtomicUsize::new(rank_of_threshold(threshold)),
        stopped: AtomicBool::new(false),
        drain: Mutex::new(None),
    });
    let handle = std::thread::Builder::new()
        .name("synod-py-logs".into())
        .spawn(move || drain(shared, rx))
        .map_err(|e| PyRuntimeError::new_err(format!("cannot start a thread: {e}")))?;
    *shared.drain.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
    // Another subscriber set in this process first (by another extension
    // built into the same library, say) keeps its place.
    let _ = tracing::subscriber::set_global_default(Bridge);
    py.import("atexit")?
        .call_method1("register", (wrap_pyfunction!(_log_exit, module)?,))?;
    Ok(())
}

/// How many of the library's log records were dropped since import because
/// the queue to the `logging` thread was full (or logging had stopped).
#[pyfunction]
fn log_dropped() -> u64 {
    SHARED
        .get()
        .map_or(0, |s| s.dropped.load(Ordering::Relaxed))
}

/// Re-reads now which levels the `synod` loggers are enabled for (done
/// every 0.25 s anyway): call it after configuring logging so that the
/// very next records are kept.
#[pyfunction]
fn refresh_logging(py: Python<'_>) {
    if let (Some(shared), Some(rank)) = (SHARED.get(), threshold_rank(py)) {
        py.detach(|| shared.set_rank(rank));
    }
}

/// Waits until every record made before the call has been handed to
/// `logging` (records reach it from a thread of the library); True if so
/// within `timeout` seconds.
#[pyfunction]
#[pyo3(signature = (timeout = 5.0))]
fn flush_logs(py: Python<'_>, timeout: f64) -> PyResult<bool> {
    let limit = crate::node::timeout(py, timeout)?;
    let Some(shared) = SHARED.get() else {
        return Ok(true);
    };
    if shared.stopped.load(Ordering::Acquire) {
        return Ok(false);
    }
    let deadline = Instant::now().checked_add(limit);
    let past = || deadline.is_some_and(|d| Instant::now() >= d);
    let (ack_tx, ack_rx) = mpsc::sync_channel(1);
    let mut msg = Msg::Flush(ack_tx);
    // The queue may be full: wait for room, the GIL released (the drain
    // thread needs it to make room).
    loop {
        match shared.tx.try_send(msg) {
            Ok(()) => break,
            Err(TrySendError::Disconnected(_)) => return Ok(false),
            Err(TrySendError::Full(back)) => {
                msg = back;
                if past() {
                    return Ok(false);
                }
                py.detach(|| std::thread::sleep(Duration::from_millis(2)));
                py.check_signals()?;
            }
        }
    }
    let mut ack_rx = ack_rx;
    loop {
        let wait = deadline.map_or(SLICE, |d| {
            d.saturating_duration_since(Instant::now()).min(SLICE)
        });
        // The receiver moves into the GIL-released closure and back (it is
        // `Send`, not `Sync`).
        let (got, back) = py.detach(move || (ack_rx.recv_timeout(wait), ack_rx));
        ack_rx = back;
        match got {
            Ok(()) => return Ok(true),
            Err(RecvTimeoutError::Disconnected) => return Ok(false),
            Err(RecvTimeoutError::Timeout) => {
                py.check_signals()?;
                if past() {
                    return Ok(false);
                }
            }
        }
    }
}

/// The exit hook: hands over what is queued, stops the drain thread and
/// waits for it (at most [`EXIT_WAIT`]), the GIL released.
#[pyfunction]
fn _log_exit(py: Python<'_>) {
    let Some(shared) = SHARED.get() else { return };
    if shared.stopped.swap(true, Ordering::AcqRel) {
        return;
    }
    let _ = shared.tx.try_send(Msg::Wake);
    let handle = shared
        .drain
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .take();
    if let Some(handle) = handle {
        py.detach(|| {
            let deadline = Instant::now() + EXIT_WAIT;
            while !handle.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            if handle.is_finished() {
                let _ = handle.join();
            }
        });
    }
}

/// Test hook, not API: makes `count` records at `level` on target
/// `synod::testing`, numbered in the field `n`, without releasing the GIL
/// (so the drain thread cannot hand any over meanwhile: more than the
/// queue holds are dropped).
#[pyfunction]
#[pyo3(signature = (count, level = "info"))]
fn _log_test_emit(py: Python<'_>, count: u64, level: &str) -> PyResult<()> {
    macro_rules! emit_all {
        ($lvl:expr) => {
            for n in 0..count {
                tracing::event!(target: "synod::testing", $lvl, n, "test record {n}");
            }
        };
    }
    match level {
        "error" => emit_all!(Level::ERROR),
        "warn" => emit_all!(Level::WARN),
        "info" => emit_all!(Level::INFO),
        "debug" => emit_all!(Level::DEBUG),
        "trace" => emit_all!(Level::TRACE),
        _ => {
            return Err(invalid_argument(
                py,
                "level",
                format!("level must be error, warn, info, debug or trace, not {level:?}"),
            ))
        }
    }
    Ok(())
}
