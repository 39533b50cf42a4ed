//! Serving clients: authorization, then the request against the local
//! [`Node`].
//!
//! Identities are certificate subjects, for members and clients alike. The
//! policy names who may **read** (status, catalog queries), who may
//! **propose** ownership transitions, and who holds the **operator**
//! capability (forced transitions, membership changes, leadership
//! transfers). Each level includes the ones below it. Members of the
//! cluster may read, so a joining member can learn its peer id. Everything
//! else is refused with [`ClientError::Unauthorized`], and logged.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use super::protocol::{
    audit_record_len, range_len, ClientError, PeerInfo, ReadQuery, Request, Response, StatusInfo,
    WatchWireItem, AUDIT_ANSWER_OVERHEAD, MAX_AUDIT_PAGE, MAX_PAGE, MAX_WATCH_BATCH,
    SNAPSHOT_PART_BYTES,
};
use super::watch::{Watch, WatchError, WatchItem};
use super::ReadLevel;
use super::{Node, ProposeError};
use crate::catalog::{AuditLog, AuditRecord, CatalogView};
use crate::entry::{ControlPlaneEntry, ForcedOwnershipTransition, Index, NodeId, RangeId};
use crate::transport::wire::MAX_FRAME_PAYLOAD;

/// What a request needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Capability {
    /// Status and catalog reads.
    Read,
    /// Ordinary ownership transitions.
    Propose,
    /// Forced transitions, membership changes, leadership transfers.
    Operate,
}

impl Capability {
    fn verb(self) -> &'static str {
        match self {
            Capability::Read => "read",
            Capability::Propose => "propose ownership transitions",
            Capability::Operate => "use the operator capability",
        }
    }
}

/// Who may do what.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Authorization {
    /// May read.
    pub readers: BTreeSet<NodeId>,
    /// May read and propose ownership transitions.
    pub proposers: BTreeSet<NodeId>,
    /// May do everything.
    pub operators: BTreeSet<NodeId>,
}

impl Authorization {
    /// Whether `who` may use `cap`; `is_member` grants reading.
    pub fn allows(&self, who: &NodeId, cap: Capability, is_member: bool) -> bool {
        let level = if self.operators.contains(who) {
            Some(Capability::Operate)
        } else if self.proposers.contains(who) {
            Some(Capability::Propose)
        } else if self.readers.contains(who) || is_member {
            Some(Capability::Read)
        } else {
            None
        };
        level.is_some_and(|l| l >= cap)
    }
}

/// What proposing `entry` needs.
pub fn capability_for(entry: &ControlPlaneEntry) -> Capability {
    match entry {
        ControlPlaneEntry::OwnershipTransition(_) => Capability::Propose,
        ControlPlaneEntry::ForcedOwnershipTransition(_)
        | ControlPlaneEntry::Membership(_)
        | ControlPlaneEntry::LeaderConfiguration { .. } => Capability::Operate,
    }
}

/// Answers client requests for one member.
#[derive(Debug, Clone)]
pub struct ClientService {
    node: Arc<Node>,
    policy: Arc<Authorization>,
    /// The longest a read may wait for the leader.
    read_timeout: Duration,
    /// About the most bytes of ranges in one watch snapshot part
    /// ([`SNAPSHOT_PART_BYTES`]; smaller in tests).
    snapshot_part_bytes: usize,
}

impl ClientService {
    /// A service for `node` under `policy`.
    pub fn new(node: Arc<Node>, policy: Authorization) -> Self {
        Self {
            node,
            policy: Arc::new(policy),
            read_timeout: Duration::from_secs(5),
            snapshot_part_bytes: SNAPSHOT_PART_BYTES,
        }
    }

    /// A streaming request's responses: `Some` for a watch (an authorized
    /// one streams events; a refused one streams its one error), `None` for
    /// every other request.
    pub fn stream_bytes(
        &self,
        client: &NodeId,
        request: &[u8],
    ) -> Option<Box<dyn crate::transport::tcp::ResponseStream>> {
        let Ok(Request::Watch { from }) = Request::decode(request) else {
            return None;
        };
        let started = self
            .authorize(client, Capability::Read)
            .and_then(|()| self.node.watch(from).map_err(ClientError::from));
        Some(match started {
            Ok(watch) => Box::new(WatchStream {
                watch,
                ended: false,
                queue: std::collections::VecDeque::new(),
                snapshot: None,
                part_bytes: self.snapshot_part_bytes,
            }),
            Err(e) => Box::new(FailedStream(Some(e))),
        })
    }

    /// Handles one encoded request from the authenticated `client` and
    /// returns the encoded response.
    pub fn handle_bytes(&self, client: &NodeId, request: &[u8]) -> Vec<u8> {
        let response = match Request::decode(request) {
            Ok(req) => self.handle(client, req),
            Err(e) => Response::Error(ClientError::BadRequest(e.to_string())),
        };
        response.encode()
    }

    /// Whether answering `request` may wait: proposals, leadership
    /// transfers and reads above the local level (a read index, an index
    /// not applied yet). Everything else is answered from the published
    /// catalog at once.
    pub fn may_block_bytes(&self, request: &[u8]) -> bool {
        match Request::decode(request) {
            Err(_) => false,
            Ok(req) => match req {
                Request::Status | Request::Metrics | Request::Watch { .. } => false,
                Request::Owner { linearizable, .. }
                | Request::FenceCheck { linearizable, .. }
                | Request::Members { linearizable }
                | Request::Ranges { linearizable, .. }
                | Request::Audit { linearizable }
                | Request::AuditPage { linearizable, .. } => linearizable,
                Request::Read { level, .. } => level != ReadLevel::Local,
                Request::Propose { .. } | Request::TransferLeader { .. } => true,
            },
        }
    }

    fn is_member(&self, who: &NodeId) -> bool {
        self.node.view().is_ok_and(|v| v.member(who).is_some())
    }

    fn authorize(&self, who: &NodeId, cap: Capability) -> Result<(), ClientError> {
        let member = cap == Capability::Read && self.is_member(who);
        if self.policy.allows(who, cap, member) {
            Ok(())
        } else {
            tracing::warn!(identity = %who, "refused: not authorized to {}", cap.verb());
            Err(ClientError::Unauthorized {
                identity: who.clone(),
                action: cap.verb().into(),
            })
        }
    }

    /// Handles one request from the authenticated `client`.
    pub fn handle(&self, client: &NodeId, req: Request) -> Response {
        match self.serve(client, req) {
            Ok(r) => r,
            Err(e) => Response::Error(e),
        }
    }

    /// The catalog at `level`, waiting at most the read timeout.
    fn view(&self, level: ReadLevel) -> Result<Arc<CatalogView>, ClientError> {
        self.node
            .read_view(level, self.read_timeout)
            .map_err(ClientError::from)
    }

    fn serve(&self, client: &NodeId, req: Request) -> Result<Response, ClientError> {
        let cap = match &req {
            Request::Propose { entry, .. } => capability_for(entry),
            Request::TransferLeader { .. } => Capability::Operate,
            _ => Capability::Read,
        };
        self.authorize(client, cap)?;
        Ok(match req {
            Request::Status => {
                let st = self.node.status();
                let view = self.view(ReadLevel::Local)?;
                let version = view.version();
                let followers = self.node.metrics().followers();
                let peers = st
                    .voters
                    .iter()
                    .map(|p| (*p, true))
                    .chain(st.learners.iter().map(|p| (*p, false)))
                    .map(|(peer_id, voter)| {
                        let member = view.members().find(|m| m.peer_id == peer_id);
                        PeerInfo {
                            peer_id,
                            id: member.map(|m| m.id.clone()),
                            address: member.map(|m| m.address.clone()),
                            voter,
                            progress: followers.get(&peer_id).map(|f| (Index(f.matched), f.lag)),
                        }
                    })
                    .collect();
                Response::Status(StatusInfo {
                    id: st.id,
                    peer_id: st.peer_id,
                    role: role_name(st.role).into(),
                    term: st.term,
                    leader: st.leader,
                    commit: st.commit,
                    applied: st.applied,
                    version,
                    voters: st.voters,
                    learners: st.learners,
                    peers,
                })
            }
            Request::Owner {
                range,
                linearizable,
            } => read_query(
                &*self.view(level(linearizable))?,
                ReadQuery::Owner { range },
            ),
            Request::FenceCheck {
                range,
                owner,
                epoch,
                linearizable,
            } => read_query(
                &*self.view(level(linearizable))?,
                ReadQuery::FenceCheck {
                    range,
                    owner,
                    epoch,
                },
            ),
            Request::Members { linearizable } => {
                read_query(&*self.view(level(linearizable))?, ReadQuery::Members)
            }
            Request::Read { query, level } => {
                let view = self.view(level)?;
                Response::Read {
                    term: view.applied().1,
                    answer: Box::new(read_query(&view, query)),
                }
            }
            Request::Watch { .. } => {
                return Err(ClientError::BadRequest(
                    "a watch streams its answers: send it on a connection of its own to a \
                     member's listener"
                        .into(),
                ))
            }
            Request::Ranges {
                after,
                limit,
                linearizable,
            } => {
                let limit = limit.clamp(1, MAX_PAGE) as usize;
                let v = self.view(level(linearizable))?;
                let mut it = v
                    .ranges_after(after.as_ref())
                    .map(|(r, o)| (r.clone(), o.clone()));
                let page: Vec<_> = it.by_ref().take(limit).collect();
                let more = it.next().is_some();
                Response::Ranges(page, more, v.applied().0)
            }
            Request::Audit { linearizable } => {
                let v = self.view(level(linearizable))?;
                Response::Audit(whole_audit(v.audit_log())?, v.applied().0)
            }
            Request::AuditPage {
                after,
                limit,
                linearizable,
            } => {
                let v = self.view(level(linearizable))?;
                let (page, more) = audit_page(v.audit_log(), after, limit);
                Response::AuditPage(page, more, v.applied().0)
            }
            Request::Propose {
                entry,
                session,
                timeout_ms,
            } => {
                let entry = attributed(entry, client);
                let timeout = Duration::from_millis(u64::from(timeout_ms.clamp(1, 60_000)));
                use crate::node::ControlPlaneConsensus;
                let proposal = crate::entry::Proposal { session, entry };
                Response::Committed(self.node.submit(proposal, timeout)?)
            }
            Request::TransferLeader { to } => {
                self.node.transfer_leadership(&to)?;
                Response::Done
            }
            Request::Metrics => Response::Metrics(self.node.metrics_text()),
        })
    }
}

/// A watch on the wire: batches of what the member's [`Watch`] yields, an
/// empty batch as a heartbeat, then the error that ended it. A connection
/// that writes slower than the member applies falls behind in the member's
/// history, and past it gets a `Compacted` item and the catalog in
/// snapshot parts: never a silent gap.
struct WatchStream {
    watch: Watch,
    ended: bool,
    /// Items taken from the watch and not sent yet (those after a
    /// snapshot wait for its last part).
    queue: std::collections::VecDeque<WatchItem>,
    /// A snapshot being sent: the catalog, and the last range sent.
    snapshot: Option<(Arc<CatalogView>, Option<RangeId>)>,
    /// About the most bytes of ranges in one part.
    part_bytes: usize,
}

impl WatchStream {
    /// The next part of the snapshot being sent.
    fn snapshot_part(&mut self) -> Option<WatchWireItem> {
        let (view, after) = self.snapshot.take()?;
        let members = if after.is_none() {
            view.members().cloned().collect()
        } else {
            Vec::new()
        };
        let mut ranges = Vec::new();
        let mut bytes = 0;
        let mut last = true;
        {
            let mut it = view.ranges_after(after.as_ref());
            for (range, o) in it.by_ref() {
                ranges.push((range.clone(), o.clone()));
                bytes += range_len(range, o);
                if bytes >= self.part_bytes {
                    // Exactly at the bound with nothing after: the last part.
                    last = it.next().is_none();
                    break;
                }
            }
        }
        let at = view.applied().0;
        if !last {
            let resume = ranges.last().map(|(r, _)| r.clone());
            self.snapshot = Some((view, resume));
        }
        Some(WatchWireItem::SnapshotPart {
            at,
            members,
            ranges,
            last,
        })
    }

    /// The next batch from the queue: the items up to a snapshot, and the
    /// snapshot's `Compacted` (its parts follow, one per batch).
    fn batch_from_queue(&mut self) -> Vec<WatchWireItem> {
        let mut out = Vec::new();
        while out.len() < MAX_WATCH_BATCH {
            match self.queue.pop_front() {
                None => break,
                Some(WatchItem::Snapshot(view)) => {
                    out.push(WatchWireItem::Compacted {
                        at: view.applied().0,
                    });
                    self.snapshot = Some((view, None));
                    break;
                }
                Some(item) => out.push(wire_item(item)),
            }
        }
        out
    }
}

/// A stream that yields one error, then ends.
struct FailedStream(Option<ClientError>);

impl crate::transport::tcp::ResponseStream for FailedStream {
    fn poll_next(&mut self, _cx: &mut Context<'_>) -> Poll<Option<Vec<u8>>> {
        Poll::Ready(self.0.take().map(|e| Response::Error(e).encode()))
    }

    fn heartbeat(&mut self) -> Option<Vec<u8>> {
        None
    }
}

fn wire_item(item: WatchItem) -> WatchWireItem {
    match item {
        WatchItem::Event(e) => WatchWireItem::Event {
            index: e.index,
            term: e.term,
            entry: e.entry.clone(),
            outcome: e.outcome.clone(),
        },
        // Taken apart into parts by the stream before it gets here.
        WatchItem::Snapshot(v) => WatchWireItem::Compacted { at: v.applied().0 },
        WatchItem::Role { role, term, leader } => WatchWireItem::Role { role, term, leader },
    }
}

impl crate::transport::tcp::ResponseStream for WatchStream {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<Vec<u8>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        loop {
            if let Some(part) = self.snapshot_part() {
                return Poll::Ready(Some(Response::Watch(vec![part]).encode()));
            }
            if !self.queue.is_empty() {
                let batch = self.batch_from_queue();
                return Poll::Ready(Some(Response::Watch(batch).encode()));
            }
            match self.watch.poll_batch(MAX_WATCH_BATCH, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(items)) => self.queue.extend(items),
                Poll::Ready(Err(WatchError::Timeout(_))) => {
                    return Poll::Ready(Some(Response::Watch(Vec::new()).encode()))
                }
                Poll::Ready(Err(WatchError::Stopped(e))) => {
                    self.ended = true;
                    return Poll::Ready(Some(Response::Error(ClientError::from(e)).encode()));
                }
            }
        }
    }

    /// Nothing new for a while: an empty batch says the stream is alive.
    fn heartbeat(&mut self) -> Option<Vec<u8>> {
        (!self.ended).then(|| Response::Watch(Vec::new()).encode())
    }
}

/// The read level of the older requests' `linearizable` flag.
fn level(linearizable: bool) -> ReadLevel {
    if linearizable {
        ReadLevel::Linearizable
    } else {
        ReadLevel::Local
    }
}

/// Answers `query` from `view`, with the index it reflects.
fn read_query(view: &CatalogView, query: ReadQuery) -> Response {
    let at = view.applied().0;
    match query {
        ReadQuery::Owner { range } => Response::Owner(view.owner(&range).cloned(), at),
        ReadQuery::FenceCheck {
            range,
            owner,
            epoch,
        } => Response::Fence(view.fence_check(&range, &owner, epoch), at),
        ReadQuery::Members => Response::Members(view.members().cloned().collect(), at),
    }
}

/// The whole audit list for the one-answer `Audit` request, while its
/// answer fits in one frame; past that a bad request that names the paged
/// request (a member never writes an answer its client cannot read).
fn whole_audit(log: &AuditLog) -> Result<Vec<AuditRecord>, ClientError> {
    let budget = MAX_FRAME_PAYLOAD - AUDIT_ANSWER_OVERHEAD;
    let mut len = 0usize;
    for a in log {
        len += audit_record_len(a);
        if len > budget {
            return Err(ClientError::BadRequest(format!(
                "the audit list ({} records) is too large for one answer; \
                 ask for it page by page (AuditPage, as synod's clients do)",
                log.len()
            )));
        }
    }
    Ok(log.iter().cloned().collect())
}

/// The audit records after the one at index `after` (the list is in index
/// order), at most `limit` of them (capped at [`MAX_AUDIT_PAGE`]), and
/// whether more follow.
fn audit_page(log: &AuditLog, after: Option<Index>, limit: u32) -> (Vec<AuditRecord>, bool) {
    let limit = limit.clamp(1, MAX_AUDIT_PAGE) as usize;
    // The list is in index order: find the first record after `after`.
    let start = after.map_or(0, |after| {
        let (mut lo, mut hi) = (0, log.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if log[mid].index <= after {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    });
    let rest = log.len().saturating_sub(start);
    let page: Vec<AuditRecord> = log.iter().skip(start).take(limit).cloned().collect();
    let more = rest > page.len();
    (page, more)
}

/// A forced transition's audit record names the identity that
/// authenticated the proposal, whatever operator the request wrote: the
/// free-text reason is the client's, the name is not.
fn attributed(entry: ControlPlaneEntry, client: &NodeId) -> ControlPlaneEntry {
    match entry {
        ControlPlaneEntry::ForcedOwnershipTransition(t) => {
            ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
                operator: client.clone(),
                ..t
            })
        }
        other => other,
    }
}

/// The stable lower-case name of a raft role.
pub fn role_name(role: raft::StateRole) -> &'static str {
    match role {
        raft::StateRole::Leader => "leader",
        raft::StateRole::Follower => "follower",
        raft::StateRole::Candidate => "candidate",
        raft::StateRole::PreCandidate => "pre-candidate",
    }
}

impl From<ProposeError> for Response {
    fn from(e: ProposeError) -> Self {
        Response::Error(ClientError::Propose(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> NodeId {
        NodeId::from_certificate_subject(s).unwrap()
    }

    #[test]
    fn capabilities_nest() {
        let mut p = Authorization::default();
        p.readers.insert(id("CN=r"));
        p.proposers.insert(id("CN=p"));
        p.operators.insert(id("CN=o"));
        for (who, read, propose, operate) in [
            ("CN=r", true, false, false),
            ("CN=p", true, true, false),
            ("CN=o", true, true, true),
            ("CN=x", false, false, false),
        ] {
            let who = id(who);
            assert_eq!(p.allows(&who, Capability::Read, false), read, "{who}");
            assert_eq!(p.allows(&who, Capability::Propose, false), propose, "{who}");
            assert_eq!(p.allows(&who, Capability::Operate, false), operate, "{who}");
        }
        // Membership grants reading only.
        assert!(p.allows(&id("CN=x"), Capability::Read, true));
        assert!(!p.allows(&id("CN=x"), Capability::Propose, true));
    }

    #[test]
    fn entries_need_the_right_capability() {
        use crate::entry::*;
        let t = ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range: "r".parse().unwrap(),
            new_owner: id("CN=a"),
            epoch: Epoch(1),
        });
        assert_eq!(capability_for(&t), Capability::Propose);
        let m = ControlPlaneEntry::Membership(MembershipChange::Remove { member: id("CN=a") });
        assert_eq!(capability_for(&m), Capability::Operate);
    }

    fn forced(range: &str, owner: &str) -> ControlPlaneEntry {
        ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
            range: range.parse().unwrap(),
            new_owner: id(owner),
            operator: id("CN=whoever"),
            reason: "drill".parse().unwrap(),
        })
    }

    /// A single-member cluster on a simulated disk, served to `CN=ops`
    /// (operator) and `CN=reader`.
    fn solo() -> ClientService {
        use crate::catalog::InitialMember;
        use crate::entry::MemberKind;
        use crate::storage::{sim::SimDisk, DurableStore, StoreOptions};
        use crate::transport::memory::MemoryNetwork;
        let dir = std::path::Path::new("/sim/solo");
        let disk = Arc::new(SimDisk::new());
        let initial = [InitialMember {
            id: id("CN=solo"),
            kind: MemberKind::Data,
            address: "mem:0".parse().unwrap(),
        }];
        DurableStore::bootstrap(disk.clone(), dir, StoreOptions::default(), &initial).unwrap();
        let (store, _) = DurableStore::open(disk, dir, StoreOptions::default()).unwrap();
        let mut opts = crate::node::NodeOptions::new(id("CN=solo"));
        opts.engine.tick_interval = Duration::from_millis(5);
        let net = MemoryNetwork::new();
        let node = Node::start(opts, store, move |inbox| net.join(1, inbox)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !crate::node::ControlPlaneConsensus::is_leader(&node) {
            assert!(std::time::Instant::now() < deadline, "no leader");
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut policy = Authorization::default();
        policy.operators.insert(id("CN=ops"));
        policy.readers.insert(id("CN=reader"));
        ClientService::new(Arc::new(node), policy)
    }

    /// Sends `req` as `who` through the encoded path, as the transport does.
    fn ask(s: &ClientService, who: &str, req: &Request) -> Response {
        match Response::decode(&s.handle_bytes(&id(who), &req.encode())) {
            Ok(Ok(r)) => r,
            other => panic!("{req:?}: {other:?}"),
        }
    }

    #[test]
    fn the_audit_list_comes_in_pages_after_an_index() {
        let s = solo();
        for i in 0..12 {
            let req = Request::Propose {
                entry: forced(&format!("r{}", i % 5), "CN=solo"),
                session: None,
                timeout_ms: 5_000,
            };
            assert!(matches!(ask(&s, "CN=ops", &req), Response::Committed(_)));
        }
        let Response::Audit(all, _) = ask(&s, "CN=reader", &Request::Audit { linearizable: true })
        else {
            panic!("not an audit answer");
        };
        assert_eq!(all.len(), 12);
        let mut after = None;
        let mut pages = Vec::new();
        loop {
            let req = Request::AuditPage {
                after,
                limit: 5,
                linearizable: false,
            };
            let Response::AuditPage(page, more, at) = ask(&s, "CN=reader", &req) else {
                panic!("not an audit page");
            };
            assert!(at >= page.last().map_or(Index(0), |a| a.index));
            after = page.last().map(|a| a.index);
            pages.push(page);
            if !more {
                break;
            }
        }
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [5, 5, 2]);
        assert_eq!(pages.concat(), all);
        // After the last record: nothing, and no more.
        let req = Request::AuditPage {
            after: Some(all[11].index),
            limit: 5,
            linearizable: true,
        };
        let Response::AuditPage(page, more, _) = ask(&s, "CN=reader", &req) else {
            panic!("not an audit page");
        };
        assert!(page.is_empty() && !more);
        // A limit of 0 still moves on (one record); after an index between
        // records starts at the next one.
        let req = Request::AuditPage {
            after: Some(Index(all[3].index.0 - 1)),
            limit: 0,
            linearizable: false,
        };
        let Response::AuditPage(page, true, _) = ask(&s, "CN=reader", &req) else {
            panic!("not an audit page with more");
        };
        assert_eq!(page, all[3..4]);
    }

    #[test]
    fn a_page_is_capped_and_the_whole_list_only_while_it_fits_in_a_frame() {
        use crate::entry::{AuditReason, Epoch, RangeId, Term};
        let pad = |prefix: &str, len: usize| {
            let mut s = prefix.to_string();
            while s.len() < len {
                s.push('x');
            }
            s
        };
        let longest = |i: u64| AuditRecord {
            index: Index(i),
            term: Term(1),
            range: pad("r", RangeId::MAX_LEN).parse().unwrap(),
            previous_owner: Some(id(&pad("CN=p", NodeId::MAX_LEN))),
            previous_epoch: Epoch(i),
            new_owner: id(&pad("CN=n", NodeId::MAX_LEN)),
            epoch: Epoch(i + 1),
            operator: id(&pad("CN=o", NodeId::MAX_LEN)),
            reason: pad("why", AuditReason::MAX_LEN).parse().unwrap(),
        };
        let per = audit_record_len(&longest(1));
        let fits = (MAX_FRAME_PAYLOAD - AUDIT_ANSWER_OVERHEAD) / per;
        let mut log: AuditLog = (1..=fits as u64).map(longest).collect();
        // The largest list that fits is answered whole, and its answer fits.
        let whole = whole_audit(&log).unwrap();
        let len = Response::Audit(whole, Index(1)).encode().len();
        assert!(len <= MAX_FRAME_PAYLOAD, "{len}");
        // One more record and the member says to page, rather than write an
        // answer no client can read.
        log.push_back(longest(fits as u64 + 1));
        match whole_audit(&log) {
            Err(ClientError::BadRequest(text)) => assert!(text.contains("AuditPage"), "{text}"),
            other => panic!("{:?}", other.map(|v| v.len())),
        }
        // A page never exceeds MAX_AUDIT_PAGE, whatever the client asks.
        let (page, more) = audit_page(&log, None, u32::MAX);
        assert_eq!((page.len(), more), (MAX_AUDIT_PAGE as usize, true));
        let (page, more) = audit_page(&log, Some(log[log.len() - 2].index), u32::MAX);
        assert_eq!((page.len(), more), (1, false));
    }

    /// A watch from before the member's history gets `Compacted` and the
    /// whole catalog as of that index in parts (members in the first, every
    /// range once, in order, the last part marked), then the events after
    /// it. Before, the wire said only "compacted" and the client had to
    /// read the catalog itself, at some other index.
    #[test]
    fn a_watch_from_before_the_history_gets_the_catalog_in_parts_then_events() {
        let mut s = solo();
        s.snapshot_part_bytes = 200;
        for i in 0..30 {
            let req = Request::Propose {
                entry: forced(&format!("r{i:02}"), "CN=solo"),
                session: None,
                timeout_ms: 5_000,
            };
            assert!(matches!(ask(&s, "CN=ops", &req), Response::Committed(_)));
        }
        let mut stream = s
            .stream_bytes(
                &id("CN=reader"),
                &Request::Watch { from: Index(0) }.encode(),
            )
            .expect("a watch streams");
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut items = Vec::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let mut proposed_after = false;
        let mut later_event = None;
        while later_event.is_none() {
            assert!(std::time::Instant::now() < deadline, "{items:?}");
            let Poll::Ready(Some(bytes)) = stream.poll_next(&mut cx) else {
                if !proposed_after
                    && items
                        .iter()
                        .any(|i| matches!(i, WatchWireItem::SnapshotPart { last: true, .. }))
                {
                    proposed_after = true;
                    let req = Request::Propose {
                        entry: forced("after", "CN=solo"),
                        session: None,
                        timeout_ms: 5_000,
                    };
                    assert!(matches!(ask(&s, "CN=ops", &req), Response::Committed(_)));
                }
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            let Ok(Ok(Response::Watch(batch))) = Response::decode(&bytes) else {
                panic!("not a watch batch");
            };
            for item in batch {
                if let WatchWireItem::Event { index, .. } = &item {
                    later_event = Some(*index);
                }
                items.push(item);
            }
        }
        let at = items
            .iter()
            .find_map(|i| match i {
                WatchWireItem::Compacted { at } => Some(*at),
                _ => None,
            })
            .expect("a Compacted first");
        let parts: Vec<_> = items
            .iter()
            .filter_map(|i| match i {
                WatchWireItem::SnapshotPart {
                    at: a,
                    members,
                    ranges,
                    last,
                } => Some((*a, members.len(), ranges.clone(), *last)),
                _ => None,
            })
            .collect();
        assert!(parts.len() > 2, "{} parts", parts.len());
        assert!(parts.iter().all(|p| p.0 == at));
        assert_eq!(parts[0].1, 1, "the members in the first part");
        assert!(parts[1..].iter().all(|p| p.1 == 0));
        assert!(parts[..parts.len() - 1].iter().all(|p| !p.3));
        assert!(parts[parts.len() - 1].3, "the last part says so");
        let ranges: Vec<String> = parts
            .iter()
            .flat_map(|p| p.2.iter().map(|(r, _)| r.as_str().to_string()))
            .collect();
        let want: Vec<String> = (0..30).map(|i| format!("r{i:02}")).collect();
        assert_eq!(ranges, want, "every range once, in order");
        // The stream goes on after the snapshot's index.
        assert!(later_event.is_some_and(|i| i > at));
        // Nothing between the snapshot's parts.
        let first_part = items
            .iter()
            .position(|i| matches!(i, WatchWireItem::SnapshotPart { .. }))
            .unwrap();
        let last_part = items
            .iter()
            .rposition(|i| matches!(i, WatchWireItem::SnapshotPart { .. }))
            .unwrap();
        assert_eq!(last_part - first_part + 1, parts.len());
    }

    /// A read at a level says the applied index and the term of the entry
    /// there. Before, the answer carried the index only.
    #[test]
    fn a_read_says_its_index_and_term() {
        let s = solo();
        let req = Request::Propose {
            entry: forced("t", "CN=solo"),
            session: None,
            timeout_ms: 5_000,
        };
        let Response::Committed(c) = ask(&s, "CN=ops", &req) else {
            panic!("not committed");
        };
        let read = Request::Read {
            query: ReadQuery::Owner {
                range: "t".parse().unwrap(),
            },
            level: ReadLevel::AtLeast(c.index),
        };
        let Response::Read { term, answer } = ask(&s, "CN=reader", &read) else {
            panic!("not a read answer");
        };
        let Response::Owner(Some(o), at) = *answer else {
            panic!("not an owner answer");
        };
        assert!(at >= c.index);
        assert_eq!(o.index, c.index);
        let view = s.node.view().unwrap();
        assert_eq!(view.applied(), (at, term));
        assert!(term >= c.term && term.0 > 0);
    }
}
