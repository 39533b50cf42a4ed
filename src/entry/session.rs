//! Exactly-once proposals: the client session a proposal carries into the
//! log, and the logged form of a proposal.
//!
//! A client names itself with a random 128-bit [`ClientId`] and numbers its
//! proposals; a retry of a proposal carries the same ([`ClientId`], sequence)
//! as the first attempt. The catalog remembers, per client, the outcome of
//! each recent sequence number, so when both attempts reach the log the
//! second answers with the first one's outcome and changes nothing (the
//! pattern of the Raft dissertation, section 6.3). The session travels in the
//! logged bytes themselves, so every replica deduplicates identically.
//!
//! Layout of a logged proposal ([`Proposal::encode`]):
//! * format version 1: a bare [`ControlPlaneEntry`] (what builds before
//!   sessions wrote; still decoded, as a proposal without a session);
//! * format version 2: `2 | session flag | client id (16 bytes) | sequence
//!   (8 bytes) | the entry's own encoding (version 1)`; the client id and
//!   sequence are present only when the flag is 1.

use std::fmt;

use super::codec::{DecodeError, Reader, Writer, ENTRY_FORMAT_VERSION};
use super::ControlPlaneEntry;

/// The format version of a logged proposal with the session envelope.
pub const PROPOSAL_FORMAT_VERSION: u8 = 2;

/// A client of the cluster, for deduplicating its retries: 128 random bits
/// chosen by the client (per process, or per session).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(pub u128);

impl ClientId {
    /// A fresh random client id (from the operating system's generator
    /// through the standard library's hasher keys, mixed with the time and
    /// the process id, so two clients never share one in practice).
    pub fn random() -> ClientId {
        use std::collections::hash_map::RandomState;
        use std::hash::{BuildHasher, Hasher};
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let mut halves = [0u64; 2];
        for (i, half) in halves.iter_mut().enumerate() {
            let mut h = RandomState::new().build_hasher();
            h.write_u128(nanos);
            h.write_u32(std::process::id());
            h.write_usize(i);
            *half = h.finish();
        }
        ClientId(((halves[0] as u128) << 64) | halves[1] as u128)
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// Which proposal of which client: the same for every retry of one
/// proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProposalSession {
    /// The client.
    pub client: ClientId,
    /// The client's number for this proposal (starting at 1, growing by one
    /// per new proposal; a retry repeats it).
    pub seq: u64,
}

/// A proposal as it is logged: the entry and, when the proposer asked for
/// exactly-once, its session.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Proposal {
    /// The client session, if any.
    pub session: Option<ProposalSession>,
    /// The entry.
    pub entry: ControlPlaneEntry,
}

impl Proposal {
    /// A proposal without a session (applied every time it is logged).
    pub fn bare(entry: ControlPlaneEntry) -> Self {
        Self {
            session: None,
            entry,
        }
    }

    /// The logged bytes: a bare entry (format 1) without a session, the
    /// envelope (format 2) with one.
    pub fn encode(&self) -> Vec<u8> {
        let entry = self.entry.encode();
        let Some(s) = self.session else {
            return entry;
        };
        let mut w = Writer::with_capacity(26 + entry.len());
        w.u8(PROPOSAL_FORMAT_VERSION);
        w.bool(true);
        w.u64(s.client.0 as u64);
        w.u64((s.client.0 >> 64) as u64);
        w.u64(s.seq);
        w.bytes(&entry);
        w.finish()
    }

    /// Decodes what [`Proposal::encode`] wrote (and bare entries of format
    /// 1). Arbitrary bytes give an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes.first() {
            Some(&ENTRY_FORMAT_VERSION) => Ok(Self::bare(ControlPlaneEntry::decode(bytes)?)),
            Some(&PROPOSAL_FORMAT_VERSION) => {
                let mut r = Reader::new(bytes);
                r.version(
                    "proposal format version",
                    "proposal",
                    PROPOSAL_FORMAT_VERSION,
                )?;
                let session = if r.bool("session flag")? {
                    let low = r.u64("client id")? as u128;
                    let high = r.u64("client id")? as u128;
                    Some(ProposalSession {
                        client: ClientId((high << 64) | low),
                        seq: r.u64("sequence")?,
                    })
                } else {
                    None
                };
                let rest = r.take("entry", r.remaining())?;
                Ok(Self {
                    session,
                    entry: ControlPlaneEntry::decode(rest)?,
                })
            }
            Some(&version) => Err(DecodeError::UnsupportedVersion {
                what: "proposal",
                version,
            }),
            None => Err(DecodeError::Truncated {
                what: "proposal format version",
                offset: 0,
                needed: 1,
                available: 0,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::codec::tests::entry;
    use proptest::prelude::*;

    fn session() -> impl Strategy<Value = Option<ProposalSession>> {
        proptest::option::of(
            (any::<u128>(), any::<u64>()).prop_map(|(c, seq)| ProposalSession {
                client: ClientId(c),
                seq,
            }),
        )
    }

    proptest! {
        #[test]
        fn proposals_round_trip(e in entry(), s in session()) {
            let p = Proposal { session: s, entry: e };
            prop_assert_eq!(Proposal::decode(&p.encode()), Ok(p));
        }

        #[test]
        fn every_truncation_is_an_error(e in entry(), s in session()) {
            let bytes = Proposal { session: s, entry: e }.encode();
            for n in 0..bytes.len() {
                prop_assert!(Proposal::decode(&bytes[..n]).is_err());
            }
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Proposal::decode(&bytes);
        }
    }

    #[test]
    fn a_bare_entry_is_a_proposal_without_session_and_keeps_its_bytes() {
        let e = ControlPlaneEntry::Membership(crate::entry::MembershipChange::Remove {
            member: crate::entry::NodeId::from_certificate_subject("CN=a").expect("id"),
        });
        let p = Proposal::bare(e.clone());
        assert_eq!(
            p.encode(),
            e.encode(),
            "old logs and new bare proposals agree"
        );
        assert_eq!(Proposal::decode(&e.encode()), Ok(p));
        // The envelope is not a bare entry.
        let with = Proposal {
            session: Some(ProposalSession {
                client: ClientId(7),
                seq: 1,
            }),
            entry: e,
        };
        assert!(ControlPlaneEntry::decode(&with.encode()).is_err());
        assert!(matches!(
            Proposal::decode(&[9, 0]),
            Err(DecodeError::UnsupportedVersion { version: 9, .. })
        ));
    }

    #[test]
    fn random_client_ids_differ() {
        assert_ne!(ClientId::random(), ClientId::random());
    }
}
