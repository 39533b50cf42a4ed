//! Accepted peer connections, on a thread each once their Hello is read
//! (`inbound` runs the handshake): the peer limits, the identity and
//! membership checks (asking known members to vouch for a peer admitted
//! after this catalog's view, see `vouch`), the HelloAck (or the "removed"
//! answer), and reading the peer's raft and snapshot-chunk frames into the
//! member's inbox. Every raft message must come from the authenticated peer
//! id, and membership is checked again for every message. A peer connection
//! may instead ask one `WhoIs` as its first frame; it is answered from the
//! membership and closed. Also how any inbound connection's end is logged
//! and counted ([`report`]).

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use raft::eraftpb::MessageType;

use super::framing::{write_frame, FrameReader};
use super::shared::Shared;
use super::vouch::{answer, vouch};
use super::{sock_err, POLL};
use crate::entry::NodeId;
use crate::transport::tls::Stream;
use crate::transport::wire::{
    self, decode_message, encode_hello_ack, encode_hello_answer, FrameKind, HelloAnswer,
    SnapshotAssembler, MAX_FRAME_PAYLOAD,
};
use crate::transport::TransportError;

/// How an inbound connection ended badly.
pub(super) enum Ending {
    /// Refused before it was accepted (bad TLS, bad Hello, not a member).
    Refused(TransportError),
    /// Closed after it was accepted (bad frame or message).
    Bad(TransportError),
}

/// Logs and counts how an inbound connection ended.
pub(super) fn report(
    shared: &Shared,
    remote: SocketAddr,
    identity: Option<&NodeId>,
    result: Result<(), Ending>,
) {
    let id = identity.map_or("?", |i| i.as_str());
    match result {
        Ok(())
        | Err(Ending::Bad(TransportError::Shutdown))
        | Err(Ending::Refused(TransportError::Shutdown)) => {}
        Err(Ending::Refused(e)) => {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            // At most ten a second: a flood must not flood the log.
            if let Some(suppressed) = shared.log_refusal() {
                tracing::warn!(%remote, identity = %id, reason = %e, suppressed, "refused a connection");
            }
        }
        Err(Ending::Bad(e @ (TransportError::Io { .. } | TransportError::Closed(_)))) => {
            // The other side went away (reset, restart): not misbehaviour.
            tracing::debug!(%remote, identity = %id, reason = %e, "connection ended");
        }
        Err(Ending::Bad(e)) => {
            shared.bad.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(%remote, identity = %id, reason = %e, "closed a connection");
        }
    }
}

/// Configures an accepted socket for the blocking peer path: reads poll
/// the shutdown flag every [`POLL`], writes time out after the I/O
/// timeout.
pub(super) fn blocking_socket(
    shared: &Shared,
    sock: &TcpStream,
    peer: &str,
) -> Result<(), TransportError> {
    let setup = sock_err(peer, "configuring the connection from");
    sock.set_nonblocking(false).map_err(&setup)?;
    sock.set_read_timeout(Some(POLL)).map_err(&setup)?;
    sock.set_write_timeout(Some(shared.cfg.io_timeout))
        .map_err(&setup)?;
    Ok(())
}

/// A peer whose Hello said who it is, continued on a thread of its own:
/// the member check (vouching when it was admitted after this catalog's
/// view), the HelloAck, then its raft and snapshot frames until it closes.
pub(super) struct PeerHello<'a> {
    pub(super) identity: &'a NodeId,
    pub(super) peer_id: u64,
    /// The end of the handshake's time (vouching must finish by then).
    pub(super) deadline: Instant,
    /// The connection's socket key (see `Shared::register`).
    pub(super) key: Option<u64>,
    /// The remote address, for messages.
    pub(super) peer: &'a str,
}

pub(super) fn serve_peer_hello(
    shared: &Arc<Shared>,
    stream: &mut Stream,
    mut reader: FrameReader,
    hello: &PeerHello<'_>,
) -> Result<(), Ending> {
    let refuse = Ending::Refused;
    let &PeerHello {
        identity,
        peer_id,
        deadline,
        key,
        peer,
    } = hello;
    if let Err((reason, removed)) = shared.member_check(identity, peer_id) {
        if removed {
            // Tell it, so it stops instead of campaigning forever
            // with its old voter list (best effort: it may be gone).
            let answer = HelloAnswer::Removed {
                detail: format!(
                    "the member at {} (peer id {}) no longer lists {identity} as peer id \
                     {peer_id}: that member was removed from the cluster",
                    shared.local_addr,
                    shared.my_peer_id.load(Ordering::Relaxed),
                ),
            };
            let _ = write_frame(
                stream,
                FrameKind::HelloAck,
                &encode_hello_answer(&answer),
                peer,
            );
            return Err(refuse(TransportError::NotAuthorized(format!(
                "{reason}: peer id {peer_id} was removed (told it so)"
            ))));
        }
        // Admitted after this catalog's view? Only a known member's
        // word lets it in.
        let vouchable = shared.membership().vouchable(identity, peer_id);
        if vouchable.is_err() {
            return Err(refuse(TransportError::NotAuthorized(reason)));
        }
        vouch(shared, identity, peer_id, deadline)
            .map_err(|why| refuse(TransportError::NotAuthorized(format!("{reason}: {why}"))))?;
    }
    shared.pending_done(key);
    write_frame(stream, FrameKind::HelloAck, &encode_hello_ack(), peer).map_err(refuse)?;
    tracing::debug!(peer, %identity, peer_id, "peer connected");
    reader.set_limit(MAX_FRAME_PAYLOAD);
    let (generation, previous) = shared.inbound_opened(peer_id);
    shared.peer_accepted(peer_id, generation, key);
    let conn = PeerConn {
        identity,
        peer_id,
        generation,
        peer,
    };
    let served = serve_peer(shared, stream, reader, &conn);
    shared.peer_ended(peer_id, generation);
    if let Ok(PeerEnd::Answered | PeerEnd::Superseded) = served {
        // A question, or an older connection that a newer one of the
        // peer replaced: not the peer's raft connection.
        shared.inbound_withdrawn(peer_id, generation, previous);
        return Ok(());
    }
    // The peer closed its newest connection to us (a crashed
    // member's sockets close at once): tell the engine, so a follower
    // that loses its leader this way stops trusting the leader's
    // lease right away. Not when this side cut the connection (a bad
    // frame says nothing about the peer being down), nor when an
    // older connection of the peer ends while a newer one serves.
    let closed_by_peer = matches!(
        served,
        Ok(_) | Err(TransportError::Io { .. } | TransportError::Closed(_))
    );
    let newest = shared.inbound_closed(peer_id, generation);
    if !shared.stopping() && closed_by_peer && newest {
        shared.report_unreachable(peer_id);
    }
    served.map(|_| ()).map_err(Ending::Bad)
}

/// How an accepted peer connection ended well.
enum PeerEnd {
    /// The peer closed it (or this side did, for a newer one).
    Closed,
    /// It asked a `WhoIs`, which was answered; this side closes it.
    Answered,
    /// It sent raft frames while a newer connection of the same peer id
    /// carried them already; this side closes it.
    Superseded,
}

/// An accepted peer connection: who, and which of its connections.
struct PeerConn<'a> {
    identity: &'a NodeId,
    peer_id: u64,
    /// Its place in acceptance order (see `Shared::inbound_opened`).
    generation: u64,
    /// The remote address, for messages.
    peer: &'a str,
}

fn serve_peer(
    shared: &Shared,
    stream: &mut Stream,
    mut reader: FrameReader,
    conn: &PeerConn<'_>,
) -> Result<PeerEnd, TransportError> {
    let &PeerConn {
        identity,
        peer_id,
        generation,
        peer,
    } = conn;
    let mut assembler = SnapshotAssembler::new(shared.cfg.max_snapshot_bytes);
    let mut first = true;
    loop {
        let Some((kind, payload)) = reader.read(stream, Some(&shared.stopping), None, peer)? else {
            return Ok(PeerEnd::Closed);
        };
        if kind == FrameKind::WhoIs {
            if !first {
                return Err(TransportError::Protocol {
                    peer: peer.to_string(),
                    detail: "a WhoIs after raft frames".into(),
                });
            }
            shared
                .check_member(identity, peer_id)
                .map_err(TransportError::NotAuthorized)?;
            write_frame(
                stream,
                FrameKind::WhoIsAnswer,
                &answer(shared, &payload)?,
                peer,
            )?;
            return Ok(PeerEnd::Answered);
        }
        if first {
            // Its raft connection now: an older one of the peer gives way
            // (one peer id holds one raft connection's slot, not many).
            if !shared.peer_carries_raft(peer_id, generation) {
                tracing::debug!(
                    peer,
                    peer_id,
                    "closed: a newer connection of this peer serves it"
                );
                return Ok(PeerEnd::Superseded);
            }
            first = false;
        }
        if let Some(inbox) = shared.inbox.get() {
            inbox.traffic().peer(peer_id).bytes_in.fetch_add(
                (payload.len() + wire::FRAME_HEADER_LEN) as u64,
                Ordering::Relaxed,
            );
        }
        let msg = match kind {
            FrameKind::Raft => decode_message(&payload)?,
            FrameKind::SnapshotChunk => match assembler.push(&payload)? {
                None => continue,
                Some(bytes) => {
                    let msg = decode_message(&bytes)?;
                    if msg.get_msg_type() != MessageType::MsgSnapshot {
                        return Err(TransportError::Protocol {
                            peer: peer.to_string(),
                            detail: format!(
                                "a chunked message must be a snapshot, got {:?}",
                                msg.get_msg_type()
                            ),
                        });
                    }
                    shared.snapshots_received.fetch_add(1, Ordering::Relaxed);
                    msg
                }
            },
            other => {
                return Err(TransportError::Protocol {
                    peer: peer.to_string(),
                    detail: format!("a {other:?} frame on a peer connection"),
                })
            }
        };
        if msg.from != peer_id {
            return Err(TransportError::NotAuthorized(format!(
                "a message from peer {} on the connection of peer {peer_id}",
                msg.from
            )));
        }
        shared
            .check_member(identity, peer_id)
            .map_err(TransportError::NotAuthorized)?;
        match shared.inbox.get() {
            Some(inbox) => {
                if !inbox.deliver(msg) {
                    return Err(TransportError::Shutdown);
                }
                shared.delivered.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                shared.dropped_other.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
