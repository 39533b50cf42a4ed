//! The bookkeeping behind the inbound connection limits (the listener
//! applies them; see the module docs of `tcp` for the whole picture):
//!
//! * [`Pending`]: connections that have not had their Hello accepted, by
//!   age and by [`Source`]. A source holding its share gives way its own
//!   oldest; when every slot is taken, the oldest connection of the source
//!   holding the most gives way.
//! * [`Clients`]: accepted client connections, in all and per identity.
//! * [`PeerConns`]: accepted peer connections per peer id: the newest one
//!   that carried raft frames, and at most [`PEER_SPARE_CONNECTIONS`]
//!   others.
//!
//! Nothing here does I/O except shutting down the sockets it was given.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::net::{IpAddr, Ipv6Addr, Shutdown, TcpStream};

use crate::entry::NodeId;

/// Connections of one peer id, besides its raft connection, that may be
/// open at once (a `WhoIs` question, a new raft connection dialled while
/// the old one is still open); the oldest is closed for a newer one.
pub(super) const PEER_SPARE_CONNECTIONS: usize = 2;

/// Where a connection comes from, as the per-source limit counts it: an
/// IPv4 address (also when written as an IPv4-mapped IPv6 address), or the
/// /64 prefix of an IPv6 address (one host commonly holds a whole /64, so
/// counting single IPv6 addresses would let it open one connection per
/// address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct Source(IpAddr);

impl Source {
    /// The source of a connection from `ip`.
    pub(super) fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Source(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Source(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Source(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            IpAddr::V4(v4) => write!(f, "{v4}"),
            IpAddr::V6(v6) => write!(f, "{v6}/64"),
        }
    }
}

/// Inbound connections that have not had their Hello accepted yet, keyed
/// by their socket key (which grows with acceptance order, so the smallest
/// key is the oldest), and those closed to make room whose threads have
/// not ended yet.
#[derive(Default)]
pub(super) struct Pending {
    by_key: BTreeMap<u64, (Source, TcpStream)>,
    by_source: HashMap<Source, BTreeSet<u64>>,
    leaving: HashSet<u64>,
    /// The sources of the members' addresses (literal IPs in the catalog):
    /// their unfinished handshakes give way only to another member's.
    members: HashSet<Source>,
}

impl Pending {
    /// Notes the new connection `key` from `source`; `sock` is a clone of
    /// its socket, to shut down if it must give way.
    pub(super) fn opened(&mut self, key: u64, source: Source, sock: TcpStream) {
        self.by_key.insert(key, (source, sock));
        self.by_source.entry(source).or_default().insert(key);
    }

    /// The connection `key` had its Hello accepted (or ended): it no longer
    /// gives way.
    pub(super) fn done(&mut self, key: u64) {
        if let Some((source, _)) = self.by_key.remove(&key) {
            self.forget(source, key);
        }
    }

    /// The thread of connection `key` ended.
    pub(super) fn ended(&mut self, key: u64) {
        self.done(key);
        self.leaving.remove(&key);
    }

    /// Pending connections from `source`.
    pub(super) fn of_source(&self, source: Source) -> usize {
        self.by_source.get(&source).map_or(0, BTreeSet::len)
    }

    /// Pending connections in all.
    pub(super) fn len(&self) -> usize {
        self.by_key.len()
    }

    /// Connections closed to make room whose threads have not ended yet
    /// (they still count as open, but not for long).
    pub(super) fn leaving(&self) -> usize {
        self.leaving.len()
    }

    /// Closes the oldest pending connection from `source`; false if it has
    /// none.
    pub(super) fn evict_oldest_of(&mut self, source: Source) -> bool {
        let oldest = self
            .by_source
            .get(&source)
            .and_then(|keys| keys.first().copied());
        match oldest {
            Some(key) => self.evict(key),
            None => false,
        }
    }

    /// The members' sources (see [`Pending::evict_from_heaviest`]).
    pub(super) fn set_member_sources(&mut self, sources: HashSet<Source>) {
        self.members = sources;
    }

    /// Makes room for a connection from `newcomer`: closes the oldest
    /// pending connection of the source that holds the most (of those
    /// holding equally many, the one whose oldest is oldest), among the
    /// sources that are not a member's; only a member's newcomer may take
    /// the place of a member's pending connection. False if there is none
    /// to close. A flood from one source thus makes room from its own
    /// connections before anyone else's, and a flood from many sources
    /// never pushes a member's handshake out (unless it comes from the
    /// member's own address).
    pub(super) fn evict_from_heaviest(&mut self, newcomer: Source) -> bool {
        let heaviest = |members: bool| {
            self.by_source
                .iter()
                .filter(|(source, _)| self.members.contains(source) == members)
                .filter_map(|(_, keys)| Some((keys.len(), keys.first().copied()?)))
                .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)))
                .map(|(_, key)| key)
        };
        let victim = heaviest(false).or_else(|| {
            if self.members.contains(&newcomer) {
                heaviest(true)
            } else {
                None
            }
        });
        match victim {
            Some(key) => self.evict(key),
            None => false,
        }
    }

    fn evict(&mut self, key: u64) -> bool {
        match self.by_key.remove(&key) {
            Some((source, sock)) => {
                let _ = sock.shutdown(Shutdown::Both);
                self.forget(source, key);
                self.leaving.insert(key);
                true
            }
            None => false,
        }
    }

    fn forget(&mut self, source: Source, key: u64) {
        if let Some(keys) = self.by_source.get_mut(&source) {
            keys.remove(&key);
            if keys.is_empty() {
                self.by_source.remove(&source);
            }
        }
    }
}

/// Why a client connection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum ClientRefusal {
    /// Every client slot is taken (the rest are kept for members).
    #[error(
        "too many client connections ({open}, at most {max}: the other slots are kept for members)"
    )]
    Full {
        /// Client connections open.
        open: usize,
        /// The client slots.
        max: usize,
    },
    /// This identity holds its share already.
    #[error("{identity} holds {open} client connections already (at most {max} per identity)")]
    IdentityFull {
        /// The client's identity.
        identity: NodeId,
        /// Its connections open.
        open: usize,
        /// The per-identity limit.
        max: usize,
    },
}

/// Accepted client connections, in all and per identity.
#[derive(Default)]
pub(super) struct Clients {
    total: usize,
    by_identity: HashMap<NodeId, usize>,
}

impl Clients {
    /// Takes a client slot for `identity`: at most `max` in all and
    /// `per_identity` for one identity. Give it back with
    /// [`Clients::release`].
    pub(super) fn take(
        &mut self,
        identity: &NodeId,
        max: usize,
        per_identity: usize,
    ) -> Result<(), ClientRefusal> {
        if self.total >= max {
            return Err(ClientRefusal::Full {
                open: self.total,
                max,
            });
        }
        let held = self.by_identity.get(identity).copied().unwrap_or(0);
        if held >= per_identity {
            return Err(ClientRefusal::IdentityFull {
                identity: identity.clone(),
                open: held,
                max: per_identity,
            });
        }
        self.total += 1;
        self.by_identity.insert(identity.clone(), held + 1);
        Ok(())
    }

    /// Gives back a slot [`Clients::take`] gave `identity`.
    pub(super) fn release(&mut self, identity: &NodeId) {
        self.total = self.total.saturating_sub(1);
        if let Some(n) = self.by_identity.get_mut(identity) {
            *n -= 1;
            if *n == 0 {
                self.by_identity.remove(identity);
            }
        }
    }

    /// Client connections open.
    pub(super) fn open(&self) -> usize {
        self.total
    }
}

/// One peer id's accepted connections: by generation (acceptance order),
/// with the socket key to shut each down by.
#[derive(Default)]
struct PeerSet {
    /// The newest connection that carried raft frames.
    raft: Option<(u64, Option<u64>)>,
    /// The others (said Hello, no raft frame yet), by generation.
    others: BTreeMap<u64, Option<u64>>,
}

/// What [`PeerConns::carries_raft`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RaftClaim {
    /// The connection is the peer's raft connection now; `replaced` is the
    /// socket key of the older one it replaced, to close.
    Taken {
        /// The older raft connection's socket key.
        replaced: Option<u64>,
    },
    /// A newer connection of the peer carries its raft frames: this one
    /// should close.
    Superseded,
}

/// Accepted peer connections per peer id. A peer needs one raft connection
/// (plus, briefly, a `WhoIs` question or the next raft connection), so one
/// whose certificate holds many cannot take many slots: the newest raft
/// connection wins (an older one is closed), and at most
/// [`PEER_SPARE_CONNECTIONS`] others stay open (the oldest is closed).
#[derive(Default)]
pub(super) struct PeerConns {
    by_peer: HashMap<u64, PeerSet>,
}

impl PeerConns {
    /// Notes the accepted connection `generation` of `peer_id` (socket
    /// `key`); returns the keys of connections to close for it.
    pub(super) fn accepted(&mut self, peer_id: u64, generation: u64, key: Option<u64>) -> Vec<u64> {
        let set = self.by_peer.entry(peer_id).or_default();
        set.others.insert(generation, key);
        let mut close = Vec::new();
        while set.others.len() > PEER_SPARE_CONNECTIONS {
            if let Some((_, Some(k))) = set.others.pop_first() {
                close.push(k);
            }
        }
        close
    }

    /// Connection `generation` of `peer_id` carries raft frames: it becomes
    /// the peer's raft connection (and the one it replaces is to close),
    /// unless a newer connection of the peer carries them already.
    pub(super) fn carries_raft(&mut self, peer_id: u64, generation: u64) -> RaftClaim {
        let set = self.by_peer.entry(peer_id).or_default();
        let key = match set.others.remove(&generation) {
            Some(k) => k,
            // Already the raft connection (or closed as a spare meanwhile:
            // its own thread ends it soon).
            None => return RaftClaim::Taken { replaced: None },
        };
        match set.raft {
            Some((newer, _)) if newer > generation => RaftClaim::Superseded,
            previous => {
                set.raft = Some((generation, key));
                RaftClaim::Taken {
                    replaced: previous.and_then(|(_, k)| k),
                }
            }
        }
    }

    /// The connection `generation` of `peer_id` ended.
    pub(super) fn ended(&mut self, peer_id: u64, generation: u64) {
        if let Some(set) = self.by_peer.get_mut(&peer_id) {
            set.others.remove(&generation);
            if set.raft.is_some_and(|(g, _)| g == generation) {
                set.raft = None;
            }
            if set.raft.is_none() && set.others.is_empty() {
                self.by_peer.remove(&peer_id);
            }
        }
    }

    /// Connections of `peer_id` open (for tests and stats).
    #[cfg(test)]
    pub(super) fn of_peer(&self, peer_id: u64) -> usize {
        self.by_peer
            .get(&peer_id)
            .map_or(0, |s| s.others.len() + usize::from(s.raft.is_some()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sockets to stand for pending connections (their far ends kept).
    fn sockets(n: usize) -> (Vec<TcpStream>, Vec<TcpStream>) {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let mut near = Vec::new();
        let mut far = Vec::new();
        for _ in 0..n {
            far.push(TcpStream::connect(addr).unwrap());
            near.push(l.accept().unwrap().0);
        }
        (near, far)
    }

    /// The members' handshakes are protected from a flood from many other
    /// addresses: with a member's pending connection the oldest of all and
    /// every source holding one, room is made from the flood's oldest, not
    /// the member's; only another member's newcomer may take its place.
    #[test]
    fn a_flood_from_many_sources_never_pushes_out_a_members_handshake() {
        let (near, _far) = sockets(6);
        let member = Source::of("10.0.0.1".parse().unwrap());
        let mut p = Pending::default();
        p.set_member_sources([member].into_iter().collect());
        let mut near = near.into_iter();
        p.opened(1, member, near.next().unwrap());
        for (k, ip) in [(2, "192.0.2.1"), (3, "192.0.2.2"), (4, "192.0.2.3")] {
            p.opened(k, Source::of(ip.parse().unwrap()), near.next().unwrap());
        }
        let stranger = Source::of("198.51.100.7".parse().unwrap());
        for _ in 0..3 {
            assert!(p.evict_from_heaviest(stranger));
        }
        assert_eq!(p.of_source(member), 1, "the member's handshake stayed");
        assert_eq!(p.len(), 1);
        // Nothing else to close: a stranger is refused rather than take the
        // member's place; another member may.
        assert!(!p.evict_from_heaviest(stranger));
        let other_member = Source::of("10.0.0.1".parse().unwrap());
        assert!(p.evict_from_heaviest(other_member));
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn ipv6_sources_are_counted_by_their_64_prefix() {
        let a = Source::of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = Source::of("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = Source::of("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            Source::of("::ffff:10.0.0.1".parse().unwrap()),
            Source::of("10.0.0.1".parse().unwrap())
        );
        assert_eq!(a.to_string(), "2001:db8:1:2::/64");
    }

    #[test]
    fn the_identity_limit_and_the_total_are_both_kept() {
        let id = |s: &str| NodeId::from_certificate_subject(s).unwrap();
        let (ops, boss) = (id("CN=ops"), id("CN=boss"));
        let mut c = Clients::default();
        c.take(&ops, 3, 2).unwrap();
        c.take(&ops, 3, 2).unwrap();
        assert!(matches!(
            c.take(&ops, 3, 2),
            Err(ClientRefusal::IdentityFull {
                open: 2,
                max: 2,
                ..
            })
        ));
        c.take(&boss, 3, 2).unwrap();
        assert!(matches!(
            c.take(&boss, 3, 2),
            Err(ClientRefusal::Full { open: 3, max: 3 })
        ));
        c.release(&ops);
        c.take(&boss, 3, 2).unwrap();
        assert_eq!(c.open(), 3);
    }

    #[test]
    fn the_newest_raft_connection_of_a_peer_wins() {
        let mut p = PeerConns::default();
        assert!(p.accepted(2, 10, Some(100)).is_empty());
        let taken = |replaced| RaftClaim::Taken { replaced };
        assert_eq!(p.carries_raft(2, 10), taken(None));
        assert!(p.accepted(2, 11, Some(101)).is_empty());
        // The newer one carries raft frames: the older is closed.
        assert_eq!(p.carries_raft(2, 11), taken(Some(100)));
        p.ended(2, 10);
        // An older connection that speaks up late is the one closed.
        assert!(p.accepted(2, 12, Some(102)).is_empty());
        assert!(p.accepted(2, 13, Some(103)).is_empty());
        assert_eq!(p.carries_raft(2, 13), taken(Some(101)));
        assert_eq!(p.carries_raft(2, 12), RaftClaim::Superseded);
        p.ended(2, 12);
        // Silent extra connections: at most the spares stay.
        assert!(p.accepted(2, 14, Some(104)).is_empty());
        assert!(p.accepted(2, 15, Some(105)).is_empty());
        assert_eq!(p.accepted(2, 16, Some(106)), vec![104]);
        assert_eq!(p.of_peer(2), 1 + PEER_SPARE_CONNECTIONS);
        for g in 11..=16 {
            p.ended(2, g);
        }
        assert_eq!(p.of_peer(2), 0);
    }
}
