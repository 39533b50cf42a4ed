//! The Rust client: talks to members over the network with the client
//! protocol, and follows the leader.
//!
//! A [`Client`] knows a few member endpoints and its own TLS identity. Reads
//! go to whichever member answers (a local read says which applied index it
//! reflects; a linearizable one goes through the leader). Proposals and
//! leadership transfers go to the leader: a follower's "not leader, the
//! leader is X at A" makes the client reconnect to A and retry, and with no
//! leader known it retries the other endpoints until its timeout.
//!
//! Every attempt has its own bound ([`Client::attempt_timeout`]), so a
//! paused or dead leader costs one attempt, not the whole call.
//!
//! Proposals are exactly-once (`docs/adr/0006-exactly-once-proposals.md`):
//! each carries this client's random [`ClientId`] and a sequence number of
//! its own, and every retry repeats both, so a proposal that reaches the log
//! twice takes effect once and the retry answers the first outcome. An
//! attempt whose outcome stays open (the member's answer was "no quorum",
//! "timed out", "shut down", "storage failure", or the connection failed
//! after the request was sent) is retried; when the deadline passes after
//! such an attempt the call fails with [`ClientCallError::Indeterminate`].
//! Every other failure means the proposal did not take effect.

use std::time::{Duration, Instant};

use super::protocol::{ReadLevel, ReadQuery, RemoteError, Request, Response, StatusInfo};
use crate::catalog::{AuditRecord, FenceStatus, Member, RangeOwnership};
use crate::consensus::{deadline_after, Committed};
use crate::entry::{
    ClientId, ControlPlaneEntry, DecodeError, Epoch, Index, NodeId, ProposalSession, RangeId, Term,
};
use crate::transport::tcp::{connect_client, ClientConnection, MAX_CALLS_IN_FLIGHT};
use crate::transport::{Security, TransportError};

/// Why a client call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientCallError {
    /// The member answered with an error.
    #[error(transparent)]
    Remote(#[from] RemoteError),
    /// No endpoint could be reached.
    #[error("no member reachable ({0})")]
    Unreachable(String),
    /// The member's answer did not decode.
    #[error("bad response: {0}")]
    Protocol(#[from] DecodeError),
    /// The member answered with a response of the wrong kind.
    #[error("unexpected response to {0}")]
    Unexpected(&'static str),
    /// The client has no endpoints.
    #[error("no endpoints given")]
    NoEndpoints,
    /// A proposal's outcome is unknown: an attempt may have reached the log
    /// and the deadline passed before a retry could learn its fate.
    #[error("outcome unknown: {0}")]
    Indeterminate(String),
    /// Every endpoint refused this client's TLS handshake, or presented a
    /// certificate this client does not trust (another CA, expired, the
    /// wrong name, revoked or denied): no retry would help, so the call
    /// fails at once, after one round. Nothing was sent.
    #[error("TLS refused: {0}")]
    Tls(String),
}

/// How an attempt that got no answer ended.
enum Failed {
    /// The request never left (the connection could not be made).
    NotSent(String),
    /// The request may have reached the member.
    MaybeSent(String),
}

impl Failed {
    fn into_text(self) -> String {
        match self {
            Failed::NotSent(s) | Failed::MaybeSent(s) => s,
        }
    }
}

/// A read's answer with the applied index, and the term of the entry at
/// that index, it reflects (the member's catalog as of that point of the
/// log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadAt<T> {
    /// The answer.
    pub value: T,
    /// The applied index it reflects.
    pub index: Index,
    /// The term of the entry at `index`.
    pub term: Term,
}

/// Whether a proposal answered `e` may still have reached a log (its
/// outcome is open: a retry in its session finds it out).
fn may_be_in_a_log(e: &RemoteError) -> bool {
    matches!(
        e,
        RemoteError::NoQuorum
            | RemoteError::Timeout(_)
            | RemoteError::Shutdown
            | RemoteError::Storage(_)
            | RemoteError::Indeterminate(_)
    )
}

/// The shortest bound of one attempt.
const MIN_ATTEMPT: Duration = Duration::from_secs(1);

/// A connection to a cluster.
pub struct Client {
    endpoints: Vec<String>,
    security: Security,
    timeout: Duration,
    conn: Option<(String, ClientConnection)>,
    /// Where the leader was last seen.
    leader: Option<String>,
    /// This client's session, for exactly-once proposals.
    session: ClientId,
    /// The sequence number of the last proposal.
    seq: u64,
    /// How many connection attempts of the current round failed in the TLS
    /// handshake, and the last such failure.
    tls_refusals: (usize, Option<String>),
}

impl Client {
    pub(super) fn endpoints(&self) -> &[String] {
        &self.endpoints
    }

    pub(super) fn security(&self) -> &Security {
        &self.security
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoints", &self.endpoints)
            .field("identity", self.security.identity())
            .field("connected", &self.conn.as_ref().map(|(a, _)| a))
            .finish()
    }
}

impl Client {
    /// A client for the members at `endpoints` (`host:port`), authenticating
    /// with `security`. `timeout` bounds each call, retries included.
    pub fn new(endpoints: Vec<String>, security: Security, timeout: Duration) -> Self {
        Self {
            endpoints,
            security,
            timeout,
            conn: None,
            leader: None,
            session: ClientId::random(),
            seq: 0,
            tls_refusals: (0, None),
        }
    }

    /// The session this client's proposals carry.
    pub fn session(&self) -> ClientId {
        self.session
    }

    /// The bound of one attempt: a quarter of the call's timeout, at least
    /// one second (and never more than the call's timeout).
    pub fn attempt_timeout(&self) -> Duration {
        (self.timeout / 4).max(MIN_ATTEMPT).min(self.timeout)
    }

    /// Changes the bound on each later call, retries included (bindings
    /// that take a timeout per call set it before each one).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// The endpoint of the current connection, if any.
    pub fn connected_to(&self) -> Option<&str> {
        self.conn.as_ref().map(|(a, _)| a.as_str())
    }

    fn connect(&mut self, addr: &str, deadline: Instant) -> Result<(), TransportError> {
        if self.conn.as_ref().is_some_and(|(a, _)| a == addr) {
            return Ok(());
        }
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10));
        let c = connect_client(addr, &self.security, left.min(Duration::from_secs(3)))?;
        self.conn = Some((addr.to_string(), c));
        Ok(())
    }

    /// Sends `req` to `addr` and decodes the answer, waiting until
    /// `deadline` at the latest.
    fn ask(
        &mut self,
        addr: &str,
        req: &Request,
        deadline: Instant,
    ) -> Result<Result<Response, RemoteError>, String> {
        self.attempt(addr, req, deadline).map_err(Failed::into_text)
    }

    /// [`Client::ask`], saying whether a failed request may have been sent.
    fn attempt(
        &mut self,
        addr: &str,
        req: &Request,
        deadline: Instant,
    ) -> Result<Result<Response, RemoteError>, Failed> {
        self.connect(addr, deadline).map_err(|e| {
            if matches!(
                e,
                TransportError::Tls { .. } | TransportError::Certificate(_)
            ) {
                self.tls_refusals.0 += 1;
                self.tls_refusals.1 = Some(format!("{addr}: {e}"));
            }
            Failed::NotSent(format!("{addr}: {e}"))
        })?;
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10));
        let Some((_, conn)) = self.conn.as_mut() else {
            return Err(Failed::NotSent(format!("{addr}: not connected")));
        };
        match conn.request(&req.encode(), left) {
            Ok(bytes) => Response::decode(&bytes)
                .map_err(|e| Failed::MaybeSent(format!("{addr}: bad response: {e}"))),
            Err(e) => {
                self.conn = None;
                Err(Failed::MaybeSent(format!("{addr}: {e}")))
            }
        }
    }

    /// `Tls` when each of the `tried` attempts of this round failed in the
    /// TLS handshake.
    fn tls_refused_everywhere(&mut self, tried: usize) -> Option<ClientCallError> {
        let (refusals, last) = std::mem::take(&mut self.tls_refusals);
        (tried > 0 && refusals >= tried).then(|| {
            ClientCallError::Tls(last.unwrap_or_else(|| "the TLS handshake failed".into()))
        })
    }

    /// The end of one attempt that starts now, within the call's `deadline`.
    fn attempt_deadline(&self, deadline: Instant) -> Instant {
        deadline_after(Instant::now(), self.attempt_timeout()).min(deadline)
    }

    /// Calls `req`, following the leader when `to_leader` and retrying other
    /// endpoints on connection failures, until the timeout.
    fn call(&mut self, req: &Request, to_leader: bool) -> Result<Response, ClientCallError> {
        if self.endpoints.is_empty() {
            return Err(ClientCallError::NoEndpoints);
        }
        let deadline = deadline_after(Instant::now(), self.timeout);
        let mut last_error = String::from("timed out");
        let mut round = 0usize;
        loop {
            let mut targets: Vec<String> = Vec::new();
            if let Some((a, _)) = &self.conn {
                targets.push(a.clone());
            }
            if to_leader {
                if let Some(l) = &self.leader {
                    targets.insert(0, l.clone());
                }
            }
            targets.extend(self.endpoints.iter().cloned());
            targets.dedup();
            let tried = targets.len();
            self.tls_refusals = (0, None);
            for addr in targets {
                if Instant::now() >= deadline {
                    return Err(ClientCallError::Unreachable(last_error));
                }
                match self.ask(&addr, req, self.attempt_deadline(deadline)) {
                    Ok(Ok(resp)) => {
                        if to_leader {
                            self.leader = Some(addr);
                        }
                        return Ok(resp);
                    }
                    Ok(Err(RemoteError::NotLeader { leader })) if to_leader => {
                        match leader.and_then(|l| l.address) {
                            Some(a) if a.as_str() != addr => {
                                self.leader = Some(a.as_str().to_string());
                                // Go straight to the leader it named.
                                let until = self.attempt_deadline(deadline);
                                match self.ask(a.as_str(), req, until) {
                                    Ok(Ok(resp)) => return Ok(resp),
                                    Ok(Err(RemoteError::NotLeader { .. })) => {
                                        last_error = format!("{a} is not the leader yet");
                                    }
                                    Ok(Err(e)) => return Err(e.into()),
                                    Err(e) => last_error = e,
                                }
                            }
                            _ => last_error = format!("{addr} knows no leader"),
                        }
                    }
                    Ok(Err(
                        e @ (RemoteError::NoQuorum
                        | RemoteError::Shutdown
                        | RemoteError::Overloaded(_)),
                    )) => {
                        last_error = e.to_string();
                    }
                    // A read through a member that knows no leader yet:
                    // another member, or a later round, may.
                    Ok(Err(e @ RemoteError::NotLeader { .. })) => {
                        last_error = e.to_string();
                    }
                    Ok(Err(e)) => return Err(e.into()),
                    Err(e) => last_error = e,
                }
            }
            if let Some(e) = self.tls_refused_everywhere(tried) {
                return Err(e);
            }
            round += 1;
            // No member could serve the call: wait a little (an election may
            // be under way) and try again.
            let pause = Duration::from_millis(20 * (1 << round.min(4)));
            if Instant::now() + pause >= deadline {
                return Err(ClientCallError::Unreachable(last_error));
            }
            std::thread::sleep(pause);
        }
    }

    /// The status of the member this client reaches first.
    pub fn status(&mut self) -> Result<StatusInfo, ClientCallError> {
        match self.call(&Request::Status, false)? {
            Response::Status(s) => Ok(s),
            _ => Err(ClientCallError::Unexpected("status")),
        }
    }

    /// The status of the member at `addr`.
    pub fn status_of(&mut self, addr: &str) -> Result<StatusInfo, ClientCallError> {
        let deadline = deadline_after(Instant::now(), self.timeout);
        self.tls_refusals = (0, None);
        match self.ask(addr, &Request::Status, deadline) {
            Ok(Ok(Response::Status(s))) => Ok(s),
            Ok(Ok(_)) => Err(ClientCallError::Unexpected("status")),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(self
                .tls_refused_everywhere(1)
                .unwrap_or(ClientCallError::Unreachable(e))),
        }
    }

    /// Proposes `entry` at the leader, exactly once, and waits for it to
    /// commit. See the module comment for the retries and for what each
    /// error promises.
    pub fn propose(&mut self, entry: ControlPlaneEntry) -> Result<Committed, ClientCallError> {
        self.seq += 1;
        let session = ProposalSession {
            client: self.session,
            seq: self.seq,
        };
        self.propose_in_session(entry, session)
    }

    /// Proposes every entry of `entries`, pipelined: they are sent to the
    /// leader on one connection without waiting for each other (the member
    /// proposes them concurrently, so they commit together, in an order not
    /// promised), each exactly once in a session sequence number of its
    /// own. Returns each entry's outcome, in the order of `entries`.
    ///
    /// They go in rounds of [`MAX_CALLS_IN_FLIGHT`] (so a round's sequence
    /// numbers stay inside the catalog's session window). An entry whose
    /// pipelined attempt did not settle it (the member was not the leader
    /// or lost its quorum, the connection failed, ...) is retried alone
    /// before the next round, as [`Client::propose`] retries, with the same
    /// session, so it never takes effect twice; every round and retry
    /// shares the call's timeout, and their errors promise what
    /// `propose`'s do.
    pub fn propose_all(
        &mut self,
        entries: Vec<ControlPlaneEntry>,
    ) -> Vec<Result<Committed, ClientCallError>> {
        if self.endpoints.is_empty() {
            return entries
                .iter()
                .map(|_| Err(ClientCallError::NoEndpoints))
                .collect();
        }
        let deadline = deadline_after(Instant::now(), self.timeout);
        let mut out = Vec::with_capacity(entries.len());
        let mut rest = entries.into_iter().peekable();
        while rest.peek().is_some() {
            let round: Vec<ControlPlaneEntry> = rest.by_ref().take(MAX_CALLS_IN_FLIGHT).collect();
            self.propose_round(round, deadline, &mut out);
        }
        out
    }

    /// One round of [`Client::propose_all`]: its outcomes appended to `out`.
    fn propose_round(
        &mut self,
        entries: Vec<ControlPlaneEntry>,
        deadline: Instant,
        out: &mut Vec<Result<Committed, ClientCallError>>,
    ) {
        let sessions: Vec<ProposalSession> = entries
            .iter()
            .map(|_| {
                self.seq += 1;
                ProposalSession {
                    client: self.session,
                    seq: self.seq,
                }
            })
            .collect();
        let until = self.attempt_deadline(deadline);
        let timeout_ms = until
            .saturating_duration_since(Instant::now())
            .as_millis()
            .clamp(1, u32::MAX as u128) as u32;
        let requests: Vec<Vec<u8>> = entries
            .iter()
            .zip(&sessions)
            .map(|(entry, session)| {
                Request::Propose {
                    entry: entry.clone(),
                    session: Some(*session),
                    timeout_ms,
                }
                .encode()
            })
            .collect();
        let target = self
            .leader
            .clone()
            .or_else(|| self.conn.as_ref().map(|(a, _)| a.clone()))
            .or_else(|| self.endpoints.first().cloned());
        let answers = match (target, Instant::now() < until) {
            (Some(addr), true) => self.pipeline(&addr, &requests, until),
            _ => Err(false),
        };
        for (i, (entry, session)) in entries.into_iter().zip(sessions).enumerate() {
            // Settled, or not yet (and whether this attempt may have
            // reached a log).
            let settled: Result<_, bool> = match answers.as_ref().map(|a| a.get(i)) {
                Ok(Some(bytes)) => match Response::decode(bytes) {
                    Ok(Ok(Response::Committed(c))) => Ok(Ok(c)),
                    Ok(Err(e)) => match e {
                        // Did not take effect: the retry goes on.
                        RemoteError::NotLeader { .. } | RemoteError::Overloaded(_) => Err(false),
                        // May be in a log: the retry finds out.
                        e if may_be_in_a_log(&e) => Err(true),
                        other => Ok(Err(other.into())),
                    },
                    Ok(Ok(_)) => Ok(Err(ClientCallError::Unexpected("propose"))),
                    // A garbled answer: its entry may be in the log.
                    Err(_) => Err(true),
                },
                Ok(None) => Err(true),
                Err(maybe_sent) => Err(*maybe_sent),
            };
            out.push(match settled {
                Ok(r) => r,
                Err(maybe_sent) => {
                    let whole = self.timeout;
                    self.timeout = deadline.saturating_duration_since(Instant::now());
                    let r = self.propose_in_session(entry, session);
                    self.timeout = whole;
                    match r {
                        // The retry learnt nothing, but the pipelined
                        // attempt may have taken effect.
                        Err(ClientCallError::Unreachable(e)) if maybe_sent => {
                            Err(ClientCallError::Indeterminate(format!(
                                "{e}; a pipelined attempt may have taken effect (session {} #{})",
                                session.client, session.seq
                            )))
                        }
                        other => other,
                    }
                }
            });
        }
    }

    /// Sends `requests` pipelined to `addr`: their answers, or whether
    /// any of them may have been sent when the connection failed.
    fn pipeline(
        &mut self,
        addr: &str,
        requests: &[Vec<u8>],
        until: Instant,
    ) -> Result<Vec<Vec<u8>>, bool> {
        self.connect(addr, until).map_err(|_| false)?;
        let left = until
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(10));
        let Some((_, conn)) = self.conn.as_mut() else {
            return Err(false);
        };
        conn.call_all(requests, left).map_err(|_| {
            self.conn = None;
            true
        })
    }

    /// Proposes `entry` with a session the caller chose: a caller that
    /// retries on its own (after restarting, say) passes the session of the
    /// first attempt again and gets the first outcome back.
    pub fn propose_in_session(
        &mut self,
        entry: ControlPlaneEntry,
        session: ProposalSession,
    ) -> Result<Committed, ClientCallError> {
        if self.endpoints.is_empty() {
            return Err(ClientCallError::NoEndpoints);
        }
        let deadline = deadline_after(Instant::now(), self.timeout);
        let mut open: Option<String> = None;
        let mut last_error = String::from("timed out");
        let mut round = 0usize;
        // The leader named by the last "not leader" answer, tried next.
        let mut named: Option<String> = None;
        loop {
            let mut targets: Vec<String> = named.take().into_iter().collect();
            targets.extend(self.leader.clone());
            if let Some((a, _)) = &self.conn {
                targets.push(a.clone());
            }
            targets.extend(self.endpoints.iter().cloned());
            targets.dedup();
            let tried = targets.len();
            self.tls_refusals = (0, None);
            let mut progressed = false;
            for addr in targets {
                let now = Instant::now();
                if now >= deadline {
                    break;
                }
                let until = self.attempt_deadline(deadline);
                let timeout_ms = until
                    .saturating_duration_since(now)
                    .as_millis()
                    .clamp(1, u32::MAX as u128) as u32;
                let req = Request::Propose {
                    entry: entry.clone(),
                    session: Some(session),
                    timeout_ms,
                };
                match self.attempt(&addr, &req, until) {
                    Ok(Ok(Response::Committed(c))) => {
                        self.leader = Some(addr);
                        return Ok(c);
                    }
                    Ok(Ok(_)) => return Err(ClientCallError::Unexpected("propose")),
                    Ok(Err(RemoteError::NotLeader { leader })) => {
                        // Did not take effect here; go where it points.
                        match leader.and_then(|l| l.address) {
                            Some(a) if a.as_str() != addr => {
                                self.leader = Some(a.as_str().to_string());
                                named = Some(a.as_str().to_string());
                                progressed = true;
                                last_error = format!("{addr} is not the leader; {a} is");
                                break;
                            }
                            _ => last_error = format!("{addr} knows no leader"),
                        }
                    }
                    Ok(Err(e)) if may_be_in_a_log(&e) => {
                        // The entry may be in a log: retry in the session.
                        last_error = format!("{addr}: {e}");
                        open = Some(last_error.clone());
                    }
                    // Nothing was proposed: try again after a pause.
                    Ok(Err(e @ RemoteError::Overloaded(_))) => {
                        last_error = format!("{addr}: {e}");
                    }
                    Ok(Err(e)) => return Err(e.into()),
                    Err(Failed::NotSent(e)) => last_error = e,
                    Err(Failed::MaybeSent(e)) => {
                        last_error = e;
                        open = Some(last_error.clone());
                    }
                }
            }
            if Instant::now() >= deadline {
                break;
            }
            if progressed {
                continue;
            }
            // Every endpoint refused the handshake: nothing of this round
            // was sent (an earlier round's attempt may have been).
            if let Some(e) = self.tls_refused_everywhere(tried) {
                return Err(match open {
                    Some(o) => ClientCallError::Indeterminate(format!(
                        "{o}; then {e} (session {} #{})",
                        session.client, session.seq
                    )),
                    None => e,
                });
            }
            round += 1;
            // No member could serve the proposal: wait a little (an election
            // may be under way) and try again.
            let pause = Duration::from_millis(20 * (1 << round.min(4)));
            if Instant::now() + pause >= deadline {
                break;
            }
            std::thread::sleep(pause);
        }
        Err(match open {
            Some(e) => ClientCallError::Indeterminate(format!(
                "{e}; the last attempt may have taken effect (session {} #{})",
                session.client, session.seq
            )),
            None => ClientCallError::Unreachable(last_error),
        })
    }

    /// The owner of `range`, with the applied index the answer reflects.
    pub fn owner(
        &mut self,
        range: &RangeId,
        linearizable: bool,
    ) -> Result<(Option<RangeOwnership>, Index), ClientCallError> {
        let req = Request::Owner {
            range: range.clone(),
            linearizable,
        };
        match self.call(&req, false)? {
            Response::Owner(o, at) => Ok((o, at)),
            _ => Err(ClientCallError::Unexpected("owner")),
        }
    }

    /// Whether (`owner`, `epoch`) owns `range`.
    pub fn fence_check(
        &mut self,
        range: &RangeId,
        owner: &NodeId,
        epoch: Epoch,
        linearizable: bool,
    ) -> Result<(FenceStatus, Index), ClientCallError> {
        let req = Request::FenceCheck {
            range: range.clone(),
            owner: owner.clone(),
            epoch,
            linearizable,
        };
        match self.call(&req, false)? {
            Response::Fence(f, at) => Ok((f, at)),
            _ => Err(ClientCallError::Unexpected("fence check")),
        }
    }

    /// The members.
    pub fn members(&mut self, linearizable: bool) -> Result<(Vec<Member>, Index), ClientCallError> {
        match self.call(&Request::Members { linearizable }, false)? {
            Response::Members(m, at) => Ok((m, at)),
            _ => Err(ClientCallError::Unexpected("members")),
        }
    }

    /// The owner of `range` at `level` (see [`ReadLevel`]), with the applied
    /// index and term the answer reflects. `AtLeast(i)` waits (within the
    /// member's read timeout) for the member asked to apply `i`: pass a
    /// commit's index to read your own write from any member.
    pub fn owner_at(
        &mut self,
        range: &RangeId,
        level: ReadLevel,
    ) -> Result<ReadAt<Option<RangeOwnership>>, ClientCallError> {
        let query = ReadQuery::Owner {
            range: range.clone(),
        };
        match self.read(query, level)? {
            (Response::Owner(value, index), term) => Ok(ReadAt { value, index, term }),
            _ => Err(ClientCallError::Unexpected("owner")),
        }
    }

    /// Whether (`owner`, `epoch`) owns `range`, at `level`, with the applied
    /// index and term the answer reflects.
    pub fn fence_check_at(
        &mut self,
        range: &RangeId,
        owner: &NodeId,
        epoch: Epoch,
        level: ReadLevel,
    ) -> Result<ReadAt<FenceStatus>, ClientCallError> {
        let query = ReadQuery::FenceCheck {
            range: range.clone(),
            owner: owner.clone(),
            epoch,
        };
        match self.read(query, level)? {
            (Response::Fence(value, index), term) => Ok(ReadAt { value, index, term }),
            _ => Err(ClientCallError::Unexpected("fence check")),
        }
    }

    /// The members at `level`, with the applied index and term the answer
    /// reflects.
    pub fn members_at(&mut self, level: ReadLevel) -> Result<ReadAt<Vec<Member>>, ClientCallError> {
        match self.read(ReadQuery::Members, level)? {
            (Response::Members(value, index), term) => Ok(ReadAt { value, index, term }),
            _ => Err(ClientCallError::Unexpected("members")),
        }
    }

    /// A [`Request::Read`]: the answer inside, and its term.
    fn read(
        &mut self,
        query: ReadQuery,
        level: ReadLevel,
    ) -> Result<(Response, Term), ClientCallError> {
        match self.call(&Request::Read { query, level }, false)? {
            Response::Read { term, answer } => Ok((*answer, term)),
            _ => Err(ClientCallError::Unexpected("read")),
        }
    }

    /// Every owned range, fetched page by page.
    pub fn ranges(
        &mut self,
        linearizable: bool,
    ) -> Result<Vec<(RangeId, RangeOwnership)>, ClientCallError> {
        let mut out = Vec::new();
        let mut after = None;
        loop {
            let req = Request::Ranges {
                after: after.clone(),
                limit: super::protocol::MAX_PAGE,
                linearizable,
            };
            match self.call(&req, false)? {
                Response::Ranges(page, more, _) => {
                    after = page.last().map(|(r, _)| r.clone());
                    out.extend(page);
                    if !more || after.is_none() {
                        return Ok(out);
                    }
                }
                _ => return Err(ClientCallError::Unexpected("ranges")),
            }
        }
    }

    /// The forced transitions, oldest first, fetched page by page
    /// (`AuditPage`: a member from before pages answers "bad request").
    pub fn audit(&mut self, linearizable: bool) -> Result<Vec<AuditRecord>, ClientCallError> {
        self.audit_in_pages(linearizable, super::protocol::MAX_AUDIT_PAGE)
    }

    /// [`Client::audit`] with pages of at most `limit` records.
    pub(crate) fn audit_in_pages(
        &mut self,
        linearizable: bool,
        limit: u32,
    ) -> Result<Vec<AuditRecord>, ClientCallError> {
        let mut out: Vec<AuditRecord> = Vec::new();
        let mut after = None;
        loop {
            let req = Request::AuditPage {
                after,
                limit,
                linearizable,
            };
            match self.call(&req, false)? {
                Response::AuditPage(page, more, _) => {
                    // Each page starts after the last record so far, so the
                    // indexes only grow; a member that answers otherwise is
                    // not followed round in circles.
                    let mut last = after;
                    for a in &page {
                        if last.is_some_and(|l| a.index <= l) {
                            return Err(ClientCallError::Unexpected("audit page out of order"));
                        }
                        last = Some(a.index);
                    }
                    out.extend(page);
                    if !more || last == after {
                        return Ok(out);
                    }
                    after = last;
                }
                _ => return Err(ClientCallError::Unexpected("audit")),
            }
        }
    }

    /// Asks the leader to hand leadership to `to`.
    pub fn transfer_leader(&mut self, to: &NodeId) -> Result<(), ClientCallError> {
        match self.call(&Request::TransferLeader { to: to.clone() }, true)? {
            Response::Done => Ok(()),
            _ => Err(ClientCallError::Unexpected("transfer")),
        }
    }

    /// The metrics of the member this client reaches first.
    pub fn metrics(&mut self) -> Result<String, ClientCallError> {
        match self.call(&Request::Metrics, false)? {
            Response::Metrics(t) => Ok(t),
            _ => Err(ClientCallError::Unexpected("metrics")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::ForcedOwnershipTransition;
    use crate::node::config::NodeConfig;
    use crate::node::runner::start_member;
    use crate::transport::Security;

    fn id(s: &str) -> NodeId {
        NodeId::from_certificate_subject(s).unwrap()
    }

    /// A member over plain TCP on loopback and an operator's client.
    fn member(dir: &std::path::Path) -> (crate::node::runner::RunningMember, Client) {
        let text = "id = \"CN=solo\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n[tls]\ninsecure = true\n[cluster]\nbootstrap = [{ id = \"CN=solo\", address = \"127.0.0.1:0\" }]\n[authorization]\noperators = [\"CN=ops\"]\n[engine]\ntick_ms = 10\n";
        let path = dir.join("node.toml");
        std::fs::write(&path, text).unwrap();
        let m = start_member(&NodeConfig::load(&path).unwrap()).unwrap();
        let security = Security::Insecure {
            identity: id("CN=ops"),
        };
        let c = Client::new(
            vec![m.local_addr().to_string()],
            security,
            Duration::from_secs(10),
        );
        (m, c)
    }

    #[test]
    fn the_audit_list_is_fetched_page_by_page() {
        let dir = tempfile::tempdir().unwrap();
        let (m, mut c) = member(dir.path());
        for i in 0..7 {
            c.propose(ControlPlaneEntry::ForcedOwnershipTransition(
                ForcedOwnershipTransition {
                    range: format!("r{}", i % 3).parse().unwrap(),
                    new_owner: id("CN=solo"),
                    operator: id("CN=ops"),
                    reason: "drill".parse().unwrap(),
                },
            ))
            .unwrap();
        }
        let all = crate::node::ControlPlaneConsensus::try_audit_log(m.node().as_ref()).unwrap();
        assert_eq!(all.len(), 7);
        for page in [1, 2, 3, 7, 100] {
            assert_eq!(
                c.audit_in_pages(true, page).unwrap(),
                all,
                "pages of {page}"
            );
        }
        assert_eq!(c.audit(false).unwrap(), all);
        m.shutdown();
    }
}
