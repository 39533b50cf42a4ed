//! Raft messages on the wire: our own encoding of every field raft sends
//! between members, entries and configuration states included. Promises:
//! nothing from the network reaches the protobuf parser (configuration
//! changes travel as their fields and are re-encoded locally), counts and
//! lengths are bounded before allocation, and `MsgPropose` and raft's local
//! message types are refused.

// raft's protobuf messages are built field by field from a default: that is
// how its generated types are meant to be used.
#![allow(clippy::field_reassign_with_default)]

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState, Entry,
    EntryType, Message, MessageType, Snapshot,
};

use super::{bytes, read_bytes, DecodeError, WireError, MAX_FRAME_PAYLOAD, MAX_SNAPSHOT_MESSAGE};
use crate::entry::codec::{Reader, Writer};

/// The most entries one message may carry.
pub const MAX_ENTRIES_PER_MESSAGE: usize = 1 << 16;
/// The most peers a configuration may name.
pub const MAX_CONF_PEERS: usize = 1024;

/// The message types a peer may send.
fn network_type(tag: u8) -> Result<MessageType, WireError> {
    use MessageType::*;
    let ty = match tag {
        3 => MsgAppend,
        4 => MsgAppendResponse,
        5 => MsgRequestVote,
        6 => MsgRequestVoteResponse,
        7 => MsgSnapshot,
        8 => MsgHeartbeat,
        9 => MsgHeartbeatResponse,
        13 => MsgTransferLeader,
        14 => MsgTimeoutNow,
        15 => MsgReadIndex,
        16 => MsgReadIndexResp,
        17 => MsgRequestPreVote,
        18 => MsgRequestPreVoteResponse,
        2 => return Err(WireError::RefusedType(MsgPropose)),
        other => {
            return Err(WireError::Payload(DecodeError::UnknownTag {
                what: "message type",
                tag: other,
                offset: 0,
            }))
        }
    };
    Ok(ty)
}

/// Encodes a configuration state (the same field encoding as on disk).
pub fn encode_conf_state(w: &mut Writer, cs: &ConfState) {
    w.conf_state(cs);
}

/// Decodes a configuration state.
pub fn decode_conf_state(r: &mut Reader<'_>) -> Result<ConfState, DecodeError> {
    r.conf_state()
}

/// Encodes a raft entry. A configuration change travels as its fields, not
/// as protobuf; `data` must then hold a ConfChangeV2 this process produced
/// or decoded (it is parsed here, locally).
pub fn encode_entry(w: &mut Writer, e: &Entry) -> Result<(), DecodeError> {
    w.u8(match e.get_entry_type() {
        EntryType::EntryNormal => 0,
        EntryType::EntryConfChange => 1,
        EntryType::EntryConfChangeV2 => 2,
    });
    w.u64(e.term);
    w.u64(e.index);
    bytes(w, &e.context);
    match e.get_entry_type() {
        EntryType::EntryNormal => bytes(w, &e.data),
        EntryType::EntryConfChangeV2 => {
            let cc = ConfChangeV2::parse_from_bytes(&e.data).map_err(|err| {
                DecodeError::Inconsistent {
                    what: "local configuration change",
                    detail: err.to_string(),
                }
            })?;
            w.u8(match cc.get_transition() {
                ConfChangeTransition::Auto => 0,
                ConfChangeTransition::Implicit => 1,
                ConfChangeTransition::Explicit => 2,
            });
            w.u32(cc.get_changes().len() as u32);
            for c in cc.get_changes() {
                w.u8(match c.get_change_type() {
                    ConfChangeType::AddNode => 0,
                    ConfChangeType::RemoveNode => 1,
                    ConfChangeType::AddLearnerNode => 2,
                });
                w.u64(c.node_id);
            }
            bytes(w, &cc.context);
        }
        EntryType::EntryConfChange => {
            return Err(DecodeError::Inconsistent {
                what: "entry",
                detail: "version-1 configuration changes are never produced".into(),
            })
        }
    }
    Ok(())
}

/// Decodes a raft entry (see [`encode_entry`]).
pub fn decode_entry(r: &mut Reader<'_>) -> Result<Entry, DecodeError> {
    let offset = r.offset();
    let tag = r.u8("entry type")?;
    let mut e = Entry {
        term: r.u64("entry term")?,
        index: r.u64("entry index")?,
        context: read_bytes(r, "entry context", 64)?.to_vec().into(),
        ..Default::default()
    };
    match tag {
        0 => {
            e.set_entry_type(EntryType::EntryNormal);
            e.data = read_bytes(r, "entry data", MAX_FRAME_PAYLOAD)?
                .to_vec()
                .into();
        }
        2 => {
            e.set_entry_type(EntryType::EntryConfChangeV2);
            let mut cc = ConfChangeV2::default();
            let t_off = r.offset();
            cc.set_transition(match r.u8("transition")? {
                0 => ConfChangeTransition::Auto,
                1 => ConfChangeTransition::Implicit,
                2 => ConfChangeTransition::Explicit,
                tag => {
                    return Err(DecodeError::UnknownTag {
                        what: "transition",
                        tag,
                        offset: t_off,
                    })
                }
            });
            let n_off = r.offset();
            let n = r.u32("change count")? as usize;
            if n > MAX_CONF_PEERS || n * 9 > r.remaining() {
                return Err(DecodeError::LengthOverLimit {
                    what: "change count",
                    len: n,
                    max: MAX_CONF_PEERS,
                    offset: n_off,
                });
            }
            for _ in 0..n {
                let c_off = r.offset();
                let ty = match r.u8("change type")? {
                    0 => ConfChangeType::AddNode,
                    1 => ConfChangeType::RemoveNode,
                    2 => ConfChangeType::AddLearnerNode,
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "change type",
                            tag,
                            offset: c_off,
                        })
                    }
                };
                let mut c = ConfChangeSingle::default();
                c.set_change_type(ty);
                c.node_id = r.u64("change peer")?;
                cc.mut_changes().push(c);
            }
            cc.context = read_bytes(r, "change context", 64)?.to_vec().into();
            let data = cc
                .write_to_bytes()
                .map_err(|err| DecodeError::Inconsistent {
                    what: "configuration change",
                    detail: err.to_string(),
                })?;
            e.data = data.into();
        }
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "entry type",
                tag,
                offset,
            })
        }
    }
    Ok(e)
}

/// Encodes a raft message sent to a peer. Fails only when a local
/// configuration-change entry does not parse (a bug, not input).
pub fn encode_message(m: &Message) -> Result<Vec<u8>, DecodeError> {
    let mut w = Writer::with_capacity(
        96 + m
            .get_entries()
            .iter()
            .map(|e| e.data.len() + 40)
            .sum::<usize>(),
    );
    w.u8(m.get_msg_type() as u8);
    for v in [
        m.to,
        m.from,
        m.term,
        m.log_term,
        m.index,
        m.commit,
        m.commit_term,
        m.request_snapshot,
        m.reject_hint,
    ] {
        w.u64(v);
    }
    w.u8(m.reject as u8);
    w.u64(m.priority as u64);
    bytes(&mut w, &m.context);
    w.u32(m.get_entries().len() as u32);
    for e in m.get_entries() {
        encode_entry(&mut w, e)?;
    }
    if m.has_snapshot() && m.get_snapshot().get_metadata().index > 0 {
        let s = m.get_snapshot();
        w.u8(1);
        w.u64(s.get_metadata().index);
        w.u64(s.get_metadata().term);
        encode_conf_state(&mut w, s.get_metadata().get_conf_state());
        bytes(&mut w, &s.data);
    } else {
        w.u8(0);
    }
    Ok(w.finish())
}

/// Decodes a raft message from a peer, refusing proposals and local types.
pub fn decode_message(payload: &[u8]) -> Result<Message, WireError> {
    let mut r = Reader::new(payload);
    let ty = network_type(r.u8("message type")?)?;
    let mut m = Message::default();
    m.set_msg_type(ty);
    m.to = r.u64("to")?;
    m.from = r.u64("from")?;
    m.term = r.u64("term")?;
    m.log_term = r.u64("log term")?;
    m.index = r.u64("index")?;
    m.commit = r.u64("commit")?;
    m.commit_term = r.u64("commit term")?;
    m.request_snapshot = r.u64("request snapshot")?;
    m.reject_hint = r.u64("reject hint")?;
    m.reject = r.bool("reject")?;
    m.priority = r.u64("priority")? as i64;
    m.context = read_bytes(&mut r, "context", 64)?.to_vec().into();
    let off = r.offset();
    let n = r.u32("entry count")? as usize;
    // The smallest entry is 25 bytes: refuse counts the payload cannot hold.
    if n > MAX_ENTRIES_PER_MESSAGE || n.saturating_mul(25) > r.remaining() {
        return Err(DecodeError::LengthOverLimit {
            what: "entry count",
            len: n,
            max: MAX_ENTRIES_PER_MESSAGE,
            offset: off,
        }
        .into());
    }
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        entries.push(decode_entry(&mut r)?);
    }
    m.set_entries(entries.into());
    if r.bool("snapshot flag")? {
        let mut s = Snapshot::default();
        let meta = s.mut_metadata();
        meta.index = r.u64("snapshot index")?;
        meta.term = r.u64("snapshot term")?;
        meta.set_conf_state(decode_conf_state(&mut r)?);
        s.data = read_bytes(&mut r, "snapshot data", MAX_SNAPSHOT_MESSAGE)?
            .to_vec()
            .into();
        m.set_snapshot(s);
    }
    r.finish("message")?;
    Ok(m)
}
