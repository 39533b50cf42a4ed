//! The workload of `synod chaos`, every operation recorded in the
//! [`History`]:
//!
//! * writers: each owns a few ranges and, one proposal at a time through its
//!   own [`Client`] (exactly-once, with a session), moves a range to a random
//!   member at the epoch it last learned plus one (compare-and-set). After
//!   any error it reads the range's owner linearizably to learn the current
//!   epoch before proposing again;
//! * readers: linearizable reads of random ranges;
//! * the recovery probe ([`probe_commit`]): after each heal the harness
//!   itself writes a range of its own until a write is acknowledged.
//!
//! Clients connect to the members' real listeners; a leader hint names a
//! catalog address (a proxy), which forwards the harness's connections
//! whatever the faults (faults are between members).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use synod::node::client::{Client, ClientCallError};
use synod::node::protocol::RemoteError;
use synod::{Committed, ControlPlaneEntry, Epoch, NodeId, OwnershipTransition, RangeId};

use super::history::{History, ReadResult, Seen, WriteResult};
use super::rng::Rng;

/// Writers and ranges each owns.
pub const WRITERS: usize = 4;
/// Ranges per writer.
pub const RANGES_PER_WRITER: usize = 3;
/// Readers.
pub const READERS: usize = 2;
/// Each client call's bound, retries included, for worker `k`: half the
/// workers wait long enough to ride out most faults, the other half give
/// up soon (more outcomes are unknown, and the writer must read before it
/// goes on).
pub fn call_timeout(k: usize) -> Duration {
    if k.is_multiple_of(2) {
        Duration::from_secs(4)
    } else {
        Duration::from_millis(1500)
    }
}

/// The running workload.
pub struct Workload {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// The range writer `w` owns as its `k`-th.
pub fn writer_range(w: usize, k: usize) -> RangeId {
    // The name is valid by construction.
    format!("chaos-w{w}-r{k}")
        .parse()
        .unwrap_or_else(|_| unreachable!())
}

/// The recovery probe's range.
pub fn probe_range() -> RangeId {
    "chaos-probe".parse().unwrap_or_else(|_| unreachable!())
}

/// How a proposal's error reads in the history: did it take effect?
fn classify(r: &Result<Committed, ClientCallError>) -> WriteResult {
    match r {
        Ok(c) => WriteResult::Acked { index: c.index.0 },
        // What the client promises did not take effect
        // (docs/adr/0006-exactly-once-proposals.md).
        Err(
            e @ ClientCallError::Remote(
                RemoteError::Refused { .. }
                | RemoteError::Unauthorized(_)
                | RemoteError::BadRequest(_)
                | RemoteError::NotLeader { .. },
            ),
        )
        | Err(e @ (ClientCallError::Unreachable(_) | ClientCallError::NoEndpoints)) => {
            WriteResult::Failed(e.to_string())
        }
        Err(e) => WriteResult::Indeterminate(e.to_string()),
    }
}

/// A range and its name in the history.
#[derive(Clone)]
pub struct Target {
    /// The range.
    pub id: RangeId,
    /// Its name.
    pub name: Arc<str>,
}

impl Target {
    /// `id` with its name.
    pub fn new(id: RangeId) -> Self {
        let name = id.as_str().into();
        Self { id, name }
    }
}

/// The members a range may move to, with their names in the history.
#[derive(Clone)]
pub struct Owners(Vec<(NodeId, Arc<str>)>);

impl Owners {
    /// The members `ids`.
    pub fn new(ids: &[NodeId]) -> Self {
        Self(ids.iter().map(|i| (i.clone(), i.as_str().into())).collect())
    }

    /// The shared name of `s` (a new one if it is no member's).
    fn intern(&self, s: &str) -> Arc<str> {
        self.0
            .iter()
            .find(|(_, n)| &**n == s)
            .map_or_else(|| s.into(), |(_, n)| n.clone())
    }

    /// A random member.
    fn pick(&self, rng: &mut Rng) -> &(NodeId, Arc<str>) {
        &self.0[rng.below(self.0.len())]
    }
}

/// A linearizable read of `range`'s owner, recorded; `None` when it failed.
pub fn read_owner(
    client: &mut Client,
    history: &History,
    owners: &Owners,
    worker: &Arc<str>,
    range: &Target,
) -> Option<Option<Seen>> {
    let invoke = history.now();
    match client.owner(&range.id, true) {
        Ok((o, _)) => {
            let seen = o.map(|o| Seen {
                owner: owners.intern(o.owner.as_str()),
                epoch: o.epoch.0,
                index: o.index.0,
            });
            history.read(worker, &range.name, invoke, ReadResult::Value(seen.clone()));
            Some(seen)
        }
        Err(e) => {
            history.read(
                worker,
                &range.name,
                invoke,
                ReadResult::Failed(e.to_string()),
            );
            None
        }
    }
}

/// Proposes moving `range` to `owner` at `epoch`, recorded.
pub fn write(
    client: &mut Client,
    history: &History,
    worker: &Arc<str>,
    range: &Target,
    owner: &(NodeId, Arc<str>),
    epoch: u64,
) -> WriteResult {
    let slot = history.begin_write(worker, &range.name, &owner.1, epoch);
    let r = client.propose(ControlPlaneEntry::OwnershipTransition(
        OwnershipTransition {
            range: range.id.clone(),
            new_owner: owner.0.clone(),
            epoch: Epoch(epoch),
        },
    ));
    let result = classify(&r);
    history.end_write(slot, result.clone());
    result
}

impl Workload {
    /// Starts the writers and readers; `client(k)` makes the `k`-th
    /// worker's client.
    pub fn start(
        history: &History,
        owners: &Owners,
        rng: &mut Rng,
        client: impl Fn(usize) -> Client,
    ) -> std::io::Result<Workload> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut threads = Vec::new();
        let mut all_ranges = vec![Target::new(probe_range())];
        for w in 0..WRITERS {
            let ranges: Vec<Target> = (0..RANGES_PER_WRITER)
                .map(|k| Target::new(writer_range(w, k)))
                .collect();
            all_ranges.extend(ranges.iter().cloned());
            let (h, o, s, c, r) = (
                history.clone(),
                owners.clone(),
                stop.clone(),
                client(w),
                rng.fork(),
            );
            let name: Arc<str> = format!("writer-{w}").into();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("chaos-writer-{w}"))
                    .spawn(move || writer(&name, c, &ranges, &o, &h, &s, r))?,
            );
        }
        for k in 0..READERS {
            let (h, o, s, c, r, ranges) = (
                history.clone(),
                owners.clone(),
                stop.clone(),
                client(WRITERS + k),
                rng.fork(),
                all_ranges.clone(),
            );
            let name: Arc<str> = format!("reader-{k}").into();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("chaos-reader-{k}"))
                    .spawn(move || reader(&name, c, &ranges, &o, &h, &s, r))?,
            );
        }
        Ok(Workload { stop, threads })
    }

    /// Stops the workers after their current operation and waits for them.
    pub fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

fn writer(
    name: &Arc<str>,
    mut client: Client,
    ranges: &[Target],
    owners: &Owners,
    history: &History,
    stop: &AtomicBool,
    mut rng: Rng,
) {
    // The epoch each range is at, as last learned (None: read it first).
    let mut known: Vec<Option<u64>> = vec![None; ranges.len()];
    while !stop.load(Ordering::SeqCst) {
        let k = rng.below(ranges.len());
        let Some(current) = known[k] else {
            known[k] = read_owner(&mut client, history, owners, name, &ranges[k])
                .map(|seen| seen.map_or(0, |s| s.epoch));
            if known[k].is_none() {
                std::thread::sleep(Duration::from_millis(50));
            }
            continue;
        };
        let owner = owners.pick(&mut rng);
        known[k] = match write(&mut client, history, name, &ranges[k], owner, current + 1) {
            WriteResult::Acked { .. } => Some(current + 1),
            _ => None,
        };
    }
}

fn reader(
    name: &Arc<str>,
    mut client: Client,
    ranges: &[Target],
    owners: &Owners,
    history: &History,
    stop: &AtomicBool,
    mut rng: Rng,
) {
    while !stop.load(Ordering::SeqCst) {
        let range = &ranges[rng.below(ranges.len())];
        if read_owner(&mut client, history, owners, name, range).is_none() {
            std::thread::sleep(Duration::from_millis(50));
        } else {
            std::thread::sleep(rng.millis(1, 5));
        }
    }
}

/// Writes the probe range (read its epoch, propose the next) until a write
/// is acknowledged or `within` has passed since `since`; returns when the
/// acknowledgement came, measured from `since`.
pub fn probe_commit(
    client: &mut Client,
    history: &History,
    owners: &Owners,
    rng: &mut Rng,
    since: Instant,
    within: Duration,
) -> Result<Duration, String> {
    let range = Target::new(probe_range());
    let name: Arc<str> = "probe".into();
    let mut last = String::from("no attempt");
    while since.elapsed() < within {
        let Some(seen) = read_owner(client, history, owners, &name, &range) else {
            last = "the read of the probe range failed".into();
            std::thread::sleep(Duration::from_millis(20));
            continue;
        };
        let epoch = seen.map_or(0, |s| s.epoch) + 1;
        let owner = owners.pick(rng);
        match write(client, history, &name, &range, owner, epoch) {
            WriteResult::Acked { .. } => return Ok(since.elapsed()),
            WriteResult::Failed(e) | WriteResult::Indeterminate(e) => last = e,
            WriteResult::Pending => {}
        }
    }
    Err(last)
}
