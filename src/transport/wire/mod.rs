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
//! reassembled under a size bound by a [`SnapshotAssembler`]. A member
//! vouching for a peer admitted after its own catalog's view asks a peer it
//! knows [`WhoIs`] that peer id, and reads one [`WhoIsAnswer`].
//!
//! The parts: `frame_codec` (frames, and splitting a byte stream into them),
//! `raft_message` (raft messages, entries and configuration states), `hello`
//! (the Hello and HelloAck that open a connection), `snapshot_chunks`
//! (chunked snapshots and their reassembly) and `who_is` (the WhoIs
//! question and its answer). Everything public is
//! re-exported here; this module itself holds what the parts share:
//! [`WireError`] and the length-prefixed byte fields.

mod frame_codec;
mod hello;
mod raft_message;
mod snapshot_chunks;
#[cfg(test)]
mod tests;
mod who_is;

use raft::eraftpb::MessageType;

use crate::entry::codec::{Reader, Writer};
pub use crate::entry::DecodeError;
pub use frame_codec::{
    call_payload, frame, parse_header, split_call, FrameDecoder, FrameHeader, FrameKind,
    CALL_ID_LEN, FRAME_HEADER_LEN, MAGIC, MAX_FRAME_PAYLOAD, WIRE_VERSION,
};
pub use hello::{
    decode_hello, decode_hello_ack, decode_hello_answer, encode_hello, encode_hello_ack,
    encode_hello_answer, Hello, HelloAnswer, HelloRole, HELLO_VERSION, MAX_HELLO_PAYLOAD,
    MAX_REMOVED_DETAIL,
};
pub use raft_message::{
    decode_conf_state, decode_entry, decode_message, encode_conf_state, encode_entry,
    encode_message, MAX_CONF_PEERS, MAX_ENTRIES_PER_MESSAGE,
};
pub use snapshot_chunks::{
    decode_snapshot_chunk, encode_snapshot_chunk, snapshot_frames, SnapshotAssembler,
    SnapshotChunk, MAX_SNAPSHOT_CHUNK_LEN, MAX_SNAPSHOT_MESSAGE, SNAPSHOT_CHUNK_LEN,
};
pub use who_is::{
    decode_who_is, decode_who_is_answer, encode_who_is, encode_who_is_answer, WhoIs, WhoIsAnswer,
    WhoIsMember, MAX_WHO_IS_ANSWER_PAYLOAD, MAX_WHO_IS_PAYLOAD, WHO_IS_VERSION,
};

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

/// Writes a length-prefixed (u32) byte field.
fn bytes(w: &mut Writer, b: &[u8]) {
    w.u32(b.len() as u32);
    w.bytes(b);
}

/// Reads a length-prefixed (u32) byte field of at most `max` bytes.
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
