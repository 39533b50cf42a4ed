//! Snapshot chunks: how a `MsgSnapshot` too large for one frame travels as
//! a header chunk and bounded data chunks ([`SnapshotChunk`],
//! [`snapshot_frames`]), and how a receiver reassembles them
//! ([`SnapshotAssembler`]). Promises: memory grows only with received data
//! and never beyond the assembler's bound, chunks come in order on one
//! stream, and the reassembled bytes match the header's checksum.

use super::{frame, read_bytes, DecodeError, FrameKind, WireError};
use crate::entry::codec::{Reader, Writer};

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
///
/// [`encode_message`]: super::encode_message
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
