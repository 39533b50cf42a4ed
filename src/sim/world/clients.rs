//! The simulated clients. Every proposal carries a client session (a client
//! id and a sequence number). An attempt is made at a live member, following
//! one not-leader redirect; an attempt whose outcome may still be open (a
//! timeout or no quorum at the deadline, the member stopped or crashed, a
//! snapshot covered the entry) is retried in the same session at another
//! member, as the network client does, until an answer settles it or the
//! client gives up (its outcome then stays unknown). Each settled answer is
//! checked: an acknowledgement and a logged refusal against the committed
//! entry at their index, and "did not take effect" (every attempt was
//! answered so, none stayed open) against every logged copy of the session.

use std::collections::BTreeMap;

use super::World;
use crate::consensus::{Committed, ProposeError};
use crate::engine::ProposalToken;
use crate::entry::{ClientId, ControlPlaneEntry, Proposal, ProposalSession};

/// How many attempts a client makes before it gives up.
const MAX_ATTEMPTS: u32 = 8;
/// Ticks an attempt may wait for its answer (the client's deadline).
const ATTEMPT_TICKS: u64 = 40;

/// One client proposal, across its attempts.
pub(in crate::sim) struct Op {
    session: ProposalSession,
    entry: ControlPlaneEntry,
    attempts: u32,
    /// Some attempt may have reached the log with its outcome unknown.
    open: bool,
    /// The attempt waiting for its answer: (token, member, its incarnation,
    /// the tick it was made).
    waiting: Option<(ProposalToken, u64, u64, u64)>,
    retry_at: Option<u64>,
    last_peer: Option<u64>,
    /// What each attempt was answered (for a violation's report).
    answers: Vec<String>,
}

/// The clients and their proposals in flight.
#[derive(Default)]
pub(in crate::sim) struct Clients {
    ids: Vec<ClientId>,
    next_seq: Vec<u64>,
    ops: BTreeMap<u64, Op>,
    next_op: u64,
    tokens: BTreeMap<ProposalToken, u64>,
    next_token: u64,
}

/// What one answer says of an attempt.
enum Fate {
    /// Committed: the answer.
    Acked(Committed),
    /// Logged at (index, term) and refused there.
    RefusedAt(u64, u64),
    /// This attempt did not take effect.
    NoEffect,
    /// This attempt may still take effect.
    Open,
}

fn fate(answer: &Result<Committed, ProposeError>) -> Fate {
    match answer {
        Ok(c) => Fate::Acked(*c),
        Err(ProposeError::Refused {
            at: Some((i, t)), ..
        }) => Fate::RefusedAt(i.0, t.0),
        Err(ProposeError::Refused { at: None, .. } | ProposeError::NotLeader { .. }) => {
            Fate::NoEffect
        }
        Err(
            ProposeError::NoQuorum
            | ProposeError::Timeout(_)
            | ProposeError::Shutdown
            | ProposeError::Storage(_)
            | ProposeError::Indeterminate(_),
        ) => Fate::Open,
        // Anything else the engine may add: assume the worst.
        #[allow(unreachable_patterns)]
        Err(_) => Fate::Open,
    }
}

impl Clients {
    pub(in crate::sim) fn new(rng: &mut crate::engine::rng::SplitMix64, count: usize) -> Self {
        let ids = (0..count)
            .map(|_| ClientId(((rng.next_u64() as u128) << 64) | rng.next_u64() as u128))
            .collect();
        Self {
            ids,
            next_seq: vec![0; count],
            ..Self::default()
        }
    }
}

impl World {
    /// Submits `entry` in a new session of a random client.
    pub(in crate::sim) fn submit(&mut self, entry: ControlPlaneEntry) {
        let c = self.rng.below(self.clients.ids.len() as u64) as usize;
        self.clients.next_seq[c] += 1;
        let session = ProposalSession {
            client: self.clients.ids[c],
            seq: self.clients.next_seq[c],
        };
        let id = self.clients.next_op;
        self.clients.next_op += 1;
        self.clients.ops.insert(
            id,
            Op {
                session,
                entry,
                attempts: 0,
                open: false,
                waiting: None,
                retry_at: None,
                last_peer: None,
                answers: Vec::new(),
            },
        );
        self.attempt(id);
    }

    /// One attempt of `id` at a live member (another than the last one when
    /// there is a choice), following one not-leader redirect.
    fn attempt(&mut self, id: u64) {
        let live = self.serving();
        let Some(op) = self.clients.ops.get_mut(&id) else {
            return;
        };
        op.attempts += 1;
        op.retry_at = None;
        if op.attempts > 1 {
            self.stats.retries += 1;
        }
        if live.is_empty() {
            self.settle(id, Fate::Open, "no live member");
            return;
        }
        let others: Vec<u64> = live
            .iter()
            .copied()
            .filter(|p| Some(*p) != op.last_peer)
            .collect();
        let pool = if others.is_empty() { &live } else { &others };
        let mut peer = pool[self.rng.below(pool.len() as u64) as usize];
        let proposal = Proposal {
            session: Some(op.session),
            entry: op.entry.clone(),
        };
        for _ in 0..2 {
            self.clients.next_token += 1;
            let token = ProposalToken(self.clients.next_token);
            if let Some(op) = self.clients.ops.get_mut(&id) {
                op.last_peer = Some(peer);
            }
            let incarnation = self.nodes.get(&peer).map_or(0, |n| n.incarnation);
            let Some(r) = self.replica(peer) else {
                return self.settle(id, Fate::NoEffect, "member down");
            };
            match r.propose(&proposal, token) {
                Ok(Some(c)) => return self.settle(id, Fate::Acked(c), "repeat"),
                Ok(None) => {
                    if let Some(op) = self.clients.ops.get_mut(&id) {
                        op.waiting = Some((token, peer, incarnation, self.now));
                    }
                    self.clients.tokens.insert(token, id);
                    self.pump(peer);
                    return;
                }
                Err(ProposeError::NotLeader { leader: Some(hint) }) => {
                    match self.nodes.iter().find(|(_, n)| n.id == hint.id) {
                        Some((p, n)) if n.serving(self.now) => peer = *p,
                        _ => return self.settle(id, Fate::NoEffect, "not leader, leader down"),
                    }
                }
                Err(e) => {
                    let why = e.to_string();
                    return self.settle(id, fate(&Err(e)), &why);
                }
            }
        }
        self.settle(id, Fate::NoEffect, "not leader twice");
    }

    /// The answer to the attempt holding `token`.
    pub(in crate::sim) fn proposal_done(
        &mut self,
        token: ProposalToken,
        answer: Result<Committed, ProposeError>,
    ) {
        let Some(id) = self.clients.tokens.remove(&token) else {
            return;
        };
        if let Some(op) = self.clients.ops.get_mut(&id) {
            op.waiting = None;
        }
        let why = match &answer {
            Ok(_) => String::from("committed"),
            Err(e) => format!("completion: {e}"),
        };
        self.settle(id, fate(&answer), &why);
    }

    /// Records what an attempt's answer says and decides what the client
    /// does next.
    fn settle(&mut self, id: u64, fate: Fate, why: &str) {
        let Some(op) = self.clients.ops.get_mut(&id) else {
            return;
        };
        op.answers
            .push(format!("tick {} at {:?}: {why}", self.now, op.last_peer));
        let (session, entry) = (op.session, op.entry.clone());
        match fate {
            Fate::Acked(c) => {
                self.checker
                    .acked(self.now, c.index.0, c.term.0, entry, Some(session));
            }
            Fate::RefusedAt(index, term) => {
                self.checker
                    .refused_at(self.now, index, term, entry, Some(session));
            }
            Fate::NoEffect | Fate::Open => {
                if matches!(fate, Fate::Open) {
                    op.open = true;
                }
                if op.open && op.attempts < MAX_ATTEMPTS {
                    op.retry_at = Some(self.now + 2 + self.rng.below(8));
                    return;
                }
                if !op.open {
                    // Every attempt was answered "did not take effect".
                    let answers = op.answers.join("; ");
                    self.checker.not_taken(session, entry, answers);
                }
            }
        }
        self.clients.ops.remove(&id);
    }

    /// Each tick: attempts whose member is gone or whose deadline passed
    /// are given up (their outcome open), and due retries are made.
    pub(in crate::sim) fn client_duties(&mut self) {
        let mut gone = Vec::new();
        let mut late = Vec::new();
        let mut due = Vec::new();
        for (id, op) in &self.clients.ops {
            if let Some((token, peer, incarnation, issued)) = op.waiting {
                let alive = self
                    .nodes
                    .get(&peer)
                    .is_some_and(|n| n.replica.is_some() && n.incarnation == incarnation);
                if !alive {
                    gone.push((*id, token));
                } else if self.now - issued > ATTEMPT_TICKS {
                    late.push((*id, token, peer));
                }
            } else if op.retry_at.is_some_and(|t| t <= self.now) {
                due.push(*id);
            }
        }
        for (id, token) in gone {
            // The member crashed or stopped with the attempt in flight.
            self.clients.tokens.remove(&token);
            if let Some(op) = self.clients.ops.get_mut(&id) {
                op.waiting = None;
            }
            self.settle(id, Fate::Open, "member crashed or stopped");
        }
        for (id, token, peer) in late {
            // The client's deadline: the driver abandons the proposal and
            // answers what the engine says (a paused one answers nothing).
            self.clients.tokens.remove(&token);
            if let Some(op) = self.clients.ops.get_mut(&id) {
                op.waiting = None;
            }
            let paused = self.nodes.get(&peer).is_some_and(|n| !n.serving(self.now));
            let answer = match self.replica(peer) {
                Some(_) if paused => ProposeError::Timeout(std::time::Duration::ZERO),
                Some(r) => r.abandon(token, std::time::Duration::ZERO),
                None => ProposeError::Shutdown,
            };
            let why = format!("abandoned: {answer}");
            self.settle(id, fate(&Err(answer)), &why);
        }
        for id in due {
            self.attempt(id);
        }
    }
}
