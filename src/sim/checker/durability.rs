//! The checker's durability rules: what a member showed was durable
//! (appends it acknowledged, the term and vote its messages carried) must
//! survive its crash and restart.

use super::Checker;
use crate::storage::DurableStore;

impl Checker {
    /// `peer` sent a message (not a pre-vote) in `term`, showing its `vote`
    /// in that term if it is a vote granted or its own candidacy. raft
    /// sends the messages of a follower or candidate only after the Ready
    /// that changed its term or vote is durable, and a leader campaigned in
    /// its term before it led: `term` and `vote` were durable when it left.
    pub fn sent(&mut self, peer: u64, term: u64, vote: Option<u64>) {
        let d = self.durable_terms.entry(peer).or_insert((term, vote));
        if term > d.0 {
            *d = (term, vote);
        } else if term == d.0 && vote.is_some() {
            d.1 = vote;
        }
    }

    /// `peer` acknowledged an append up to (`index`, `term`): its log held
    /// it durably when the acknowledgement left.
    pub fn append_acked(&mut self, peer: u64, index: u64, term: u64) {
        self.appends.entry(peer).or_default().insert(index, term);
    }

    /// The log of a member that just restarted agrees with what committed,
    /// and holds every committed entry it acknowledged (unless a snapshot
    /// covers it).
    pub fn restarted(&mut self, tick: u64, peer: u64, store: &DurableStore) {
        self.acked_appends_kept(tick, peer, store);
        self.term_and_vote_kept(tick, peer, store);
        let commit = store.hard_state().commit;
        let first = store.first_index();
        if commit < first {
            return;
        }
        let mut bad = None;
        for (index, c) in self.committed.range(first..=commit) {
            if let Some(t) = store.term(*index) {
                if t != c.term {
                    bad = Some((*index, c.term, t));
                    break;
                }
            } else if *index <= commit {
                bad = Some((*index, c.term, 0));
                break;
            }
        }
        if let Some((index, want, got)) = bad {
            self.violation(
                tick,
                format!("durability: restarted peer {peer} has term {got} at committed index {index} (term {want})"),
            );
        }
    }

    /// The appends `peer` acknowledged that are now known committed (with
    /// the acknowledged term) must be in its restarted log or below its
    /// snapshot; the others wait for a later restart.
    fn acked_appends_kept(&mut self, tick: u64, peer: u64, store: &DurableStore) {
        let Some(acked) = self.appends.get_mut(&peer) else {
            return;
        };
        let first = store.first_index();
        let mut lost = None;
        acked.retain(|index, term| {
            let Some(c) = self.committed.get(index) else {
                return true;
            };
            if c.term == *term && *index >= first && store.term(*index) != Some(*term) {
                lost.get_or_insert((*index, *term, store.term(*index)));
            }
            false
        });
        if let Some((index, term, now)) = lost {
            let last = store.last_index();
            self.violation(
                tick,
                format!(
                    "durability: peer {peer} acknowledged the append of ({index}, term {term}), which committed, but restarted without it (term {now:?} there; its log ends at {last})"
                ),
            );
        }
    }

    /// The restarted `peer`'s hard state keeps the highest term it sent a
    /// message in, and the vote its messages showed in that term.
    fn term_and_vote_kept(&mut self, tick: u64, peer: u64, store: &DurableStore) {
        let Some((term, candidate)) = self.durable_terms.get(&peer).copied() else {
            return;
        };
        let hs = store.hard_state();
        if hs.term < term {
            self.violation(
                tick,
                format!(
                    "durability: peer {peer} sent messages in term {term}, but restarted in term {}",
                    hs.term
                ),
            );
        } else if let Some(c) = candidate.filter(|c| hs.term == term && hs.vote != *c) {
            self.violation(
                tick,
                format!(
                    "durability: peer {peer} voted for {c} in term {term}, but restarted in that term with its vote for {}",
                    hs.vote
                ),
            );
        }
    }
}
