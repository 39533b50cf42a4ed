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

/// The [`FrameKind::HelloAck`] payload: `version u8 (=1) | status u8 (0 =
/// accepted)`. A refused Hello gets no answer: the listener closes.
///
/// [`FrameKind::HelloAck`]: super::FrameKind::HelloAck
pub fn encode_hello_ack() -> Vec<u8> {
    vec![HELLO_VERSION, 0]
}

/// Checks a [`FrameKind::HelloAck`] payload.
///
/// [`FrameKind::HelloAck`]: super::FrameKind::HelloAck
pub fn decode_hello_ack(payload: &[u8]) -> Result<(), WireError> {
    let mut r = Reader::new(payload);
    r.version("hello ack version", "hello ack", HELLO_VERSION)?;
    let off = r.offset();
    match r.u8("hello ack status")? {
        0 => {}
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "hello ack status",
                tag,
                offset: off,
            }
            .into())
        }
    }
    r.finish("hello ack")?;
    Ok(())
}
