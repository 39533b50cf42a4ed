//! The client protocol's round-trip and robustness tests.

use super::*;
use crate::catalog::{AuditRecord, FenceStatus, Member, MemberState, RangeOwnership, Refusal};
use crate::entry::codec::tests::entry as any_entry;
use crate::entry::{CatalogVersion, Epoch, Index, MemberKind, NodeId, Term};
use crate::node::{Committed, ProposeError};
use proptest::prelude::*;

fn id(s: &str) -> NodeId {
    NodeId::from_certificate_subject(s).unwrap()
}

proptest! {
    #[test]
    fn proposals_round_trip(
        e in any_entry(),
        t in any::<u32>(),
        session in proptest::option::of((any::<u128>(), any::<u64>())),
    ) {
        let session = session.map(|(c, seq)| crate::entry::ProposalSession {
            client: crate::entry::ClientId(c),
            seq,
        });
        let req = Request::Propose { entry: e, session, timeout_ms: t };
        let bytes = req.encode();
        prop_assert_eq!(bytes[1], if session.is_some() { 10 } else { 7 });
        prop_assert_eq!(Request::decode(&bytes).unwrap(), req);
    }

    #[test]
    fn arbitrary_requests_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Request::decode(&b);
    }

    #[test]
    fn arbitrary_responses_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = Response::decode(&b);
    }
}

#[test]
fn every_request_round_trips() {
    let reqs = vec![
        Request::Status,
        Request::Owner {
            range: "r".parse().unwrap(),
            linearizable: true,
        },
        Request::FenceCheck {
            range: "r".parse().unwrap(),
            owner: id("CN=a"),
            epoch: Epoch(3),
            linearizable: false,
        },
        Request::Members { linearizable: true },
        Request::Ranges {
            after: Some("a".parse().unwrap()),
            limit: 10,
            linearizable: false,
        },
        Request::Ranges {
            after: None,
            limit: 10,
            linearizable: true,
        },
        Request::Audit {
            linearizable: false,
        },
        Request::AuditPage {
            after: None,
            limit: 7,
            linearizable: true,
        },
        Request::AuditPage {
            after: Some(Index(u64::MAX)),
            limit: MAX_AUDIT_PAGE,
            linearizable: false,
        },
        Request::TransferLeader { to: id("CN=b") },
        Request::Metrics,
        Request::Read {
            query: ReadQuery::Owner {
                range: "r".parse().unwrap(),
            },
            level: ReadLevel::AtLeast(Index(u64::MAX)),
        },
        Request::Read {
            query: ReadQuery::FenceCheck {
                range: "r".parse().unwrap(),
                owner: id("CN=a"),
                epoch: Epoch(9),
            },
            level: ReadLevel::Linearizable,
        },
        Request::Read {
            query: ReadQuery::Members,
            level: ReadLevel::Local,
        },
    ];
    for r in reqs {
        let bytes = r.encode();
        assert_eq!(Request::decode(&bytes).unwrap(), r);
        for cut in 0..bytes.len() {
            assert!(Request::decode(&bytes[..cut]).is_err());
        }
    }
}

#[test]
fn responses_and_errors_round_trip() {
    let o = RangeOwnership {
        owner: id("CN=a"),
        epoch: Epoch(2),
        version: CatalogVersion(5),
        term: Term(3),
        index: Index(9),
    };
    let hint = LeaderHint {
        id: id("CN=b"),
        address: Some("127.0.0.1:1".parse().unwrap()),
    };
    let resps = vec![
        Response::Status(StatusInfo {
            id: id("CN=a"),
            peer_id: 1,
            role: "leader".into(),
            term: Term(4),
            leader: Some(hint.clone()),
            commit: Index(10),
            applied: Index(9),
            version: CatalogVersion(3),
            voters: vec![1, 2],
            learners: vec![3],
            peers: vec![
                PeerInfo {
                    peer_id: 2,
                    id: Some(id("CN=b")),
                    address: Some("127.0.0.1:1".parse().unwrap()),
                    voter: true,
                    progress: Some((Index(9), 1)),
                },
                PeerInfo {
                    peer_id: 3,
                    id: None,
                    address: None,
                    voter: false,
                    progress: None,
                },
            ],
        }),
        Response::Owner(Some(o.clone()), Index(9)),
        Response::Owner(None, Index(9)),
        Response::Read {
            term: Term(4),
            answer: Box::new(Response::Owner(Some(o.clone()), Index(9))),
        },
        Response::Read {
            term: Term(4),
            answer: Box::new(Response::Members(Vec::new(), Index(9))),
        },
        Response::Fence(
            FenceStatus::Stale {
                owner: id("CN=a"),
                epoch: Epoch(2),
            },
            Index(1),
        ),
        Response::Fence(FenceStatus::Current, Index(1)),
        Response::Members(
            vec![Member {
                id: id("CN=a"),
                kind: MemberKind::Witness,
                address: "h:1".parse().unwrap(),
                state: MemberState::Draining,
                peer_id: 4,
            }],
            Index(2),
        ),
        Response::Ranges(vec![("r".parse().unwrap(), o)], true, Index(3)),
        Response::Committed(Committed {
            index: Index(1),
            term: Term(2),
            version: CatalogVersion(3),
            changed: true,
        }),
        Response::Done,
        Response::Metrics("synod_term{member=\"a\"} 3\n".into()),
    ];
    for r in resps {
        assert_eq!(Response::decode(&r.encode()).unwrap().unwrap(), r);
    }
    let err = Response::Error(ClientError::Propose(ProposeError::NotLeader {
        leader: Some(hint.clone()),
    }));
    assert_eq!(
        Response::decode(&err.encode()).unwrap().unwrap_err(),
        RemoteError::NotLeader { leader: Some(hint) }
    );
    let refused = Response::Error(ClientError::Propose(ProposeError::Refused {
        refusal: Refusal::StaleEpoch {
            range: "r".parse().unwrap(),
            current: Epoch(2),
            proposed: Epoch(1),
        },
        at: None,
    }));
    match Response::decode(&refused.encode()).unwrap().unwrap_err() {
        RemoteError::Refused { refusal, at: None } => {
            assert_eq!((refusal.code, refusal.name.as_str()), (7, "stale-epoch"));
            // The facts travel too (before, only the code, name and text).
            assert_eq!(
                refusal.refusal.as_deref(),
                Some(&Refusal::StaleEpoch {
                    range: "r".parse().unwrap(),
                    current: Epoch(2),
                    proposed: Epoch(1),
                })
            );
        }
        other => panic!("{other:?}"),
    }
    // An answer cut before the facts is refused, not read without them: a
    // response has one encoding.
    let mut bytes = refused.encode();
    let whole = {
        let mut w = crate::entry::codec::Writer::new();
        crate::catalog::put_refusal(
            &mut w,
            &Refusal::StaleEpoch {
                range: "r".parse().unwrap(),
                current: Epoch(2),
                proposed: Epoch(1),
            },
        );
        w.finish().len()
    };
    bytes.truncate(bytes.len() - whole);
    assert!(Response::decode(&bytes).is_err());
}

fn record(index: u64, previous_owner: Option<NodeId>) -> AuditRecord {
    AuditRecord {
        index: Index(index),
        term: Term(2),
        range: "r".parse().unwrap(),
        previous_owner,
        previous_epoch: Epoch(4),
        new_owner: id("CN=b"),
        epoch: Epoch(5),
        operator: id("CN=ops"),
        reason: "disk lost".parse().unwrap(),
    }
}

#[test]
fn audit_answers_round_trip_and_truncations_fail() {
    let records = vec![record(3, Some(id("CN=a"))), record(9, None)];
    for r in [
        Response::Audit(records.clone(), Index(12)),
        Response::Audit(Vec::new(), Index(0)),
        Response::AuditPage(records.clone(), true, Index(12)),
        Response::AuditPage(records[..1].to_vec(), false, Index(12)),
        Response::AuditPage(Vec::new(), false, Index(1)),
    ] {
        let bytes = r.encode();
        assert_eq!(Response::decode(&bytes).unwrap().unwrap(), r);
        for cut in 0..bytes.len() {
            assert!(
                Response::decode(&bytes[..cut]).is_err(),
                "{r:?} cut at {cut}"
            );
        }
    }
    // The page's tag is new (11); the whole list keeps its own (6).
    assert_eq!(
        Response::AuditPage(Vec::new(), false, Index(1)).encode()[1],
        11
    );
    assert_eq!(Response::Audit(Vec::new(), Index(1)).encode()[1], 6);
    // What the member counts before answering is what it encodes.
    let empty = Response::AuditPage(Vec::new(), false, Index(1))
        .encode()
        .len();
    assert_eq!(empty, AUDIT_ANSWER_OVERHEAD);
    let n = Response::AuditPage(records.clone(), false, Index(1))
        .encode()
        .len();
    assert_eq!(
        n,
        AUDIT_ANSWER_OVERHEAD + records.iter().map(audit_record_len).sum::<usize>()
    );
}

#[test]
fn a_catalog_full_refusal_travels_with_its_code_and_name() {
    let refused = Response::Error(ClientError::Propose(ProposeError::Refused {
        refusal: Refusal::CatalogFull {
            what: crate::catalog::CatalogLimit::AuditRecords,
            limit: 16_384,
        },
        at: Some((Index(8), Term(2))),
    }));
    match Response::decode(&refused.encode()).unwrap().unwrap_err() {
        RemoteError::Refused { refusal, at } => {
            assert_eq!((refusal.code, refusal.name.as_str()), (13, "catalog-full"));
            assert!(refusal.text.contains("audit records"), "{}", refusal.text);
            assert_eq!(at, Some((Index(8), Term(2))));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_error_text_a_client_accepts_is_sent_whole() {
    // The client_responses fuzz target's round trip: a client accepted
    // error texts of up to 4096 bytes but a member cut what it sent at
    // 4000, so a decoded error did not encode back to itself.
    let limit = "a".repeat(4096);
    for e in [
        ClientError::BadRequest(limit.clone()),
        ClientError::Propose(ProposeError::Storage(limit.clone())),
    ] {
        match Response::decode(&Response::Error(e).encode()).unwrap() {
            Err(RemoteError::BadRequest(t) | RemoteError::Storage(t)) => assert_eq!(t, limit),
            other => panic!("{other:?}"),
        }
    }
    // Longer is cut at a character boundary, to what a client accepts.
    let longer = "é".repeat(2049);
    let bytes = Response::Error(ClientError::BadRequest(longer.clone())).encode();
    match Response::decode(&bytes).unwrap() {
        Err(RemoteError::BadRequest(t)) => {
            assert_eq!(t.len(), 4096);
            assert!(longer.starts_with(&t));
        }
        other => panic!("{other:?}"),
    }
}

/// `prefix` padded with `fill` to `len` bytes.
fn padded(prefix: &str, fill: char, len: usize) -> String {
    let mut s = prefix.to_string();
    while s.len() < len {
        s.push(fill);
    }
    s
}

/// Every answer that grows with the catalog fits in one frame at its
/// largest: a full page of the longest ranges or audit records, every
/// member with the longest names.
#[test]
fn the_largest_answers_fit_in_one_frame() {
    use crate::catalog::MAX_MEMBERS;
    use crate::entry::{AuditReason, MemberAddress, RangeId};
    use crate::transport::wire::MAX_FRAME_PAYLOAD;
    let long_id = |tag: &str| id(&padded(&format!("CN={tag},O="), 'x', NodeId::MAX_LEN));
    let long_range: RangeId = padded("r:", 'r', RangeId::MAX_LEN).parse().unwrap();
    let owner = RangeOwnership {
        owner: long_id("owner"),
        epoch: Epoch(u64::MAX),
        version: CatalogVersion(u64::MAX),
        term: Term(u64::MAX),
        index: Index(u64::MAX),
    };
    let ranges = vec![(long_range.clone(), owner); MAX_PAGE as usize];
    let len = Response::Ranges(ranges, true, Index(1)).encode().len();
    assert!(len <= MAX_FRAME_PAYLOAD, "a page of ranges is {len} bytes");

    let longest = AuditRecord {
        index: Index(u64::MAX),
        term: Term(u64::MAX),
        range: long_range,
        previous_owner: Some(long_id("previous")),
        previous_epoch: Epoch(u64::MAX),
        new_owner: long_id("new"),
        epoch: Epoch(u64::MAX),
        operator: long_id("operator"),
        reason: padded("why", 'y', AuditReason::MAX_LEN)
            .parse::<AuditReason>()
            .unwrap(),
    };
    let page = vec![longest; MAX_AUDIT_PAGE as usize];
    let len = Response::AuditPage(page, true, Index(1)).encode().len();
    assert!(
        len <= MAX_FRAME_PAYLOAD / 2 + 1024,
        "a page of audit is {len} bytes"
    );

    let member = Member {
        id: long_id("member"),
        kind: MemberKind::Data,
        address: padded("h:1/", 'h', MemberAddress::MAX_LEN)
            .parse::<MemberAddress>()
            .unwrap(),
        state: MemberState::Draining,
        peer_id: u64::MAX,
    };
    let len = Response::Members(vec![member; MAX_MEMBERS], Index(1))
        .encode()
        .len();
    assert!(len <= MAX_FRAME_PAYLOAD / 32, "the members are {len} bytes");
}

#[test]
fn unknown_read_levels_and_queries_are_refused() {
    let ok = Request::Read {
        query: ReadQuery::Members,
        level: ReadLevel::Local,
    }
    .encode();
    // [version, 12, level, query]
    let mut bad_level = ok.clone();
    bad_level[2] = 9;
    assert!(Request::decode(&bad_level).is_err());
    let mut bad_query = ok.clone();
    bad_query[3] = 9;
    assert!(Request::decode(&bad_query).is_err());
}

#[test]
fn watch_requests_and_batches_round_trip_and_truncations_fail() {
    let req = Request::Watch { from: Index(42) };
    assert_eq!(Request::decode(&req.encode()).unwrap(), req);
    let items = vec![
        WatchWireItem::Event {
            index: Index(7),
            term: Term(2),
            entry: crate::entry::ControlPlaneEntry::OwnershipTransition(
                crate::entry::OwnershipTransition {
                    range: "r".parse().unwrap(),
                    new_owner: id("CN=a"),
                    epoch: Epoch(3),
                },
            ),
            outcome: crate::catalog::ApplyOutcome::Refused(Refusal::StaleEpoch {
                range: "r".parse().unwrap(),
                current: Epoch(3),
                proposed: Epoch(3),
            }),
        },
        WatchWireItem::Compacted { at: Index(6) },
        WatchWireItem::SnapshotPart {
            at: Index(6),
            members: vec![crate::catalog::Member {
                id: id("CN=a"),
                kind: crate::entry::MemberKind::Data,
                address: "127.0.0.1:1".parse().unwrap(),
                state: crate::catalog::MemberState::Draining,
                peer_id: 4,
            }],
            ranges: vec![(
                "r".parse().unwrap(),
                crate::catalog::RangeOwnership {
                    owner: id("CN=a"),
                    epoch: Epoch(3),
                    version: CatalogVersion(9),
                    term: Term(2),
                    index: Index(5),
                },
            )],
            last: true,
        },
        WatchWireItem::SnapshotPart {
            at: Index(6),
            members: Vec::new(),
            ranges: Vec::new(),
            last: false,
        },
        WatchWireItem::Role {
            role: crate::node::watch::Role::Leader,
            term: Term(2),
            leader: Some(crate::node::LeaderHint {
                id: id("CN=a"),
                address: Some("127.0.0.1:1".parse().unwrap()),
            }),
        },
    ];
    for batch in [Vec::new(), items] {
        let bytes = Response::Watch(batch.clone()).encode();
        assert_eq!(
            Response::decode(&bytes).unwrap(),
            Ok(Response::Watch(batch))
        );
        for cut in 0..bytes.len() {
            assert!(Response::decode(&bytes[..cut]).is_err());
        }
    }
}
