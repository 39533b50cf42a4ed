//! Hello and HelloAck: the frames that open every connection. Owns their
//! payload format: in which role the dialer comes (peer with its claimed
//! peer id, or client) and which identity it claims. Promises: a peer
//! claims a non-zero peer id, a client none, and anything else (unknown
//! version or role, trailing bytes) is refused.

use super::{DecodeError, WireError};
use crate::entry::codec::{Reader, Writer};
use crate::entry::NodeId;

/// The Hello format this build speaks.
pub const HELLO_VERSION: u8 = 1;
/// The largest Hello payload: version, role, peer id, identity.
pub const MAX_HELLO_PAYLOAD: usize = 1 + 1 + 8 + 2 + NodeId::MAX_LEN;

/// In which role a connection comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HelloRole {
    /// A member that will send raft frames, as raft peer `peer_id`.
    Peer {
        /// The raft peer id the dialer claims (never 0).
        peer_id: u64,
    },
    /// A client that will send [`FrameKind::ClientRequest`] frames.
    ///
    /// [`FrameKind::ClientRequest`]: super::FrameKind::ClientRequest
    Client,
}

/// The first frame a dialer sends.
///
/// Payload: `version u8 (=1) | role u8 (1 = peer, 2 = client) | peer id u64
/// (0 for a client) | identity (u16 length + UTF-8, may be empty)`.
///
/// With TLS the identity comes from the certificate; a non-empty `identity`
/// here must then equal it. With the insecure (plain TCP, tests/dev only)
/// setting, `identity` is the only claim of who the dialer is and must be
/// present.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Hello {
    /// The role.
    pub role: HelloRole,
    /// The claimed identity, if sent.
    pub identity: Option<NodeId>,
}

/// Encodes a [`Hello`] payload.
pub fn encode_hello(h: &Hello) -> Vec<u8> {
    let mut w = Writer::with_capacity(16);
    w.u8(HELLO_VERSION);
    match h.role {
        HelloRole::Peer { peer_id } => {
            w.u8(1);
            w.u64(peer_id);
        }
        HelloRole::Client => {
            w.u8(2);
            w.u64(0);
        }
    }
    w.str(h.identity.as_ref().map_or("", |id| id.as_str()));
    w.finish()
}

/// Decodes a [`Hello`] payload.
pub fn decode_hello(payload: &[u8]) -> Result<Hello, WireError> {
    let mut r = Reader::new(payload);
    r.version("hello version", "hello", HELLO_VERSION)?;
    let off = r.offset();
    let role = r.u8("hello role")?;
    let peer_id = r.u64("hello peer id")?;
    let role = match (role, peer_id) {
        (1, 0) => {
            return Err(DecodeError::Inconsistent {
                what: "hello",
                detail: "a peer must claim a non-zero peer id".into(),
            }
            .into())
        }
        (1, peer_id) => HelloRole::Peer { peer_id },
        (2, 0) => HelloRole::Client,
        (2, _) => {
            return Err(DecodeError::Inconsistent {
                what: "hello",
                detail: "a client claims no peer id".into(),
            }
            .into())
        }
        (tag, _) => {
            return Err(DecodeError::UnknownTag {
                what: "hello role",
                tag,
                offset: off,
            }
            .into())
        }
    };
    let identity = r.name("hello identity", NodeId::MAX_LEN, |b| {
        if b.is_empty() {
            Ok(None)
        } else {
            NodeId::from_exact_bytes(b).map(Some)
        }
    })?;
    r.finish("hello")?;
    Ok(Hello { role, identity })
}

/// The longest account of a removal a [`HelloAnswer::Removed`] carries.
pub const MAX_REMOVED_DETAIL: usize = 512;

/// The listener's answer to a Hello, the [`FrameKind::HelloAck`] payload:
/// `version u8 (=1) | status u8` with status 0 = accepted, or 1 = removed
/// followed by `detail (u16 length + UTF-8, at most` [`MAX_REMOVED_DETAIL`]
/// `bytes)`. Any other refusal gets no answer: the listener closes.
///
/// [`FrameKind::HelloAck`]: super::FrameKind::HelloAck
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HelloAnswer {
    /// The connection is accepted.
    Accepted,
    /// The dialer, as the peer id it claimed, was removed from the cluster:
    /// the listener's catalog assigned that peer id and no longer lists it.
    Removed {
        /// The listener's account of it, for the removed member's log.
        detail: String,
    },
}

/// Encodes the accepting [`HelloAnswer`].
pub fn encode_hello_ack() -> Vec<u8> {
    encode_hello_answer(&HelloAnswer::Accepted)
}

/// Encodes a [`HelloAnswer`] (a detail longer than [`MAX_REMOVED_DETAIL`]
/// is cut at a character boundary).
pub fn encode_hello_answer(answer: &HelloAnswer) -> Vec<u8> {
    let mut w = Writer::with_capacity(8);
    w.u8(HELLO_VERSION);
    match answer {
        HelloAnswer::Accepted => w.u8(0),
        HelloAnswer::Removed { detail } => {
            w.u8(1);
            let mut end = detail.len().min(MAX_REMOVED_DETAIL);
            while !detail.is_char_boundary(end) {
                end -= 1;
            }
            w.str(&detail[..end]);
        }
    }
    w.finish()
}

/// Decodes a [`HelloAnswer`].
pub fn decode_hello_answer(payload: &[u8]) -> Result<HelloAnswer, WireError> {
    let mut r = Reader::new(payload);
    r.version("hello ack version", "hello ack", HELLO_VERSION)?;
    let off = r.offset();
    let answer = match r.u8("hello ack status")? {
        0 => HelloAnswer::Accepted,
        1 => {
            let at = r.offset();
            let len = usize::from(r.u16("removal detail")?);
            if len > MAX_REMOVED_DETAIL {
                return Err(DecodeError::LengthOverLimit {
                    what: "removal detail",
                    len,
                    max: MAX_REMOVED_DETAIL,
                    offset: at,
                }
                .into());
            }
            // A detail that is not UTF-8 is shown with replacements: it is
            // only ever logged.
            let detail = String::from_utf8_lossy(r.take("removal detail", len)?).into_owned();
            HelloAnswer::Removed { detail }
        }
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "hello ack status",
                tag,
                offset: off,
            }
            .into())
        }
    };
    r.finish("hello ack")?;
    Ok(answer)
}

/// Checks that a [`FrameKind::HelloAck`] payload accepts the connection.
///
/// [`FrameKind::HelloAck`]: super::FrameKind::HelloAck
pub fn decode_hello_ack(payload: &[u8]) -> Result<(), WireError> {
    match decode_hello_answer(payload)? {
        HelloAnswer::Accepted => Ok(()),
        HelloAnswer::Removed { .. } => Err(DecodeError::Inconsistent {
            what: "hello ack",
            detail: "the listener says this member was removed".into(),
        }
        .into()),
    }
}
