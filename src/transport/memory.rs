//! An in-memory transport: members of one process exchange raft messages
//! through a shared hub, with partitions for tests.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use raft::eraftpb::{Message, MessageType};

use super::{Inbox, Peer, Transport};

#[derive(Debug, Default)]
struct Hub {
    inboxes: HashMap<u64, Inbox>,
    /// Peers cut off from everyone.
    isolated: HashSet<u64>,
}

/// A network of in-process members.
#[derive(Debug, Clone, Default)]
pub struct MemoryNetwork {
    hub: Arc<Mutex<Hub>>,
}

impl MemoryNetwork {
    /// An empty network.
    pub fn new() -> Self {
        Self::default()
    }

    fn hub(&self) -> MutexGuard<'_, Hub> {
        self.hub.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The transport of member `peer_id`, whose inbox is `inbox`.
    pub fn join(&self, peer_id: u64, inbox: Inbox) -> MemoryTransport {
        self.hub().inboxes.insert(peer_id, inbox);
        MemoryTransport {
            me: peer_id,
            net: self.clone(),
        }
    }

    /// Removes a member (it stopped).
    pub fn leave(&self, peer_id: u64) {
        self.hub().inboxes.remove(&peer_id);
    }

    /// Cuts `peer_id` off from every other member, both ways.
    pub fn isolate(&self, peer_id: u64) {
        self.hub().isolated.insert(peer_id);
    }

    /// Reconnects every member.
    pub fn heal(&self) {
        self.hub().isolated.clear();
    }
}

/// One member's end of a [`MemoryNetwork`].
#[derive(Debug)]
pub struct MemoryTransport {
    me: u64,
    net: MemoryNetwork,
}

impl Transport for MemoryTransport {
    fn send(&mut self, msg: Message) {
        let hub = self.net.hub();
        let to = msg.to;
        let is_snapshot = msg.get_msg_type() == MessageType::MsgSnapshot;
        let cut = hub.isolated.contains(&self.me) || hub.isolated.contains(&to);
        let delivered = !cut && hub.inboxes.get(&to).is_some_and(|inbox| inbox.deliver(msg));
        if !delivered {
            if let Some(me) = hub.inboxes.get(&self.me) {
                me.report_unreachable(to);
            }
        }
        if is_snapshot {
            if let Some(me) = hub.inboxes.get(&self.me) {
                me.report_snapshot(to, delivered);
            }
        }
    }

    fn set_peers(&mut self, _peers: &[Peer]) {
        // Members find each other by peer id in the hub.
    }
}
