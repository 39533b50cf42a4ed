//! Framing and our own encoding of the raft values we persist.
//!
//! A record (segment format version 2) is
//!
//! ```text
//! len: u32 LE | crc: u32 LE | hcrc: u32 LE | payload[len]
//! ```
//!
//! where `crc` is the CRC32C of the four length bytes followed by the
//! payload (so a run of zero bytes is never a valid record), `hcrc` is the
//! CRC32C of the eight bytes before it (the header's own checksum: a
//! damaged length is recognised as damage instead of being believed), and
//! `len` is at least 1 and at most [`MAX_RECORD`]. The payload's first byte
//! is its kind. Version 1 framing had no `hcrc`; this build recognises it
//! only to refuse it by name ([`legacy_segment_version`]).
//!
//! raft's protobuf messages are never decoded from disk: entries, hard
//! state, conf state and snapshot metadata are written field by field with
//! [`crate::entry::codec`]'s primitives and read back with bounds checks, so
//! hostile or damaged bytes give an error, never a panic or an allocation
//! larger than the input.

use bytes::Bytes;
use raft::eraftpb::{ConfState, Entry, EntryType, HardState};

use crate::entry::codec::{DecodeError, Reader, Writer};

/// Bytes of a record header (length, checksum, header checksum).
pub const HEADER_LEN: usize = 12;
/// The largest payload a record may have (64 MiB).
pub const MAX_RECORD: usize = 64 << 20;

/// Magic bytes in a segment head.
pub const SEGMENT_MAGIC: &[u8; 8] = b"SYNODWAL";
/// The segment format this build writes and reads: 2, records with a
/// header checksum. (Version 1, without it, is refused by name.)
pub const SEGMENT_FORMAT_VERSION: u8 = 2;

const KIND_HEAD: u8 = 1;
const KIND_ENTRY: u8 = 2;
const KIND_HARD_STATE: u8 = 3;
const KIND_CONF_STATE: u8 = 4;
const KIND_SNAPSHOT_MARK: u8 = 5;

/// The state restated at the head of every segment, so that dropping the
/// segments before it never loses it.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentHead {
    /// The segment's sequence number (consecutive from 1).
    pub seq: u64,
    /// The last log index when the segment was started.
    pub last_index: u64,
    /// The snapshot (index, term) in force when the segment was started
    /// (`None` if there was none).
    pub snapshot: Option<(u64, u64)>,
    /// True when the segment was started by installing a snapshot: the log
    /// before it is replaced, `last_index` equals the snapshot index.
    pub reset: bool,
    /// The hard state when the segment was started.
    pub hard_state: HardState,
    /// The conf state when the segment was started.
    pub conf_state: ConfState,
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// The first record of a segment.
    Head(SegmentHead),
    /// A log entry; an entry at an index at or below the current last index
    /// replaces that entry and every later one.
    Entry(Entry),
    /// A new hard state.
    HardState(HardState),
    /// A new conf state.
    ConfState(ConfState),
    /// A snapshot (index, term) is now the log's base: entries up to it are
    /// compacted.
    SnapshotMark {
        /// Snapshot index.
        index: u64,
        /// Snapshot term.
        term: u64,
    },
}

/// Appends a framed record with `payload` to `out`.
pub fn frame(out: &mut Vec<u8>, payload: &[u8]) {
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let len_bytes = len.to_le_bytes();
    let mut crc = crc32c::crc32c(&len_bytes);
    crc = crc32c::crc32c_append(crc, payload);
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&len_bytes);
    header[4..8].copy_from_slice(&crc.to_le_bytes());
    let hcrc = crc32c::crc32c(&header[..8]);
    header[8..].copy_from_slice(&hcrc.to_le_bytes());
    out.extend_from_slice(&header);
    out.extend_from_slice(payload);
}

/// What the bytes at an offset hold.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Frame {
    /// A valid record: its payload range within the buffer, and the offset
    /// after it.
    Ok {
        /// Payload start.
        start: usize,
        /// Payload end (exclusive) = next record's offset.
        end: usize,
    },
    /// Fewer than [`HEADER_LEN`] bytes remain.
    ShortHeader,
    /// The header is damaged: its checksum is wrong, or its length is zero
    /// or over [`MAX_RECORD`]. Its length cannot be believed.
    BadHeader(&'static str),
    /// The header is valid (its length can be believed) but the payload
    /// runs past the end of the buffer, which it would end at `end`.
    ShortPayload {
        /// Where the record would end.
        end: usize,
    },
    /// The header is valid but the payload fails its checksum; the record
    /// ends at `end`.
    BadPayload {
        /// Where the record ends.
        end: usize,
    },
}

/// The length of the record whose valid header starts at `off`, if one
/// does (header checksum right, length in bounds).
fn header_len_at(buf: &[u8], off: usize) -> Result<usize, Frame> {
    let Some(h) = buf.get(off..).and_then(|r| r.first_chunk::<HEADER_LEN>()) else {
        return Err(Frame::ShortHeader);
    };
    let len = u32::from_le_bytes([h[0], h[1], h[2], h[3]]) as usize;
    let hcrc = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
    if crc32c::crc32c(&h[..8]) != hcrc {
        return Err(Frame::BadHeader("record header checksum mismatch"));
    }
    if len == 0 || len > MAX_RECORD {
        return Err(Frame::BadHeader("record length out of bounds"));
    }
    Ok(len)
}

/// Checks the record starting at `off` in `buf`.
pub fn check_frame(buf: &[u8], off: usize) -> Frame {
    let len = match header_len_at(buf, off) {
        Ok(len) => len,
        Err(f) => return f,
    };
    let start = off + HEADER_LEN;
    let end = start + len;
    if end > buf.len() {
        return Frame::ShortPayload { end };
    }
    let h = &buf[off..start];
    let crc = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    let actual = crc32c::crc32c_append(crc32c::crc32c(&h[..4]), &buf[start..end]);
    if actual != crc {
        return Frame::BadPayload { end };
    }
    Frame::Ok { start, end }
}

/// The first offset at or after `from` where a valid record header starts
/// (its checksum right and its length in bounds; the payload may be cut
/// short or damaged), if any. Recovery uses it to tell a torn final write,
/// after which nothing was written, from damage with records after it.
pub fn find_header(buf: &[u8], from: usize) -> Option<usize> {
    let last = buf.len().checked_sub(HEADER_LEN)?;
    (from..=last).find(|&off| header_len_at(buf, off).is_ok())
}

/// If `buf` starts with a segment head in the version-1 framing (no header
/// checksum: `len | crc | payload`), the format version its head names.
/// Such segments are refused by name, not read.
pub fn legacy_segment_version(buf: &[u8]) -> Option<u8> {
    const V1_HEADER: usize = 8;
    let head = buf.get(V1_HEADER..V1_HEADER + 1 + SEGMENT_MAGIC.len() + 1)?;
    (head[0] == KIND_HEAD && &head[1..1 + SEGMENT_MAGIC.len()] == SEGMENT_MAGIC)
        .then(|| head[1 + SEGMENT_MAGIC.len()])
}

fn entry_type_code(t: EntryType) -> u8 {
    match t {
        EntryType::EntryNormal => 0,
        EntryType::EntryConfChange => 1,
        EntryType::EntryConfChangeV2 => 2,
    }
}

fn put_hard_state(w: &mut Writer, hs: &HardState) {
    w.u64(hs.term);
    w.u64(hs.vote);
    w.u64(hs.commit);
}

fn get_hard_state(r: &mut Reader<'_>) -> Result<HardState, DecodeError> {
    let mut hs = HardState::default();
    hs.term = r.u64("hard state term")?;
    hs.vote = r.u64("hard state vote")?;
    hs.commit = r.u64("hard state commit")?;
    Ok(hs)
}

/// The encoded size of an entry record's payload.
pub fn entry_payload_len(e: &Entry) -> usize {
    1 + 8 + 8 + 1 + 4 + e.data.len() + 4 + e.context.len()
}

/// Appends the framed record of an entry. The caller checked
/// [`entry_payload_len`] against [`MAX_RECORD`].
pub fn frame_entry(out: &mut Vec<u8>, e: &Entry) {
    let mut w = Writer::with_capacity(entry_payload_len(e));
    w.u8(KIND_ENTRY);
    w.u64(e.index);
    w.u64(e.term);
    w.u8(entry_type_code(e.entry_type));
    w.u32(e.data.len() as u32);
    w.bytes(&e.data);
    w.u32(e.context.len() as u32);
    w.bytes(&e.context);
    frame(out, &w.finish());
}

/// Appends the framed record of a hard state.
pub fn frame_hard_state(out: &mut Vec<u8>, hs: &HardState) {
    let mut w = Writer::with_capacity(25);
    w.u8(KIND_HARD_STATE);
    put_hard_state(&mut w, hs);
    frame(out, &w.finish());
}

/// Appends the framed record of a conf state.
pub fn frame_conf_state(out: &mut Vec<u8>, cs: &ConfState) {
    let mut w = Writer::new();
    w.u8(KIND_CONF_STATE);
    w.conf_state(cs);
    frame(out, &w.finish());
}

/// Appends the framed record of a snapshot mark.
pub fn frame_snapshot_mark(out: &mut Vec<u8>, index: u64, term: u64) {
    let mut w = Writer::with_capacity(17);
    w.u8(KIND_SNAPSHOT_MARK);
    w.u64(index);
    w.u64(term);
    frame(out, &w.finish());
}

/// Appends the framed head record of a segment.
pub fn frame_head(out: &mut Vec<u8>, h: &SegmentHead) {
    let mut w = Writer::new();
    w.u8(KIND_HEAD);
    w.bytes(SEGMENT_MAGIC);
    w.u8(SEGMENT_FORMAT_VERSION);
    w.u64(h.seq);
    w.u64(h.last_index);
    match h.snapshot {
        None => w.u8(0),
        Some((i, t)) => {
            w.u8(1);
            w.u64(i);
            w.u64(t);
        }
    }
    w.u8(u8::from(h.reset));
    put_hard_state(&mut w, &h.hard_state);
    w.conf_state(&h.conf_state);
    frame(out, &w.finish());
}

/// Decodes a record payload. `buf` is the whole segment, so entry data and
/// context are shared slices of it rather than copies; `start..end` is the
/// payload.
pub fn decode(buf: &Bytes, start: usize, end: usize) -> Result<Record, DecodeError> {
    let payload = &buf[start..end];
    let mut r = Reader::new(payload);
    let offset = r.offset();
    let rec = match r.u8("record kind")? {
        KIND_HEAD => {
            if r.take("segment magic", SEGMENT_MAGIC.len())? != SEGMENT_MAGIC {
                return Err(DecodeError::BadMagic { what: "segment" });
            }
            r.version("segment format version", "segment", SEGMENT_FORMAT_VERSION)?;
            let seq = r.u64("segment sequence")?;
            let last_index = r.u64("segment last index")?;
            let snapshot = match r.bool("snapshot flag")? {
                false => None,
                true => Some((r.u64("snapshot index")?, r.u64("snapshot term")?)),
            };
            let reset = r.bool("reset flag")?;
            let hard_state = get_hard_state(&mut r)?;
            let conf_state = r.conf_state()?;
            Record::Head(SegmentHead {
                seq,
                last_index,
                snapshot,
                reset,
                hard_state,
                conf_state,
            })
        }
        KIND_ENTRY => {
            let mut e = Entry::default();
            e.index = r.u64("entry index")?;
            e.term = r.u64("entry term")?;
            let type_offset = r.offset();
            e.entry_type = match r.u8("entry type")? {
                0 => EntryType::EntryNormal,
                1 => EntryType::EntryConfChange,
                2 => EntryType::EntryConfChangeV2,
                tag => {
                    return Err(DecodeError::UnknownTag {
                        what: "entry type",
                        tag,
                        offset: type_offset,
                    })
                }
            };
            let n = r.u32("entry data length")? as usize;
            let at = start + r.offset();
            r.take("entry data", n)?;
            e.data = buf.slice(at..at + n);
            let n = r.u32("entry context length")? as usize;
            let at = start + r.offset();
            r.take("entry context", n)?;
            e.context = buf.slice(at..at + n);
            Record::Entry(e)
        }
        KIND_HARD_STATE => Record::HardState(get_hard_state(&mut r)?),
        KIND_CONF_STATE => Record::ConfState(r.conf_state()?),
        KIND_SNAPSHOT_MARK => Record::SnapshotMark {
            index: r.u64("snapshot index")?,
            term: r.u64("snapshot term")?,
        },
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "record kind",
                tag,
                offset,
            })
        }
    };
    r.finish("record")?;
    Ok(rec)
}

const KIND_CURRENT: u8 = 6;

/// Appends the framed record of the `CURRENT` manifest.
pub fn frame_current(out: &mut Vec<u8>, seq: u64) {
    let mut w = Writer::with_capacity(9);
    w.u8(KIND_CURRENT);
    w.u64(seq);
    frame(out, &w.finish());
}

/// Decodes the `CURRENT` manifest: the newest segment's sequence number.
pub fn decode_current(bytes: &[u8]) -> Result<u64, String> {
    let Frame::Ok { start, end } = check_frame(bytes, 0) else {
        // Version 1 framing: `len = 9 | crc | KIND_CURRENT | seq`.
        if bytes.len() == 17 && bytes[..4] == [9, 0, 0, 0] && bytes[8] == KIND_CURRENT {
            return Err(format!(
                "written in the record framing of segment format version 1 by an older build; \
                 this build reads version {SEGMENT_FORMAT_VERSION} only (move the directory aside \
                 and let the member rejoin from a snapshot)"
            ));
        }
        return Err("not a valid manifest record".into());
    };
    if end != bytes.len() {
        return Err(format!("{} trailing bytes", bytes.len() - end));
    }
    let mut r = Reader::new(&bytes[start..end]);
    let res = (|| {
        let offset = r.offset();
        let kind = r.u8("manifest kind")?;
        if kind != KIND_CURRENT {
            return Err(DecodeError::UnknownTag {
                what: "manifest kind",
                tag: kind,
                offset,
            });
        }
        let seq = r.u64("newest segment")?;
        r.finish("manifest")?;
        Ok(seq)
    })();
    res.map_err(|e| e.to_string())
}

/// Magic bytes of a snapshot file.
pub const SNAPSHOT_MAGIC: &[u8; 8] = b"SYNODSNP";
/// The snapshot file format this build writes.
pub const SNAPSHOT_FORMAT_VERSION: u8 = 1;

/// A decoded snapshot file.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotFile {
    /// Snapshot index.
    pub index: u64,
    /// Snapshot term.
    pub term: u64,
    /// The conf state at the index.
    pub conf_state: ConfState,
    /// The state machine bytes (a catalog snapshot).
    pub data: Bytes,
}

/// Encodes a snapshot file: magic, version, index, term, conf state, data
/// length, data, then the CRC32C of everything before it.
pub fn encode_snapshot_file(index: u64, term: u64, cs: &ConfState, data: &[u8]) -> Vec<u8> {
    let mut w = Writer::with_capacity(64 + data.len());
    w.bytes(SNAPSHOT_MAGIC);
    w.u8(SNAPSHOT_FORMAT_VERSION);
    w.u64(index);
    w.u64(term);
    w.conf_state(cs);
    w.u64(data.len() as u64);
    w.bytes(data);
    let mut out = w.finish();
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Decodes a snapshot file. Errors carry the offset of the problem.
pub fn decode_snapshot_file(bytes: Vec<u8>) -> Result<SnapshotFile, (usize, String)> {
    if bytes.len() < SNAPSHOT_MAGIC.len() + 4 {
        return Err((0, format!("{} bytes is too short", bytes.len())));
    }
    let body_len = bytes.len() - 4;
    let stored = u32::from_le_bytes([
        bytes[body_len],
        bytes[body_len + 1],
        bytes[body_len + 2],
        bytes[body_len + 3],
    ]);
    if &bytes[..SNAPSHOT_MAGIC.len()] != SNAPSHOT_MAGIC {
        return Err((0, "bad magic bytes: not a snapshot file".into()));
    }
    let actual = crc32c::crc32c(&bytes[..body_len]);
    if actual != stored {
        return Err((
            body_len,
            format!("checksum mismatch (stored {stored:#010x}, computed {actual:#010x})"),
        ));
    }
    let bytes = Bytes::from(bytes);
    let mut r = Reader::new(&bytes[..body_len]);
    let res = (|| {
        r.take("magic", SNAPSHOT_MAGIC.len())?;
        r.version(
            "snapshot file version",
            "snapshot file",
            SNAPSHOT_FORMAT_VERSION,
        )?;
        let index = r.u64("snapshot index")?;
        let term = r.u64("snapshot term")?;
        let conf_state = r.conf_state()?;
        let n = r.u64("snapshot data length")?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        let at = r.offset();
        r.take("snapshot data", n)?;
        Ok::<_, DecodeError>((index, term, conf_state, at, n))
    })();
    let offset = r.offset();
    let (index, term, conf_state, at, n) = res.map_err(|e| (offset, e.to_string()))?;
    r.finish("snapshot file")
        .map_err(|e| (offset, e.to_string()))?;
    Ok(SnapshotFile {
        index,
        term,
        conf_state,
        data: bytes.slice(at..at + n),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zeros_are_never_a_record_nor_a_header() {
        let buf = vec![0u8; 64];
        assert_eq!(
            check_frame(&buf, 0),
            Frame::BadHeader("record header checksum mismatch")
        );
        assert_eq!(find_header(&buf, 0), None);
    }

    #[test]
    fn frames_tell_header_damage_from_payload_damage() {
        let mut out = Vec::new();
        frame_snapshot_mark(&mut out, 1, 2);
        let n = out.len();
        assert_eq!(
            check_frame(&out, 0),
            Frame::Ok {
                start: HEADER_LEN,
                end: n
            }
        );
        assert_eq!(check_frame(&out[..HEADER_LEN - 1], 0), Frame::ShortHeader);
        assert_eq!(
            check_frame(&out[..n - 1], 0),
            Frame::ShortPayload { end: n }
        );
        for i in 0..n {
            for bit in 0..8 {
                let mut bad = out.clone();
                bad[i] ^= 1 << bit;
                let f = check_frame(&bad, 0);
                if i < HEADER_LEN {
                    // Every damaged header byte, length included, is seen
                    // as a damaged header: its length is never believed.
                    assert!(
                        matches!(f, Frame::BadHeader(_)),
                        "byte {i} bit {bit}: {f:?}"
                    );
                } else {
                    assert_eq!(f, Frame::BadPayload { end: n }, "byte {i} bit {bit}");
                }
            }
        }
        // The valid header after damage is found.
        let mut two = vec![0xa5u8; 7];
        two.extend_from_slice(&out);
        assert_eq!(find_header(&two, 0), Some(7));
        assert_eq!(find_header(&two, 8), None);
    }

    #[test]
    fn an_old_format_segment_is_recognised() {
        let mut w = Writer::new();
        w.u8(KIND_HEAD);
        w.bytes(SEGMENT_MAGIC);
        w.u8(1);
        w.u64(1);
        let payload = w.finish();
        let mut v1 = (payload.len() as u32).to_le_bytes().to_vec();
        v1.extend_from_slice(&[0; 4]);
        v1.extend_from_slice(&payload);
        assert_eq!(legacy_segment_version(&v1), Some(1));
        let mut v2 = Vec::new();
        frame_head(
            &mut v2,
            &SegmentHead {
                seq: 1,
                last_index: 0,
                snapshot: None,
                reset: false,
                hard_state: HardState::default(),
                conf_state: ConfState::default(),
            },
        );
        assert_eq!(legacy_segment_version(&v2), None);
        let mut cur = 9u32.to_le_bytes().to_vec();
        cur.extend_from_slice(&[0; 4]);
        cur.push(KIND_CURRENT);
        cur.extend_from_slice(&3u64.to_le_bytes());
        assert!(decode_current(&cur).unwrap_err().contains("version 1"));
    }

    #[test]
    fn entry_round_trips_and_shares_the_buffer() {
        let mut e = Entry::default();
        e.index = 7;
        e.term = 3;
        e.entry_type = EntryType::EntryConfChangeV2;
        e.data = Bytes::from_static(b"hello");
        e.context = Bytes::from_static(b"ctx");
        let mut out = Vec::new();
        frame_entry(&mut out, &e);
        let buf = Bytes::from(out);
        let Frame::Ok { start, end } = check_frame(&buf, 0) else {
            panic!("bad frame")
        };
        assert_eq!(end, buf.len());
        assert_eq!(decode(&buf, start, end), Ok(Record::Entry(e)));
    }

    #[test]
    fn flipped_bit_is_detected() {
        let mut out = Vec::new();
        frame_snapshot_mark(&mut out, 1, 2);
        for i in 0..out.len() {
            let mut bad = out.clone();
            bad[i] ^= 0x10;
            assert!(
                !matches!(check_frame(&bad, 0), Frame::Ok { .. }),
                "byte {i}"
            );
        }
    }

    #[test]
    fn snapshot_file_round_trips_and_refuses_damage() {
        let mut cs = ConfState::default();
        cs.voters = vec![1, 2, 3];
        cs.learners_next = vec![9];
        cs.auto_leave = true;
        let bytes = encode_snapshot_file(10, 4, &cs, b"catalog");
        let f = decode_snapshot_file(bytes.clone()).expect("valid");
        assert_eq!((f.index, f.term, &f.conf_state), (10, 4, &cs));
        assert_eq!(&f.data[..], b"catalog");
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 1;
            assert!(decode_snapshot_file(bad).is_err(), "byte {i}");
        }
        assert!(decode_snapshot_file(bytes[..bytes.len() - 1].to_vec()).is_err());
    }

    proptest::proptest! {
        #[test]
        fn decoding_arbitrary_payloads_never_panics(payload in proptest::collection::vec(proptest::num::u8::ANY, 0..200)) {
            let buf = Bytes::from(payload);
            let _ = decode(&buf, 0, buf.len());
            let _ = decode_snapshot_file(buf.to_vec());
        }
    }
}
