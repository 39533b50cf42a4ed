//! Vouching: accepting a peer admitted after this member's catalog view on
//! the word of a member this catalog knows.
//!
//! A member whose catalog lags (it was down while members were admitted)
//! knows nothing of the newer members; if one of them leads, the lagging
//! member would refuse its connection and never catch up. So when a peer
//! Hello comes from an identity that is not a member, claiming a peer id at
//! or above the catalog's next peer id, the listener asks the members of its
//! own catalog, one at a time, [`WhoIs`] that peer id: it dials each with its
//! own peer Hello (it is a member there, and checks the certificate of the
//! member it reached), sends one `WhoIs`, reads one `WhoIsAnswer` and closes.
//! The connection is accepted iff a known member answers that the peer id
//! belongs to exactly the dialer's identity; the peer then joins the
//! membership (see `membership`) with the address in the answer, so this
//! member links back to it, until the catalog catches up.
//!
//! Cost bounds: at most one query per listener at a time (a claim that
//! comes while one runs is refused at once; the dialer retries), every ask
//! within the connection's Hello deadline, and a refused identity is
//! refused again without asking for [`REFUSED_FOR`] (at most
//! [`MAX_REFUSED`] remembered), so a flood of bogus claims cannot make this
//! member dial out in a loop.
//!
//! [`REFUSED_FOR`]: super::membership::REFUSED_FOR
//! [`MAX_REFUSED`]: super::membership::MAX_REFUSED
//!
//! The other side, answering a `WhoIs` from the membership, is [`answer`].

use std::sync::atomic::Ordering;
use std::sync::{Arc, TryLockError};
use std::time::Instant;

use super::dialer::dial;
use super::framing::{write_frame, FrameReader};
use super::peer_link::relink;
use super::shared::Shared;
use crate::entry::NodeId;
use crate::transport::wire::{
    decode_who_is, decode_who_is_answer, encode_who_is, encode_who_is_answer, FrameKind, HelloRole,
    WhoIs, WhoIsAnswer, WhoIsMember, MAX_WHO_IS_ANSWER_PAYLOAD,
};
use crate::transport::{Peer, TransportError};

/// Accepts `identity` as raft peer `peer_id` if a member of this catalog
/// vouches for it before `deadline` (see the module docs); on success the
/// peer is in the membership, with a link. `Err` says why not.
pub(super) fn vouch(
    shared: &Arc<Shared>,
    identity: &NodeId,
    peer_id: u64,
    deadline: Instant,
) -> Result<(), String> {
    let v = &shared.vouching;
    if let Some(why) = v.recently_refused(identity, Instant::now()) {
        return Err(why);
    }
    let _gate = match v.gate.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => {
            return Err("another vouch query is under way; try again".into())
        }
    };
    // Settled while this one waited for the gate?
    if shared.member_check(identity, peer_id).is_ok() {
        return Ok(());
    }
    if let Some(why) = v.recently_refused(identity, Instant::now()) {
        return Err(why);
    }
    shared.membership().vouchable(identity, peer_id)?;
    let me = shared.my_peer_id.load(Ordering::Relaxed);
    if me == 0 {
        return Err("this member's own peer id is not known yet".into());
    }
    let self_id = shared.cfg.security.identity();
    let mut known: Vec<Peer> = shared
        .membership()
        .catalog()
        .filter(|p| &p.id != self_id)
        .cloned()
        .collect();
    known.sort_by_key(|p| p.peer_id);
    let mut said = Vec::new();
    for k in &known {
        if shared.stopping() {
            return Err("shutting down".into());
        }
        if Instant::now() >= deadline {
            said.push("out of time".to_string());
            break;
        }
        v.queries.fetch_add(1, Ordering::Relaxed);
        match ask(shared, k, me, peer_id, deadline) {
            Ok(Some(m)) if &m.identity == identity => {
                let peer = Peer {
                    peer_id,
                    id: identity.clone(),
                    address: m.address,
                };
                let address = peer.address.clone();
                shared.membership_mut().add_vouched(peer)?;
                relink(shared);
                tracing::info!(
                    peer_id, %identity, %address, by_peer = k.peer_id,
                    "accepted a peer admitted after this catalog's view: a known member vouched for it"
                );
                return Ok(());
            }
            Ok(Some(m)) => {
                // Peer ids are never reused: one honest answer settles it.
                said.push(format!(
                    "peer {} says peer id {peer_id} is {}",
                    k.peer_id, m.identity
                ));
                break;
            }
            Ok(None) => said.push(format!("peer {} does not know it", k.peer_id)),
            Err(e) => said.push(format!("peer {}: {e}", k.peer_id)),
        }
    }
    v.remember_refusal(identity, peer_id, Instant::now());
    if said.is_empty() {
        said.push("no known peer to ask".into());
    }
    Err(format!(
        "no known member vouched for it as peer id {peer_id} ({})",
        said.join("; ")
    ))
}

/// Asks `known` who `peer_id` is: its answer's member, if it knows one.
fn ask(
    shared: &Shared,
    known: &Peer,
    me: u64,
    peer_id: u64,
    deadline: Instant,
) -> Result<Option<WhoIsMember>, TransportError> {
    let cfg = &shared.cfg;
    let addr = known.address.as_str();
    let left = deadline.saturating_duration_since(Instant::now());
    let (mut stream, _) = dial(
        &cfg.security,
        addr,
        HelloRole::Peer { peer_id: me },
        Some(&known.id),
        cfg.connect_timeout.min(left),
        cfg.io_timeout.min(left),
        Some(&shared.stopping),
    )?;
    let key = shared.register(stream.socket());
    let asked = (|| {
        write_frame(
            &mut stream,
            FrameKind::WhoIs,
            &encode_who_is(&WhoIs { peer_id }),
            addr,
        )?;
        let mut reader = FrameReader::new(MAX_WHO_IS_ANSWER_PAYLOAD);
        let by = deadline.min(Instant::now() + cfg.io_timeout);
        match reader.read(&mut stream, Some(&shared.stopping), Some(by), addr)? {
            Some((FrameKind::WhoIsAnswer, payload)) => {
                let answer = decode_who_is_answer(&payload)?;
                if answer.peer_id != peer_id {
                    return Err(TransportError::Protocol {
                        peer: addr.to_string(),
                        detail: format!(
                            "asked who peer id {peer_id} is, answered about {}",
                            answer.peer_id
                        ),
                    });
                }
                Ok(answer.member)
            }
            Some((kind, _)) => Err(TransportError::Protocol {
                peer: addr.to_string(),
                detail: format!("expected a WhoIsAnswer, got a {kind:?} frame"),
            }),
            None => Err(TransportError::Closed(addr.to_string())),
        }
    })();
    stream.close();
    shared.unregister(key);
    asked
}

/// The answer to a `WhoIs` payload from the membership (the catalog's
/// members and the vouched peers), as a `WhoIsAnswer` payload.
pub(super) fn answer(shared: &Shared, payload: &[u8]) -> Result<Vec<u8>, TransportError> {
    let q = decode_who_is(payload)?;
    let member = shared.membership().get(q.peer_id).map(|p| WhoIsMember {
        identity: p.id.clone(),
        address: p.address.clone(),
    });
    Ok(encode_who_is_answer(&WhoIsAnswer {
        peer_id: q.peer_id,
        member,
    }))
}
