//! One test per catalog rule, then properties over random entry sequences.

use super::*;
use crate::entry::codec::tests::entry as any_entry;
use proptest::prelude::*;

fn id(s: &str) -> NodeId {
    NodeId::from_certificate_subject(s).unwrap()
}
fn range(s: &str) -> RangeId {
    s.parse().unwrap()
}
fn addr(s: &str) -> MemberAddress {
    s.parse().unwrap()
}

fn initial(ids: &[(&str, MemberKind)]) -> Vec<InitialMember> {
    ids.iter()
        .enumerate()
        .map(|(i, (n, kind))| InitialMember {
            id: id(n),
            kind: *kind,
            address: addr(&format!("127.0.0.1:{}", 7000 + i)),
        })
        .collect()
}

/// A catalog with data members a and b and witness w, and a helper that
/// applies entries at increasing indexes.
struct Fixture {
    catalog: Catalog,
    next: u64,
}

impl Fixture {
    fn new() -> Self {
        Self {
            catalog: Catalog::bootstrap(&initial(&[
                ("CN=a", MemberKind::Data),
                ("CN=b", MemberKind::Data),
                ("CN=w", MemberKind::Witness),
            ]))
            .unwrap(),
            next: 1,
        }
    }

    fn apply(&mut self, entry: ControlPlaneEntry) -> ApplyOutcome {
        let index = Index(self.next);
        self.next += 1;
        self.catalog.apply(index, Term(1), &entry).unwrap()
    }

    fn refused(&mut self, entry: ControlPlaneEntry) -> Refusal {
        let before = self.catalog.clone();
        match self.apply(entry) {
            ApplyOutcome::Refused(r) => {
                // A refusal leaves everything but the applied position alone.
                let mut after = self.catalog.clone();
                after.applied_index = before.applied_index;
                after.applied_term = before.applied_term;
                assert_eq!(after, before, "a refused entry changed the catalog");
                r
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}

fn admit(m: &str, kind: MemberKind, a: &str) -> ControlPlaneEntry {
    ControlPlaneEntry::Membership(MembershipChange::Admit {
        member: id(m),
        kind,
        address: addr(a),
    })
}
fn drain(m: &str) -> ControlPlaneEntry {
    ControlPlaneEntry::Membership(MembershipChange::BeginDrain { member: id(m) })
}
fn remove(m: &str) -> ControlPlaneEntry {
    ControlPlaneEntry::Membership(MembershipChange::Remove { member: id(m) })
}
fn transition(r: &str, owner: &str, epoch: u64) -> ControlPlaneEntry {
    ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
        range: range(r),
        new_owner: id(owner),
        epoch: Epoch(epoch),
    })
}
fn forced(r: &str, owner: &str, why: &str) -> ControlPlaneEntry {
    ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
        range: range(r),
        new_owner: id(owner),
        operator: id("CN=operator"),
        reason: why.parse().unwrap(),
    })
}
fn leader(term: u64, l: &str) -> ControlPlaneEntry {
    ControlPlaneEntry::LeaderConfiguration {
        term: Term(term),
        leader: id(l),
    }
}

#[test]
fn bootstrap_assigns_peer_ids_in_identity_order() {
    let c = Catalog::bootstrap(&initial(&[
        ("CN=c", MemberKind::Data),
        ("CN=a", MemberKind::Witness),
        ("CN=b", MemberKind::Data),
    ]))
    .unwrap();
    let ids: Vec<_> = c.members().map(|m| (m.id.to_string(), m.peer_id)).collect();
    assert_eq!(
        ids,
        [("CN=a".into(), 1), ("CN=b".into(), 2), ("CN=c".into(), 3)]
    );
    assert_eq!(c.version(), CatalogVersion(0));
    assert_eq!(c.next_peer_id(), 4);
}

#[test]
fn bootstrap_refuses_empty_and_duplicate_lists() {
    assert!(Catalog::bootstrap(&[]).is_err());
    assert!(Catalog::bootstrap(&initial(&[
        ("CN=a", MemberKind::Data),
        ("CN=a", MemberKind::Data)
    ]))
    .is_err());
}

#[test]
fn admit_adds_a_member_and_grows_the_version() {
    let mut f = Fixture::new();
    assert_eq!(
        f.apply(admit("CN=c", MemberKind::Data, "10.0.0.3:7000")),
        ApplyOutcome::Applied {
            version: CatalogVersion(1)
        }
    );
    let c = f.catalog.member(&id("CN=c")).unwrap();
    assert_eq!(c.peer_id, 4);
    assert_eq!(c.state, MemberState::Active);
}

#[test]
fn admit_is_idempotent() {
    let mut f = Fixture::new();
    f.apply(admit("CN=c", MemberKind::Data, "10.0.0.3:7000"));
    assert_eq!(
        f.apply(admit("CN=c", MemberKind::Data, "10.0.0.3:7000")),
        ApplyOutcome::Unchanged {
            version: CatalogVersion(1)
        }
    );
    assert_eq!(f.catalog.members().len(), 4);
}

#[test]
fn admit_with_another_kind_or_address_is_refused() {
    let mut f = Fixture::new();
    f.apply(admit("CN=c", MemberKind::Data, "10.0.0.3:7000"));
    assert_eq!(
        f.refused(admit("CN=c", MemberKind::Witness, "10.0.0.3:7000"))
            .name(),
        "member-conflict"
    );
    assert_eq!(
        f.refused(admit("CN=c", MemberKind::Data, "10.0.0.9:7000")),
        Refusal::MemberConflict {
            member: id("CN=c"),
            kind: MemberKind::Data,
            address: addr("10.0.0.3:7000")
        }
    );
}

#[test]
fn readmitting_a_draining_member_is_refused() {
    let mut f = Fixture::new();
    f.apply(drain("CN=b"));
    assert_eq!(
        f.refused(admit("CN=b", MemberKind::Data, "127.0.0.1:7001")),
        Refusal::MemberDraining { member: id("CN=b") }
    );
}

#[test]
fn a_removed_member_readmitted_gets_a_fresh_peer_id() {
    let mut f = Fixture::new();
    let old = f.catalog.member(&id("CN=b")).unwrap().peer_id;
    f.apply(remove("CN=b"));
    f.apply(admit("CN=b", MemberKind::Data, "127.0.0.1:7001"));
    let new = f.catalog.member(&id("CN=b")).unwrap().peer_id;
    assert!(new > old, "peer ids are never reused");
}

#[test]
fn drain_makes_a_member_ineligible_as_new_owner() {
    let mut f = Fixture::new();
    assert!(matches!(
        f.apply(drain("CN=b")),
        ApplyOutcome::Applied { .. }
    ));
    assert!(matches!(
        f.apply(drain("CN=b")),
        ApplyOutcome::Unchanged { .. }
    ));
    assert_eq!(
        f.refused(transition("r1", "CN=b", 1)),
        Refusal::MemberDraining { member: id("CN=b") }
    );
    assert_eq!(
        f.refused(forced("r1", "CN=b", "try anyway")),
        Refusal::MemberDraining { member: id("CN=b") }
    );
}

#[test]
fn drain_of_unknown_member_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(drain("CN=nobody")),
        Refusal::UnknownMember {
            member: id("CN=nobody")
        }
    );
}

#[test]
fn remove_of_unknown_member_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(f.refused(remove("CN=nobody")).name(), "unknown-member");
}

#[test]
fn remove_is_refused_while_the_member_owns_ranges() {
    let mut f = Fixture::new();
    f.apply(transition("r1", "CN=b", 1));
    f.apply(transition("r2", "CN=b", 1));
    f.apply(drain("CN=b"));
    assert_eq!(
        f.refused(remove("CN=b")),
        Refusal::MemberOwnsRanges {
            member: id("CN=b"),
            ranges: 2
        }
    );
    // Hand the ranges off (one normally, one forced), then removal succeeds.
    f.apply(transition("r1", "CN=a", 2));
    assert_eq!(f.refused(remove("CN=b")).name(), "member-owns-ranges");
    f.apply(forced("r2", "CN=a", "b is decommissioned"));
    assert_eq!(f.catalog.ranges_owned_by(&id("CN=b")), 0);
    assert!(matches!(
        f.apply(remove("CN=b")),
        ApplyOutcome::Applied { .. }
    ));
    assert!(f.catalog.member(&id("CN=b")).is_none());
}

#[test]
fn the_last_member_cannot_be_removed() {
    let mut f = Fixture::new();
    f.apply(remove("CN=a"));
    f.apply(remove("CN=b"));
    assert_eq!(
        f.refused(remove("CN=w")),
        Refusal::LastMember { member: id("CN=w") }
    );
}

#[test]
fn transition_sets_owner_epoch_version_term_and_index() {
    let mut f = Fixture::new();
    let out = f.apply(transition("users:[0,1000)", "CN=a", 1));
    assert_eq!(
        out,
        ApplyOutcome::Applied {
            version: CatalogVersion(1)
        }
    );
    assert_eq!(
        f.catalog.owner(&range("users:[0,1000)")),
        Some(&RangeOwnership {
            owner: id("CN=a"),
            epoch: Epoch(1),
            version: CatalogVersion(1),
            term: Term(1),
            index: Index(1),
        })
    );
}

#[test]
fn transition_to_unknown_member_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transition("r1", "CN=ghost", 1)),
        Refusal::UnknownMember {
            member: id("CN=ghost")
        }
    );
}

#[test]
fn transition_to_a_witness_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transition("r1", "CN=w", 1)),
        Refusal::WitnessCannotOwn { member: id("CN=w") }
    );
    assert_eq!(
        f.refused(forced("r1", "CN=w", "no")),
        Refusal::WitnessCannotOwn { member: id("CN=w") }
    );
}

#[test]
fn transition_is_a_compare_and_set_on_the_epoch() {
    let mut f = Fixture::new();
    // A fresh range is at epoch 0: epoch 0 does not fence anything.
    assert_eq!(
        f.refused(transition("r1", "CN=a", 0)),
        Refusal::StaleEpoch {
            range: range("r1"),
            current: Epoch(0),
            proposed: Epoch(0)
        }
    );
    // Skipping epochs is refused with its own code.
    assert_eq!(
        f.refused(transition("r1", "CN=a", 5)),
        Refusal::EpochNotNext {
            range: range("r1"),
            current: Epoch(0),
            proposed: Epoch(5)
        }
    );
    assert_eq!(f.refused(transition("r1", "CN=a", u64::MAX)).code(), 12);
    f.apply(transition("r1", "CN=a", 1));
    assert_eq!(
        f.refused(transition("r1", "CN=b", 1)),
        Refusal::StaleEpoch {
            range: range("r1"),
            current: Epoch(1),
            proposed: Epoch(1)
        }
    );
    assert_eq!(f.refused(transition("r1", "CN=b", 0)).code(), 7);
    assert_eq!(f.refused(transition("r1", "CN=b", 3)).code(), 12);
    assert!(matches!(
        f.apply(transition("r1", "CN=b", 2)),
        ApplyOutcome::Applied { .. }
    ));
    assert_eq!(f.catalog.owner(&range("r1")).unwrap().owner, id("CN=b"));
    assert_eq!(f.catalog.epoch_of(&range("r1")), Epoch(2));
}

#[test]
fn check_transition_agrees_with_apply() {
    let mut f = Fixture::new();
    f.apply(transition("r1", "CN=a", 1));
    let t = OwnershipTransition {
        range: range("r1"),
        new_owner: id("CN=b"),
        epoch: Epoch(1),
    };
    let predicted = f.catalog.check_transition(&t).unwrap_err();
    assert_eq!(
        f.refused(ControlPlaneEntry::OwnershipTransition(t)),
        predicted
    );
}

#[test]
fn forced_transition_bumps_the_epoch_and_is_audited() {
    let mut f = Fixture::new();
    f.apply(transition("r1", "CN=a", 1));
    f.apply(transition("r1", "CN=a", 2));
    f.apply(forced("r1", "CN=b", "a lost its disk"));
    let o = f.catalog.owner(&range("r1")).unwrap();
    assert_eq!((o.owner.clone(), o.epoch), (id("CN=b"), Epoch(3)));
    assert_eq!(
        f.catalog.audit_log().iter().cloned().collect::<Vec<_>>(),
        [AuditRecord {
            index: Index(3),
            term: Term(1),
            range: range("r1"),
            previous_owner: Some(id("CN=a")),
            previous_epoch: Epoch(2),
            new_owner: id("CN=b"),
            epoch: Epoch(3),
            operator: id("CN=operator"),
            reason: "a lost its disk".parse().unwrap(),
        }]
    );
    // Forcing an unowned range starts it at epoch 1.
    f.apply(forced("r2", "CN=a", "seed"));
    assert_eq!(f.catalog.epoch_of(&range("r2")), Epoch(1));
    assert_eq!(f.catalog.audit_log()[1].previous_owner, None);
}

#[test]
fn no_transition_moves_a_range_past_the_last_epoch() {
    let mut f = Fixture::new();
    // Transitions bump by one, so only a catalog built otherwise (a
    // snapshot) can hold a range at the last epoch; nothing moves it on.
    f.catalog.set_owner(
        Index(1),
        Term(1),
        &range("r1"),
        &id("CN=a"),
        Epoch(u64::MAX),
    );
    f.next = 2;
    assert_eq!(
        f.refused(forced("r1", "CN=b", "overflow")),
        Refusal::EpochExhausted { range: range("r1") }
    );
    assert_eq!(
        f.refused(transition("r1", "CN=b", u64::MAX)),
        Refusal::EpochExhausted { range: range("r1") }
    );
}

#[test]
fn leader_configuration_terms_never_go_backwards() {
    let mut f = Fixture::new();
    assert!(matches!(
        f.apply(leader(3, "CN=a")),
        ApplyOutcome::Applied { .. }
    ));
    assert_eq!(
        f.refused(leader(2, "CN=b")),
        Refusal::TermRegressed {
            term: Term(2),
            latest: Term(3)
        }
    );
    assert!(matches!(
        f.apply(leader(3, "CN=a")),
        ApplyOutcome::Unchanged { .. }
    ));
    assert_eq!(
        f.refused(leader(3, "CN=b")),
        Refusal::ConflictingLeader {
            term: Term(3),
            recorded: id("CN=a"),
            proposed: id("CN=b")
        }
    );
    assert_eq!(f.refused(leader(4, "CN=ghost")).name(), "unknown-member");
    f.apply(leader(4, "CN=b"));
    assert_eq!(f.catalog.leader(), Some((Term(4), &id("CN=b"))));
}

#[test]
fn entries_must_be_applied_in_index_order() {
    let mut f = Fixture::new();
    f.apply(leader(1, "CN=a"));
    assert_eq!(
        f.catalog.apply(Index(1), Term(1), &leader(2, "CN=a")),
        Err(CatalogError::OutOfOrder {
            index: Index(1),
            applied: Index(1)
        })
    );
    f.catalog.skip(Index(5), Term(2)).unwrap();
    assert_eq!(f.catalog.applied(), (Index(5), Term(2)));
    assert!(f.catalog.skip(Index(5), Term(2)).is_err());
}

#[test]
fn fence_check_answers_current_stale_and_unknown() {
    let mut f = Fixture::new();
    assert_eq!(
        f.catalog.fence_check(&range("r1"), &id("CN=a"), Epoch(1)),
        FenceStatus::Unknown
    );
    f.apply(transition("r1", "CN=a", 1));
    f.apply(transition("r1", "CN=b", 2));
    let c = &f.catalog;
    assert_eq!(
        c.fence_check(&range("r1"), &id("CN=b"), Epoch(2)),
        FenceStatus::Current
    );
    let stale = FenceStatus::Stale {
        owner: id("CN=b"),
        epoch: Epoch(2),
    };
    assert_eq!(c.fence_check(&range("r1"), &id("CN=a"), Epoch(1)), stale);
    // Right epoch, wrong owner: also fenced.
    assert_eq!(c.fence_check(&range("r1"), &id("CN=a"), Epoch(2)), stale);
    // An epoch from the future: this replica cannot vouch for it.
    assert_eq!(
        c.fence_check(&range("r1"), &id("CN=b"), Epoch(3)),
        FenceStatus::Unknown
    );
}

#[test]
fn snapshot_round_trips_and_refuses_damage() {
    let mut f = Fixture::new();
    f.apply(leader(1, "CN=a"));
    f.apply(admit("CN=c", MemberKind::Data, "10.0.0.3:7000"));
    f.apply(transition("r1", "CN=a", 1));
    f.apply(forced("r2", "CN=c", "bring-up"));
    f.apply(drain("CN=c"));
    let bytes = f.catalog.encode_snapshot();
    let back = Catalog::decode_snapshot(&bytes).unwrap();
    assert_eq!(back, f.catalog);
    assert_eq!(back.encode_snapshot(), bytes);
    for cut in 0..bytes.len() {
        assert!(Catalog::decode_snapshot(&bytes[..cut]).is_err());
    }
    let mut bad = bytes.clone();
    bad[0] ^= 1;
    assert!(matches!(
        Catalog::decode_snapshot(&bad),
        Err(DecodeError::BadMagic { .. })
    ));
    let mut extra = bytes;
    extra.push(0);
    assert!(matches!(
        Catalog::decode_snapshot(&extra),
        Err(DecodeError::TrailingBytes { .. })
    ));
}

use crate::entry::DecodeError;

#[test]
fn snapshot_with_an_owner_that_is_not_a_member_is_refused() {
    let mut f = Fixture::new();
    f.apply(transition("r1", "CN=b", 1));
    let mut c = f.catalog.clone();
    c.members.remove(&id("CN=b"));
    assert!(matches!(
        Catalog::decode_snapshot(&c.encode_snapshot()),
        Err(DecodeError::Inconsistent { .. })
    ));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Two replicas applying the same entries agree on every outcome and end
    /// in equal catalogs with equal snapshots; epochs only grow; owners are
    /// always admitted data members; the snapshot round-trips.
    #[test]
    fn replicas_agree_and_invariants_hold(entries in proptest::collection::vec(interesting_entry(), 1..80)) {
        let mut a = Fixture::new();
        let mut b = Fixture::new();
        for e in &entries {
            let epochs_before: BTreeMap<RangeId, Epoch> =
                a.catalog.ranges().map(|(r, o)| (r.clone(), o.epoch)).collect();
            let version_before = a.catalog.version();
            let oa = a.apply(e.clone());
            let ob = b.apply(e.clone());
            prop_assert_eq!(&oa, &ob);
            match &oa {
                ApplyOutcome::Applied { version } => {
                    prop_assert_eq!(version.0, version_before.0 + 1)
                }
                _ => prop_assert_eq!(a.catalog.version(), version_before),
            }
            for (r, o) in a.catalog.ranges() {
                if let Some(before) = epochs_before.get(r) {
                    prop_assert!(o.epoch >= *before);
                }
                let m = a.catalog.member(&o.owner);
                prop_assert!(m.is_some_and(|m| m.kind == MemberKind::Data));
            }
        }
        prop_assert_eq!(&a.catalog, &b.catalog);
        let bytes = a.catalog.encode_snapshot();
        prop_assert_eq!(&bytes, &b.catalog.encode_snapshot());
        prop_assert_eq!(Catalog::decode_snapshot(&bytes).unwrap(), a.catalog);
    }

    #[test]
    fn arbitrary_snapshot_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Catalog::decode_snapshot(&bytes);
    }

    #[test]
    fn mutated_snapshots_decode_or_fail_cleanly(entries in proptest::collection::vec(interesting_entry(), 1..20), at in any::<usize>(), byte in any::<u8>()) {
        let mut f = Fixture::new();
        for e in entries {
            f.apply(e);
        }
        let mut bytes = f.catalog.encode_snapshot();
        let i = at % bytes.len();
        bytes[i] = byte;
        if let Ok(c) = Catalog::decode_snapshot(&bytes) {
            if bytes[8] == snapshot::SNAPSHOT_FORMAT_VERSION {
                prop_assert_eq!(c.encode_snapshot(), bytes);
            } else {
                // The format byte now names an older format that reads
                // these bytes alike (format 3 without ranges): the
                // catalog re-encodes in the current format.
                prop_assert_eq!(Catalog::decode_snapshot(&c.encode_snapshot()).unwrap(), c);
            }
        }
    }
}

/// Entries over a small universe of names, so that sequences actually hit
/// the rules (conflicts, stale epochs, removals with ranges) instead of
/// mostly naming unknown members.
fn interesting_entry() -> impl Strategy<Value = ControlPlaneEntry> {
    let member = prop_oneof![
        Just("CN=a"),
        Just("CN=b"),
        Just("CN=c"),
        Just("CN=w"),
        Just("CN=x")
    ];
    let kind = prop_oneof![Just(MemberKind::Data), Just(MemberKind::Witness)];
    let r = prop_oneof![Just("r1"), Just("r2"), Just("r3")];
    prop_oneof![
        (member.clone(), kind, 0..2u8).prop_map(|(m, k, a)| admit(m, k, &format!("h{a}:1"))),
        member.clone().prop_map(drain),
        member.clone().prop_map(remove),
        (r.clone(), member.clone(), 0..6u64).prop_map(|(r, m, e)| transition(r, m, e)),
        (r, member.clone()).prop_map(|(r, m)| forced(r, m, "ops")),
        (0..5u64, member).prop_map(|(t, m)| leader(t, m)),
        any_entry(),
    ]
}

fn with_session(entry: ControlPlaneEntry, client: u128, seq: u64) -> Proposal {
    Proposal {
        session: Some(crate::entry::ProposalSession {
            client: crate::entry::ClientId(client),
            seq,
        }),
        entry,
    }
}

impl Fixture {
    fn apply_proposal(&mut self, p: &Proposal) -> ApplyOutcome {
        let index = Index(self.next);
        self.next += 1;
        self.catalog.apply_proposal(index, Term(1), p).unwrap()
    }
}

#[test]
fn a_retried_forced_transition_takes_effect_once() {
    let mut f = Fixture::new();
    let p = with_session(forced("r1", "CN=a", "bring-up"), 7, 1);
    let first = f.apply_proposal(&p);
    assert_eq!(
        first,
        ApplyOutcome::Applied {
            version: CatalogVersion(1)
        }
    );
    // The retry reaches the log too (say, through another leader).
    let again = f.apply_proposal(&p);
    assert_eq!(
        again,
        ApplyOutcome::Repeat(Box::new(RecordedOutcome {
            index: Index(1),
            term: Term(1),
            outcome: first,
        }))
    );
    assert!(again.is_effective());
    assert_eq!(f.catalog.epoch_of(&range("r1")), Epoch(1), "bumped once");
    assert_eq!(f.catalog.audit_log().len(), 1, "audited once");
    assert_eq!(f.catalog.version(), CatalogVersion(1));
    assert_eq!(
        f.catalog.applied().0,
        Index(2),
        "the retry's index is applied"
    );
    // The same entry with the next sequence is a new proposal.
    f.apply_proposal(&with_session(forced("r1", "CN=a", "bring-up"), 7, 2));
    assert_eq!(f.catalog.epoch_of(&range("r1")), Epoch(2));
    // Without a session, every logged copy applies.
    let bare = Proposal::bare(forced("r1", "CN=b", "again"));
    f.apply_proposal(&bare);
    f.apply_proposal(&bare);
    assert_eq!(f.catalog.epoch_of(&range("r1")), Epoch(4));
}

#[test]
fn a_retried_transition_answers_its_first_outcome_not_a_stale_epoch() {
    let mut f = Fixture::new();
    let p = with_session(transition("r1", "CN=a", 1), 9, 1);
    assert!(matches!(f.apply_proposal(&p), ApplyOutcome::Applied { .. }));
    // Without the session this would be refused as stale (its own epoch).
    let again = f.apply_proposal(&p);
    assert!(
        matches!(&again, ApplyOutcome::Repeat(first) if matches!(first.outcome, ApplyOutcome::Applied { .. })),
        "{again:?}"
    );
    // A refused first attempt is refused again, with the first position.
    let q = with_session(transition("r1", "CN=w", 2), 9, 2);
    let refused = f.apply_proposal(&q);
    assert!(matches!(refused, ApplyOutcome::Refused(_)));
    match f.apply_proposal(&q) {
        ApplyOutcome::Repeat(first) => {
            assert_eq!((first.index, first.outcome), (Index(3), refused));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_retry_older_than_the_session_window_is_not_applied_again() {
    let mut f = Fixture::new();
    for seq in 1..=sessions::SESSION_WINDOW + 1 {
        f.apply_proposal(&with_session(transition("r1", "CN=a", seq), 3, seq));
    }
    let epoch = f.catalog.epoch_of(&range("r1"));
    let version = f.catalog.version();
    assert_eq!(
        f.apply_proposal(&with_session(forced("r1", "CN=b", "late"), 3, 1)),
        ApplyOutcome::RetryTooOld
    );
    assert_eq!(f.catalog.epoch_of(&range("r1")), epoch);
    assert_eq!(f.catalog.version(), version);
}

#[test]
fn sessions_travel_in_the_snapshot_and_old_snapshots_still_decode() {
    let mut f = Fixture::new();
    let old = f.catalog.encode_snapshot();
    f.apply_proposal(&with_session(transition("r1", "CN=a", 1), 1, 1));
    f.apply_proposal(&with_session(transition("r1", "CN=w", 2), 1, 2));
    f.apply_proposal(&with_session(forced("r2", "CN=b", "x"), u128::MAX, 5));
    let bytes = f.catalog.encode_snapshot();
    let back = Catalog::decode_snapshot(&bytes).unwrap();
    assert_eq!(back, f.catalog);
    assert_eq!(back.sessions().len(), 2);
    assert_eq!(back.encode_snapshot(), bytes);
    for cut in 0..bytes.len() {
        assert!(Catalog::decode_snapshot(&bytes[..cut]).is_err());
    }
    // A replica that installed the snapshot answers a retry identically.
    let mut g = Fixture {
        catalog: back,
        next: f.next,
    };
    let retry = with_session(transition("r1", "CN=w", 2), 1, 2);
    assert_eq!(g.apply_proposal(&retry), f.apply_proposal(&retry));
    // Format 2 (before departed members): without the departed count.
    let mut v2 = old[..old.len() - 8].to_vec();
    v2[8] = 2;
    assert_eq!(
        Catalog::decode_snapshot(&v2).unwrap(),
        Fixture::new().catalog
    );
    // Format 1 (before sessions): without the session count either.
    let mut v1 = old[..old.len() - 16].to_vec();
    v1[8] = 1;
    assert_eq!(
        Catalog::decode_snapshot(&v1).unwrap(),
        Fixture::new().catalog
    );
}

/// A removed member's record stays (bounded) among the departed, in the
/// snapshot: its peers still need its address and identity while the raft
/// configuration drops it through joint consensus.
#[test]
fn removed_members_are_remembered_as_departed_and_travel_in_the_snapshot() {
    let mut f = Fixture::new();
    let before: Vec<Member> = f.catalog.members().cloned().collect();
    let gone = before[0].clone();
    assert!(matches!(
        f.apply(ControlPlaneEntry::Membership(MembershipChange::Remove {
            member: gone.id.clone()
        })),
        ApplyOutcome::Applied { .. }
    ));
    assert!(f.catalog.member(&gone.id).is_none());
    assert_eq!(
        f.catalog.departed().cloned().collect::<Vec<_>>(),
        vec![gone]
    );
    let bytes = f.catalog.encode_snapshot();
    let back = Catalog::decode_snapshot(&bytes).unwrap();
    assert_eq!(back, f.catalog);
    for cut in 0..bytes.len() {
        assert!(Catalog::decode_snapshot(&bytes[..cut]).is_err());
    }
    // A departed peer id that is also a member's is refused.
    let mut dup = bytes.clone();
    let n = dup.len();
    let member_peer_id = before[1].peer_id.to_le_bytes();
    dup[n - 8..].copy_from_slice(&member_peer_id);
    assert!(Catalog::decode_snapshot(&dup).is_err());
}

/// A catalog with something in every part of the snapshot: a leader, data
/// members (one draining), a witness, ranges owned by different members
/// (some audited, with and without a previous owner), client sessions with
/// applied and refused outcomes, and a departed member.
fn every_part() -> Fixture {
    let mut f = Fixture::new();
    f.apply(leader(2, "CN=a"));
    f.apply(admit("CN=c", MemberKind::Data, "10.0.0.3:7000"));
    f.apply(admit("CN=x", MemberKind::Data, "10.0.0.9:7000"));
    f.apply(transition("users:[000000,000100)", "CN=a", 1));
    f.apply(transition("users:[000100,000200)", "CN=b", 1));
    f.apply(transition("users:[000100,000200)", "CN=c", 2));
    f.apply(forced("orders:[a,m)", "CN=c", "bring-up"));
    f.apply(forced(
        "users:[000000,000100)",
        "CN=b",
        "node a lost its disk",
    ));
    f.apply_proposal(&with_session(transition("orders:[m,z)", "CN=b", 1), 7, 1));
    f.apply_proposal(&with_session(transition("orders:[m,z)", "CN=w", 2), 7, 2));
    f.apply_proposal(&with_session(
        forced("orders:[m,z)", "CN=a", "x"),
        u128::MAX,
        3,
    ));
    f.apply(drain("CN=c"));
    f.apply(remove("CN=x"));
    f
}

/// A format-3 snapshot of [`every_part`], written by the format-3 encoder
/// (the one before owners were written as member indexes) and checked in:
/// a member still on format 3 may send it, and it decodes to the same
/// catalog, which re-encodes in the current format.
#[test]
fn a_format_3_snapshot_still_decodes() {
    let old: &[u8] = include_bytes!("testdata/snapshot-format-3.bin");
    assert_eq!(old[8], 3, "the fixture is format 3");
    let expected = every_part().catalog;
    assert_eq!(expected.ranges().count(), 4);
    assert_eq!(expected.audit_log().len(), 3);
    assert_eq!(expected.sessions().len(), 2);
    assert_eq!(expected.departed().count(), 1);
    let back = Catalog::decode_snapshot(old).unwrap();
    assert_eq!(back, expected);
    let now = back.encode_snapshot();
    assert_eq!(now[8], snapshot::SNAPSHOT_FORMAT_VERSION);
    assert_eq!(Catalog::decode_snapshot(&now).unwrap(), expected);
}

/// Format 4 writes a range's owner as the index of the owner among the
/// members written just before it. An index past the members, or naming a
/// witness, is refused with a decode error, never a panic.
#[test]
fn a_format_4_owner_index_that_names_no_data_member_is_refused() {
    let mut f = Fixture::new();
    f.apply(transition("r1", "CN=b", 1));
    let bytes = f.catalog.encode_snapshot();
    assert_eq!(bytes[8], 4);
    // The range's owner index follows its id; members are a, b, w.
    let id_at = bytes
        .windows(4)
        .position(|w| w == b"\x02\x00r1")
        .expect("the range id");
    let at = id_at + 4;
    assert_eq!(bytes[at..at + 4], 1u32.to_le_bytes(), "b is member #1");
    let with_owner = |index: u32| {
        let mut b = bytes.clone();
        b[at..at + 4].copy_from_slice(&index.to_le_bytes());
        Catalog::decode_snapshot(&b)
    };
    let a = with_owner(0).unwrap();
    assert_eq!(a.owner(&range("r1")).unwrap().owner, id("CN=a"));
    assert_eq!(a.ranges_owned_by(&id("CN=a")), 1);
    for index in [2, 3, 1 << 16, u32::MAX] {
        match with_owner(index) {
            Err(DecodeError::Inconsistent { detail, .. }) => {
                assert!(detail.contains("r1"), "{detail}")
            }
            other => panic!("owner index {index}: {other:?}"),
        }
    }
}
