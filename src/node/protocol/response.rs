//! Member responses ([`Response`], [`StatusInfo`]) and their encoding.

use super::catalog_codec::{
    get_members, get_ownership, get_ranges, put_members, put_ownership, put_ranges,
};
use super::error::{get_error, put_error};
#[cfg(doc)]
use super::Request;
use super::{get_hint, put_hint, put_opt_str, ClientError, RemoteError, PROTOCOL_VERSION};
use crate::catalog::{AuditRecord, FenceStatus, Member, RangeOwnership};
use crate::entry::codec::{Reader, Writer};
use crate::entry::{
    CatalogVersion, DecodeError, Epoch, Index, MemberAddress, NodeId, RangeId, Term,
};
use crate::node::{Committed, LeaderHint};

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
    /// Every voter and learner with the identity and address the catalog
    /// gives its peer id, and, when the answering member leads, how far it
    /// has replicated.
    pub peers: Vec<PeerInfo>,
}

/// A voter or learner as a member's status sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its raft peer id.
    pub peer_id: u64,
    /// The member the catalog gives that peer id (`None`: not (yet) in the
    /// catalog this member applied).
    pub id: Option<NodeId>,
    /// Its address in the catalog.
    pub address: Option<MemberAddress>,
    /// A voter (else a learner).
    pub voter: bool,
    /// The highest index known replicated to it, and how far behind the
    /// leader's last index it is: only in the leader's answer, for the
    /// other members.
    pub progress: Option<(Index, u64)>,
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
    /// For [`Request::AuditPage`]: the page, and whether more follow
    /// (response tag 11).
    AuditPage(Vec<AuditRecord>, bool, Index),
    /// For [`Request::Propose`].
    Committed(Committed),
    /// For [`Request::TransferLeader`]: the request was passed to raft.
    Done,
    /// For [`Request::Metrics`]: the exposition text.
    Metrics(String),
    /// For [`Request::Watch`]: one batch of the stream (response tag 12;
    /// empty: a heartbeat).
    Watch(Vec<super::WatchWireItem>),
    /// For [`Request::Read`]: the answer (an `Owner`, `Fence` or `Members`
    /// answer, with the applied index it reflects) and the term of the
    /// entry at that index (response tag 13).
    Read {
        /// The term of the applied index the answer reflects.
        term: Term,
        /// The answer.
        answer: Box<Response>,
    },
    /// The request failed.
    Error(ClientError),
}

/// The bytes of an `Audit` or `AuditPage` answer besides its records:
/// version, tag, applied index, the more flag (pages only) and the count.
pub(crate) const AUDIT_ANSWER_OVERHEAD: usize = 1 + 1 + 8 + 1 + 8;

/// The length of `a`'s encoding in an audit answer.
pub(crate) fn audit_record_len(a: &AuditRecord) -> usize {
    8 + 8
        + 2
        + a.range.as_str().len()
        + 1
        + a.previous_owner
            .as_ref()
            .map_or(0, |p| 2 + p.as_str().len())
        + 8
        + 2
        + a.new_owner.as_str().len()
        + 8
        + 2
        + a.operator.as_str().len()
        + 2
        + a.reason.as_str().len()
}

fn put_audit(w: &mut Writer, records: &[AuditRecord]) {
    w.u64(records.len() as u64);
    for a in records {
        w.u64(a.index.0);
        w.u64(a.term.0);
        w.str(a.range.as_str());
        put_opt_str(w, a.previous_owner.as_ref().map(|o| o.as_str()));
        w.u64(a.previous_epoch.0);
        w.str(a.new_owner.as_str());
        w.u64(a.epoch.0);
        w.str(a.operator.as_str());
        w.str(a.reason.as_str());
    }
}

fn get_audit(r: &mut Reader<'_>) -> Result<Vec<AuditRecord>, DecodeError> {
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
    Ok(v)
}

/// Reads the peers of a status answer.
fn get_peers(r: &mut Reader<'_>) -> Result<Vec<PeerInfo>, DecodeError> {
    let n = r.count("peer count", 11)?;
    let mut peers = Vec::with_capacity(n);
    for _ in 0..n {
        let peer_id = r.u64("peer id")?;
        let id = if r.bool("peer identity flag")? {
            Some(r.node_id("peer identity")?)
        } else {
            None
        };
        let address = if r.bool("peer address flag")? {
            Some(r.address("peer address")?)
        } else {
            None
        };
        let voter = r.bool("voter")?;
        let progress = if r.bool("progress flag")? {
            Some((Index(r.u64("matched")?), r.u64("lag")?))
        } else {
            None
        };
        peers.push(PeerInfo {
            peer_id,
            id,
            address,
            voter,
            progress,
        });
    }
    Ok(peers)
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
                w.u64(s.peers.len() as u64);
                for p in &s.peers {
                    w.u64(p.peer_id);
                    put_opt_str(&mut w, p.id.as_ref().map(NodeId::as_str));
                    put_opt_str(&mut w, p.address.as_ref().map(MemberAddress::as_str));
                    w.u8(p.voter as u8);
                    match p.progress {
                        None => w.u8(0),
                        Some((matched, lag)) => {
                            w.u8(1);
                            w.u64(matched.0);
                            w.u64(lag);
                        }
                    }
                }
            }
            Response::Read { term, answer } => {
                w.u8(13);
                w.u64(term.0);
                let inner = answer.encode();
                w.u32(inner.len() as u32);
                w.bytes(&inner);
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
                put_members(&mut w, ms);
            }
            Response::Ranges(rs, more, at) => {
                w.u8(5);
                w.u64(at.0);
                w.u8(*more as u8);
                put_ranges(&mut w, rs);
            }
            Response::Audit(records, at) => {
                w.u8(6);
                w.u64(at.0);
                put_audit(&mut w, records);
            }
            Response::AuditPage(records, more, at) => {
                w.u8(11);
                w.u64(at.0);
                w.u8(*more as u8);
                put_audit(&mut w, records);
            }
            Response::Committed(c) => {
                w.u8(7);
                w.u64(c.index.0);
                w.u64(c.term.0);
                w.u64(c.version.0);
                w.u8(c.changed as u8);
            }
            Response::Done => w.u8(8),
            Response::Watch(items) => {
                w.u8(12);
                super::watch::put_items(&mut w, items);
            }
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
                peers: get_peers(&mut r)?,
            }),
            13 => {
                let term = Term(r.u64("term")?);
                let len_at = r.offset();
                let len = r.u32("read answer length")? as usize;
                let inner = r.take("read answer", len)?;
                match Response::decode(inner)? {
                    Ok(
                        answer
                        @ (Response::Owner(..) | Response::Fence(..) | Response::Members(..)),
                    ) => Response::Read {
                        term,
                        answer: Box::new(answer),
                    },
                    _ => {
                        return Err(DecodeError::UnknownTag {
                            what: "read answer",
                            tag: inner.get(1).copied().unwrap_or(0),
                            offset: len_at,
                        })
                    }
                }
            }
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
                Response::Members(get_members(&mut r)?, at)
            }
            5 => {
                let at = Index(r.u64("applied")?);
                let more = r.bool("more")?;
                Response::Ranges(get_ranges(&mut r)?, more, at)
            }
            6 => {
                let at = Index(r.u64("applied")?);
                Response::Audit(get_audit(&mut r)?, at)
            }
            11 => {
                let at = Index(r.u64("applied")?);
                let more = r.bool("more")?;
                Response::AuditPage(get_audit(&mut r)?, more, at)
            }
            7 => Response::Committed(Committed {
                index: Index(r.u64("index")?),
                term: Term(r.u64("term")?),
                version: CatalogVersion(r.u64("version")?),
                changed: r.bool("changed")?,
            }),
            8 => Response::Done,
            12 => Response::Watch(super::watch::get_items(&mut r)?),
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
