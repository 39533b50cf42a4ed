//! Tests of the wire codec: round trips of messages, Hellos and snapshot
//! chunk streams, and refusal (never a panic) of anything malformed.

// raft's protobuf messages are built field by field from a default.
#![allow(clippy::field_reassign_with_default)]

use proptest::prelude::*;
use protobuf::Message as _;
use raft::eraftpb::{
    ConfChangeSingle, ConfChangeTransition, ConfChangeType, ConfChangeV2, ConfState, Entry,
    EntryType, Message, MessageType, Snapshot,
};

use super::*;
use crate::entry::NodeId;

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

#[test]
fn hello_answers_round_trip_and_bad_ones_are_refused() {
    use super::{decode_hello_ack, decode_hello_answer, encode_hello_answer, HelloAnswer};
    let accepted = encode_hello_answer(&HelloAnswer::Accepted);
    assert_eq!(
        decode_hello_answer(&accepted).unwrap(),
        HelloAnswer::Accepted
    );
    assert!(decode_hello_ack(&accepted).is_ok());
    let removed = HelloAnswer::Removed {
        detail: "gone".into(),
    };
    let bytes = encode_hello_answer(&removed);
    assert_eq!(decode_hello_answer(&bytes).unwrap(), removed);
    assert!(decode_hello_ack(&bytes).is_err());
    for cut in 0..bytes.len() {
        assert!(decode_hello_answer(&bytes[..cut]).is_err());
    }
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(decode_hello_answer(&trailing).is_err());
    // A long detail is cut to the limit at a character boundary.
    let long = HelloAnswer::Removed {
        detail: "é".repeat(super::MAX_REMOVED_DETAIL),
    };
    match decode_hello_answer(&encode_hello_answer(&long)).unwrap() {
        HelloAnswer::Removed { detail } => assert!(detail.len() <= super::MAX_REMOVED_DETAIL),
        other => panic!("{other:?}"),
    }
    // A claimed length over the limit is refused without reading it.
    let mut over = vec![super::HELLO_VERSION, 1];
    over.extend_from_slice(&u16::MAX.to_le_bytes());
    assert!(decode_hello_answer(&over).is_err());
    assert!(decode_hello_answer(&[super::HELLO_VERSION, 9]).is_err());
}

proptest! {
    #[test]
    fn who_is_frames_round_trip(
        peer_id in 1..u64::MAX,
        found in any::<bool>(),
        name in "[a-z]{1,12}",
        port in 1u16..,
    ) {
        let q = WhoIs { peer_id };
        prop_assert_eq!(decode_who_is(&encode_who_is(&q)).unwrap(), q);
        let member = found.then(|| WhoIsMember {
            identity: NodeId::from_certificate_subject(&format!("CN={name}")).unwrap(),
            address: format!("{name}.example:{port}").parse().unwrap(),
        });
        let a = WhoIsAnswer { peer_id, member };
        let bytes = encode_who_is_answer(&a);
        prop_assert!(bytes.len() <= MAX_WHO_IS_ANSWER_PAYLOAD);
        prop_assert_eq!(decode_who_is_answer(&bytes).unwrap(), a);
    }

    #[test]
    fn arbitrary_who_is_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let _ = decode_who_is(&bytes);
        let _ = decode_who_is_answer(&bytes);
    }
}

/// Every truncation, trailing bytes, another version, peer id 0, an unknown
/// status, a length over its limit and an invalid identity are refused.
#[test]
fn bad_who_is_frames_are_refused() {
    let q = encode_who_is(&WhoIs { peer_id: 4 });
    assert_eq!(q.len(), MAX_WHO_IS_PAYLOAD);
    for cut in 0..q.len() {
        assert!(decode_who_is(&q[..cut]).is_err(), "who-is cut at {cut}");
    }
    let mut trailing = q.clone();
    trailing.push(0);
    assert!(decode_who_is(&trailing).is_err(), "trailing bytes");
    let mut v2 = q.clone();
    v2[0] = 2;
    assert!(decode_who_is(&v2).is_err(), "version");
    assert!(
        decode_who_is(&encode_who_is(&WhoIs { peer_id: 0 })).is_err(),
        "peer id 0"
    );

    let found = WhoIsAnswer {
        peer_id: 4,
        member: Some(WhoIsMember {
            identity: NodeId::from_certificate_subject("CN=node-4").unwrap(),
            address: "127.0.0.1:7404".parse().unwrap(),
        }),
    };
    let a = encode_who_is_answer(&found);
    for cut in 0..a.len() {
        assert!(
            decode_who_is_answer(&a[..cut]).is_err(),
            "answer cut at {cut}"
        );
    }
    let mut trailing = a.clone();
    trailing.push(0);
    assert!(decode_who_is_answer(&trailing).is_err(), "trailing bytes");
    let mut v2 = a.clone();
    v2[0] = 2;
    assert!(decode_who_is_answer(&v2).is_err(), "version");
    let mut status = a.clone();
    status[9] = 2;
    assert!(decode_who_is_answer(&status).is_err(), "unknown status");
    let unknown = encode_who_is_answer(&WhoIsAnswer {
        peer_id: 4,
        member: None,
    });
    let mut trailing = unknown.clone();
    trailing.push(1);
    assert!(
        decode_who_is_answer(&trailing).is_err(),
        "bytes after unknown"
    );
    // An identity length over the limit, refused before reading it.
    let mut long = a[..10].to_vec();
    long.extend_from_slice(&u16::MAX.to_le_bytes());
    long.extend(std::iter::repeat_n(b'a', usize::from(u16::MAX)));
    assert!(decode_who_is_answer(&long).is_err(), "identity over limit");
    // An identity with surrounding white space is not one.
    let mut spaced = a[..10].to_vec();
    spaced.extend_from_slice(&9u16.to_le_bytes());
    spaced.extend_from_slice(b" CN=node4");
    spaced.extend_from_slice(&a[10 + 2 + "CN=node-4".len()..]);
    assert!(decode_who_is_answer(&spaced).is_err(), "bad identity");
    // Both kinds travel in frames.
    for (kind, payload) in [(FrameKind::WhoIs, &q), (FrameKind::WhoIsAnswer, &a)] {
        let mut d = FrameDecoder::new();
        d.feed(&frame(kind, payload));
        assert_eq!(d.next_frame().unwrap(), Some((kind, payload.clone())));
    }
}

/// One read holding many frames costs bytes moved linear in its size (the
/// decoder parses at an offset), not one shift of the whole rest per frame.
#[test]
fn many_frames_in_one_read_move_linear_bytes() {
    let one = frame(FrameKind::Raft, &[7u8; 10]);
    let mut stream = Vec::new();
    for _ in 0..20_000 {
        stream.extend_from_slice(&one);
    }
    let mut d = FrameDecoder::new();
    // Two reads, the second split mid-frame, then the rest.
    let (a, b) = stream.split_at(stream.len() / 2 + 5);
    let mut frames = 0;
    for part in [a, b] {
        d.feed(part);
        while let Some((kind, payload)) = d.next_frame().unwrap() {
            assert_eq!((kind, payload.len()), (FrameKind::Raft, 10));
            frames += 1;
        }
    }
    assert_eq!(frames, 20_000);
    assert_eq!(d.buffered(), 0);
    assert!(
        d.moved <= stream.len(),
        "moved {} bytes for a {}-byte stream",
        d.moved,
        stream.len()
    );
}
