//! A host-provided transport: a server that already has its own RPC stack
//! carries Synod's frames, and Synod never opens a socket.
//!
//! Outbound, [`HostTransport`] encodes each raft message exactly as the TCP
//! transport does (one [`FrameKind::Raft`] frame, or a snapshot as
//! [`FrameKind::SnapshotChunk`] frames, see [`wire::SnapshotChunk`]) and
//! hands every frame to [`HostSender::send`] with the destination peer id.
//! Inbound, the host calls [`HostHandle::deliver`] with the peer id its own
//! stack authenticated and the frame bytes; the handle applies the same
//! checks as the TCP listener: the frame must decode with our codec (never
//! protobuf; `MsgPropose` and local types refused), `from` must be a current
//! member's peer id (the last `set_peers`, or the seed peers before the
//! catalog names anyone), and the message must say `msg.from == from`.
//! Snapshot chunks are reassembled per sending peer under a size bound.
//!
//! **Delivered** ([`Inbox::report_snapshot`] with `true`) means every chunk
//! was handed to [`HostSender::send`]; a host that knows better calls
//! [`HostHandle::report_unreachable`] for peers it cannot reach.
//!
//! No threads: `send` runs on the member's driver thread, `deliver` on the
//! host's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use raft::eraftpb::{Message, MessageType};

use super::wire::{
    self, decode_message, encode_message, frame, FrameDecoder, FrameKind, SnapshotAssembler,
    MAX_FRAME_PAYLOAD,
};
use super::{Inbox, Peer, Transport, TransportError};

/// How the host sends Synod's frames.
pub trait HostSender: Send + Sync {
    /// Sends one complete frame to raft peer `to`. Must not block the
    /// caller (the member's driver thread) for long: queue, and drop under
    /// pressure; raft retries.
    fn send(&self, to: u64, frame: &[u8]);
}

struct Shared {
    inbox: OnceLock<Inbox>,
    seed_peers: Vec<u64>,
    members: RwLock<Vec<u64>>,
    assemblers: Mutex<HashMap<u64, SnapshotAssembler>>,
    max_snapshot_bytes: usize,
}

/// The member's end: implements [`Transport`] over a [`HostSender`].
pub struct HostTransport {
    shared: Arc<Shared>,
    sender: Arc<dyn HostSender>,
    next_stream: AtomicU64,
    chunk_len: usize,
}

impl std::fmt::Debug for HostTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostTransport").finish_non_exhaustive()
    }
}

/// The host's end: delivers frames that arrived for the member. Cheap to
/// clone, usable from any thread.
#[derive(Clone)]
pub struct HostHandle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HostHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostHandle").finish_non_exhaustive()
    }
}

impl HostTransport {
    /// A transport sending through `sender`, and the handle through which
    /// the host delivers. `seed_peers` are the peer ids accepted before the
    /// catalog names any member (a joining member). Frames delivered before
    /// [`HostTransport::attach`] are refused with
    /// [`TransportError::Shutdown`].
    pub fn new(sender: Arc<dyn HostSender>, seed_peers: &[Peer]) -> (HostTransport, HostHandle) {
        let seeds: Vec<u64> = seed_peers.iter().map(|p| p.peer_id).collect();
        let shared = Arc::new(Shared {
            inbox: OnceLock::new(),
            members: RwLock::new(seeds.clone()),
            seed_peers: seeds,
            assemblers: Mutex::new(HashMap::new()),
            max_snapshot_bytes: wire::MAX_SNAPSHOT_MESSAGE,
        });
        (
            HostTransport {
                shared: shared.clone(),
                sender,
                next_stream: AtomicU64::new(1),
                chunk_len: wire::SNAPSHOT_CHUNK_LEN,
            },
            HostHandle { shared },
        )
    }

    /// Connects the transport to its member's inbox (in the closure given
    /// to [`crate::Node::start`]).
    pub fn attach(self, inbox: Inbox) -> Self {
        if self.shared.inbox.set(inbox).is_err() {
            tracing::warn!("host transport attached twice; keeping the first inbox");
        }
        self
    }
}

impl Transport for HostTransport {
    fn send(&mut self, msg: Message) {
        let to = msg.to;
        let is_snapshot = msg.get_msg_type() == MessageType::MsgSnapshot;
        let inbox = self.shared.inbox.get();
        let bytes = match encode_message(&msg) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(to, "cannot encode a raft message: {e}");
                if is_snapshot {
                    if let Some(i) = inbox {
                        i.report_snapshot(to, false);
                    }
                }
                return;
            }
        };
        if is_snapshot {
            let stream = self.next_stream.fetch_add(1, Ordering::Relaxed);
            for f in wire::snapshot_frames(stream, &bytes, self.chunk_len) {
                self.sender.send(to, &f);
            }
            if let Some(i) = inbox {
                i.report_snapshot(to, true);
            }
        } else if bytes.len() > MAX_FRAME_PAYLOAD {
            tracing::error!(to, len = bytes.len(), "raft message too large for a frame");
        } else {
            self.sender.send(to, &frame(FrameKind::Raft, &bytes));
        }
    }

    fn set_peers(&mut self, peers: &[Peer]) {
        let ids: Vec<u64> = if peers.is_empty() {
            self.shared.seed_peers.clone()
        } else {
            peers.iter().map(|p| p.peer_id).collect()
        };
        self.shared
            .assemblers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|id, _| ids.contains(id));
        *self
            .shared
            .members
            .write()
            .unwrap_or_else(|p| p.into_inner()) = ids;
    }
}

impl HostHandle {
    /// Decodes one complete frame that peer `from` sent and hands the raft
    /// message in it to the member. Errors say why the frame was refused;
    /// the member is never affected by a refused frame. A snapshot chunk
    /// that does not complete its snapshot returns `Ok` without delivering.
    pub fn deliver(&self, from: u64, bytes: &[u8]) -> Result<(), TransportError> {
        let inbox = self.shared.inbox.get().ok_or(TransportError::Shutdown)?;
        if !self
            .shared
            .members
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&from)
        {
            return Err(TransportError::NotAuthorized(format!(
                "peer {from} is not a member"
            )));
        }
        let mut dec = FrameDecoder::new();
        dec.feed(bytes);
        let (kind, payload) = dec.next_frame()?.ok_or_else(|| TransportError::Protocol {
            peer: format!("peer {from}"),
            detail: format!("truncated frame ({} bytes)", bytes.len()),
        })?;
        if dec.buffered() != 0 {
            return Err(TransportError::Protocol {
                peer: format!("peer {from}"),
                detail: format!("{} bytes after the frame", dec.buffered()),
            });
        }
        let msg = match kind {
            FrameKind::Raft => decode_message(&payload)?,
            FrameKind::SnapshotChunk => {
                let mut assemblers = self
                    .shared
                    .assemblers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                let a = assemblers
                    .entry(from)
                    .or_insert_with(|| SnapshotAssembler::new(self.shared.max_snapshot_bytes));
                let done = match a.push(&payload) {
                    Ok(done) => done,
                    Err(e) => {
                        assemblers.remove(&from);
                        return Err(e.into());
                    }
                };
                drop(assemblers);
                let Some(bytes) = done else { return Ok(()) };
                let msg = decode_message(&bytes)?;
                if msg.get_msg_type() != MessageType::MsgSnapshot {
                    return Err(TransportError::Protocol {
                        peer: format!("peer {from}"),
                        detail: "a chunked message must be a snapshot".into(),
                    });
                }
                msg
            }
            other => {
                return Err(TransportError::Protocol {
                    peer: format!("peer {from}"),
                    detail: format!("a {other:?} frame is not a peer message"),
                })
            }
        };
        if msg.from != from {
            return Err(TransportError::NotAuthorized(format!(
                "a message from peer {} delivered as from peer {from}",
                msg.from
            )));
        }
        if inbox.deliver(msg) {
            Ok(())
        } else {
            Err(TransportError::Shutdown)
        }
    }

    /// Tells the member that the host could not reach `peer_id`.
    pub fn report_unreachable(&self, peer_id: u64) {
        if let Some(inbox) = self.shared.inbox.get() {
            inbox.report_unreachable(peer_id);
        }
    }
}
