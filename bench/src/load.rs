//! A closed-loop load driver and a time-to-recovery probe.
//!
//! [`run_closed_loop`] starts `concurrency` threads; each builds its own
//! operation (for example a client with its own connection), and all start
//! together, run the operation back to back through a warmup, then through
//! the measured window, recording every latency of an operation that
//! completed inside the window into its own [`Histogram`]. Throughput is the
//! number of operations completed in the window divided by its length, so
//! operations that straddle an edge neither inflate nor deflate it.
//!
//! [`time_until_success`] and [`time_until_first_success`] are failover
//! probes: they retry an operation until one succeeds and report the time
//! since a given instant (the kill). The first waits for each attempt; the
//! second starts a new attempt every interval without waiting for the ones
//! in flight, for systems where a request can hang (etcd holds a put that a
//! follower forwarded to the dead leader until its request timeout).
//!
//! Neither knows what system it drives: the etcd part and the Synod part of
//! `synod bench` pass their own closures.

use std::fmt::Display;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;

use super::histogram::Histogram;

/// How long the measured part of a run lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// Measure for this long.
    Duration(Duration),
    /// Measure this many operations (shared by all workers).
    #[allow(dead_code)] // for the full `synod bench` (Synod's cluster)
    Ops(u64),
}

/// One load run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    /// Worker threads, each with one operation in flight.
    pub concurrency: usize,
    /// Run unmeasured for this long first.
    pub warmup: Duration,
    /// The measured part.
    pub limit: Limit,
    /// A worker whose operation failed waits this long before the next, so
    /// an unavailable system is not spun against.
    pub error_pause: Duration,
}

impl LoadSpec {
    /// `concurrency` workers, measured for `measure` after `warmup`.
    pub fn timed(concurrency: usize, warmup: Duration, measure: Duration) -> Self {
        Self {
            concurrency,
            warmup,
            limit: Limit::Duration(measure),
            error_pause: Duration::from_millis(10),
        }
    }
}

/// What a run measured.
#[derive(Debug, Clone)]
pub struct LoadResult {
    /// Worker threads.
    pub concurrency: usize,
    /// Successful operations completed in the measured window.
    pub ops: u64,
    /// Failed operations completed in the measured window.
    pub errors: u64,
    /// The measured window's length.
    pub elapsed: Duration,
    /// Latency of every successful operation in the window.
    pub latency: Histogram,
    /// The first error's message, if any failed (warmup included).
    pub first_error: Option<String>,
}

impl LoadResult {
    /// Successful operations per second.
    pub fn ops_per_sec(&self) -> f64 {
        let s = self.elapsed.as_secs_f64();
        if s > 0.0 {
            self.ops as f64 / s
        } else {
            0.0
        }
    }
}

/// A run could not start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A worker could not build its operation.
    #[error("worker {worker} could not start: {message}")]
    Setup {
        /// Which worker.
        worker: usize,
        /// Why.
        message: String,
    },
    /// The spec asks for nothing.
    #[error("concurrency must be at least 1")]
    NoWorkers,
}

const WARMUP: u8 = 0;
const MEASURE: u8 = 1;
const STOP: u8 = 2;

/// Runs the load described by `spec`. `make_worker(i)` is called once on
/// worker thread `i` and returns that worker's operation; each call of the
/// operation is one timed request. With a progress bar, its position follows
/// the measured window (milliseconds, or operations for [`Limit::Ops`]).
pub fn run_closed_loop<F, W, E>(
    spec: &LoadSpec,
    make_worker: F,
    progress: Option<&ProgressBar>,
) -> Result<LoadResult, LoadError>
where
    F: Fn(usize) -> Result<W, String> + Sync,
    W: FnMut() -> Result<(), E>,
    E: Display,
{
    if spec.concurrency == 0 {
        return Err(LoadError::NoWorkers);
    }
    // Without a warmup the workers start measured: no operation runs
    // unmeasured between the start barrier and the main thread's first step.
    let phase = AtomicU8::new(if spec.warmup.is_zero() {
        MEASURE
    } else {
        WARMUP
    });
    let setup_failed = AtomicBool::new(false);
    let setup_error: Mutex<Option<LoadError>> = Mutex::new(None);
    let first_error: Mutex<Option<String>> = Mutex::new(None);
    let tickets = AtomicU64::new(0);
    let barrier = Barrier::new(spec.concurrency + 1);
    let make_worker = &make_worker;
    let (phase, setup_failed, setup_error, first_error, tickets, barrier) = (
        &phase,
        &setup_failed,
        &setup_error,
        &first_error,
        &tickets,
        &barrier,
    );
    let op_limit = match spec.limit {
        Limit::Ops(n) => Some(n),
        Limit::Duration(_) => None,
    };
    if let Some(pb) = progress {
        pb.set_position(0);
        pb.set_length(match spec.limit {
            Limit::Duration(d) => d.as_millis() as u64,
            Limit::Ops(n) => n,
        });
    }

    std::thread::scope(|s| {
        let handles: Vec<_> = (0..spec.concurrency)
            .map(|worker| {
                s.spawn(move || {
                    let mut op = match make_worker(worker) {
                        Ok(op) => Some(op),
                        Err(message) => {
                            setup_failed.store(true, Ordering::SeqCst);
                            if let Ok(mut e) = setup_error.lock() {
                                e.get_or_insert(LoadError::Setup { worker, message });
                            }
                            None
                        }
                    };
                    barrier.wait();
                    let mut hist = Histogram::new();
                    let (mut ops, mut errors) = (0u64, 0u64);
                    let mut last_end = None;
                    let Some(op) = op.as_mut() else {
                        return (hist, ops, errors, last_end);
                    };
                    if setup_failed.load(Ordering::SeqCst) {
                        return (hist, ops, errors, last_end);
                    }
                    loop {
                        let p = phase.load(Ordering::Acquire);
                        if p == STOP {
                            break;
                        }
                        let counted = match (op_limit, p) {
                            (Some(n), MEASURE) => {
                                if tickets.fetch_add(1, Ordering::Relaxed) >= n {
                                    break;
                                }
                                true
                            }
                            _ => false,
                        };
                        let start = Instant::now();
                        let r = op();
                        let end = Instant::now();
                        // Timed runs count what completes inside the window.
                        let counted = counted
                            || (op_limit.is_none() && phase.load(Ordering::Acquire) == MEASURE);
                        match r {
                            Ok(()) => {
                                if counted {
                                    hist.record_duration(end - start);
                                    ops += 1;
                                    last_end = Some(end);
                                    if let (Some(pb), Some(_)) = (progress, op_limit) {
                                        pb.inc(1);
                                    }
                                }
                            }
                            Err(e) => {
                                if counted {
                                    errors += 1;
                                    last_end = Some(end);
                                }
                                if let Ok(mut f) = first_error.lock() {
                                    f.get_or_insert_with(|| e.to_string());
                                }
                                std::thread::sleep(spec.error_pause);
                            }
                        }
                    }
                    (hist, ops, errors, last_end)
                })
            })
            .collect();

        barrier.wait();
        let failed = setup_failed.load(Ordering::SeqCst);
        let mut start = Instant::now();
        let mut window = Duration::ZERO;
        if !failed {
            std::thread::sleep(spec.warmup);
            start = Instant::now();
            phase.store(MEASURE, Ordering::Release);
            if let Limit::Duration(d) = spec.limit {
                let end = start + d;
                loop {
                    let now = Instant::now();
                    if now >= end {
                        break;
                    }
                    if let Some(pb) = progress {
                        pb.set_position((now - start).as_millis() as u64);
                    }
                    std::thread::sleep((end - now).min(Duration::from_millis(100)));
                }
                phase.store(STOP, Ordering::Release);
                window = start.elapsed();
            }
        }
        let mut latency = Histogram::new();
        let (mut ops, mut errors) = (0, 0);
        let mut last_end: Option<Instant> = None;
        for h in handles {
            // A worker panic is a bug in the operation: let it propagate.
            let (hist, o, e, l) = match h.join() {
                Ok(r) => r,
                Err(p) => std::panic::resume_unwind(p),
            };
            latency.merge(&hist);
            ops += o;
            errors += e;
            last_end = last_end.max(l);
        }
        if failed {
            return Err(setup_error
                .lock()
                .ok()
                .and_then(|mut e| e.take())
                .unwrap_or(LoadError::NoWorkers));
        }
        if op_limit.is_some() {
            window = last_end.map_or(Duration::ZERO, |l| l.saturating_duration_since(start));
        }
        if let Some(pb) = progress {
            if let Some(len) = pb.length() {
                pb.set_position(len);
            }
        }
        Ok(LoadResult {
            concurrency: spec.concurrency,
            ops,
            errors,
            elapsed: window,
            latency,
            first_error: first_error.lock().ok().and_then(|mut f| f.take()),
        })
    })
}

/// Calls `probe` until it succeeds, pausing `pause` after each failure, and
/// returns the time from `since` to the end of the successful call. Gives up
/// (with the last error) once `give_up` has passed since `since`.
#[allow(dead_code)] // for the full `synod bench` (Synod's cluster)
pub fn time_until_success<P, E>(
    since: Instant,
    mut probe: P,
    pause: Duration,
    give_up: Duration,
) -> Result<Duration, String>
where
    P: FnMut() -> Result<(), E>,
    E: Display,
{
    loop {
        match probe() {
            Ok(()) => return Ok(since.elapsed()),
            Err(e) => {
                if since.elapsed() >= give_up {
                    return Err(format!("no success within {give_up:?}; last error: {e}"));
                }
                std::thread::sleep(pause);
            }
        }
    }
}

/// Starts `attempt(n)` (n = 0, 1, ...) on a fresh thread every `interval`,
/// with at most `max_in_flight` unfinished, and returns the time from
/// `since` to the end of the first attempt that succeeds. Attempts still in
/// flight are left to finish on their own (their results are dropped), so
/// each must bound its own duration. Gives up (with the last error) once
/// `give_up` has passed since `since`.
pub fn time_until_first_success<A, E>(
    since: Instant,
    attempt: A,
    interval: Duration,
    max_in_flight: usize,
    give_up: Duration,
) -> Result<Duration, String>
where
    A: Fn(u64) -> Result<(), E> + Send + Sync + 'static,
    E: Display,
{
    let attempt = Arc::new(attempt);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<(Instant, Result<(), String>)>();
    let mut n = 0u64;
    let mut next_launch = Instant::now();
    let mut last_error = String::from("no attempt finished");
    loop {
        let now = Instant::now();
        if now.saturating_duration_since(since) >= give_up {
            return Err(format!(
                "no success within {give_up:?}; last error: {last_error}"
            ));
        }
        if now >= next_launch && in_flight.load(Ordering::SeqCst) < max_in_flight.max(1) {
            let (a, flight, tx) = (attempt.clone(), in_flight.clone(), tx.clone());
            let i = n;
            n += 1;
            flight.fetch_add(1, Ordering::SeqCst);
            let spawned = std::thread::Builder::new()
                .name(format!("probe-{i}"))
                .spawn(move || {
                    let r = a(i).map_err(|e| e.to_string());
                    let end = Instant::now();
                    flight.fetch_sub(1, Ordering::SeqCst);
                    let _ = tx.send((end, r));
                });
            if let Err(e) = spawned {
                in_flight.fetch_sub(1, Ordering::SeqCst);
                last_error = format!("spawn a probe thread: {e}");
            }
            next_launch += interval;
            if next_launch < now {
                next_launch = now + interval;
            }
        }
        let wait = next_launch
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        match rx.recv_timeout(wait) {
            Ok((end, Ok(()))) => return Ok(end.saturating_duration_since(since)),
            Ok((_, Err(e))) => last_error = e,
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timed_run_counts_only_the_window_and_records_latency() {
        let spec = LoadSpec::timed(4, Duration::from_millis(20), Duration::from_millis(200));
        let r = run_closed_loop(
            &spec,
            |_| {
                Ok(|| {
                    std::thread::sleep(Duration::from_millis(2));
                    Ok::<(), String>(())
                })
            },
            None,
        )
        .expect("run");
        assert_eq!(r.concurrency, 4);
        assert_eq!(r.errors, 0);
        assert!(r.elapsed >= Duration::from_millis(200));
        // Each op sleeps at least 2 ms: four workers cannot exceed 2000/s.
        assert!(
            r.ops > 0 && r.ops_per_sec() <= 2000.0 * 1.05,
            "{}",
            r.ops_per_sec()
        );
        assert_eq!(r.latency.count(), r.ops);
        assert!(r.latency.min() >= 2_000_000);
    }

    #[test]
    fn counted_run_does_exactly_that_many_and_reports_errors() {
        let spec = LoadSpec {
            concurrency: 3,
            warmup: Duration::ZERO,
            limit: Limit::Ops(90),
            error_pause: Duration::ZERO,
        };
        let counter = AtomicU64::new(0);
        let r = run_closed_loop(
            &spec,
            |_| {
                let counter = &counter;
                Ok(move || {
                    if counter.fetch_add(1, Ordering::Relaxed).is_multiple_of(3) {
                        Err("every third fails")
                    } else {
                        Ok(())
                    }
                })
            },
            None,
        )
        .expect("run");
        assert_eq!(r.ops + r.errors, 90);
        assert_eq!(r.errors, 30);
        assert_eq!(r.first_error.as_deref(), Some("every third fails"));
    }

    #[test]
    fn a_worker_that_cannot_start_fails_the_run() {
        let spec = LoadSpec::timed(3, Duration::ZERO, Duration::from_millis(10));
        let r = run_closed_loop(
            &spec,
            |i| {
                if i == 1 {
                    Err("no connection".to_string())
                } else {
                    Ok(|| Ok::<(), String>(()))
                }
            },
            None,
        );
        match r {
            Err(LoadError::Setup { worker: 1, message }) => assert_eq!(message, "no connection"),
            other => panic!("unexpected {other:?}"),
        }
        let none = run_closed_loop(
            &LoadSpec::timed(0, Duration::ZERO, Duration::ZERO),
            |_| Ok(|| Ok::<(), String>(())),
            None,
        );
        assert!(matches!(none, Err(LoadError::NoWorkers)));
    }

    #[test]
    fn time_until_success_retries_and_gives_up() {
        let t0 = Instant::now();
        let mut n = 0;
        let d = time_until_success(
            t0,
            || {
                n += 1;
                if n < 4 {
                    Err("down")
                } else {
                    Ok(())
                }
            },
            Duration::from_millis(5),
            Duration::from_secs(5),
        )
        .expect("succeeds");
        assert_eq!(n, 4);
        assert!(d >= Duration::from_millis(15));
        let e = time_until_success(
            Instant::now(),
            || Err::<(), _>("still down"),
            Duration::from_millis(1),
            Duration::from_millis(20),
        )
        .unwrap_err();
        assert!(e.contains("still down"), "{e}");
    }

    #[test]
    fn first_success_does_not_wait_for_hanging_attempts() {
        // Attempts 0 and 1 hang for 2 s (a request stuck at a follower);
        // attempt 2, started 20 ms later, fails; attempt 3 succeeds at once.
        let t0 = Instant::now();
        let d = time_until_first_success(
            t0,
            |n| match n {
                0 | 1 => {
                    std::thread::sleep(Duration::from_secs(2));
                    Err("timed out")
                }
                2 => Err("no leader"),
                _ => Ok(()),
            },
            Duration::from_millis(10),
            8,
            Duration::from_secs(10),
        )
        .expect("succeeds");
        assert!(d >= Duration::from_millis(30), "{d:?}");
        assert!(
            d < Duration::from_secs(1),
            "waited for a hanging attempt: {d:?}"
        );
        let e = time_until_first_success(
            Instant::now(),
            |_| Err::<(), _>("down"),
            Duration::from_millis(1),
            2,
            Duration::from_millis(30),
        )
        .unwrap_err();
        assert!(e.contains("down"), "{e}");
    }
}
