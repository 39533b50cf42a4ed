//! The seeded deterministic simulator.
//!
//! K members run in one thread over an in-memory network and one simulated
//! disk each ([`crate::storage::SimDisk`]), through the same
//! [`Replica`](crate::engine::Replica) code a real member runs. One seed
//! drives everything: message loss, duplication, delay and so reordering;
//! partitions (symmetric, one-way, partial) and heals; crashes that lose
//! unsynced writes (sometimes tearing the last one), at any moment or at a
//! chosen disk operation inside a Ready (the messages it already handed
//! over still leave), and restarts from the disk; media damage to a down
//! member's fsynced log (its store must refuse to open; it stays down for
//! good); members paused for many
//! election timeouts (a leader among them); clocks that run at different
//! rates; membership changes (admit, drain, remove; new members join by
//! snapshot); leadership transfers; clients that propose ownership
//! transitions with expected epochs (some deliberately stale) in client
//! sessions and retry an attempt whose outcome may still be open in the
//! same session at another member; and readers, local and linearizable.
//! Election timeouts come from the seed too, so a run replays bit for bit.
//! Every message also goes through the wire codec, as it would between
//! processes.
//!
//! After every tick the [`checker::Checker`] checks Raft's and the catalog's
//! safety rules, exactly-once per client session, and what every read saw.
//! When the fault phase ends, a liveness phase heals the network, restarts
//! every member, and requires a leader and a new commit within a bounded
//! number of ticks, then every member to catch up.
//!
//! [`Mutant`]s are deliberately broken builds of the engine; the simulator
//! must catch each of them, which is the proof that the checker is not
//! vacuous.
//!
//! The files: `world` (the members, their disks and the pump of their ready
//! loops), `network`, `workload` (what clients and the operator propose),
//! `clients` (sessions, attempts and retries), `reads`, `faults`, `damage`
//! (media damage and the stores that must refuse it), `runner`
//! (one seed, a sweep of seeds), [`checker`] and `mutants`.

// raft's protobuf messages are built field by field from a default: that is
// how its generated types are meant to be used.
#![allow(clippy::field_reassign_with_default)]

pub mod checker;
mod faults;
mod mutants;
mod network;
mod runner;
mod workload;
mod world;

pub use mutants::Mutant;
pub use runner::{run_seed, run_seeds};

/// What one simulated run does.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// The seed everything is drawn from.
    pub seed: u64,
    /// Members at bootstrap.
    pub nodes: usize,
    /// A deliberately broken engine, or none.
    pub mutant: Option<Mutant>,
    /// Ticks with faults.
    pub fault_ticks: u64,
    /// Ticks allowed for a leader and a new commit once faults stop.
    pub liveness_ticks: u64,
    /// Print every delivery, fault and refusal to stderr (for replays).
    pub trace: bool,
}

impl SimOptions {
    /// The defaults for `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            nodes: 3,
            mutant: None,
            fault_ticks: 400,
            liveness_ticks: 400,
            trace: false,
        }
    }
}

/// Counters of one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Ticks simulated.
    pub ticks: u64,
    /// Entries known committed.
    pub committed: u64,
    /// Proposals acknowledged to clients.
    pub acked: u64,
    /// Crashes.
    pub crashes: u64,
    /// Distinct (term, leader) pairs seen.
    pub leaders: u64,
    /// Members admitted during the run.
    pub admitted: u64,
    /// Members removed from the configuration during the run.
    pub removed: u64,
    /// Messages sent.
    pub messages: u64,
    /// Proposal attempts that retried a session.
    pub retries: u64,
    /// Linearizable reads served.
    pub reads: u64,
    /// Disks damaged while their member was down (a flipped bit in a
    /// fsynced record of the final segment; at most one per seed).
    pub damaged: u64,
    /// Stores that refused to open after that damage (their member stays
    /// down for the rest of the run).
    pub refused: u64,
}

/// The result of one run.
#[derive(Debug, Clone)]
pub struct SeedReport {
    /// The seed.
    pub seed: u64,
    /// Every violation found (empty when the run is clean).
    pub violations: Vec<String>,
    /// Counters.
    pub stats: SimStats,
}
