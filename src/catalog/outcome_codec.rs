//! The encoding of apply outcomes and refusals, with every fact they carry,
//! for the client-session table in the catalog snapshot (a replica that
//! installs a snapshot must answer a retry exactly as the others do).
//!
//! Tags never change meaning: a refusal's tag is its stable
//! [`Refusal::code`].

use super::limits::CatalogLimit;
use super::sessions::RecordedOutcome;
use super::{ApplyOutcome, Refusal};
use crate::entry::codec::{DecodeError, Reader, Writer};
use crate::entry::{CatalogVersion, Epoch, Index, Term};

const APPLIED: u8 = 0;
const UNCHANGED: u8 = 1;
const REFUSED: u8 = 2;
const REPEAT: u8 = 3;
const RETRY_TOO_OLD: u8 = 4;

/// Writes `outcome`.
pub(crate) fn put_outcome(w: &mut Writer, outcome: &ApplyOutcome) {
    match outcome {
        ApplyOutcome::Applied { version } => {
            w.u8(APPLIED);
            w.u64(version.0);
        }
        ApplyOutcome::Unchanged { version } => {
            w.u8(UNCHANGED);
            w.u64(version.0);
        }
        ApplyOutcome::Refused(r) => {
            w.u8(REFUSED);
            put_refusal(w, r);
        }
        ApplyOutcome::Repeat(first) => {
            w.u8(REPEAT);
            put_recorded(w, first);
        }
        ApplyOutcome::RetryTooOld => w.u8(RETRY_TOO_OLD),
    }
}

impl RecordedOutcome {
    /// The length of its encoding in the catalog snapshot (its table entry's
    /// share of the session table's byte bound).
    pub fn encoded_len(&self) -> usize {
        let mut w = Writer::new();
        put_recorded(&mut w, self);
        w.finish().len()
    }
}

/// Writes a recorded outcome: index, term, outcome.
pub(crate) fn put_recorded(w: &mut Writer, r: &RecordedOutcome) {
    w.u64(r.index.0);
    w.u64(r.term.0);
    put_outcome(w, &r.outcome);
}

/// Reads what [`put_recorded`] wrote. `depth` bounds the nesting of
/// repeats (a recorded outcome is never itself a repeat, so one level is
/// all a valid input has).
pub(crate) fn get_recorded(r: &mut Reader<'_>, depth: u8) -> Result<RecordedOutcome, DecodeError> {
    Ok(RecordedOutcome {
        index: Index(r.u64("outcome index")?),
        term: Term(r.u64("outcome term")?),
        outcome: get_outcome(r, depth)?,
    })
}

pub(crate) fn get_outcome(r: &mut Reader<'_>, depth: u8) -> Result<ApplyOutcome, DecodeError> {
    let offset = r.offset();
    Ok(match r.u8("outcome tag")? {
        APPLIED => ApplyOutcome::Applied {
            version: CatalogVersion(r.u64("version")?),
        },
        UNCHANGED => ApplyOutcome::Unchanged {
            version: CatalogVersion(r.u64("version")?),
        },
        REFUSED => ApplyOutcome::Refused(get_refusal(r)?),
        REPEAT if depth > 0 => ApplyOutcome::Repeat(Box::new(get_recorded(r, depth - 1)?)),
        RETRY_TOO_OLD => ApplyOutcome::RetryTooOld,
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "outcome",
                tag,
                offset,
            })
        }
    })
}

pub(crate) fn put_refusal(w: &mut Writer, r: &Refusal) {
    w.u8(r.code() as u8);
    match r {
        Refusal::UnknownMember { member }
        | Refusal::MemberDraining { member }
        | Refusal::LastMember { member }
        | Refusal::WitnessCannotOwn { member } => w.str(member.as_str()),
        Refusal::MemberConflict {
            member,
            kind,
            address,
        } => {
            w.str(member.as_str());
            w.kind(*kind);
            w.str(address.as_str());
        }
        Refusal::MemberOwnsRanges { member, ranges } => {
            w.str(member.as_str());
            w.u64(*ranges);
        }
        Refusal::StaleEpoch {
            range,
            current,
            proposed,
        }
        | Refusal::EpochNotNext {
            range,
            current,
            proposed,
        } => {
            w.str(range.as_str());
            w.u64(current.0);
            w.u64(proposed.0);
        }
        Refusal::EpochExhausted { range } => w.str(range.as_str()),
        Refusal::TermRegressed { term, latest } => {
            w.u64(term.0);
            w.u64(latest.0);
        }
        Refusal::LeaderConfigurationNotCurrent { term, leader } => {
            w.u64(term.0);
            w.str(leader.as_str());
        }
        Refusal::ConflictingLeader {
            term,
            recorded,
            proposed,
        } => {
            w.u64(term.0);
            w.str(recorded.as_str());
            w.str(proposed.as_str());
        }
        Refusal::CatalogFull { what, limit } => {
            w.u8(what.tag());
            w.u64(*limit);
        }
    }
}

pub(crate) fn get_refusal(r: &mut Reader<'_>) -> Result<Refusal, DecodeError> {
    let offset = r.offset();
    Ok(match r.u8("refusal code")? {
        1 => Refusal::UnknownMember {
            member: r.node_id("member")?,
        },
        2 => Refusal::MemberConflict {
            member: r.node_id("member")?,
            kind: r.kind("member kind")?,
            address: r.address("member address")?,
        },
        3 => Refusal::MemberDraining {
            member: r.node_id("member")?,
        },
        4 => Refusal::MemberOwnsRanges {
            member: r.node_id("member")?,
            ranges: r.u64("ranges")?,
        },
        5 => Refusal::LastMember {
            member: r.node_id("member")?,
        },
        6 => Refusal::WitnessCannotOwn {
            member: r.node_id("member")?,
        },
        7 => Refusal::StaleEpoch {
            range: r.range_id("range")?,
            current: Epoch(r.u64("current epoch")?),
            proposed: Epoch(r.u64("proposed epoch")?),
        },
        8 => Refusal::EpochExhausted {
            range: r.range_id("range")?,
        },
        9 => Refusal::TermRegressed {
            term: Term(r.u64("term")?),
            latest: Term(r.u64("latest term")?),
        },
        10 => Refusal::ConflictingLeader {
            term: Term(r.u64("term")?),
            recorded: r.node_id("recorded leader")?,
            proposed: r.node_id("proposed leader")?,
        },
        11 => Refusal::LeaderConfigurationNotCurrent {
            term: Term(r.u64("term")?),
            leader: r.node_id("leader")?,
        },
        12 => Refusal::EpochNotNext {
            range: r.range_id("range")?,
            current: Epoch(r.u64("current epoch")?),
            proposed: Epoch(r.u64("proposed epoch")?),
        },
        13 => {
            let offset = r.offset();
            let tag = r.u8("catalog limit")?;
            let what = CatalogLimit::from_tag(tag).ok_or(DecodeError::UnknownTag {
                what: "catalog limit",
                tag,
                offset,
            })?;
            Refusal::CatalogFull {
                what,
                limit: r.u64("limit")?,
            }
        }
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "refusal",
                tag,
                offset,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{MemberAddress, MemberKind, NodeId, RangeId};

    fn every_refusal() -> Vec<Refusal> {
        let m = NodeId::from_certificate_subject("CN=m").expect("id");
        let n = NodeId::from_certificate_subject("CN=n").expect("id");
        let range: RangeId = "r1".parse().expect("range");
        let address: MemberAddress = "127.0.0.1:1".parse().expect("address");
        vec![
            Refusal::UnknownMember { member: m.clone() },
            Refusal::MemberConflict {
                member: m.clone(),
                kind: MemberKind::Witness,
                address,
            },
            Refusal::MemberDraining { member: m.clone() },
            Refusal::MemberOwnsRanges {
                member: m.clone(),
                ranges: 3,
            },
            Refusal::LastMember { member: m.clone() },
            Refusal::WitnessCannotOwn { member: m.clone() },
            Refusal::StaleEpoch {
                range: range.clone(),
                current: Epoch(4),
                proposed: Epoch(2),
            },
            Refusal::EpochExhausted {
                range: range.clone(),
            },
            Refusal::TermRegressed {
                term: Term(2),
                latest: Term(5),
            },
            Refusal::ConflictingLeader {
                term: Term(5),
                recorded: m.clone(),
                proposed: n,
            },
            Refusal::LeaderConfigurationNotCurrent {
                term: Term(5),
                leader: m,
            },
            Refusal::EpochNotNext {
                range,
                current: Epoch(4),
                proposed: Epoch(9),
            },
            Refusal::CatalogFull {
                what: CatalogLimit::Ranges,
                limit: 65_536,
            },
        ]
    }

    #[test]
    fn every_refusal_and_outcome_round_trips_and_truncations_fail() {
        let refusals = every_refusal();
        let codes: Vec<u32> = refusals.iter().map(Refusal::code).collect();
        assert_eq!(codes, (1..=13).collect::<Vec<u32>>(), "one of each code");
        let mut outcomes: Vec<ApplyOutcome> =
            refusals.into_iter().map(ApplyOutcome::Refused).collect();
        outcomes.push(ApplyOutcome::Applied {
            version: CatalogVersion(9),
        });
        outcomes.push(ApplyOutcome::Unchanged {
            version: CatalogVersion(9),
        });
        outcomes.push(ApplyOutcome::RetryTooOld);
        for outcome in outcomes {
            let rec = RecordedOutcome {
                index: Index(7),
                term: Term(2),
                outcome,
            };
            let mut w = Writer::new();
            put_recorded(&mut w, &rec);
            let bytes = w.finish();
            let mut r = Reader::new(&bytes);
            assert_eq!(get_recorded(&mut r, 1).as_ref(), Ok(&rec));
            r.finish("outcome").expect("all read");
            for n in 0..bytes.len() {
                let mut r = Reader::new(&bytes[..n]);
                assert!(get_recorded(&mut r, 1).is_err(), "{rec:?} cut at {n}");
            }
        }
    }

    #[test]
    fn every_catalog_limit_round_trips_and_an_unknown_one_is_refused() {
        for what in [
            CatalogLimit::Members,
            CatalogLimit::Ranges,
            CatalogLimit::AuditRecords,
            CatalogLimit::RangeBytes,
        ] {
            let refusal = Refusal::CatalogFull {
                what,
                limit: what.max() as u64,
            };
            let mut w = Writer::new();
            put_refusal(&mut w, &refusal);
            let bytes = w.finish();
            assert_eq!(get_refusal(&mut Reader::new(&bytes)), Ok(refusal));
        }
        // The tags are fixed: a refusal recorded by an earlier build (the
        // ranges' count limit, tag 1) reads as it did.
        let tags: Vec<u8> = [
            CatalogLimit::Members,
            CatalogLimit::Ranges,
            CatalogLimit::AuditRecords,
            CatalogLimit::RangeBytes,
        ]
        .map(CatalogLimit::tag)
        .to_vec();
        assert_eq!(tags, [0, 1, 2, 3]);
        let old = [13, 1, 0, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(
            get_refusal(&mut Reader::new(&old)),
            Ok(Refusal::CatalogFull {
                what: CatalogLimit::Ranges,
                limit: 65_536
            })
        );
        let bad = [13, 4, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(matches!(
            get_refusal(&mut Reader::new(&bad)),
            Err(DecodeError::UnknownTag {
                what: "catalog limit",
                tag: 4,
                offset: 1
            })
        ));
    }
}
