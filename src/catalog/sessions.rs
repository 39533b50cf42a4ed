//! Client sessions: the outcome of each recent proposal per client, so a
//! retry that reaches the log twice takes effect once.
//!
//! The table is part of the replicated state: it changes only when a
//! committed proposal with a session is applied, it is bounded by rules that
//! depend only on log indexes and counts, and it travels in the catalog
//! snapshot. Every replica therefore answers a retry identically.
//!
//! The bounds (documented for clients in `docs/adr/0006-exactly-once-proposals.md`):
//! * per client, the outcomes of the [`SESSION_WINDOW`] highest sequence
//!   numbers are kept; a retry of a lower one is answered "too old to know"
//!   ([`SessionCheck::TooOld`]), never applied again;
//! * a client none of whose proposals was applied in the last
//!   [`SESSION_EXPIRY_ENTRIES`] log entries is forgotten;
//! * at most [`MAX_SESSIONS`] clients are kept, and their outcomes take at
//!   most [`MAX_SESSION_BYTES`] in the snapshot; past either the least
//!   recently active is forgotten.
//!
//! A forgotten client is new to the catalog: a retry that arrives after its
//! client was forgotten is applied as a new proposal. Clients retry within
//! seconds, far inside these bounds.

use std::collections::{BTreeMap, BTreeSet};

use super::ApplyOutcome;
use crate::entry::{ClientId, Index, ProposalSession, Term};

/// How many of a client's most recent sequence numbers keep their outcome
/// (so at most this many of its proposals may be in flight at once).
pub const SESSION_WINDOW: u64 = 128;
/// A client with no applied proposal for this many log entries is forgotten.
pub const SESSION_EXPIRY_ENTRIES: u64 = 1_000_000;
/// The most clients kept at once.
pub const MAX_SESSIONS: usize = 4096;
/// The most bytes the kept clients take in the catalog snapshot (their
/// encoding, [`SessionTable::bytes`]). Clients whose proposals were
/// applied or refused for short reasons never reach it ([`MAX_SESSIONS`]
/// full windows of those take about 21 MiB); it bounds a table of refusals
/// that name the longest identities (about 260 KiB per client), so the
/// catalog snapshot stays within its bound (`catalog::limits`).
pub const MAX_SESSION_BYTES: usize = 32 << 20;
/// The bytes of one client in the snapshot besides its outcomes: its id,
/// last index, highest sequence and outcome count.
pub(crate) const CLIENT_LEN: usize = 16 + 8 + 8 + 8;
/// The bytes of one outcome in the snapshot besides the recorded outcome:
/// its sequence number.
const SEQ_LEN: usize = 8;

/// The outcome a proposal had when it was first applied.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordedOutcome {
    /// Where it was applied.
    pub index: Index,
    /// The term of its entry.
    pub term: Term,
    /// What applying it did.
    pub outcome: ApplyOutcome,
}

/// What the table says about a proposal's session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionCheck {
    /// Not seen before: apply it.
    New,
    /// Already applied: this is its outcome.
    Repeat(RecordedOutcome),
    /// Below the client's window: it may have been applied, the outcome is
    /// no longer known.
    TooOld,
}

/// One client's recent outcomes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct ClientSession {
    /// The index of the last applied proposal of this client.
    pub(crate) last_index: Index,
    /// The highest sequence number applied.
    pub(crate) max_seq: u64,
    /// Outcomes by sequence number, within the window below `max_seq`.
    pub(crate) outcomes: BTreeMap<u64, RecordedOutcome>,
    /// The length of this client's encoding in the snapshot.
    pub(crate) bytes: usize,
}

/// Every client's session, bounded as the module comment says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionTable {
    pub(crate) clients: BTreeMap<ClientId, ClientSession>,
    /// (last applied index, client): the order in which clients expire.
    pub(crate) by_activity: BTreeSet<(Index, ClientId)>,
    /// The sum of the clients' `bytes`.
    pub(crate) bytes: usize,
}

impl SessionTable {
    /// What is known of `session`.
    pub fn check(&self, session: &ProposalSession) -> SessionCheck {
        let Some(c) = self.clients.get(&session.client) else {
            return SessionCheck::New;
        };
        if let Some(r) = c.outcomes.get(&session.seq) {
            return SessionCheck::Repeat(r.clone());
        }
        if session.seq.saturating_add(SESSION_WINDOW) <= c.max_seq {
            return SessionCheck::TooOld;
        }
        SessionCheck::New
    }

    /// Records the outcome of `session`'s proposal, applied at `index`.
    pub fn record(&mut self, session: &ProposalSession, recorded: RecordedOutcome) {
        let index = recorded.index;
        let was = self.clients.get(&session.client).map_or(0, |c| c.bytes);
        let c = self
            .clients
            .entry(session.client)
            .or_insert_with(|| ClientSession {
                bytes: CLIENT_LEN,
                ..ClientSession::default()
            });
        self.by_activity.remove(&(c.last_index, session.client));
        c.last_index = index;
        c.max_seq = c.max_seq.max(session.seq);
        c.bytes += SEQ_LEN + recorded.encoded_len();
        if let Some(replaced) = c.outcomes.insert(session.seq, recorded) {
            c.bytes -= SEQ_LEN + replaced.encoded_len();
        }
        let floor = c.max_seq.saturating_sub(SESSION_WINDOW - 1);
        let kept = c.outcomes.split_off(&floor);
        for dropped in std::mem::replace(&mut c.outcomes, kept).values() {
            c.bytes -= SEQ_LEN + dropped.encoded_len();
        }
        self.bytes = self.bytes - was + c.bytes;
        self.by_activity.insert((index, session.client));
        self.expire(index);
    }

    /// Forgets clients idle for [`SESSION_EXPIRY_ENTRIES`] at `index`, and the
    /// least recently active beyond [`MAX_SESSIONS`] or [`MAX_SESSION_BYTES`].
    pub fn expire(&mut self, index: Index) {
        while let Some(&(last, client)) = self.by_activity.first() {
            let idle = index.0.saturating_sub(last.0) >= SESSION_EXPIRY_ENTRIES;
            if !idle && self.clients.len() <= MAX_SESSIONS && self.bytes <= MAX_SESSION_BYTES {
                break;
            }
            self.by_activity.pop_first();
            if let Some(c) = self.clients.remove(&client) {
                self.bytes -= c.bytes;
            }
        }
    }

    /// How many clients are remembered.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// The length of the clients' encoding in the catalog snapshot (at
    /// most [`MAX_SESSION_BYTES`] once a proposal was recorded).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether no client is remembered.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::CatalogVersion;

    fn at(i: u64) -> RecordedOutcome {
        RecordedOutcome {
            index: Index(i),
            term: Term(1),
            outcome: ApplyOutcome::Applied {
                version: CatalogVersion(i),
            },
        }
    }

    fn s(client: u128, seq: u64) -> ProposalSession {
        ProposalSession {
            client: ClientId(client),
            seq,
        }
    }

    #[test]
    fn a_repeat_gets_the_first_outcome_and_old_sequences_are_too_old() {
        let mut t = SessionTable::default();
        assert_eq!(t.check(&s(1, 1)), SessionCheck::New);
        t.record(&s(1, 1), at(10));
        assert_eq!(t.check(&s(1, 1)), SessionCheck::Repeat(at(10)));
        assert_eq!(t.check(&s(2, 1)), SessionCheck::New, "another client");
        for seq in 2..=SESSION_WINDOW + 5 {
            t.record(&s(1, seq), at(10 + seq));
        }
        let max = SESSION_WINDOW + 5;
        assert_eq!(t.check(&s(1, 1)), SessionCheck::TooOld);
        assert_eq!(t.check(&s(1, max - SESSION_WINDOW)), SessionCheck::TooOld);
        assert_eq!(
            t.check(&s(1, max - SESSION_WINDOW + 1)),
            SessionCheck::Repeat(at(10 + max - SESSION_WINDOW + 1))
        );
        assert_eq!(
            t.clients[&ClientId(1)].outcomes.len() as u64,
            SESSION_WINDOW
        );
        // A sequence in the window that never reached the log is new.
        t.clients
            .get_mut(&ClientId(1))
            .expect("client")
            .outcomes
            .remove(&(max - 1));
        assert_eq!(t.check(&s(1, max - 1)), SessionCheck::New);
    }

    #[test]
    fn idle_clients_expire_by_index_and_the_table_is_bounded() {
        let mut t = SessionTable::default();
        t.record(&s(1, 1), at(5));
        t.record(&s(2, 1), at(6));
        t.expire(Index(5 + SESSION_EXPIRY_ENTRIES - 1));
        assert_eq!(t.len(), 2);
        t.record(&s(3, 1), at(5 + SESSION_EXPIRY_ENTRIES));
        assert_eq!(t.check(&s(1, 1)), SessionCheck::New, "client 1 expired");
        assert!(matches!(t.check(&s(2, 1)), SessionCheck::Repeat(_)));
        let mut t = SessionTable::default();
        for c in 0..MAX_SESSIONS as u128 + 3 {
            t.record(&s(c, 1), at(10 + c as u64));
        }
        assert_eq!(t.len(), MAX_SESSIONS);
        assert_eq!(
            t.check(&s(0, 1)),
            SessionCheck::New,
            "least recent forgotten"
        );
        assert!(matches!(t.check(&s(3, 1)), SessionCheck::Repeat(_)));
        assert_eq!(t.by_activity.len(), t.len());
    }

    /// The largest outcome a proposal can have: a refusal naming two
    /// identities of the longest length.
    fn big(i: u64) -> RecordedOutcome {
        let name = |c: char| {
            crate::entry::NodeId::from_certificate_subject(
                &c.to_string().repeat(crate::entry::NodeId::MAX_LEN),
            )
            .expect("identity")
        };
        RecordedOutcome {
            index: Index(i),
            term: Term(1),
            outcome: ApplyOutcome::Refused(crate::catalog::Refusal::ConflictingLeader {
                term: Term(1),
                recorded: name('a'),
                proposed: name('b'),
            }),
        }
    }

    #[test]
    fn the_table_is_bounded_in_encoded_bytes_and_forgets_the_least_recent_first() {
        let mut t = SessionTable::default();
        let mut index = 0;
        let mut client = 0u128;
        // Clients whose outcomes are all large refusals reach the byte
        // budget long before the count bound.
        while client < 200 {
            for seq in 1..=SESSION_WINDOW {
                index += 1;
                t.record(&s(client, seq), big(index));
                assert!(t.bytes() <= MAX_SESSION_BYTES, "{} bytes", t.bytes());
            }
            client += 1;
        }
        assert!(t.len() < 200 && t.len() < MAX_SESSIONS, "{}", t.len());
        let kept = t.len() as u128;
        assert_eq!(t.check(&s(0, 1)), SessionCheck::New, "oldest forgotten");
        assert!(matches!(
            t.check(&s(199, SESSION_WINDOW)),
            SessionCheck::Repeat(_)
        ));
        assert!(matches!(
            t.check(&s(200 - kept, 1)),
            SessionCheck::Repeat(_)
        ));
        assert_eq!(t.check(&s(199 - kept, 1)), SessionCheck::New);
        assert_eq!(t.by_activity.len(), t.len());
        // The count is what the snapshot holds, exactly.
        let mut w = crate::entry::codec::Writer::new();
        crate::catalog::snapshot::put_sessions(&mut w, &t);
        assert_eq!(w.finish().len(), 8 + t.bytes());
        // Small outcomes do not fill it: the count bound rules there.
        let small_client = CLIENT_LEN + SESSION_WINDOW as usize * (8 + at(1).encoded_len());
        assert!(small_client * MAX_SESSIONS < MAX_SESSION_BYTES);
    }
}
