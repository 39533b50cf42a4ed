//! The client protocol: what an operator, a script or the `synod` CLI asks a
//! member over the network, and what it answers.
//!
//! Requests and responses travel as the payloads of `ClientRequest` and
//! `ClientResponse` frames ([`crate::transport::wire`]); a connection carries
//! one request at a time. Both are versioned and decoded with the same
//! bounded, never-panicking readers as everything else. Proposals travel as
//! encoded [`ControlPlaneEntry`] values, so the closed entry set is the only
//! thing a client can ask to append.

use crate::catalog::{AuditRecord, FenceStatus, Member, MemberState, RangeOwnership, Refusal};
use crate::entry::codec::{Reader, Writer};
use crate::entry::{
    CatalogVersion, ControlPlaneEntry, DecodeError, Epoch, Index, NodeId, RangeId, Term,
};
use crate::node::{Committed, LeaderHint, ProposeError};

/// The protocol version this build speaks.
pub const PROTOCOL_VERSION: u8 = 1;
/// The most ranges one `Ranges` page returns.
pub const MAX_PAGE: u32 = 10_000;

/// What a client asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// The member's view of the cluster.
    Status,
    /// The owner of one range.
    Owner {
        /// The range.
        range: RangeId,
        /// Through the leader (ReadIndex) rather than this member's applied
        /// state.
        linearizable: bool,
    },
    /// Whether (owner, epoch) currently owns the range.
    FenceCheck {
        /// The range.
        range: RangeId,
        /// The claimed owner.
        owner: NodeId,
        /// The claimed epoch.
        epoch: Epoch,
        /// Through the leader.
        linearizable: bool,
    },
    /// The members.
    Members {
        /// Through the leader.
        linearizable: bool,
    },
    /// A page of owned ranges in range order, after `after`.
    Ranges {
        /// Start after this range (`None`: from the first).
        after: Option<RangeId>,
        /// At most this many (capped at [`MAX_PAGE`]).
        limit: u32,
        /// Through the leader.
        linearizable: bool,
    },
    /// The forced transitions.
    Audit {
        /// Through the leader.
        linearizable: bool,
    },
    /// Propose a typed entry.
    Propose {
        /// The entry.
        entry: ControlPlaneEntry,
        /// How long the member may wait for the commit, in milliseconds.
        timeout_ms: u32,
    },
    /// Ask the leader to hand leadership to `to`.
    TransferLeader {
        /// The member to lead.
        to: NodeId,
    },
    /// The member's metrics in the Prometheus text format.
    Metrics,
}

/// A member's view of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusInfo {
    /// The member answering.
    pub id: NodeId,
    /// Its raft peer id.
    pub peer_id: u64,
    /// `leader`, `follower`, `candidate` or `pre-candidate`.
    pub role: String,
    /// Its current term.
    pub term: Term,
    /// The leader it knows of.
    pub leader: Option<LeaderHint>,
    /// Its commit index.
    pub commit: Index,
    /// Its applied index.
    pub applied: Index,
    /// Its catalog version.
    pub version: CatalogVersion,
    /// Voters of its applied configuration (peer ids).
    pub voters: Vec<u64>,
    /// Learners of its applied configuration.
    pub learners: Vec<u64>,
}

/// What a member answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// For [`Request::Status`].
    Status(StatusInfo),
    /// For [`Request::Owner`]: the owner, and the applied index the answer
    /// reflects.
    Owner(Option<RangeOwnership>, Index),
    /// For [`Request::FenceCheck`].
    Fence(FenceStatus, Index),
    /// For [`Request::Members`].
    Members(Vec<Member>, Index),
    /// For [`Request::Ranges`]: the page, and whether more follow.
    Ranges(Vec<(RangeId, RangeOwnership)>, bool, Index),
    /// For [`Request::Audit`].
    Audit(Vec<AuditRecord>, Index),
    /// For [`Request::Propose`].
    Committed(Committed),
    /// For [`Request::TransferLeader`]: the request was passed to raft.
    Done,
    /// For [`Request::Metrics`]: the exposition text.
    Metrics(String),
    /// The request failed.
    Error(ClientError),
}

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

// ---- encoding ----------------------------------------------------------

fn put_opt_str(w: &mut Writer, s: Option<&str>) {
    match s {
        None => w.u8(0),
        Some(s) => {
            w.u8(1);
            w.str(s);
        }
    }
}

fn put_entry(w: &mut Writer, e: &ControlPlaneEntry) {
    let bytes = e.encode();
    w.u32(bytes.len() as u32);
    w.bytes(&bytes);
}

fn get_entry(r: &mut Reader<'_>) -> Result<ControlPlaneEntry, DecodeError> {
    let offset = r.offset();
    let len = r.u32("entry length")? as usize;
    if len > 4096 {
        return Err(DecodeError::LengthOverLimit {
            what: "entry",
            len,
            max: 4096,
            offset,
        });
    }
    ControlPlaneEntry::decode(r.take("entry", len)?)
}

impl Request {
    /// Encodes the request.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(64);
        w.u8(PROTOCOL_VERSION);
        match self {
            Request::Status => w.u8(1),
            Request::Owner {
                range,
                linearizable,
            } => {
                w.u8(2);
                w.u8(*linearizable as u8);
                w.str(range.as_str());
            }
            Request::FenceCheck {
                range,
                owner,
                epoch,
                linearizable,
            } => {
                w.u8(3);
                w.u8(*linearizable as u8);
                w.str(range.as_str());
                w.str(owner.as_str());
                w.u64(epoch.0);
            }
            Request::Members { linearizable } => {
                w.u8(4);
                w.u8(*linearizable as u8);
            }
            Request::Ranges {
                after,
                limit,
                linearizable,
            } => {
                w.u8(5);
                w.u8(*linearizable as u8);
                put_opt_str(&mut w, after.as_ref().map(|r| r.as_str()));
                w.u32(*limit);
            }
            Request::Audit { linearizable } => {
                w.u8(6);
                w.u8(*linearizable as u8);
            }
            Request::Propose { entry, timeout_ms } => {
                w.u8(7);
                w.u32(*timeout_ms);
                put_entry(&mut w, entry);
            }
            Request::TransferLeader { to } => {
                w.u8(8);
                w.str(to.as_str());
            }
            Request::Metrics => w.u8(9),
        }
        w.finish()
    }

    /// Decodes a request; arbitrary bytes give an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Request, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("protocol version", "client request", PROTOCOL_VERSION)?;
        let offset = r.offset();
        let req = match r.u8("request tag")? {
            1 => Request::Status,
            2 => {
                let linearizable = r.bool("linearizable")?;
                Request::Owner {
                    linearizable,
                    range: r.range_id("range")?,
                }
            }
            3 => {
                let linearizable = r.bool("linearizable")?;
                Request::FenceCheck {
                    linearizable,
                    range: r.range_id("range")?,
                    owner: r.node_id("owner")?,
                    epoch: Epoch(r.u64("epoch")?),
                }
            }
            4 => Request::Members {
                linearizable: r.bool("linearizable")?,
            },
            5 => {
                let linearizable = r.bool("linearizable")?;
                let after = if r.bool("after flag")? {
                    Some(r.range_id("after")?)
                } else {
                    None
                };
                Request::Ranges {
                    linearizable,
                    after,
                    limit: r.u32("limit")?,
                }
            }
            6 => Request::Audit {
                linearizable: r.bool("linearizable")?,
            },
            7 => {
                let timeout_ms = r.u32("timeout")?;
                Request::Propose {
                    timeout_ms,
                    entry: get_entry(&mut r)?,
                }
            }
            8 => Request::TransferLeader {
                to: r.node_id("to")?,
            },
            9 => Request::Metrics,
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "client request",
                    tag,
                    offset,
                })
            }
        };
        r.finish("client request")?;
        Ok(req)
    }
}

fn put_ownership(w: &mut Writer, o: &RangeOwnership) {
    w.str(o.owner.as_str());
    w.u64(o.epoch.0);
    w.u64(o.version.0);
    w.u64(o.term.0);
    w.u64(o.index.0);
}

fn get_ownership(r: &mut Reader<'_>) -> Result<RangeOwnership, DecodeError> {
    Ok(RangeOwnership {
        owner: r.node_id("owner")?,
        epoch: Epoch(r.u64("epoch")?),
        version: CatalogVersion(r.u64("version")?),
        term: Term(r.u64("term")?),
        index: Index(r.u64("index")?),
    })
}

fn put_hint(w: &mut Writer, h: Option<&LeaderHint>) {
    match h {
        None => w.u8(0),
        Some(h) => {
            w.u8(1);
            w.str(h.id.as_str());
            put_opt_str(w, h.address.as_ref().map(|a| a.as_str()));
        }
    }
}

fn get_hint(r: &mut Reader<'_>) -> Result<Option<LeaderHint>, DecodeError> {
    if !r.bool("leader flag")? {
        return Ok(None);
    }
    let id = r.node_id("leader")?;
    let address = if r.bool("address flag")? {
        Some(r.address("leader address")?)
    } else {
        None
    };
    Ok(Some(LeaderHint { id, address }))
}

fn put_refusal(w: &mut Writer, refusal: &Refusal) {
    // The refusal travels as its code, name and text: clients act on the
    // code and show the text.
    w.u32(refusal.code());
    w.str(refusal.name());
    let text = refusal.to_string();
    let cut = text
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|i| *i <= 4000)
        .last()
        .unwrap_or(0);
    w.str(if text.len() <= 4000 {
        &text
    } else {
        &text[..cut]
    });
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
}

impl Response {
    /// Encodes the response.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(128);
        w.u8(PROTOCOL_VERSION);
        match self {
            Response::Status(s) => {
                w.u8(1);
                w.str(s.id.as_str());
                w.u64(s.peer_id);
                w.str(&s.role);
                w.u64(s.term.0);
                put_hint(&mut w, s.leader.as_ref());
                w.u64(s.commit.0);
                w.u64(s.applied.0);
                w.u64(s.version.0);
                w.ids(&s.voters);
                w.ids(&s.learners);
            }
            Response::Owner(o, at) => {
                w.u8(2);
                w.u64(at.0);
                match o {
                    None => w.u8(0),
                    Some(o) => {
                        w.u8(1);
                        put_ownership(&mut w, o);
                    }
                }
            }
            Response::Fence(f, at) => {
                w.u8(3);
                w.u64(at.0);
                match f {
                    FenceStatus::Current => w.u8(0),
                    FenceStatus::Unknown => w.u8(2),
                    FenceStatus::Stale { owner, epoch } => {
                        w.u8(1);
                        w.str(owner.as_str());
                        w.u64(epoch.0);
                    }
                }
            }
            Response::Members(ms, at) => {
                w.u8(4);
                w.u64(at.0);
                w.u64(ms.len() as u64);
                for m in ms {
                    w.str(m.id.as_str());
                    w.kind(m.kind);
                    w.str(m.address.as_str());
                    w.u8(matches!(m.state, MemberState::Draining) as u8);
                    w.u64(m.peer_id);
                }
            }
            Response::Ranges(rs, more, at) => {
                w.u8(5);
                w.u64(at.0);
                w.u8(*more as u8);
                w.u64(rs.len() as u64);
                for (range, o) in rs {
                    w.str(range.as_str());
                    put_ownership(&mut w, o);
                }
            }
            Response::Audit(records, at) => {
                w.u8(6);
                w.u64(at.0);
                w.u64(records.len() as u64);
                for a in records {
                    w.u64(a.index.0);
                    w.u64(a.term.0);
                    w.str(a.range.as_str());
                    put_opt_str(&mut w, a.previous_owner.as_ref().map(|o| o.as_str()));
                    w.u64(a.previous_epoch.0);
                    w.str(a.new_owner.as_str());
                    w.u64(a.epoch.0);
                    w.str(a.operator.as_str());
                    w.str(a.reason.as_str());
                }
            }
            Response::Committed(c) => {
                w.u8(7);
                w.u64(c.index.0);
                w.u64(c.term.0);
                w.u64(c.version.0);
                w.u8(c.changed as u8);
            }
            Response::Done => w.u8(8),
            Response::Metrics(text) => {
                w.u8(10);
                w.u32(text.len() as u32);
                w.bytes(text.as_bytes());
            }
            Response::Error(e) => {
                w.u8(9);
                put_error(&mut w, e);
            }
        }
        w.finish()
    }

    /// Decodes a response; arbitrary bytes give an error, never a panic.
    pub fn decode(bytes: &[u8]) -> Result<Result<Response, RemoteError>, DecodeError> {
        let mut r = Reader::new(bytes);
        r.version("protocol version", "client response", PROTOCOL_VERSION)?;
        let offset = r.offset();
        let resp = match r.u8("response tag")? {
            1 => Response::Status(StatusInfo {
                id: r.node_id("id")?,
                peer_id: r.u64("peer id")?,
                role: r.name("role", 32, |b| {
                    std::str::from_utf8(b)
                        .map(str::to_owned)
                        .map_err(|_| crate::identity::IdentityError::NotUtf8 { what: "role" })
                })?,
                term: Term(r.u64("term")?),
                leader: get_hint(&mut r)?,
                commit: Index(r.u64("commit")?),
                applied: Index(r.u64("applied")?),
                version: CatalogVersion(r.u64("version")?),
                voters: r.ids("voters")?,
                learners: r.ids("learners")?,
            }),
            2 => {
                let at = Index(r.u64("applied")?);
                let o = if r.bool("owner flag")? {
                    Some(get_ownership(&mut r)?)
                } else {
                    None
                };
                Response::Owner(o, at)
            }
            3 => {
                let at = Index(r.u64("applied")?);
                let t_off = r.offset();
                let f = match r.u8("fence")? {
                    0 => FenceStatus::Current,
                    2 => FenceStatus::Unknown,
                    1 => FenceStatus::Stale {
                        owner: r.node_id("owner")?,
                        epoch: Epoch(r.u64("epoch")?),
                    },
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "fence",
                            tag,
                            offset: t_off,
                        })
                    }
                };
                Response::Fence(f, at)
            }
            4 => {
                let at = Index(r.u64("applied")?);
                let n = r.count("member count", 14)?;
                let mut ms = Vec::with_capacity(n);
                for _ in 0..n {
                    let id = r.node_id("member")?;
                    let kind = r.kind("kind")?;
                    let address = r.address("address")?;
                    let state = if r.bool("draining")? {
                        MemberState::Draining
                    } else {
                        MemberState::Active
                    };
                    ms.push(Member {
                        id,
                        kind,
                        address,
                        state,
                        peer_id: r.u64("peer id")?,
                    });
                }
                Response::Members(ms, at)
            }
            5 => {
                let at = Index(r.u64("applied")?);
                let more = r.bool("more")?;
                let n = r.count("range count", 38)?;
                let mut rs = Vec::with_capacity(n);
                for _ in 0..n {
                    let range = r.range_id("range")?;
                    rs.push((range, get_ownership(&mut r)?));
                }
                Response::Ranges(rs, more, at)
            }
            6 => {
                let at = Index(r.u64("applied")?);
                let n = r.count("audit count", 43)?;
                let mut v = Vec::with_capacity(n);
                for _ in 0..n {
                    let index = Index(r.u64("index")?);
                    let term = Term(r.u64("term")?);
                    let range = r.range_id("range")?;
                    let previous_owner = if r.bool("previous flag")? {
                        Some(r.node_id("previous owner")?)
                    } else {
                        None
                    };
                    v.push(AuditRecord {
                        index,
                        term,
                        range,
                        previous_owner,
                        previous_epoch: Epoch(r.u64("previous epoch")?),
                        new_owner: r.node_id("new owner")?,
                        epoch: Epoch(r.u64("epoch")?),
                        operator: r.node_id("operator")?,
                        reason: r.reason("reason")?,
                    });
                }
                Response::Audit(v, at)
            }
            7 => Response::Committed(Committed {
                index: Index(r.u64("index")?),
                term: Term(r.u64("term")?),
                version: CatalogVersion(r.u64("version")?),
                changed: r.bool("changed")?,
            }),
            8 => Response::Done,
            10 => {
                let len = r.u32("metrics length")? as usize;
                let bytes = r.take("metrics", len)?;
                Response::Metrics(String::from_utf8_lossy(bytes).into_owned())
            }
            9 => {
                let e = get_error(&mut r)?;
                r.finish("client response")?;
                return Ok(Err(e));
            }
            tag => {
                return Err(DecodeError::UnknownTag {
                    what: "client response",
                    tag,
                    offset,
                })
            }
        };
        r.finish("client response")?;
        Ok(Ok(resp))
    }
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
}

fn put_error(w: &mut Writer, e: &ClientError) {
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
    }
}

fn clip(s: &str) -> &str {
    if s.len() <= 4000 {
        return s;
    }
    let cut = s
        .char_indices()
        .map(|(i, _)| i)
        .take_while(|i| *i <= 4000)
        .last()
        .unwrap_or(0);
    &s[..cut]
}

fn text(r: &mut Reader<'_>, what: &'static str) -> Result<String, DecodeError> {
    r.name(what, 4096, |b| {
        std::str::from_utf8(b)
            .map(str::to_owned)
            .map_err(|_| crate::identity::IdentityError::NotUtf8 { what })
    })
}

fn get_error(r: &mut Reader<'_>) -> Result<RemoteError, DecodeError> {
    let offset = r.offset();
    Ok(match r.u8("error tag")? {
        1 => RemoteError::NotLeader {
            leader: get_hint(r)?,
        },
        2 => RemoteError::NoQuorum,
        3 => RemoteError::Timeout(r.u64("timeout")?),
        4 => {
            let refusal = RemoteRefusal {
                code: r.u32("refusal code")?,
                name: text(r, "refusal name")?,
                text: text(r, "refusal text")?,
            };
            let at = if r.bool("position flag")? {
                Some((Index(r.u64("index")?), Term(r.u64("term")?)))
            } else {
                None
            };
            RemoteError::Refused { refusal, at }
        }
        5 => RemoteError::Shutdown,
        6 => RemoteError::Storage(text(r, "storage error")?),
        7 => RemoteError::Unauthorized(text(r, "unauthorized")?),
        8 => RemoteError::BadRequest(text(r, "bad request")?),
        9 => RemoteError::Indeterminate(text(r, "outcome unknown")?),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "client error",
                tag,
                offset,
            })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::codec::tests::entry as any_entry;
    use crate::entry::MemberKind;
    use proptest::prelude::*;

    fn id(s: &str) -> NodeId {
        NodeId::from_certificate_subject(s).unwrap()
    }

    proptest! {
        #[test]
        fn proposals_round_trip(e in any_entry(), t in any::<u32>()) {
            let req = Request::Propose { entry: e, timeout_ms: t };
            prop_assert_eq!(Request::decode(&req.encode()).unwrap(), req);
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
}
