//! What `synod chaos` records and checks: every operation of the workload
//! with its invocation and completion time (microseconds since the run
//! began, on the harness's monotonic clock) and its result, and what each
//! member holds at the end. Plain strings and numbers, so the checker's
//! tests can write broken histories by hand.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A range's owner as a read (or a member's state) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The owner.
    pub owner: Arc<str>,
    /// The epoch.
    pub epoch: u64,
    /// The log index of the transition that set it.
    pub index: u64,
}

/// How a proposed transition ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteResult {
    /// Not finished yet (only in histories checked mid-run).
    Pending,
    /// Committed at this log index.
    Acked {
        /// The index.
        index: u64,
    },
    /// Did not take effect (refused, or never sent to any member).
    Failed(String),
    /// May or may not have taken effect.
    Indeterminate(String),
}

/// How a linearizable read ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadResult {
    /// The range's owner (`None`: no owner yet).
    Value(Option<Seen>),
    /// The read failed (no value; nothing to check).
    Failed(String),
}

/// One recorded operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// A compare-and-set ownership transition.
    Write {
        /// Which worker.
        worker: Arc<str>,
        /// The range.
        range: Arc<str>,
        /// The owner proposed.
        owner: Arc<str>,
        /// The epoch proposed.
        epoch: u64,
        /// When it was invoked.
        invoke: u64,
        /// When it completed (`u64::MAX` while pending).
        complete: u64,
        /// How it ended.
        result: WriteResult,
    },
    /// A linearizable read of a range's owner.
    Read {
        /// Which worker.
        worker: Arc<str>,
        /// The range.
        range: Arc<str>,
        /// When it was invoked.
        invoke: u64,
        /// When it completed.
        complete: u64,
        /// What it saw.
        result: ReadResult,
    },
}

/// A member's ranges at the end, and what its data directory's log says.
#[derive(Debug, Clone, Default)]
pub struct MemberFinal {
    /// The member's name.
    pub name: String,
    /// Its ranges by a local read after the final heal and catch-up
    /// (`None` when the read failed).
    pub live: Option<BTreeMap<String, Seen>>,
    /// From its data directory after it stopped, if it could be read.
    pub log: Option<LogView>,
}

/// What a member's data directory holds.
#[derive(Debug, Clone, Default)]
pub struct LogView {
    /// The snapshot's index: entries at or below it are compacted.
    pub snapshot_index: u64,
    /// The commit index its hard state records (it may lag: a Ready that
    /// only moves the commit index is not synced on its own).
    pub recorded_commit: u64,
    /// The index the log was replayed to: the cluster's commit index when
    /// the members converged (else the recorded one), or the last index
    /// held if lower.
    pub replayed_to: u64,
    /// Every transition applied above the snapshot, by index:
    /// (range, owner, epoch).
    pub applied: BTreeMap<u64, (String, String, u64)>,
    /// The catalog's ranges at `replayed_to`.
    pub ranges: BTreeMap<String, Seen>,
}

/// The shared history the workers record into.
#[derive(Clone)]
pub struct History {
    t0: Instant,
    ops: Arc<Mutex<Vec<Op>>>,
}

impl History {
    /// An empty history whose clock starts at `t0`.
    pub fn new(t0: Instant) -> Self {
        Self {
            t0,
            ops: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Microseconds since `t0`.
    pub fn now(&self) -> u64 {
        self.t0.elapsed().as_micros() as u64
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Op>> {
        self.ops.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Records the invocation of a write (pending) and returns its slot.
    pub fn begin_write(
        &self,
        worker: &Arc<str>,
        range: &Arc<str>,
        owner: &Arc<str>,
        epoch: u64,
    ) -> usize {
        let invoke = self.now();
        let mut ops = self.lock();
        ops.push(Op::Write {
            worker: worker.clone(),
            range: range.clone(),
            owner: owner.clone(),
            epoch,
            invoke,
            complete: u64::MAX,
            result: WriteResult::Pending,
        });
        ops.len() - 1
    }

    /// Records how the write in `slot` ended.
    pub fn end_write(&self, slot: usize, outcome: WriteResult) {
        let now = self.now();
        if let Some(Op::Write {
            complete, result, ..
        }) = self.lock().get_mut(slot)
        {
            *complete = now;
            *result = outcome;
        }
    }

    /// Records a finished read.
    pub fn read(&self, worker: &Arc<str>, range: &Arc<str>, invoke: u64, result: ReadResult) {
        let complete = self.now();
        self.lock().push(Op::Read {
            worker: worker.clone(),
            range: range.clone(),
            invoke,
            complete,
            result,
        });
    }

    /// A copy of everything recorded so far.
    pub fn snapshot(&self) -> Vec<Op> {
        self.lock().clone()
    }
}

/// Counts of a history.
#[derive(Debug, Default, Clone, Copy)]
pub struct Counts {
    /// Writes acknowledged.
    pub acked: usize,
    /// Writes that did not take effect.
    pub failed: usize,
    /// Writes of unknown outcome.
    pub indeterminate: usize,
    /// Reads that returned a value.
    pub reads: usize,
    /// Reads that failed.
    pub read_errors: usize,
}

/// Counts the operations of `ops`.
pub fn counts(ops: &[Op]) -> Counts {
    let mut c = Counts::default();
    for op in ops {
        match op {
            Op::Write { result, .. } => match result {
                WriteResult::Acked { .. } => c.acked += 1,
                WriteResult::Failed(_) => c.failed += 1,
                WriteResult::Indeterminate(_) | WriteResult::Pending => c.indeterminate += 1,
            },
            Op::Read { result, .. } => match result {
                ReadResult::Value(_) => c.reads += 1,
                ReadResult::Failed(_) => c.read_errors += 1,
            },
        }
    }
    c
}
