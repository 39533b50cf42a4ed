//! What a member reads back from its data directory, where damage or a
//! hostile disk can put any bytes: arbitrary bytes as one record payload
//! ([`record::decode`]: segment heads, entries, hard and conf states,
//! snapshot marks), as an entry's data (a [`Proposal`]), as the `CURRENT`
//! manifest, and as a whole segment
//! (framing checks, the header search that tells a torn tail from damage,
//! the version-1 recogniser); then recovery of a data directory whose
//! newest segment is built from the bytes, opened read-only (`synod
//! inspect`) and writable (a member) on the simulated disk.
//!
//! The first byte chooses the segment: 0 the bytes as they are, 1 the
//! genesis segment followed by the bytes, 2 the genesis segment followed by
//! the bytes cut into records with valid checksums (a length byte, then
//! that many bytes), so replay sees arbitrary records.
//!
//! Properties: nothing panics; a record or manifest that decodes reframes
//! to the very bytes decoded, which decode to the same value; a proposal
//! that decodes encodes to one that decodes to the same proposal; recovery's promises in `synod_fuzz::check_recovery`.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use synod::entry::Proposal;
use synod::storage::record::{self, Frame, Record};
use synod_fuzz::{check_recovery, disk_with, framed_records, genesis_file, genesis_segment};

/// The framed record of `rec`, as the store writes it.
fn reframe(rec: &Record) -> Vec<u8> {
    let mut out = Vec::new();
    match rec {
        Record::Head(h) => record::frame_head(&mut out, h),
        Record::Entry(e) => record::frame_entry(&mut out, e),
        Record::HardState(hs) => record::frame_hard_state(&mut out, hs),
        Record::ConfState(cs) => record::frame_conf_state(&mut out, cs),
        Record::SnapshotMark { index, term } => {
            record::frame_snapshot_mark(&mut out, *index, *term)
        }
    }
    out
}

fn decode_payload(buf: &Bytes, start: usize, end: usize) {
    let Ok(rec) = record::decode(buf, start, end) else {
        return;
    };
    let payload = &buf[start..end];
    let framed = Bytes::from(reframe(&rec));
    let Frame::Ok { start, end } = record::check_frame(&framed, 0) else {
        panic!("a reframed record does not frame: {rec:?}");
    };
    assert_eq!(end, framed.len());
    assert_eq!(
        record::decode(&framed, start, end),
        Ok(rec.clone()),
        "a decoded record does not round-trip"
    );
    assert_eq!(
        &framed[start..end],
        payload,
        "record encoding is not canonical"
    );
    if let Record::Entry(e) = rec {
        decode_proposal(&e.data);
    }
}

/// An entry's data as replay reads it (the entry-data convention of
/// `storage::replay`): a proposal, which re-encodes to the same proposal.
fn decode_proposal(data: &[u8]) {
    let Ok(proposal) = Proposal::decode(data) else {
        return;
    };
    assert_eq!(
        Proposal::decode(&proposal.encode()).as_ref(),
        Ok(&proposal),
        "a decoded proposal does not round-trip"
    );
}

/// Walks `buf` as a segment the way recovery does: record by record while
/// they are valid, then a search for a later valid header.
fn walk_segment(buf: &Bytes) {
    let _ = record::legacy_segment_version(buf);
    let mut off = 0;
    while off < buf.len() {
        match record::check_frame(buf, off) {
            Frame::Ok { start, end } => {
                assert!(start > off && end >= start && end <= buf.len());
                decode_payload(buf, start, end);
                off = end;
            }
            Frame::ShortHeader => break,
            Frame::ShortPayload { end } => {
                assert!(end > buf.len());
                break;
            }
            Frame::BadHeader(_) | Frame::BadPayload { .. } => {
                if let Some(next) = record::find_header(buf, off + 1) {
                    assert!(next > off);
                }
                break;
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let buf = Bytes::copy_from_slice(data);
    decode_payload(&buf, 0, buf.len());
    decode_proposal(data);

    if let Ok(seq) = record::decode_current(data) {
        let mut framed = Vec::new();
        record::frame_current(&mut framed, seq);
        assert_eq!(framed, data, "a decoded manifest does not round-trip");
    }

    walk_segment(&buf);

    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let segment = match mode {
        0 => rest.to_vec(),
        1 => [genesis_file(&genesis_segment()), rest].concat(),
        2 => [genesis_file(&genesis_segment()), &framed_records(rest)].concat(),
        _ => return,
    };
    check_recovery(&disk_with(&[(genesis_segment(), segment)]));
});
