//! WhoIs and WhoIsAnswer: how a member asks a peer it knows which identity
//! and address a raft peer id belongs to (to vouch for a member admitted
//! after its own catalog's view, see the TCP transport's module docs).
//! Owns their payload formats. Promises: a WhoIs names a non-zero peer id;
//! an answer names the peer id it answers and, when found, a valid
//! identity and address; anything else (unknown version or status, a
//! length over its limit, truncation, trailing bytes) is refused.

use super::{DecodeError, WireError};
use crate::entry::codec::{Reader, Writer};
use crate::entry::{MemberAddress, NodeId};

/// The WhoIs / WhoIsAnswer format this build speaks.
pub const WHO_IS_VERSION: u8 = 1;
/// The largest WhoIs payload: version and peer id.
pub const MAX_WHO_IS_PAYLOAD: usize = 1 + 8;
/// The largest WhoIsAnswer payload: version, peer id, status, identity and
/// address (each a u16 length and its bytes).
pub const MAX_WHO_IS_ANSWER_PAYLOAD: usize =
    1 + 8 + 1 + 2 + NodeId::MAX_LEN + 2 + MemberAddress::MAX_LEN;

/// A member's question to a peer: who is raft peer `peer_id`?
///
/// Payload: `version u8 (=1) | peer id u64 (never 0)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WhoIs {
    /// The peer id asked about.
    pub peer_id: u64,
}

/// The member a [`WhoIsAnswer`] names.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WhoIsMember {
    /// Its identity (what its certificate says).
    pub identity: NodeId,
    /// Where it listens.
    pub address: MemberAddress,
}

/// The answer to a [`WhoIs`], from the answering member's own member map.
///
/// Payload: `version u8 (=1) | peer id u64 | status u8` with status 0 =
/// unknown, or 1 = found followed by `identity (u16 length + UTF-8) |
/// address (u16 length + UTF-8)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct WhoIsAnswer {
    /// The peer id the answer is about (the one asked).
    pub peer_id: u64,
    /// The member with that peer id, if the answering member knows one.
    pub member: Option<WhoIsMember>,
}

/// Encodes a [`WhoIs`] payload.
pub fn encode_who_is(q: &WhoIs) -> Vec<u8> {
    let mut w = Writer::with_capacity(MAX_WHO_IS_PAYLOAD);
    w.u8(WHO_IS_VERSION);
    w.u64(q.peer_id);
    w.finish()
}

/// Decodes a [`WhoIs`] payload.
pub fn decode_who_is(payload: &[u8]) -> Result<WhoIs, WireError> {
    let mut r = Reader::new(payload);
    r.version("who-is version", "who-is", WHO_IS_VERSION)?;
    let peer_id = r.u64("who-is peer id")?;
    if peer_id == 0 {
        return Err(DecodeError::Inconsistent {
            what: "who-is",
            detail: "peer id 0 is never a member's".into(),
        }
        .into());
    }
    r.finish("who-is")?;
    Ok(WhoIs { peer_id })
}

/// Encodes a [`WhoIsAnswer`] payload.
pub fn encode_who_is_answer(a: &WhoIsAnswer) -> Vec<u8> {
    let mut w = Writer::with_capacity(32);
    w.u8(WHO_IS_VERSION);
    w.u64(a.peer_id);
    match &a.member {
        None => w.u8(0),
        Some(m) => {
            w.u8(1);
            w.str(m.identity.as_str());
            w.str(m.address.as_str());
        }
    }
    w.finish()
}

/// Decodes a [`WhoIsAnswer`] payload.
pub fn decode_who_is_answer(payload: &[u8]) -> Result<WhoIsAnswer, WireError> {
    let mut r = Reader::new(payload);
    r.version("who-is answer version", "who-is answer", WHO_IS_VERSION)?;
    let peer_id = r.u64("who-is answer peer id")?;
    let off = r.offset();
    let member = match r.u8("who-is answer status")? {
        0 => None,
        1 => Some(WhoIsMember {
            identity: r.name(
                "who-is answer identity",
                NodeId::MAX_LEN,
                NodeId::from_exact_bytes,
            )?,
            address: r.address("who-is answer address")?,
        }),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "who-is answer status",
                tag,
                offset: off,
            }
            .into())
        }
    };
    r.finish("who-is answer")?;
    Ok(WhoIsAnswer { peer_id, member })
}
