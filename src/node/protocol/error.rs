//! Why a request failed: [`ClientError`] on the member's side,
//! [`RemoteError`] and [`RemoteRefusal`] as the client receives them, and
//! their encoding.

use super::{get_hint, put_hint};
use crate::catalog::Refusal;
use crate::entry::codec::{Reader, Writer};
use crate::entry::{DecodeError, Index, NodeId, Term};
use crate::node::{LeaderHint, ProposeError};

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// The engine's answer to a proposal or read.
    #[error(transparent)]
    Propose(#[from] ProposeError),
    /// The client's identity may not do this.
    #[error("{identity} is not authorized to {action}")]
    Unauthorized {
        /// Who asked.
        identity: NodeId,
        /// What it asked to do.
        action: String,
    },
    /// The request could not be understood.
    #[error("bad request: {0}")]
    BadRequest(String),
}

/// A refusal as a remote client sees it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("refused ({name}): {text}")]
pub struct RemoteRefusal {
    /// [`Refusal::code`].
    pub code: u32,
    /// [`Refusal::name`].
    pub name: String,
    /// The refusal's text.
    pub text: String,
    /// The refusal itself, with its facts (the current owner and epoch, the
    /// member that still owns ranges, ...); `None` only where a client
    /// builds one itself.
    pub refusal: Option<Box<Refusal>>,
}

/// An error as a remote client receives it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoteError {
    /// Not the leader; go to `leader` if known.
    #[error("{}", ProposeError::NotLeader { leader: leader.clone() })]
    NotLeader {
        /// The leader the member knows of.
        leader: Option<LeaderHint>,
    },
    /// The leader could not reach a quorum.
    #[error("no quorum")]
    NoQuorum,
    /// The member's deadline passed; the entry may still commit.
    #[error("timed out after {0} ms")]
    Timeout(u64),
    /// The catalog refused the entry.
    #[error("{refusal}")]
    Refused {
        /// Why.
        refusal: RemoteRefusal,
        /// The log position when the refusal was computed at apply time.
        at: Option<(Index, Term)>,
    },
    /// The member is shutting down.
    #[error("the member is shut down")]
    Shutdown,
    /// The member's storage failed.
    #[error("storage failure: {0}")]
    Storage(String),
    /// The identity may not do this.
    #[error("unauthorized: {0}")]
    Unauthorized(String),
    /// The member did not understand the request.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Whether the proposal took effect is not known (see
    /// [`ProposeError::Indeterminate`]).
    #[error("outcome unknown: {0}")]
    Indeterminate(String),
    /// A leadership transfer did not happen (see
    /// [`ProposeError::NotTransferred`]).
    #[error("leadership did not move: {0}")]
    NotTransferred(String),
    /// The member had too many calls in flight; nothing was proposed (see
    /// [`ProposeError::Overloaded`]).
    #[error("overloaded: {0}")]
    Overloaded(String),
}

/// The longest error text on the wire, in bytes: a member cuts longer ones
/// (at a character boundary), a client refuses them.
const MAX_TEXT: usize = 4096;

fn put_refusal(w: &mut Writer, refusal: &Refusal) {
    // The refusal travels as its code, name and text (clients act on the
    // code and show the text), then whole (its facts), after the position.
    w.u32(refusal.code());
    w.str(refusal.name());
    w.str(clip(&refusal.to_string()));
}

pub(super) fn put_error(w: &mut Writer, e: &ClientError) {
    match e {
        ClientError::Propose(ProposeError::NotLeader { leader }) => {
            w.u8(1);
            put_hint(w, leader.as_ref());
        }
        ClientError::Propose(ProposeError::NoQuorum) => w.u8(2),
        ClientError::Propose(ProposeError::Timeout(d)) => {
            w.u8(3);
            w.u64(d.as_millis() as u64);
        }
        ClientError::Propose(ProposeError::Refused { refusal, at }) => {
            w.u8(4);
            put_refusal(w, refusal);
            match at {
                None => w.u8(0),
                Some((i, t)) => {
                    w.u8(1);
                    w.u64(i.0);
                    w.u64(t.0);
                }
            }
            // The refusal whole, with its facts.
            crate::catalog::put_refusal(w, refusal);
        }
        ClientError::Propose(ProposeError::Shutdown) => w.u8(5),
        ClientError::Propose(ProposeError::Storage(s)) => {
            w.u8(6);
            w.str(clip(s));
        }
        ClientError::Unauthorized { .. } => {
            w.u8(7);
            w.str(clip(&e.to_string()));
        }
        ClientError::BadRequest(s) => {
            w.u8(8);
            w.str(clip(s));
        }
        ClientError::Propose(ProposeError::Indeterminate(s)) => {
            w.u8(9);
            w.str(clip(s));
        }
        ClientError::Propose(ProposeError::NotTransferred(s)) => {
            w.u8(10);
            w.str(clip(s));
        }
        ClientError::Propose(ProposeError::Overloaded(s)) => {
            w.u8(11);
            w.str(clip(s));
        }
    }
}

fn clip(s: &str) -> &str {
    if s.len() <= MAX_TEXT {
        return s;
    }
    let cut = s
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|i| *i <= MAX_TEXT)
        .last()
        .unwrap_or(0);
    &s[..cut]
}

fn text(r: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    r.name(what, MAX_TEXT, |b| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| crate::identity::IdentityError::NotUtf8 { what })
    })
}

pub(super) fn get_error(r: &mut Reader<'_>) -> Result<RemoteError, DecodeError> {
    let offset = r.offset();
    Ok(match r.u8("error tag")? {
        1 => RemoteError::NotLeader {
            leader: get_hint(r)?,
        },
        2 => RemoteError::NoQuorum,
        3 => RemoteError::Timeout(r.u64("timeout")?),
        4 => {
            let mut refusal = RemoteRefusal {
                code: r.u32("refusal code")?,
                name: text(r, "refusal name")?,
                text: text(r, "refusal text")?,
                refusal: None,
            };
            let at = if r.bool("position flag")? {
                Some((Index(r.u64("index")?), Term(r.u64("term")?)))
            } else {
                None
            };
            let whole = crate::catalog::get_refusal(r)?;
            if whole.code() != refusal.code {
                return Err(DecodeError::UnknownTag {
                    what: "refusal whose code differs from its details'",
                    tag: 0,
                    offset,
                });
            }
            refusal.refusal = Some(Box::new(whole));
            RemoteError::Refused { refusal, at }
        }
        5 => RemoteError::Shutdown,
        6 => RemoteError::Storage(text(r, "storage error")?),
        7 => RemoteError::Unauthorized(text(r, "unauthorized")?),
        8 => RemoteError::BadRequest(text(r, "bad request")?),
        9 => RemoteError::Indeterminate(text(r, "outcome unknown")?),
        10 => RemoteError::NotTransferred(text(r, "transfer")?),
        11 => RemoteError::Overloaded(text(r, "overloaded")?),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "client error",
                tag,
                offset,
            })
        }
    })
}
