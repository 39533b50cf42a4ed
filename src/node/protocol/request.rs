//! Client requests ([`Request`]) and their encoding.

use super::{put_opt_str, ReadLevel, PROTOCOL_VERSION};
use crate::entry::codec::{Reader, Writer};
use crate::entry::{
    ClientId, ControlPlaneEntry, DecodeError, Epoch, Index, NodeId, ProposalSession, RangeId,
};

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
        /// At most this many (capped at [`MAX_PAGE`](super::MAX_PAGE)).
        limit: u32,
        /// Through the leader.
        linearizable: bool,
    },
    /// The forced transitions, all in one answer: answered only while they
    /// fit in one frame, else refused as a bad request naming `AuditPage`
    /// (kept for clients from before pages).
    Audit {
        /// Through the leader.
        linearizable: bool,
    },
    /// A page of the forced transitions, oldest first, after the record at
    /// log index `after` (request tag 11).
    AuditPage {
        /// Start after the record at this index (`None`: from the first).
        after: Option<Index>,
        /// At most this many (capped at
        /// [`MAX_AUDIT_PAGE`](super::MAX_AUDIT_PAGE)).
        limit: u32,
        /// Through the leader.
        linearizable: bool,
    },
    /// Propose a typed entry.
    Propose {
        /// The entry.
        entry: ControlPlaneEntry,
        /// The client session that makes retries exactly-once (request tag
        /// 10 on the wire; without one, tag 7 as before sessions).
        session: Option<ProposalSession>,
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
    /// Every committed entry from index `from` on, and the member's role
    /// changes, as a stream of [`Response::Watch`](super::Response::Watch)
    /// batches on this connection (request tag 13; see
    /// [`WatchWireItem`](super::WatchWireItem)).
    Watch {
        /// The first index wanted.
        from: Index,
    },
    /// One read at a [`ReadLevel`] (request tag 12), answered as the
    /// matching older request is ([`Response::Owner`](super::Response::Owner),
    /// `Fence`, `Members`), with the applied index the answer reflects.
    Read {
        /// What to read.
        query: ReadQuery,
        /// How fresh it must be.
        level: ReadLevel,
    },
}

/// What a [`Request::Read`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadQuery {
    /// The owner of one range.
    Owner {
        /// The range.
        range: RangeId,
    },
    /// Whether (owner, epoch) currently owns the range.
    FenceCheck {
        /// The range.
        range: RangeId,
        /// The claimed owner.
        owner: NodeId,
        /// The claimed epoch.
        epoch: Epoch,
    },
    /// The members.
    Members,
}

fn put_level(w: &mut Writer, level: ReadLevel) {
    match level {
        ReadLevel::Local => w.u8(0),
        ReadLevel::Linearizable => w.u8(1),
        ReadLevel::AtLeast(i) => {
            w.u8(2);
            w.u64(i.0);
        }
    }
}

fn get_level(r: &mut Reader<'_>) -> Result<ReadLevel, DecodeError> {
    let offset = r.offset();
    Ok(match r.u8("read level")? {
        0 => ReadLevel::Local,
        1 => ReadLevel::Linearizable,
        2 => ReadLevel::AtLeast(Index(r.u64("index")?)),
        tag => {
            return Err(DecodeError::UnknownTag {
                what: "read level",
                tag,
                offset,
            })
        }
    })
}

/// Writes an entry with its length (requests and watch batches carry them
/// so).
pub(super) fn put_entry(w: &mut Writer, e: &ControlPlaneEntry) {
    let bytes = e.encode();
    w.u32(bytes.len() as u32);
    w.bytes(&bytes);
}

/// Reads what [`put_entry`] wrote (at most 4096 bytes of entry).
pub(super) fn get_entry(r: &mut Reader<'_>) -> Result<ControlPlaneEntry, DecodeError> {
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
            Request::AuditPage {
                after,
                limit,
                linearizable,
            } => {
                w.u8(11);
                w.u8(*linearizable as u8);
                match after {
                    None => w.u8(0),
                    Some(i) => {
                        w.u8(1);
                        w.u64(i.0);
                    }
                }
                w.u32(*limit);
            }
            Request::Propose {
                entry,
                session: None,
                timeout_ms,
            } => {
                w.u8(7);
                w.u32(*timeout_ms);
                put_entry(&mut w, entry);
            }
            Request::Propose {
                entry,
                session: Some(s),
                timeout_ms,
            } => {
                w.u8(10);
                w.u32(*timeout_ms);
                w.u64(s.client.0 as u64);
                w.u64((s.client.0 >> 64) as u64);
                w.u64(s.seq);
                put_entry(&mut w, entry);
            }
            Request::TransferLeader { to } => {
                w.u8(8);
                w.str(to.as_str());
            }
            Request::Metrics => w.u8(9),
            Request::Watch { from } => {
                w.u8(13);
                w.u64(from.0);
            }
            Request::Read { query, level } => {
                w.u8(12);
                put_level(&mut w, *level);
                match query {
                    ReadQuery::Owner { range } => {
                        w.u8(1);
                        w.str(range.as_str());
                    }
                    ReadQuery::FenceCheck {
                        range,
                        owner,
                        epoch,
                    } => {
                        w.u8(2);
                        w.str(range.as_str());
                        w.str(owner.as_str());
                        w.u64(epoch.0);
                    }
                    ReadQuery::Members => w.u8(3),
                }
            }
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
            11 => {
                let linearizable = r.bool("linearizable")?;
                let after = if r.bool("after flag")? {
                    Some(Index(r.u64("after")?))
                } else {
                    None
                };
                Request::AuditPage {
                    linearizable,
                    after,
                    limit: r.u32("limit")?,
                }
            }
            7 => {
                let timeout_ms = r.u32("timeout")?;
                Request::Propose {
                    timeout_ms,
                    session: None,
                    entry: get_entry(&mut r)?,
                }
            }
            10 => {
                let timeout_ms = r.u32("timeout")?;
                let low = r.u64("client id")? as u128;
                let client = ClientId(((r.u64("client id")? as u128) << 64) | low);
                let seq = r.u64("sequence")?;
                Request::Propose {
                    timeout_ms,
                    session: Some(ProposalSession { client, seq }),
                    entry: get_entry(&mut r)?,
                }
            }
            8 => Request::TransferLeader {
                to: r.node_id("to")?,
            },
            9 => Request::Metrics,
            13 => Request::Watch {
                from: Index(r.u64("from")?),
            },
            12 => {
                let level = get_level(&mut r)?;
                let offset = r.offset();
                let query = match r.u8("read query")? {
                    1 => ReadQuery::Owner {
                        range: r.range_id("range")?,
                    },
                    2 => ReadQuery::FenceCheck {
                        range: r.range_id("range")?,
                        owner: r.node_id("owner")?,
                        epoch: Epoch(r.u64("epoch")?),
                    },
                    3 => ReadQuery::Members,
                    tag => {
                        return Err(DecodeError::UnknownTag {
                            what: "read query",
                            tag,
                            offset,
                        })
                    }
                };
                Request::Read { query, level }
            }
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
