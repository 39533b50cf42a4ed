//! Who the transport accepts and links to: the catalog's members (the last
//! `set_peers`, or the seed peers before it), the catalog's next peer id,
//! and the peers vouched for by a known member (admitted after this
//! member's catalog view, see `vouch`). Owns the membership check every
//! inbound connection and frame goes through, and the rules that keep a
//! vouched peer from shadowing a catalog member: its peer id is at or above
//! the catalog's next peer id, and neither its peer id nor its identity is
//! any catalog member's. One lock guards all of it, so every check sees one
//! consistent view.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::lock;

use crate::entry::NodeId;
use crate::transport::Peer;

/// The members a transport knows, and the peers vouched for.
#[derive(Debug, Default)]
pub(super) struct Membership {
    /// The catalog's members, by peer id.
    catalog: HashMap<u64, Peer>,
    /// Peers a known member vouched for, by peer id (never one of
    /// `catalog`'s peer ids or identities, always at or above
    /// `next_peer_id`).
    vouched: HashMap<u64, Peer>,
    /// The catalog's next peer id (0: not known yet): a peer id below it
    /// that is not among the catalog's members belongs to a removed member.
    next_peer_id: u64,
}

impl Membership {
    /// A membership of `catalog` members, with no next peer id known yet.
    pub(super) fn new(catalog: HashMap<u64, Peer>) -> Self {
        Self {
            catalog,
            ..Self::default()
        }
    }

    /// Replaces the catalog's members; drops (and returns) the vouched peers
    /// that would now shadow one of them.
    pub(super) fn set_catalog(&mut self, catalog: HashMap<u64, Peer>) -> Vec<Peer> {
        self.catalog = catalog;
        self.prune()
    }

    /// Sets the catalog's next peer id; drops (and returns) the vouched
    /// peers below it: by now the catalog lists them, or they were removed.
    pub(super) fn set_next_peer_id(&mut self, next_peer_id: u64) -> Vec<Peer> {
        self.next_peer_id = next_peer_id;
        self.prune()
    }

    fn prune(&mut self) -> Vec<Peer> {
        let (catalog, next) = (&self.catalog, self.next_peer_id);
        let mut dropped = Vec::new();
        self.vouched.retain(|peer_id, p| {
            let keep = *peer_id >= next
                && !catalog.contains_key(peer_id)
                && !catalog.values().any(|m| m.id == p.id);
            if !keep {
                dropped.push(p.clone());
            }
            keep
        });
        dropped
    }

    /// The catalog's members (not the vouched peers).
    pub(super) fn catalog(&self) -> impl Iterator<Item = &Peer> {
        self.catalog.values()
    }

    /// The peers to link to: the catalog's members and the vouched peers.
    pub(super) fn effective(&self) -> Vec<Peer> {
        self.catalog
            .values()
            .chain(self.vouched.values())
            .cloned()
            .collect()
    }

    /// How many peers are vouched for now.
    pub(super) fn vouched_count(&self) -> usize {
        self.vouched.len()
    }

    /// The member (or vouched peer) with `peer_id`.
    pub(super) fn get(&self, peer_id: u64) -> Option<&Peer> {
        self.catalog
            .get(&peer_id)
            .or_else(|| self.vouched.get(&peer_id))
    }

    /// Whether `identity` may speak as raft peer `peer_id`: `Err((reason,
    /// removed))`, `removed` when the catalog assigned `peer_id` once and
    /// no longer lists it, to anyone (the dialer is that removed member, or
    /// claims to be).
    pub(super) fn check(&self, identity: &NodeId, peer_id: u64) -> Result<(), (String, bool)> {
        let removed = peer_id < self.next_peer_id && !self.catalog.contains_key(&peer_id);
        let found = self
            .catalog
            .values()
            .chain(self.vouched.values())
            .find(|p| &p.id == identity);
        match found {
            None => Err(("not a member".into(), removed)),
            Some(p) if p.peer_id != peer_id => Err((
                format!(
                    "claims peer id {peer_id} but the member's peer id is {}",
                    p.peer_id
                ),
                removed,
            )),
            Some(_) => Ok(()),
        }
    }

    /// Whether a known member may be asked to vouch for `identity` as
    /// `peer_id`: the catalog's next peer id is known, `peer_id` is at or
    /// above it (assigned after this catalog's view), and neither is any
    /// catalog member's nor already vouched for as someone else.
    pub(super) fn vouchable(&self, identity: &NodeId, peer_id: u64) -> Result<(), String> {
        if self.next_peer_id == 0 {
            return Err("this member's catalog is not known yet".into());
        }
        if peer_id < self.next_peer_id {
            return Err(format!(
                "peer id {peer_id} is below this catalog's next peer id {}",
                self.next_peer_id
            ));
        }
        if let Some(p) = self.catalog.get(&peer_id) {
            return Err(format!("peer id {peer_id} is {}", p.id));
        }
        if let Some(p) = self.catalog.values().find(|p| &p.id == identity) {
            return Err(format!(
                "{identity} is the member with peer id {}",
                p.peer_id
            ));
        }
        match self.vouched.get(&peer_id) {
            Some(p) if &p.id != identity => {
                Err(format!("peer id {peer_id} was vouched for as {}", p.id))
            }
            _ => Ok(()),
        }
    }

    /// Adds `peer`, vouched for by a known member, if it is still
    /// [`Membership::vouchable`] (the catalog may have moved meanwhile).
    pub(super) fn add_vouched(&mut self, peer: Peer) -> Result<(), String> {
        self.vouchable(&peer.id, peer.peer_id)?;
        // An identity is one peer: a newer vouch replaces an older one.
        self.vouched.retain(|_, p| p.id != peer.id);
        self.vouched.insert(peer.peer_id, peer);
        Ok(())
    }
}

/// How long a refused identity is refused without asking again.
pub(super) const REFUSED_FOR: Duration = Duration::from_secs(5);
/// The most refused identities remembered (the oldest goes first).
pub(super) const MAX_REFUSED: usize = 1024;

/// The listener's vouching state: the one-query gate, the refusals
/// remembered and a counter of questions asked.
#[derive(Debug, Default)]
pub(super) struct Vouching {
    /// Held while a query runs (one at a time).
    pub(super) gate: Mutex<()>,
    /// Refused identities: when, and the peer id each claimed.
    refused: Mutex<HashMap<NodeId, (Instant, u64)>>,
    /// Questions asked so far.
    pub(super) queries: AtomicU64,
}

impl Vouching {
    /// WhoIs questions sent so far.
    pub(super) fn queries(&self) -> u64 {
        self.queries.load(Ordering::Relaxed)
    }

    /// Why `identity` is refused without asking, if it was refused lately.
    pub(super) fn recently_refused(&self, identity: &NodeId, now: Instant) -> Option<String> {
        let refused = lock(&self.refused);
        let (at, claimed) = refused.get(identity)?;
        let age = now.saturating_duration_since(*at);
        (age < REFUSED_FOR).then(|| {
            format!(
                "no known member vouched for it as peer id {claimed} {} ms ago; not asking again \
                 for {} s",
                age.as_millis(),
                REFUSED_FOR.as_secs()
            )
        })
    }

    pub(super) fn remember_refusal(&self, identity: &NodeId, peer_id: u64, now: Instant) {
        let mut refused = lock(&self.refused);
        refused.retain(|_, (at, _)| now.saturating_duration_since(*at) < REFUSED_FOR);
        if refused.len() >= MAX_REFUSED && !refused.contains_key(identity) {
            let oldest = refused
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(id, _)| id.clone());
            if let Some(id) = oldest {
                refused.remove(&id);
            }
        }
        refused.insert(identity.clone(), (now, peer_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(peer_id: u64, name: &str) -> Peer {
        Peer {
            peer_id,
            id: NodeId::from_certificate_subject(name).unwrap(),
            address: "127.0.0.1:1".parse().unwrap(),
        }
    }

    fn id(name: &str) -> NodeId {
        NodeId::from_certificate_subject(name).unwrap()
    }

    /// A vouched peer can never shadow a catalog member, and leaves when
    /// the catalog catches up.
    #[test]
    fn a_vouched_peer_never_shadows_a_member() {
        let catalog = [peer(1, "CN=a"), peer(2, "CN=b")];
        let mut m = Membership::new(catalog.iter().map(|p| (p.peer_id, p.clone())).collect());
        assert!(m.vouchable(&id("CN=d"), 4).is_err(), "next peer id unknown");
        m.set_next_peer_id(3);
        assert!(m.vouchable(&id("CN=d"), 2).is_err(), "below next");
        assert!(m.vouchable(&id("CN=a"), 4).is_err(), "a member's identity");
        assert!(m.add_vouched(peer(4, "CN=a")).is_err());
        m.add_vouched(peer(4, "CN=d")).unwrap();
        assert!(m.check(&id("CN=d"), 4).is_ok());
        assert!(m.check(&id("CN=d"), 5).is_err(), "another peer id");
        assert!(m.vouchable(&id("CN=e"), 4).is_err(), "vouched as another");
        assert_eq!(m.effective().len(), 3);
        // The catalog lists peer id 4 as someone else: the vouch goes.
        let dropped = m.set_catalog(
            [peer(1, "CN=a"), peer(2, "CN=b"), peer(4, "CN=x")]
                .into_iter()
                .map(|p| (p.peer_id, p))
                .collect(),
        );
        assert_eq!(dropped, vec![peer(4, "CN=d")]);
        assert!(m.check(&id("CN=d"), 4).is_err());
        // The catalog's view passes a vouched peer id: the vouch goes.
        m.set_catalog(catalog.iter().map(|p| (p.peer_id, p.clone())).collect());
        m.add_vouched(peer(5, "CN=d")).unwrap();
        assert_eq!(m.set_next_peer_id(6), vec![peer(5, "CN=d")]);
        assert_eq!(m.vouched_count(), 0);
        assert_eq!(m.check(&id("CN=d"), 5).map_err(|(_, r)| r), Err(true));
    }
}
