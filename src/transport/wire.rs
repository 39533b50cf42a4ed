//! The wire codec: versioned, checksummed, length-bounded frames, and our
//! own encoding of raft's message fields.
//!
//! raft-rs speaks protobuf 2.28, whose parser has RUSTSEC-2024-0437
//! (uncontrolled recursion). So nothing from the network is ever handed to
//! the protobuf parser: every raft field is encoded here by hand, and
//! configuration-change entries travel as their validated fields and are
//! re-encoded into protobuf bytes by the receiver (encoding is safe; the
//! engine later parses only bytes this process produced).
//!
//! A frame is `magic "SYND" | version u8 | kind u8 | length u32 | crc32c u32 |
//! payload`. The length is checked against [`MAX_FRAME_PAYLOAD`] before
//! anything is allocated, the checksum before anything is decoded. Decoding
//! refuses `MsgPropose` and raft's local message types: a peer cannot
//! inject a proposal or a local event.
//!
//! Every connection opens with a [`Hello`] frame (role and claimed peer id),
//! answered by a `HelloAck` when accepted. Snapshots travel as a header
//! chunk and bounded data chunks ([`SnapshotChunk`], [`snapshot_frames`]),
//! reassembled under a size bound by a [`SnapshotAssembler`].

// raft's protobuf messages are built field by field from a default: that is
// how its generated types are meant to be used.
#![allow(clippy::field_reassign_with_default)]

use protobuf::Message as _;
use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState, Entry,
    EntryType, Message, MessageType, Snapshot,
};

use crate::entry::codec::{Reader, Writer};
pub use crate::entry::DecodeError;
use crate::entry::NodeId;

/// The frame magic.
pub const MAGIC: [u8; 4] = *b"SYND";
/// The frame format this build speaks.
pub const WIRE_VERSION: u8 = 1;
/// Bytes before a frame's payload.
pub const FRAME_HEADER_LEN: usize = 14;
/// The largest payload accepted in one frame (snapshots travel in chunks).
pub const MAX_FRAME_PAYLOAD: usize = 16 << 20;
/// The most entries one message may carry.
pub const MAX_ENTRIES_PER_MESSAGE: usize = 1 << 16;
/// The most peers a configuration may name.
pub const MAX_CONF_PEERS: usize = 1024;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A raft message between members.
    Raft,
    /// One chunk of a snapshot.
    SnapshotChunk,
    /// A client request.
    ClientRequest,
    /// A client response.
    ClientResponse,
    /// The first frame on every connection: who the dialer is and in which
    /// role it comes ([`Hello`]).
    Hello,
    /// The listener accepted the [`Hello`] (a refusal closes the connection
    /// without one).
    HelloAck,
}

impl FrameKind {
    fn tag(self) -> u8 {
        match self {
            FrameKind::Raft => 1,
            FrameKind::SnapshotChunk => 2,
            FrameKind::ClientRequest => 3,
            FrameKind::ClientResponse => 4,
            FrameKind::Hello => 5,
            FrameKind::HelloAck => 6,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        Some(match tag {
            1 => FrameKind::Raft,
            2 => FrameKind::SnapshotChunk,
            3 => FrameKind::ClientRequest,
            4 => FrameKind::ClientResponse,
            5 => FrameKind::Hello,
            6 => FrameKind::HelloAck,
            _ => return None,
        })
    }
}

/// Why a frame or message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The bytes do not start with the frame magic.
    #[error("not a Synod frame (bad magic)")]
    BadMagic,
    /// The peer speaks a frame version this build does not.
    #[error("unsupported wire version {0}")]
    UnsupportedVersion(u8),
    /// Unknown frame kind.
    #[error("unknown frame kind {0}")]
    UnknownKind(u8),
    /// The payload is larger than allowed.
    #[error("frame payload of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The payload's checksum does not match.
    #[error("frame checksum mismatch")]
    Checksum,
    /// The payload does not decode.
    #[error("bad payload: {0}")]
    Payload(#[from] DecodeError),
    /// A message type that must never come from the network.
    #[error("refused message type {0:?} from the network")]
    RefusedType(MessageType),
    /// A snapshot chunk stream broke its rules (see [`SnapshotAssembler`]).
    #[error("bad snapshot chunk stream: {0}")]
    SnapshotStream(&'static str),
}

/// Wraps `payload` in a frame.
pub fn frame(kind: FrameKind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + payload.len());
    out.extend_from_slice(&MAGIC);
    out.push(WIRE_VERSION);
    out.push(kind.tag());
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the frame carries.
    pub kind: FrameKind,
    /// Payload length.
    pub len: usize,
    /// Payload checksum.
    pub crc: u32,
}

/// Parses a frame header (the first [`FRAME_HEADER_LEN`] bytes).
pub fn parse_header(h: &[u8; FRAME_HEADER_LEN]) -> Result<FrameHeader, WireError> {
    if h[..4] != MAGIC {
        return Err(WireError::BadMagic);
    }
    if h[4] != WIRE_VERSION {
        return Err(WireError::UnsupportedVersion(h[4]));
    }
    let kind = FrameKind::from_tag(h[5]).ok_or(WireError::UnknownKind(h[5]))?;
    let len = u32::from_le_bytes([h[6], h[7], h[8], h[9]]) as usize;
    if len > MAX_FRAME_PAYLOAD {
        return Err(WireError::TooLarge {
            len,
            max: MAX_FRAME_PAYLOAD,
        });
    }
    let crc = u32::from_le_bytes([h[10], h[11], h[12], h[13]]);
    Ok(FrameHeader { kind, len, crc })
}

/// Splits a byte stream into frames; feed it what the socket gives.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    limit: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self {
            buf: Vec::new(),
            limit: MAX_FRAME_PAYLOAD,
        }
    }
}

impl FrameDecoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty decoder that refuses payloads over `limit` bytes (at most
    /// [`MAX_FRAME_PAYLOAD`]), for example before a connection has said who
    /// it is.
    pub fn with_limit(limit: usize) -> Self {
        Self {
            buf: Vec::new(),
            limit: limit.min(MAX_FRAME_PAYLOAD),
        }
    }

    /// Changes the payload limit (at most [`MAX_FRAME_PAYLOAD`]).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(MAX_FRAME_PAYLOAD);
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed, or an
    /// error (after which the stream is unusable: close the connection).
    pub fn next_frame(&mut self) -> Result<Option<(FrameKind, Vec<u8>)>, WireError> {
        let Some(head) = self.buf.first_chunk::<FRAME_HEADER_LEN>() else {
            // Refuse a wrong magic as early as it can be seen.
            let n = self.buf.len().min(4);
            if self.buf[..n] != MAGIC[..n] {
                return Err(WireError::BadMagic);
            }
            return Ok(None);
        };
        let h = parse_header(head)?;
        if h.len > self.limit {
            return Err(WireError::TooLarge {
                len: h.len,
                max: self.limit,
            });
        }
        if self.buf.len() < FRAME_HEADER_LEN + h.len {
            return Ok(None);
        }
        let payload = self.buf[FRAME_HEADER_LEN..FRAME_HEADER_LEN + h.len].to_vec();
        self.buf.drain(..FRAME_HEADER_LEN + h.len);
        if crc32c::crc32c(&payload) != h.crc {
            return Err(WireError::Checksum);
        }
        Ok(Some((h.kind, payload)))
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }
}

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

fn bytes(w: &mut Writer, b: &[u8]) {
    w.u32(b.len() as u32);
    w.bytes(b);
}

fn read_bytes<'a>(
    r: &mut Reader<'a>,
    what: &'static str,
    max: usize,
) -> Result<&'a [u8], DecodeError> {
    let offset = r.offset();
    let len = r.u32(what)? as usize;
    if len > max {
        return Err(DecodeError::LengthOverLimit {
            what,
            len,
            max,
            offset,
        });
    }
    r.take(what, len)
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

// ---------------------------------------------------------------------------
// Hello: the first frame of every connection.
// ---------------------------------------------------------------------------

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
pub fn encode_hello_ack() -> Vec<u8> {
    vec![HELLO_VERSION, 0]
}

/// Checks a [`FrameKind::HelloAck`] payload.
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

// ---------------------------------------------------------------------------
// Snapshot chunks.
// ---------------------------------------------------------------------------

/// The data bytes per chunk a sender uses.
pub const SNAPSHOT_CHUNK_LEN: usize = 1 << 20;
/// The most data bytes one chunk may carry (what a receiver accepts).
pub const MAX_SNAPSHOT_CHUNK_LEN: usize = 4 << 20;
/// The largest encoded snapshot message a receiver reassembles by default.
pub const MAX_SNAPSHOT_MESSAGE: usize = 256 << 20;

/// One [`FrameKind::SnapshotChunk`] payload.
///
/// A `MsgSnapshot` is encoded with [`encode_message`] into bytes `B`, then
/// sent as one header chunk followed by `chunks` data chunks in order:
///
/// * header: `tag u8 (=0) | stream u64 | total length u64 | chunks u32 |
///   crc32c(B) u32`;
/// * data: `tag u8 (=1) | stream u64 | seq u32 | length u32 | bytes`, with
///   `seq` counting from 0 and `0 < length <= MAX_SNAPSHOT_CHUNK_LEN`.
///
/// The data lengths add up to the total length exactly; `stream` is chosen
/// by the sender and identifies one snapshot on one connection. A new header
/// abandons any snapshot still being assembled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotChunk<'a> {
    /// The announcement of a snapshot.
    Header {
        /// The snapshot stream.
        stream: u64,
        /// Length of the encoded message.
        total_len: u64,
        /// How many data chunks follow.
        chunks: u32,
        /// crc32c of the encoded message.
        crc: u32,
    },
    /// A piece of the encoded message.
    Data {
        /// The snapshot stream.
        stream: u64,
        /// Position of this chunk, from 0.
        seq: u32,
        /// The bytes.
        bytes: &'a [u8],
    },
}

/// Encodes one chunk payload.
pub fn encode_snapshot_chunk(c: &SnapshotChunk<'_>) -> Vec<u8> {
    let mut w = Writer::with_capacity(32);
    match c {
        SnapshotChunk::Header {
            stream,
            total_len,
            chunks,
            crc,
        } => {
            w.u8(0);
            w.u64(*stream);
            w.u64(*total_len);
            w.u32(*chunks);
            w.u32(*crc);
        }
        SnapshotChunk::Data { stream, seq, bytes } => {
            w.u8(1);
            w.u64(*stream);
            w.u32(*seq);
            w.u32(bytes.len() as u32);
            w.bytes(bytes);
        }
    }
    w.finish()
}

/// Decodes one chunk payload.
pub fn decode_snapshot_chunk(payload: &[u8]) -> Result<SnapshotChunk<'_>, WireError> {
    let mut r = Reader::new(payload);
    let off = r.offset();
    let chunk = match r.u8("chunk tag")? {
        0 => SnapshotChunk::Header {
            stream: r.u64("snapshot stream")?,
            total_len: r.u64("snapshot length")?,
            chunks: r.u32("snapshot chunk count")?,
            crc: r.u32("snapshot checksum")?,
        },
        1 => {
            let stream = r.u64("snapshot stream")?;
            let seq = r.u32("chunk seq")?;
            let bytes = read_bytes(&mut r, "chunk data", MAX_SNAPSHOT_CHUNK_LEN)?;
            SnapshotChunk::Data { stream, seq, bytes }
        }
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "chunk tag",
                tag,
                offset: off,
            }
            .into())
        }
    };
    r.finish("snapshot chunk")?;
    Ok(chunk)
}

/// The frames that carry the encoded snapshot message `message` as stream
/// `stream`, in `chunk_len`-byte data chunks (clamped to
/// `1..=MAX_SNAPSHOT_CHUNK_LEN`). Frames are produced lazily, so at most one
/// chunk is copied at a time.
pub fn snapshot_frames(
    stream: u64,
    message: &[u8],
    chunk_len: usize,
) -> impl Iterator<Item = Vec<u8>> + '_ {
    let chunk_len = chunk_len.clamp(1, MAX_SNAPSHOT_CHUNK_LEN);
    let chunks = message.len().div_ceil(chunk_len);
    let header = encode_snapshot_chunk(&SnapshotChunk::Header {
        stream,
        total_len: message.len() as u64,
        chunks: chunks as u32,
        crc: crc32c::crc32c(message),
    });
    std::iter::once(frame(FrameKind::SnapshotChunk, &header)).chain(
        message
            .chunks(chunk_len)
            .enumerate()
            .map(move |(seq, bytes)| {
                frame(
                    FrameKind::SnapshotChunk,
                    &encode_snapshot_chunk(&SnapshotChunk::Data {
                        stream,
                        seq: seq as u32,
                        bytes,
                    }),
                )
            }),
    )
}

#[derive(Debug)]
struct Partial {
    stream: u64,
    total_len: usize,
    chunks: u32,
    crc: u32,
    next_seq: u32,
    buf: Vec<u8>,
}

/// Reassembles snapshot chunk streams on one connection (or from one peer).
///
/// Rules: a header announcing more than the assembler's bound, or a count of
/// chunks that cannot carry the total (`chunks > total` or `total >
/// chunks * MAX_SNAPSHOT_CHUNK_LEN`, or a zero-length snapshot), is refused;
/// data chunks must belong to the current stream and come in order; an
/// empty chunk or one that overruns the announced total is refused; the
/// assembled bytes must match the header's checksum. Memory grows only with
/// received data, never beyond the bound. Any error means the stream is
/// broken: the caller closes the connection.
#[derive(Debug)]
pub struct SnapshotAssembler {
    max_total: usize,
    partial: Option<Partial>,
}

impl SnapshotAssembler {
    /// An assembler that refuses snapshots longer than `max_total` bytes.
    pub fn new(max_total: usize) -> Self {
        Self {
            max_total,
            partial: None,
        }
    }

    /// Bytes held for a snapshot in progress.
    pub fn buffered(&self) -> usize {
        self.partial.as_ref().map_or(0, |p| p.buf.len())
    }

    /// Takes one chunk payload; returns the whole encoded message when this
    /// chunk completes it.
    pub fn push(&mut self, payload: &[u8]) -> Result<Option<Vec<u8>>, WireError> {
        match decode_snapshot_chunk(payload)? {
            SnapshotChunk::Header {
                stream,
                total_len,
                chunks,
                crc,
            } => {
                self.partial = None;
                let total = usize::try_from(total_len).unwrap_or(usize::MAX);
                if total > self.max_total {
                    return Err(WireError::TooLarge {
                        len: total,
                        max: self.max_total,
                    });
                }
                let n = chunks as usize;
                if total == 0
                    || n == 0
                    || n > total
                    || total > n.saturating_mul(MAX_SNAPSHOT_CHUNK_LEN)
                {
                    return Err(WireError::SnapshotStream(
                        "chunk count does not fit the total length",
                    ));
                }
                self.partial = Some(Partial {
                    stream,
                    total_len: total,
                    chunks,
                    crc,
                    next_seq: 0,
                    buf: Vec::new(),
                });
                Ok(None)
            }
            SnapshotChunk::Data { stream, seq, bytes } => {
                let Some(p) = self.partial.as_mut() else {
                    return Err(WireError::SnapshotStream("data chunk without a header"));
                };
                if stream != p.stream {
                    return Err(WireError::SnapshotStream("data chunk of another stream"));
                }
                if seq != p.next_seq {
                    return Err(WireError::SnapshotStream("data chunk out of order"));
                }
                if bytes.is_empty() {
                    return Err(WireError::SnapshotStream("empty data chunk"));
                }
                if p.buf.len() + bytes.len() > p.total_len {
                    return Err(WireError::SnapshotStream(
                        "data chunks overrun the announced length",
                    ));
                }
                p.buf.extend_from_slice(bytes);
                p.next_seq += 1;
                let last = p.next_seq == p.chunks;
                let full = p.buf.len() == p.total_len;
                match (last, full) {
                    (false, false) => Ok(None),
                    (true, true) => {
                        let done = self.partial.take().map(|p| (p.crc, p.buf));
                        match done {
                            Some((crc, buf)) if crc32c::crc32c(&buf) == crc => Ok(Some(buf)),
                            _ => Err(WireError::Checksum),
                        }
                    }
                    _ => Err(WireError::SnapshotStream("chunk count and length disagree")),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn conf_change_entry(index: u64, peer: u64) -> Entry {
        let mut c = ConfChangeSingle::default();
        c.set_change_type(ConfChangeType::RemoveNode);
        c.node_id = peer;
        let mut cc = ConfChangeV2::default();
        cc.set_transition(ConfChangeTransition::Explicit);
        cc.mut_changes().push(c);
        let mut e = Entry::default();
        e.set_entry_type(EntryType::EntryConfChangeV2);
        e.index = index;
        e.term = 2;
        e.data = cc.write_to_bytes().unwrap().into();
        e
    }

    fn message() -> impl Strategy<Value = Message> {
        let ty = prop_oneof![
            Just(MessageType::MsgAppend),
            Just(MessageType::MsgAppendResponse),
            Just(MessageType::MsgRequestVote),
            Just(MessageType::MsgRequestPreVoteResponse),
            Just(MessageType::MsgHeartbeat),
            Just(MessageType::MsgSnapshot),
            Just(MessageType::MsgReadIndex),
        ];
        let entry = (
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(any::<u8>(), 0..40),
            any::<bool>(),
        )
            .prop_map(|(term, index, data, cc)| {
                if cc {
                    conf_change_entry(index, term % 9 + 1)
                } else {
                    Entry {
                        term,
                        index,
                        data: data.into(),
                        context: vec![1, 2, 3].into(),
                        ..Default::default()
                    }
                }
            });
        (
            ty,
            proptest::array::uniform8(any::<u64>()),
            any::<bool>(),
            proptest::collection::vec(entry, 0..5),
            proptest::option::of((
                1..u64::MAX,
                any::<u64>(),
                proptest::collection::vec(any::<u8>(), 0..64),
            )),
        )
            .prop_map(|(ty, n, reject, entries, snap)| {
                let mut m = Message::default();
                m.set_msg_type(ty);
                m.to = n[0];
                m.from = n[1];
                m.term = n[2];
                m.log_term = n[3];
                m.index = n[4];
                m.commit = n[5];
                m.commit_term = n[6];
                m.reject_hint = n[7];
                m.reject = reject;
                m.priority = -3;
                m.set_entries(entries.into());
                if let Some((index, term, data)) = snap {
                    let mut s = Snapshot::default();
                    s.mut_metadata().index = index;
                    s.mut_metadata().term = term;
                    let cs = ConfState {
                        voters: vec![1, 2, 3],
                        learners: vec![4],
                        ..Default::default()
                    };
                    s.mut_metadata().set_conf_state(cs);
                    s.data = data.into();
                    m.set_snapshot(s);
                }
                m
            })
    }

    proptest! {
        #[test]
        fn messages_round_trip(m in message()) {
            let bytes = encode_message(&m).unwrap();
            let back = decode_message(&bytes).unwrap();
            prop_assert_eq!(back, m);
        }

        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode_message(&bytes);
        }

        #[test]
        fn arbitrary_streams_never_panic(chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)) {
            let mut d = FrameDecoder::new();
            for c in chunks {
                d.feed(&c);
                while let Ok(Some(_)) = d.next_frame() {}
            }
        }

        #[test]
        fn frames_survive_any_split(m in message(), split in any::<usize>()) {
            let f = frame(FrameKind::Raft, &encode_message(&m).unwrap());
            let at = split % (f.len() + 1);
            let mut d = FrameDecoder::new();
            d.feed(&f[..at]);
            let first = d.next_frame().unwrap();
            d.feed(&f[at..]);
            let got = match first {
                Some(x) => x,
                None => d.next_frame().unwrap().unwrap(),
            };
            prop_assert_eq!(got.0, FrameKind::Raft);
            prop_assert_eq!(decode_message(&got.1).unwrap(), m);
        }
    }

    #[test]
    fn proposals_and_local_messages_are_refused() {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgPropose);
        let bytes = encode_message(&m).unwrap();
        assert_eq!(
            decode_message(&bytes),
            Err(WireError::RefusedType(MessageType::MsgPropose))
        );
        for ty in [
            MessageType::MsgHup,
            MessageType::MsgBeat,
            MessageType::MsgUnreachable,
        ] {
            m.set_msg_type(ty);
            assert!(decode_message(&encode_message(&m).unwrap()).is_err());
        }
    }

    #[test]
    fn bad_frames_are_refused() {
        let f = frame(FrameKind::Raft, b"hello");
        let mut bad = f.clone();
        bad[FRAME_HEADER_LEN] ^= 1;
        let mut d = FrameDecoder::new();
        d.feed(&bad);
        assert_eq!(d.next_frame(), Err(WireError::Checksum));

        let mut d = FrameDecoder::new();
        d.feed(b"GET / HTTP/1.1\r\n");
        assert_eq!(d.next_frame(), Err(WireError::BadMagic));

        let mut huge = f.clone();
        huge[6..10].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut d = FrameDecoder::new();
        d.feed(&huge);
        assert!(matches!(d.next_frame(), Err(WireError::TooLarge { .. })));

        let mut v2 = f;
        v2[4] = 2;
        let mut d = FrameDecoder::new();
        d.feed(&v2);
        assert_eq!(d.next_frame(), Err(WireError::UnsupportedVersion(2)));
    }

    #[test]
    fn truncated_messages_are_errors() {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgAppend);
        m.set_entries(vec![conf_change_entry(5, 2)].into());
        let bytes = encode_message(&m).unwrap();
        for cut in 0..bytes.len() {
            assert!(decode_message(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn a_huge_entry_count_is_refused_before_allocating() {
        let mut m = Message::default();
        m.set_msg_type(MessageType::MsgAppend);
        let mut bytes = encode_message(&m).unwrap();
        // The entry count sits right before the snapshot flag at the end.
        let at = bytes.len() - 5;
        bytes[at..at + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            decode_message(&bytes),
            Err(WireError::Payload(DecodeError::LengthOverLimit {
                what: "entry count",
                ..
            }))
        ));
    }
    fn assemble(
        frames: impl Iterator<Item = Vec<u8>>,
        max: usize,
    ) -> Result<Option<Vec<u8>>, WireError> {
        let mut a = SnapshotAssembler::new(max);
        let mut d = FrameDecoder::new();
        let mut out = None;
        for f in frames {
            d.feed(&f);
            while let Some((kind, payload)) = d.next_frame()? {
                assert_eq!(kind, FrameKind::SnapshotChunk);
                assert!(out.is_none(), "bytes after the last chunk");
                out = a.push(&payload)?;
            }
        }
        Ok(out)
    }

    proptest! {
        #[test]
        fn snapshot_chunks_round_trip(
            data in proptest::collection::vec(any::<u8>(), 1..4096),
            chunk_len in 1usize..700,
            stream in any::<u64>(),
        ) {
            let back = assemble(snapshot_frames(stream, &data, chunk_len), data.len()).unwrap();
            prop_assert_eq!(back, Some(data));
        }

        #[test]
        fn snapshot_messages_round_trip_through_chunks(m in message(), chunk_len in 1usize..64) {
            let mut m = m;
            m.set_msg_type(MessageType::MsgSnapshot);
            let bytes = encode_message(&m).unwrap();
            let back = assemble(snapshot_frames(7, &bytes, chunk_len), MAX_SNAPSHOT_MESSAGE)
                .unwrap()
                .unwrap();
            prop_assert_eq!(decode_message(&back).unwrap(), m);
        }

        #[test]
        fn arbitrary_chunk_payloads_never_panic(
            payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        ) {
            let mut a = SnapshotAssembler::new(1024);
            for p in payloads {
                let _ = a.push(&p);
                prop_assert!(a.buffered() <= 1024);
            }
        }

        #[test]
        fn hellos_round_trip(peer_id in 1..u64::MAX, client in any::<bool>(), name in "[a-z]{0,12}") {
            let h = Hello {
                role: if client { HelloRole::Client } else { HelloRole::Peer { peer_id } },
                identity: (!name.is_empty())
                    .then(|| NodeId::from_certificate_subject(&format!("CN={name}")).unwrap()),
            };
            prop_assert_eq!(decode_hello(&encode_hello(&h)).unwrap(), h);
        }
    }

    #[test]
    fn broken_snapshot_streams_are_refused() {
        let data = vec![7u8; 100];
        let frames: Vec<Vec<u8>> = snapshot_frames(1, &data, 10).collect();
        let payload = |f: &Vec<u8>| f[FRAME_HEADER_LEN..].to_vec();
        // Over the bound.
        assert!(matches!(
            assemble(frames.clone().into_iter(), 99),
            Err(WireError::TooLarge { len: 100, max: 99 })
        ));
        // Data without a header.
        let mut a = SnapshotAssembler::new(1000);
        assert!(matches!(
            a.push(&payload(&frames[1])),
            Err(WireError::SnapshotStream(_))
        ));
        // Out of order.
        let mut a = SnapshotAssembler::new(1000);
        a.push(&payload(&frames[0])).unwrap();
        assert!(matches!(
            a.push(&payload(&frames[2])),
            Err(WireError::SnapshotStream(_))
        ));
        // Another stream.
        let other: Vec<Vec<u8>> = snapshot_frames(2, &data, 10).collect();
        let mut a = SnapshotAssembler::new(1000);
        a.push(&payload(&frames[0])).unwrap();
        assert!(matches!(
            a.push(&payload(&other[1])),
            Err(WireError::SnapshotStream(_))
        ));
        // Overrun: a header announcing 10 bytes, then a 20-byte chunk.
        let mut a = SnapshotAssembler::new(1000);
        a.push(&encode_snapshot_chunk(&SnapshotChunk::Header {
            stream: 1,
            total_len: 10,
            chunks: 1,
            crc: 0,
        }))
        .unwrap();
        assert!(matches!(
            a.push(&encode_snapshot_chunk(&SnapshotChunk::Data {
                stream: 1,
                seq: 0,
                bytes: &[0; 20]
            })),
            Err(WireError::SnapshotStream(_))
        ));
        // A count that cannot carry the length.
        let mut a = SnapshotAssembler::new(usize::MAX);
        assert!(a
            .push(&encode_snapshot_chunk(&SnapshotChunk::Header {
                stream: 1,
                total_len: u64::MAX,
                chunks: 1,
                crc: 0
            }))
            .is_err());
        // A bad checksum.
        let mut bad = frames.clone();
        let last = bad.len() - 1;
        let mut p = payload(&bad[last]);
        let n = p.len() - 1;
        p[n] ^= 1;
        bad[last] = frame(FrameKind::SnapshotChunk, &p);
        assert!(matches!(
            assemble(bad.into_iter(), 1000),
            Err(WireError::Checksum)
        ));
        // Truncated chunk payloads are errors, never panics.
        for f in &frames[..2] {
            let p = payload(f);
            for cut in 0..p.len() {
                assert!(decode_snapshot_chunk(&p[..cut]).is_err());
            }
        }
    }

    #[test]
    fn bad_hellos_are_refused() {
        assert!(decode_hello(&[]).is_err());
        let peer0 = Hello {
            role: HelloRole::Peer { peer_id: 1 },
            identity: None,
        };
        let mut b = encode_hello(&peer0);
        b[2..10].copy_from_slice(&0u64.to_le_bytes());
        assert!(decode_hello(&b).is_err(), "peer id 0");
        let mut b = encode_hello(&peer0);
        b[1] = 9;
        assert!(decode_hello(&b).is_err(), "unknown role");
        let mut b = encode_hello(&peer0);
        b[0] = 2;
        assert!(decode_hello(&b).is_err(), "version");
        let mut b = encode_hello(&peer0);
        b.push(0);
        assert!(decode_hello(&b).is_err(), "trailing bytes");
        assert!(decode_hello_ack(&encode_hello_ack()).is_ok());
        assert!(decode_hello_ack(&[1, 1]).is_err());
    }
}
