//! The versioned binary encoding of entries (and the primitives the catalog
//! snapshot encoding shares).
//!
//! Rules every decoder in this crate follows, because these bytes come from
//! disk and, through the log, from peers:
//! * the first byte is a format version; an unknown version is an error, not
//!   a guess;
//! * integers are fixed-width little-endian, so the encoding is
//!   deterministic (equal values, equal bytes);
//! * a string is a `u16` byte length and UTF-8 bytes, and the length is checked
//!   against the field's limit and against the bytes that remain *before*
//!   anything is allocated, so hostile input cannot make us allocate more
//!   than it is long;
//! * every decoded name goes through its validating constructor, so a decoded
//!   value is exactly as valid as a constructed one;
//! * trailing bytes are an error.
//!
//! Decoding arbitrary bytes returns a [`DecodeError`]; it never panics.

use super::{
    ControlPlaneEntry, ForcedOwnershipTransition, MembershipChange, OwnershipTransition, Term,
};
use crate::identity::{AuditReason, IdentityError, MemberAddress, MemberKind, NodeId, RangeId};

/// The entry format this build writes.
pub const ENTRY_FORMAT_VERSION: u8 = 1;

const TAG_ADMIT: u8 = 1;
const TAG_BEGIN_DRAIN: u8 = 2;
const TAG_REMOVE: u8 = 3;
const TAG_TRANSITION: u8 = 4;
const TAG_FORCED_TRANSITION: u8 = 5;
const TAG_LEADER_CONFIGURATION: u8 = 6;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input ended before the value did.
    #[error("truncated: {what} needs {needed} more bytes at offset {offset}, {available} remain")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes it needs.
        needed: usize,
        /// How many remain.
        available: usize,
    },
    /// The format version is not one this build reads.
    #[error("unsupported {what} format version {version}")]
    UnsupportedVersion {
        /// What was being decoded.
        what: &'static str,
        /// The version found.
        version: u8,
    },
    /// The magic bytes are wrong: this is not the kind of data expected.
    #[error("not a {what}: bad magic bytes")]
    BadMagic {
        /// What was being decoded.
        what: &'static str,
    },
    /// An enum tag has no meaning in this format version.
    #[error("unknown {what} tag {tag} at offset {offset}")]
    UnknownTag {
        /// Which enum.
        what: &'static str,
        /// The tag found.
        tag: u8,
        /// Where.
        offset: usize,
    },
    /// A length is larger than the field allows.
    #[error("{what} length {len} at offset {offset} exceeds the limit {max}")]
    LengthOverLimit {
        /// The field.
        what: &'static str,
        /// The length found.
        len: usize,
        /// The limit.
        max: usize,
        /// Where.
        offset: usize,
    },
    /// A field's value is invalid.
    #[error("invalid {what} at offset {offset}: {source}")]
    InvalidField {
        /// The field.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// Why it is invalid.
        source: IdentityError,
    },
    /// The structure is well-formed but inconsistent (for example a
    /// duplicated key in a snapshot).
    #[error("inconsistent {what}: {detail}")]
    Inconsistent {
        /// What was being decoded.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Bytes remain after the value.
    #[error("{count} trailing bytes after the {what}")]
    TrailingBytes {
        /// What was decoded.
        what: &'static str,
        /// How many bytes remain.
        count: usize,
    },
}

/// Appends fixed-width, little-endian fields to a buffer.
#[derive(Debug, Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    /// A writer with room for `n` bytes.
    pub fn with_capacity(n: usize) -> Self {
        Self {
            buf: Vec::with_capacity(n),
        }
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }

    /// Appends one byte.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    /// Appends a `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }

    /// Appends a string with a `u16` length. Every string type in this crate
    /// is bounded well below `u16::MAX`; a longer one is a programming error
    /// caught here rather than silently truncated.
    pub fn str(&mut self, s: &str) {
        let len = u16::try_from(s.len()).unwrap_or_else(|_| {
            unreachable!(
                "validated names are far shorter than 64 KiB; got {}",
                s.len()
            )
        });
        self.buf.extend_from_slice(&len.to_le_bytes());
        self.buf.extend_from_slice(s.as_bytes());
    }

    /// Appends a boolean as one byte (0 or 1).
    pub fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }

    /// Appends a list of raft peer ids: a `u64` count, then the ids.
    pub fn ids(&mut self, ids: &[u64]) {
        self.u64(ids.len() as u64);
        for id in ids {
            self.u64(*id);
        }
    }

    /// Appends a raft configuration: voters, learners, outgoing voters,
    /// next learners, and the auto-leave flag.
    pub fn conf_state(&mut self, cs: &raft::eraftpb::ConfState) {
        self.ids(&cs.voters);
        self.ids(&cs.learners);
        self.ids(&cs.voters_outgoing);
        self.ids(&cs.learners_next);
        self.bool(cs.auto_leave);
    }

    /// Appends a member kind.
    pub fn kind(&mut self, k: MemberKind) {
        self.u8(match k {
            MemberKind::Data => 0,
            MemberKind::Witness => 1,
        });
    }

    /// The bytes written.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads fixed-width, little-endian fields with bounds checks.
#[derive(Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The current offset.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// How many bytes remain.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Takes `n` bytes.
    pub fn take(&mut self, what: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.remaining() {
            return Err(DecodeError::Truncated {
                what,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            });
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Reads one byte.
    pub fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        Ok(self.take(what, 1)?[0])
    }

    /// Reads a `u16`.
    pub fn u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        let b = self.take(what, 2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    /// Reads a `u32`.
    pub fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let b = self.take(what, 4)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_le_bytes(a))
    }

    /// Reads a `u64`.
    pub fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        let b = self.take(what, 8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    /// Reads a length-prefixed string of at most `max` bytes and validates it
    /// with `parse`.
    pub fn name<T>(
        &mut self,
        what: &'static str,
        max: usize,
        parse: impl FnOnce(&[u8]) -> Result<T, IdentityError>,
    ) -> Result<T, DecodeError> {
        let offset = self.pos;
        let len = usize::from(self.u16(what)?);
        if len > max {
            return Err(DecodeError::LengthOverLimit {
                what,
                len,
                max,
                offset,
            });
        }
        let bytes = self.take(what, len)?;
        parse(bytes).map_err(|source| DecodeError::InvalidField {
            what,
            offset,
            source,
        })
    }

    /// Reads a [`NodeId`]. Encoded identities are already trimmed, so one
    /// with surrounding white space is refused: it would not round-trip.
    pub fn node_id(&mut self, what: &'static str) -> Result<NodeId, DecodeError> {
        self.name(what, NodeId::MAX_LEN, NodeId::from_exact_bytes)
    }

    /// Reads a [`RangeId`].
    pub fn range_id(&mut self, what: &'static str) -> Result<RangeId, DecodeError> {
        self.name(what, RangeId::MAX_LEN, RangeId::from_bytes)
    }

    /// Reads a [`MemberAddress`].
    pub fn address(&mut self, what: &'static str) -> Result<MemberAddress, DecodeError> {
        self.name(what, MemberAddress::MAX_LEN, MemberAddress::from_bytes)
    }

    /// Reads an [`AuditReason`].
    pub fn reason(&mut self, what: &'static str) -> Result<AuditReason, DecodeError> {
        self.name(what, AuditReason::MAX_LEN, AuditReason::from_bytes)
    }

    /// Reads a format version byte (named `field` if the input is short)
    /// and refuses any version but `expected`, as an unsupported `what`.
    pub fn version(
        &mut self,
        field: &'static str,
        what: &'static str,
        expected: u8,
    ) -> Result<(), DecodeError> {
        let version = self.u8(field)?;
        if version != expected {
            return Err(DecodeError::UnsupportedVersion { what, version });
        }
        Ok(())
    }

    /// Reads a boolean written by [`Writer::bool`]; any byte but 0 or 1 is
    /// an error.
    pub fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        let offset = self.pos;
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::UnknownTag { what, tag, offset }),
        }
    }

    /// Reads a list written by [`Writer::ids`].
    pub fn ids(&mut self, what: &'static str) -> Result<Vec<u64>, DecodeError> {
        let n = self.count(what, 8)?;
        (0..n).map(|_| self.u64(what)).collect()
    }

    /// Reads a configuration written by [`Writer::conf_state`].
    pub fn conf_state(&mut self) -> Result<raft::eraftpb::ConfState, DecodeError> {
        Ok(raft::eraftpb::ConfState {
            voters: self.ids("voters")?,
            learners: self.ids("learners")?,
            voters_outgoing: self.ids("outgoing voters")?,
            learners_next: self.ids("next learners")?,
            auto_leave: self.bool("auto leave")?,
            ..Default::default()
        })
    }

    /// Reads a member kind.
    pub fn kind(&mut self, what: &'static str) -> Result<MemberKind, DecodeError> {
        let offset = self.pos;
        match self.u8(what)? {
            0 => Ok(MemberKind::Data),
            1 => Ok(MemberKind::Witness),
            tag => Err(DecodeError::UnknownTag { what, tag, offset }),
        }
    }

    /// Reads a count of items each at least `min_item_len` bytes long, and
    /// refuses a count the remaining input cannot hold, so a caller may
    /// reserve capacity for it.
    pub fn count(&mut self, what: &'static str, min_item_len: usize) -> Result<usize, DecodeError> {
        let offset = self.pos;
        let n = self.u64(what)?;
        let max = self.remaining() / min_item_len.max(1);
        match usize::try_from(n) {
            Ok(n) if n <= max => Ok(n),
            _ => Err(DecodeError::LengthOverLimit {
                what,
                len: usize::try_from(n).unwrap_or(usize::MAX),
                max,
                offset,
            }),
        }
    }

    /// Fails unless every byte was consumed.
    pub fn finish(self, what: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { what, count }),
        }
    }
}

pub(crate) fn encode_entry(entry: &ControlPlaneEntry) -> Vec<u8> {
    let mut w = Writer::with_capacity(64);
    w.u8(ENTRY_FORMAT_VERSION);
    match entry {
        ControlPlaneEntry::Membership(MembershipChange::Admit {
            member,
            kind,
            address,
        }) => {
            w.u8(TAG_ADMIT);
            w.str(member.as_str());
            w.kind(*kind);
            w.str(address.as_str());
        }
        ControlPlaneEntry::Membership(MembershipChange::BeginDrain { member }) => {
            w.u8(TAG_BEGIN_DRAIN);
            w.str(member.as_str());
        }
        ControlPlaneEntry::Membership(MembershipChange::Remove { member }) => {
            w.u8(TAG_REMOVE);
            w.str(member.as_str());
        }
        ControlPlaneEntry::OwnershipTransition(t) => {
            w.u8(TAG_TRANSITION);
            w.str(t.range.as_str());
            w.str(t.new_owner.as_str());
            w.u64(t.epoch.0);
        }
        ControlPlaneEntry::ForcedOwnershipTransition(t) => {
            w.u8(TAG_FORCED_TRANSITION);
            w.str(t.range.as_str());
            w.str(t.new_owner.as_str());
            w.str(t.operator.as_str());
            w.str(t.reason.as_str());
        }
        ControlPlaneEntry::LeaderConfiguration { term, leader } => {
            w.u8(TAG_LEADER_CONFIGURATION);
            w.u64(term.0);
            w.str(leader.as_str());
        }
    }
    w.finish()
}

pub(crate) fn decode_entry(bytes: &[u8]) -> Result<ControlPlaneEntry, DecodeError> {
    const WHAT: &str = "entry";
    let mut r = Reader::new(bytes);
    r.version("entry format version", WHAT, ENTRY_FORMAT_VERSION)?;
    let tag_offset = r.offset();
    let entry = match r.u8("entry tag")? {
        TAG_ADMIT => ControlPlaneEntry::Membership(MembershipChange::Admit {
            member: r.node_id("member")?,
            kind: r.kind("member kind")?,
            address: r.address("member address")?,
        }),
        TAG_BEGIN_DRAIN => ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
            member: r.node_id("member")?,
        }),
        TAG_REMOVE => ControlPlaneEntry::Membership(MembershipChange::Remove {
            member: r.node_id("member")?,
        }),
        TAG_TRANSITION => ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range: r.range_id("range")?,
            new_owner: r.node_id("new owner")?,
            epoch: r.u64("epoch")?.into(),
        }),
        TAG_FORCED_TRANSITION => {
            ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                range: r.range_id("range")?,
                new_owner: r.node_id("new owner")?,
                operator: r.node_id("operator")?,
                reason: r.reason("reason")?,
            })
        }
        TAG_LEADER_CONFIGURATION => ControlPlaneEntry::LeaderConfiguration {
            term: Term(r.u64("term")?),
            leader: r.node_id("leader")?,
        },
        tag => {
            return Err(DecodeError::UnknownTag {
                what: WHAT,
                tag,
                offset: tag_offset,
            })
        }
    };
    r.finish(WHAT)?;
    Ok(entry)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::entry::Epoch;
    use proptest::prelude::*;

    fn name_strategy(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex(&format!("[A-Za-z0-9=,:\\[\\)\\(\\- ]{{1,{max}}}"))
            .expect("valid regex")
    }

    pub(crate) fn node_id() -> impl Strategy<Value = NodeId> {
        name_strategy(24).prop_filter_map("identity", |s| NodeId::from_certificate_subject(&s).ok())
    }

    pub(crate) fn range_id() -> impl Strategy<Value = RangeId> {
        name_strategy(24).prop_filter_map("range", |s| s.parse().ok())
    }

    pub(crate) fn entry() -> impl Strategy<Value = ControlPlaneEntry> {
        let kind = prop_oneof![Just(MemberKind::Data), Just(MemberKind::Witness)];
        let address =
            "[a-z0-9.]{1,20}:[0-9]{1,5}".prop_map(|s| s.parse::<MemberAddress>().unwrap());
        let reason = name_strategy(40).prop_filter_map("reason", |s| s.parse::<AuditReason>().ok());
        prop_oneof![
            (node_id(), kind, address).prop_map(|(member, kind, address)| {
                ControlPlaneEntry::Membership(MembershipChange::Admit {
                    member,
                    kind,
                    address,
                })
            }),
            node_id().prop_map(|member| ControlPlaneEntry::Membership(
                MembershipChange::BeginDrain { member }
            )),
            node_id().prop_map(
                |member| ControlPlaneEntry::Membership(MembershipChange::Remove { member })
            ),
            (range_id(), node_id(), any::<u64>()).prop_map(|(range, new_owner, e)| {
                ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
                    range,
                    new_owner,
                    epoch: Epoch(e),
                })
            }),
            (range_id(), node_id(), node_id(), reason).prop_map(
                |(range, new_owner, operator, reason)| {
                    ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                        range,
                        new_owner,
                        operator,
                        reason,
                    })
                }
            ),
            (any::<u64>(), node_id()).prop_map(|(t, leader)| {
                ControlPlaneEntry::LeaderConfiguration {
                    term: Term(t),
                    leader,
                }
            }),
        ]
    }

    proptest! {
        #[test]
        fn entries_round_trip(e in entry()) {
            let bytes = e.encode();
            prop_assert_eq!(ControlPlaneEntry::decode(&bytes).unwrap(), e.clone());
            // Deterministic: encoding the decoded value gives the same bytes.
            prop_assert_eq!(ControlPlaneEntry::decode(&bytes).unwrap().encode(), bytes);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = ControlPlaneEntry::decode(&bytes);
        }

        #[test]
        fn every_truncation_is_an_error(e in entry()) {
            let bytes = e.encode();
            for cut in 0..bytes.len() {
                prop_assert!(ControlPlaneEntry::decode(&bytes[..cut]).is_err());
            }
        }

        #[test]
        fn mutated_entries_decode_or_fail_cleanly(e in entry(), at in any::<usize>(), b in any::<u8>()) {
            let mut bytes = e.encode();
            let i = at % bytes.len();
            bytes[i] = b;
            if let Ok(d) = ControlPlaneEntry::decode(&bytes) {
                // Whatever decodes is valid and re-encodes to the same bytes.
                prop_assert_eq!(d.encode(), bytes);
            }
        }
    }

    #[test]
    fn unknown_version_and_tag_are_refused() {
        let e = ControlPlaneEntry::Membership(MembershipChange::Remove {
            member: NodeId::from_certificate_subject("CN=a").unwrap(),
        });
        let mut bytes = e.encode();
        bytes[0] = 2;
        assert_eq!(
            ControlPlaneEntry::decode(&bytes),
            Err(DecodeError::UnsupportedVersion {
                what: "entry",
                version: 2
            })
        );
        bytes[0] = ENTRY_FORMAT_VERSION;
        bytes[1] = 0x7f;
        assert!(matches!(
            ControlPlaneEntry::decode(&bytes),
            Err(DecodeError::UnknownTag { tag: 0x7f, .. })
        ));
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let e = ControlPlaneEntry::LeaderConfiguration {
            term: Term(3),
            leader: NodeId::from_certificate_subject("CN=a").unwrap(),
        };
        let mut bytes = e.encode();
        bytes.push(0);
        assert_eq!(
            ControlPlaneEntry::decode(&bytes),
            Err(DecodeError::TrailingBytes {
                what: "entry",
                count: 1
            })
        );
    }

    #[test]
    fn untrimmed_or_invalid_names_are_refused() {
        // Hand-built: a remove of " CN=a" (leading space) must not decode,
        // because no constructed entry could encode to it.
        let mut bytes = vec![ENTRY_FORMAT_VERSION, TAG_REMOVE, 5, 0];
        bytes.extend_from_slice(b" CN=a");
        assert!(matches!(
            ControlPlaneEntry::decode(&bytes),
            Err(DecodeError::InvalidField {
                source: IdentityError::SurroundingWhitespace,
                ..
            })
        ));
        let mut bytes = vec![ENTRY_FORMAT_VERSION, TAG_REMOVE, 4, 0];
        bytes.extend_from_slice(b"CN\x00a");
        assert!(matches!(
            ControlPlaneEntry::decode(&bytes),
            Err(DecodeError::InvalidField { what: "member", .. })
        ));
    }

    #[test]
    fn a_huge_length_is_refused_before_allocating() {
        let bytes = vec![ENTRY_FORMAT_VERSION, TAG_REMOVE, 0xff, 0xff];
        assert!(matches!(
            ControlPlaneEntry::decode(&bytes),
            Err(DecodeError::LengthOverLimit { len: 65535, .. })
        ));
    }
}
