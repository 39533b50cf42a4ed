//! Media damage: a flipped bit in a fsynced record in the middle of a down
//! member's final WAL segment, between its crash and its restart, with
//! other fsynced records after it. Only bytes written after the last
//! completed fsync can be torn, so the store must refuse to open, naming
//! the segment and the damaged record's offset; the member then stays down
//! for the rest of the seed (its operator would have to rebuild it). A
//! store that takes the damage for a torn tail (the `torn-tail-repair`
//! mutant) opens after cutting fsynced, acknowledged records: the checker
//! sees what that loses (acknowledged appends, applied entries), and a
//! damaged disk that opens at all is reported with the records it lost.
//!
//! At most one disk is damaged per seed, and only one that leaves a quorum
//! behind for good: a voter of a configuration of three or more voters
//! that is not changing (no learners, no joint configuration, nobody
//! draining, the catalog's members exactly the voters), while every other
//! voter and every other member the operator runs is up. While a disk is
//! lost, the operator admits members but drains and removes none
//! (`membership_op`), and it stops a member only on the word of a leader
//! that has applied everything known committed (`spawn_admitted`: a lagging
//! one may not know a member admitted before). The decisions come from a
//! generator of their own, so a run is exactly the run without this fault
//! until the damage.

use std::path::PathBuf;

use bytes::Bytes;

use super::{World, DIR};
use crate::catalog::MemberState;
use crate::engine::rng::SplitMix64;
use crate::storage::record::{self, Frame, Record};
use crate::storage::{DurableStore, StorageError};

/// The tick from which a seed damages the disk of the next member to crash
/// that may be lost: late in the fault phase (from four fifths of it to ten
/// ticks before its end), so the run before it is exactly the run without
/// damage, and the member is lost only for the end of the fault phase and
/// the liveness phase. (Earlier damage found no more and hid more of what
/// the other mutants are caught by late in a run.)
pub(super) fn damage_tick(rng: &mut SplitMix64, fault_ticks: u64) -> Option<u64> {
    let from = fault_ticks * 4 / 5;
    let until = fault_ticks.saturating_sub(10);
    (until > from).then(|| from + rng.below(until - from))
}

/// The damage done to a member's disk while it was down.
#[derive(Debug, Clone)]
pub(in crate::sim) struct Damage {
    /// The final segment.
    path: PathBuf,
    /// Where the damaged record starts.
    offset: u64,
    /// Which bit of which record, for reports.
    what: String,
    /// What the old torn-tail rule would cut: the damaged record and every
    /// fsynced record after it.
    cut: String,
}

/// The records of a segment's bytes that parse, as (start, end) offsets.
fn records(buf: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut off = 0;
    while let Frame::Ok { end, .. } = record::check_frame(buf, off) {
        out.push((off, end));
        off = end;
    }
    out
}

/// What the records `recs` of `buf` hold: how many, the entry indexes, the
/// hard states (with the highest term and commit among them).
fn describe(buf: &[u8], recs: &[(usize, usize)]) -> String {
    let bytes = Bytes::copy_from_slice(buf);
    let (mut lo, mut hi, mut states, mut term, mut commit) = (u64::MAX, 0, 0, 0, 0);
    for (off, end) in recs {
        match record::decode(&bytes, off + record::HEADER_LEN, *end) {
            Ok(Record::Entry(e)) => {
                lo = lo.min(e.index);
                hi = hi.max(e.index);
            }
            Ok(Record::HardState(hs)) => {
                states += 1;
                term = term.max(hs.term);
                commit = commit.max(hs.commit);
            }
            _ => {}
        }
    }
    let entries = if hi == 0 {
        "no entries".to_string()
    } else {
        format!("entries {lo} to {hi}")
    };
    format!(
        "{} fsynced records from offset {} ({entries}, {states} hard states up to term {term} commit {commit})",
        recs.len(),
        recs.first().map_or(0, |r| r.0)
    )
}

impl World {
    /// Whether a disk is lost for good (refused after damage).
    pub(in crate::sim) fn disk_lost(&self) -> bool {
        self.nodes.values().any(|n| n.disk_lost)
    }

    /// Right after `peer` crashed: damages its disk if this seed's damage
    /// is due and `peer` may be lost. `synced` is what its disk had fsynced
    /// of each file of the data directory before the crash.
    pub(in crate::sim) fn maybe_damage(&mut self, peer: u64, synced: &[(String, usize)]) {
        if !self.faults
            || self.damaged
            || self.damage_at.is_none_or(|t| t > self.now)
            || !self.may_lose(peer)
        {
            return;
        }
        let Some(n) = self.nodes.get(&peer) else {
            return;
        };
        // The final segment, and how much of it was fsynced.
        let Some((name, synced_len)) = synced
            .iter()
            .filter_map(|(name, len)| {
                let seq: u64 = name
                    .strip_prefix("log-")?
                    .strip_suffix(".seg")?
                    .parse()
                    .ok()?;
                Some((seq, name, *len))
            })
            .max()
            .map(|(_, name, len)| (name.clone(), len))
        else {
            return;
        };
        let path = std::path::Path::new(DIR).join(&name);
        let Some(buf) = n.disk.file_bytes(&path) else {
            return;
        };
        let recs = records(&buf);
        // A fsynced record other than the head, followed by another record.
        let candidates: Vec<usize> = (1..recs.len().saturating_sub(1))
            .filter(|k| recs[*k].1 <= synced_len)
            .collect();
        if candidates.is_empty() {
            return;
        }
        let k = candidates[self.damage_rng.below(candidates.len() as u64) as usize];
        let (start, end) = recs[k];
        let (at, field) = if self.damage_rng.chance(1, 2) {
            (start + self.damage_rng.below(4) as usize, "length field")
        } else {
            let payload = (end - start - record::HEADER_LEN) as u64;
            (
                start + record::HEADER_LEN + self.damage_rng.below(payload) as usize,
                "payload",
            )
        };
        let bit = 1u8 << self.damage_rng.below(8);
        let synced_after = recs[k + 1..].iter().filter(|r| r.1 <= synced_len).count();
        let cut = describe(&buf, &recs[k..]);
        if n.disk.corrupt_byte(&path, at, bit).is_err() {
            return;
        }
        let what = format!(
            "bit {bit:#04x} of byte {at} ({field} of record {k} at offset {start}, {synced_after} fsynced records after it) of {}",
            path.display()
        );
        if self.opts.trace {
            eprintln!("[{}] damage peer {peer}'s disk: {what}", self.now);
        }
        self.damaged = true;
        self.stats.damaged += 1;
        if let Some(n) = self.nodes.get_mut(&peer) {
            n.damage = Some(Damage {
                path,
                offset: start as u64,
                what,
                cut,
            });
        }
    }

    /// Whether losing `peer` for good leaves a quorum: every other member
    /// is up, and `peer` is a voter of a configuration of three or more
    /// voters that is not changing, every other voter of which is up.
    fn may_lose(&self, peer: u64) -> bool {
        let up = |p: &u64| self.nodes.get(p).is_some_and(|n| n.replica.is_some());
        let others_up = self
            .nodes
            .iter()
            .filter(|(p, n)| **p != peer && n.started && !n.removed)
            .all(|(p, _)| up(p));
        let Some(r) = self
            .leader()
            .and_then(|l| self.nodes.get(&l))
            .and_then(|n| n.replica.as_ref())
        else {
            return false;
        };
        let cs = r.conf_state();
        let mut members: Vec<u64> = r.catalog().members().map(|m| m.peer_id).collect();
        members.sort_unstable();
        let mut voters = cs.voters.clone();
        voters.sort_unstable();
        others_up
            && voters.len() >= 3
            && voters.contains(&peer)
            && voters.iter().filter(|v| **v != peer).all(up)
            && cs.learners.is_empty()
            && cs.learners_next.is_empty()
            && cs.voters_outgoing.is_empty()
            && members == voters
            && r.catalog()
                .members()
                .all(|m| m.state == MemberState::Active)
    }

    /// `peer`'s store refused to open with `err`. Expected after damage
    /// (it must name the damaged segment and record): the member stays down
    /// for good. Anything else stops the run as an engine failure.
    pub(in crate::sim) fn refused(&mut self, peer: u64, err: StorageError) {
        let damage = self.nodes.get_mut(&peer).and_then(|n| n.damage.take());
        let Some(d) = damage else {
            self.engine_failures.push(format!(
                "tick {}: peer {peer} failed to open: {err}",
                self.now
            ));
            return;
        };
        match &err {
            StorageError::Corrupt { path, offset, .. }
                if *path == d.path && *offset == d.offset => {}
            _ => self.checker.fail(
                self.now,
                format!(
                    "storage: peer {peer}'s disk was damaged at {} (the record at offset {}), but its store refused with: {err}",
                    d.what, d.offset
                ),
            ),
        }
        if self.opts.trace {
            eprintln!("[{}] peer {peer}'s store refused: {err}", self.now);
        }
        self.stats.refused += 1;
        if let Some(n) = self.nodes.get_mut(&peer) {
            n.disk_lost = true;
            n.restart_at = None;
        }
    }

    /// `peer`'s store opened: if its disk was damaged, that is a violation
    /// (it cut fsynced records), reported with what it lost.
    pub(in crate::sim) fn opened_despite_damage(&mut self, peer: u64, store: &DurableStore) {
        let Some(d) = self.nodes.get_mut(&peer).and_then(|n| n.damage.take()) else {
            return;
        };
        self.checker.fail(
            self.now,
            format!(
                "storage: peer {peer}'s disk was damaged ({}), yet its store opened (last index {}, hard state term {} commit {}), cutting {}",
                d.what,
                store.last_index(),
                store.hard_state().term,
                store.hard_state().commit,
                d.cut
            ),
        );
    }
}
