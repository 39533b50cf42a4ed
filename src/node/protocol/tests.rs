//! The client protocol's round-trip and robustness tests.

use super::*;
use crate::catalog::{FenceStatus, Member, MemberState, RangeOwnership, Refusal};
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
        Request::TransferLeader { to: id("CN=b") },
        Request::Metrics,
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
        }),
        Response::Owner(Some(o.clone()), Index(9)),
        Response::Owner(None, Index(9)),
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
