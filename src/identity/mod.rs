//! Identities: who a member is, and the names the control plane speaks about.
//!
//! A member's identity is its certificate subject, kept verbatim after
//! trimming surrounding white space (the seed's `from_certificate_subject`):
//! Synod never rewrites or canonicalises a subject, so the identity a peer
//! presents on a TLS connection and the identity written in the log compare
//! byte for byte. On top of the seed's rule (non-empty) this room adds the
//! limits a real system needs: a bounded length and no control characters, so
//! an identity can always be logged, printed and encoded without surprises.
//!
//! The same discipline applies to the other names that enter the log: range
//! ids and member addresses are opaque, non-empty, bounded strings without
//! control characters. Every constructor validates; there is no way to build
//! one of these types around an invalid string, so a decoded log entry is
//! valid by construction.
//!
//! `Ord` on [`NodeId`] is lexical byte order, which is the documented
//! tie-break order wherever two members must be ordered deterministically.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Why a string was refused as an identity or a name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentityError {
    /// The string is empty (or only white space, for identities).
    #[error("{what} is empty")]
    Empty {
        /// Which kind of name was being parsed.
        what: &'static str,
    },
    /// The string is longer than the limit for this kind of name.
    #[error("{what} is {len} bytes long; the limit is {max}")]
    TooLong {
        /// Which kind of name was being parsed.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// The string contains a control character.
    #[error("{what} contains a control character (U+{code:04X}) at byte {offset}")]
    ControlCharacter {
        /// Which kind of name was being parsed.
        what: &'static str,
        /// The code point of the offending character.
        code: u32,
        /// Its byte offset in the (trimmed) string.
        offset: usize,
    },
    /// A member kind other than `data` or `witness`.
    #[error("unknown member kind {value:?}; expected `data` or `witness`")]
    UnknownMemberKind {
        /// The refused text, truncated to 64 bytes.
        value: String,
    },
    /// An identity in encoded form has surrounding white space, which a
    /// parsed identity never has.
    #[error("identity has surrounding white space")]
    SurroundingWhitespace,
    /// The bytes are not UTF-8 (only reachable from byte-oriented callers).
    #[error("{what} is not valid UTF-8")]
    NotUtf8 {
        /// Which kind of name was being parsed.
        what: &'static str,
    },
}

/// Checks the rules shared by every name: non-empty, bounded, no control
/// characters. Returns the string unchanged when it passes.
fn validate(what: &'static str, s: &str, max: usize) -> Result<(), IdentityError> {
    if s.is_empty() {
        return Err(IdentityError::Empty { what });
    }
    if s.len() > max {
        return Err(IdentityError::TooLong {
            what,
            len: s.len(),
            max,
        });
    }
    if let Some((offset, c)) = s.char_indices().find(|(_, c)| c.is_control()) {
        return Err(IdentityError::ControlCharacter {
            what,
            code: c as u32,
            offset,
        });
    }
    Ok(())
}

macro_rules! bounded_name {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:expr) => {
        $(#[$doc])*
        ///
        /// Cheap to clone: the text is shared, not copied.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// The longest accepted value, in bytes.
            pub const MAX_LEN: usize = $max;

            /// The value as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Validates raw bytes (for example from a C caller or a decoder).
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
                let s = std::str::from_utf8(bytes)
                    .map_err(|_| IdentityError::NotUtf8 { what: $what })?;
                s.parse()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.pad(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdentityError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse()
            }
        }

        impl TryFrom<&str> for $name {
            type Error = IdentityError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                s.parse()
            }
        }
    };
}

bounded_name!(
    /// A member's identity: its certificate subject, trimmed and otherwise
    /// kept verbatim (for example `CN=node-a`).
    NodeId,
    "identity",
    1024
);

impl NodeId {
    /// Parses an identity from a certificate subject exactly as the seed
    /// does: surrounding white space is trimmed, the rest is kept verbatim.
    /// The trimmed subject must be non-empty, at most [`NodeId::MAX_LEN`]
    /// bytes and free of control characters.
    pub fn from_certificate_subject(subject: &str) -> Result<Self, IdentityError> {
        let trimmed = subject.trim();
        validate("identity", trimmed, Self::MAX_LEN)?;
        Ok(Self(Arc::from(trimmed)))
    }

    /// Validates an identity that must already be in its parsed form (as it
    /// is when read back from the log): surrounding white space is refused
    /// rather than trimmed.
    pub fn from_exact_bytes(bytes: &[u8]) -> Result<Self, IdentityError> {
        let id = Self::from_bytes(bytes)?;
        if id.0.len() != bytes.len() {
            return Err(IdentityError::SurroundingWhitespace);
        }
        Ok(id)
    }
}

impl FromStr for NodeId {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_certificate_subject(s)
    }
}

bounded_name!(
    /// An opaque shard/range name (for example `users:[0,1000)`). Synod does
    /// not interpret it; the host's catalog slice owns the encoding.
    RangeId,
    "range id",
    512
);

impl FromStr for RangeId {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        validate("range id", s, Self::MAX_LEN)?;
        Ok(Self(Arc::from(s)))
    }
}

bounded_name!(
    /// Where a member listens for peers, as `host:port`. Synod keeps it
    /// verbatim; the transport resolves it.
    MemberAddress,
    "member address",
    255
);

impl FromStr for MemberAddress {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        validate("member address", s, Self::MAX_LEN)?;
        Ok(Self(Arc::from(s)))
    }
}

bounded_name!(
    /// The operator's stated reason for a forced ownership transition. It is
    /// recorded in the audit list, so it must say something: white space
    /// alone is refused. It is bounded so it can never become a channel for
    /// user data.
    AuditReason,
    "audit reason",
    512
);

impl FromStr for AuditReason {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.trim().is_empty() {
            return Err(IdentityError::Empty {
                what: "audit reason",
            });
        }
        validate("audit reason", s, Self::MAX_LEN)?;
        Ok(Self(Arc::from(s)))
    }
}

/// What a member does in the cluster. A witness votes (so it counts toward
/// quorum) but never owns a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MemberKind {
    /// A member that votes and may own ranges.
    Data,
    /// A member that votes and never owns a range.
    Witness,
}

impl MemberKind {
    /// The stable lower-case name (`data`, `witness`).
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::Data => "data",
            MemberKind::Witness => "witness",
        }
    }
}

impl fmt::Display for MemberKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

impl FromStr for MemberKind {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "data" => Ok(MemberKind::Data),
            "witness" => Ok(MemberKind::Witness),
            _ => Err(IdentityError::UnknownMemberKind {
                value: s.chars().take(64).collect(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subject_is_trimmed_and_kept_verbatim() {
        let id = NodeId::from_certificate_subject("  CN=node-a, O=Synod \n").unwrap();
        assert_eq!(id.as_str(), "CN=node-a, O=Synod");
        assert_eq!(id.to_string(), "CN=node-a, O=Synod");
    }

    #[test]
    fn blank_subject_is_refused() {
        assert_eq!(
            NodeId::from_certificate_subject(" \t "),
            Err(IdentityError::Empty { what: "identity" })
        );
        assert!(NodeId::from_certificate_subject("").is_err());
    }

    #[test]
    fn overlong_subject_is_refused() {
        let long = "a".repeat(NodeId::MAX_LEN + 1);
        assert!(matches!(
            NodeId::from_certificate_subject(&long),
            Err(IdentityError::TooLong { len: 1025, .. })
        ));
        assert!(NodeId::from_certificate_subject(&"a".repeat(NodeId::MAX_LEN)).is_ok());
    }

    #[test]
    fn control_characters_are_refused() {
        let err = NodeId::from_certificate_subject("CN=a\u{0}b").unwrap_err();
        assert_eq!(
            err,
            IdentityError::ControlCharacter {
                what: "identity",
                code: 0,
                offset: 4
            }
        );
        assert!(NodeId::from_certificate_subject("CN=a\u{7f}").is_err());
        assert!(NodeId::from_certificate_subject("CN=a\u{9b}").is_err());
        // Inner newlines are control characters too (outer ones are trimmed).
        assert!(NodeId::from_certificate_subject("CN=a\nCN=b").is_err());
    }

    #[test]
    fn non_utf8_bytes_are_refused() {
        assert_eq!(
            NodeId::from_bytes(&[0x43, 0xff]),
            Err(IdentityError::NotUtf8 { what: "identity" })
        );
    }

    #[test]
    fn ordering_is_lexical() {
        let a = NodeId::from_certificate_subject("CN=a").unwrap();
        let b = NodeId::from_certificate_subject("CN=b").unwrap();
        let upper = NodeId::from_certificate_subject("CN=B").unwrap();
        assert!(a < b);
        assert!(upper < a, "byte order: 'B' sorts before 'a'");
    }

    #[test]
    fn range_ids_are_opaque_but_bounded() {
        assert_eq!(
            "users:[0,1000)".parse::<RangeId>().unwrap().as_str(),
            "users:[0,1000)"
        );
        // Range ids are not trimmed: they are opaque.
        assert_eq!(" r ".parse::<RangeId>().unwrap().as_str(), " r ");
        assert!("".parse::<RangeId>().is_err());
        assert!("r\u{1b}".parse::<RangeId>().is_err());
        assert!("r".repeat(513).parse::<RangeId>().is_err());
    }

    #[test]
    fn audit_reason_must_say_something() {
        assert!("   ".parse::<AuditReason>().is_err());
        assert!("".parse::<AuditReason>().is_err());
        assert!("owner lost its disk".parse::<AuditReason>().is_ok());
        assert!("x".repeat(513).parse::<AuditReason>().is_err());
    }

    #[test]
    fn member_kind_round_trips() {
        for k in [MemberKind::Data, MemberKind::Witness] {
            assert_eq!(k.as_str().parse::<MemberKind>().unwrap(), k);
        }
        assert!("voter".parse::<MemberKind>().is_err());
    }
}
