//! Frames: the envelope every byte from the network arrives in. Owns the
//! frame header (magic, version, kind, length, checksum), wrapping a payload
//! in a frame, and [`FrameDecoder`], which splits a byte stream into frames.
//! Promises: a length over the limit is refused before anything is
//! allocated, and a payload is returned only when its checksum matches.

use super::WireError;

/// The frame magic.
pub const MAGIC: [u8; 4] = *b"SYND";
/// The frame format this build speaks.
pub const WIRE_VERSION: u8 = 1;
/// Bytes before a frame's payload.
pub const FRAME_HEADER_LEN: usize = 14;
/// The largest payload accepted in one frame (snapshots travel in chunks).
pub const MAX_FRAME_PAYLOAD: usize = 16 << 20;

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
    ///
    /// [`Hello`]: super::Hello
    Hello,
    /// The listener accepted the [`Hello`] (a refusal closes the connection
    /// without one).
    ///
    /// [`Hello`]: super::Hello
    HelloAck,
    /// A member asks a peer which member a raft peer id belongs to
    /// ([`WhoIs`]); only on an accepted peer connection, as its first frame.
    ///
    /// [`WhoIs`]: super::WhoIs
    WhoIs,
    /// The answer to a `WhoIs` ([`WhoIsAnswer`]).
    ///
    /// [`WhoIsAnswer`]: super::WhoIsAnswer
    WhoIsAnswer,
    /// A client request with the caller's call id ([`call_payload`]): many
    /// may be in flight on one connection, answered in any order.
    ClientCall,
    /// The answer to a `ClientCall`, with its call id; a streaming request
    /// (a watch) gets many, all with its id.
    ClientReply,
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
            FrameKind::WhoIs => 7,
            FrameKind::WhoIsAnswer => 8,
            FrameKind::ClientCall => 9,
            FrameKind::ClientReply => 10,
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
            7 => FrameKind::WhoIs,
            8 => FrameKind::WhoIsAnswer,
            9 => FrameKind::ClientCall,
            10 => FrameKind::ClientReply,
            _ => return None,
        })
    }
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

/// Bytes before the body of a `ClientCall` or `ClientReply` payload: the
/// call id (u64, little-endian).
pub const CALL_ID_LEN: usize = 8;

/// A `ClientCall` or `ClientReply` payload: `id`, then `body`.
pub fn call_payload(id: u64, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(CALL_ID_LEN + body.len());
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(body);
    out
}

/// Splits a `ClientCall` or `ClientReply` payload into its call id and
/// body; a payload shorter than the id is refused.
pub fn split_call(payload: &[u8]) -> Result<(u64, &[u8]), WireError> {
    match payload.split_first_chunk::<CALL_ID_LEN>() {
        Some((id, body)) => Ok((u64::from_le_bytes(*id), body)),
        None => Err(WireError::Payload(crate::entry::DecodeError::Truncated {
            what: "call id",
            offset: 0,
            needed: CALL_ID_LEN,
            available: payload.len(),
        })),
    }
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
///
/// Frames are parsed at an offset into the buffer; the consumed front is cut
/// off only when it is at least half the buffer (or all of it), so the bytes
/// moved stay linear in the bytes fed however many frames one read holds.
#[derive(Debug)]
pub struct FrameDecoder {
    buf: Vec<u8>,
    /// Where the next frame starts in `buf`.
    start: usize,
    limit: usize,
    /// Bytes moved by compaction (for the linearity test).
    #[cfg(test)]
    pub(super) moved: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::with_limit(MAX_FRAME_PAYLOAD)
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
            start: 0,
            limit: limit.min(MAX_FRAME_PAYLOAD),
            #[cfg(test)]
            moved: 0,
        }
    }

    /// Changes the payload limit (at most [`MAX_FRAME_PAYLOAD`]).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit.min(MAX_FRAME_PAYLOAD);
    }

    /// Appends received bytes.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 0 && self.start >= self.buf.len() / 2 {
            #[cfg(test)]
            {
                self.moved += self.buf.len() - self.start;
            }
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete frame, `Ok(None)` when more bytes are needed, or an
    /// error (after which the stream is unusable: close the connection).
    pub fn next_frame(&mut self) -> Result<Option<(FrameKind, Vec<u8>)>, WireError> {
        let rest = self.buf.get(self.start..).unwrap_or_default();
        let Some(head) = rest.first_chunk::<FRAME_HEADER_LEN>() else {
            // Refuse a wrong magic as early as it can be seen.
            let n = rest.len().min(4);
            if rest[..n] != MAGIC[..n] {
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
        let Some(payload) = rest.get(FRAME_HEADER_LEN..FRAME_HEADER_LEN + h.len) else {
            return Ok(None);
        };
        let payload = payload.to_vec();
        self.start += FRAME_HEADER_LEN + h.len;
        if crc32c::crc32c(&payload) != h.crc {
            return Err(WireError::Checksum);
        }
        Ok(Some((h.kind, payload)))
    }

    /// Bytes buffered and not yet returned.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }
}
