//! Transports: how raft messages travel between members.
//!
//! A transport takes messages from a member's driver ([`Transport::send`])
//! and hands messages that arrive for it to its [`Inbox`]. It never sees
//! proposals as bytes it could forge: a member refuses `MsgPropose` from the
//! network (see [`crate::engine::Replica::step`]). Delivery is best effort:
//! raft retries what is lost, so a transport may drop under pressure, and
//! must tell the sender when a snapshot was lost
//! ([`Inbox::report_snapshot`]).
//!
//! This room holds the trait and the in-memory transport used by in-process
//! clusters and tests ([`memory::MemoryNetwork`]).

pub mod memory;
pub mod wire;

use std::sync::mpsc::Sender;

use raft::eraftpb::Message;

use crate::entry::{MemberAddress, NodeId};

/// One peer as the transport needs to know it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Peer {
    /// Its raft peer id.
    pub peer_id: u64,
    /// Its identity (what its certificate must say).
    pub id: NodeId,
    /// Where it listens.
    pub address: MemberAddress,
}

/// Sends messages to peers. Implementations must not block the driver for
/// long: queue, and drop when a peer's queue is full.
pub trait Transport: Send {
    /// Queues `msg` for peer `msg.to`.
    fn send(&mut self, msg: Message);

    /// The current peers (called whenever the catalog's membership changes).
    fn set_peers(&mut self, peers: &[Peer]);
}

/// What arrives at a member's driver from outside its thread.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// A raft message from a peer.
    Message(Message),
    /// A snapshot message to `peer_id` was delivered (`true`) or lost.
    SnapshotReport { peer_id: u64, delivered: bool },
    /// `peer_id` could not be reached.
    Unreachable { peer_id: u64 },
}

/// The handle through which a transport delivers to one member.
#[derive(Debug, Clone)]
pub struct Inbox {
    tx: Sender<crate::node::driver::Command>,
}

impl Inbox {
    pub(crate) fn new(tx: Sender<crate::node::driver::Command>) -> Self {
        Self { tx }
    }

    /// Delivers a message from a peer. Returns false when the member has
    /// shut down.
    pub fn deliver(&self, msg: Message) -> bool {
        self.tx
            .send(crate::node::driver::Command::Inbound(Inbound::Message(msg)))
            .is_ok()
    }

    /// Reports whether a snapshot message this member sent to `peer_id`
    /// arrived.
    pub fn report_snapshot(&self, peer_id: u64, delivered: bool) -> bool {
        self.tx
            .send(crate::node::driver::Command::Inbound(
                Inbound::SnapshotReport { peer_id, delivered },
            ))
            .is_ok()
    }

    /// Reports that `peer_id` could not be reached.
    pub fn report_unreachable(&self, peer_id: u64) -> bool {
        self.tx
            .send(crate::node::driver::Command::Inbound(
                Inbound::Unreachable { peer_id },
            ))
            .is_ok()
    }
}
