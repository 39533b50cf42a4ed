//! `synod node` (run a member) and the client subcommands (`status`,
//! `catalog`, `propose`, `transfer`, `metrics`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand};
use synod::node::client::{Client, ClientCallError};
use synod::node::config::{NodeConfig, TlsSettings};
use synod::node::protocol::RemoteError;
use synod::node::runner::{security_for, start_member};
use synod::node::Stopped;
use synod::{
    ControlPlaneEntry, Epoch, ForcedOwnershipTransition, MemberKind, MembershipChange, NodeId,
    OwnershipTransition,
};

/// How a client reaches and authenticates to the cluster.
#[derive(Debug, Args)]
pub struct ClientArgs {
    /// Member endpoints, comma-separated (`host:port,host:port`).
    #[arg(long, value_delimiter = ',', required = true)]
    pub endpoints: Vec<String>,
    /// Client certificate (PEM).
    #[arg(long, requires_all = ["key", "ca"])]
    pub cert: Option<PathBuf>,
    /// Client private key (PEM).
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// CA bundle the members' certificates chain to (PEM).
    #[arg(long)]
    pub ca: Option<PathBuf>,
    /// Plain TCP (development clusters started with `insecure = true`).
    #[arg(long, conflicts_with_all = ["cert", "key", "ca"])]
    pub insecure: bool,
    /// With --insecure: the identity to claim.
    #[arg(long, default_value = "CN=operator")]
    pub identity: String,
    /// How long a call may take, retries and leader changes included.
    #[arg(long, default_value_t = 5000)]
    pub timeout_ms: u64,
}

/// What to propose.
#[derive(Debug, Subcommand)]
pub enum ProposeCommand {
    /// Move a range to a new owner at a new epoch.
    Transition {
        /// The range.
        #[arg(long)]
        range: String,
        /// The new owner's identity.
        #[arg(long)]
        owner: String,
        /// The epoch to move to: exactly the current one plus one.
        #[arg(long)]
        epoch: u64,
    },
    /// Force a range to a new owner (operator capability; audited).
    Force {
        /// The range.
        #[arg(long)]
        range: String,
        /// The new owner's identity.
        #[arg(long)]
        owner: String,
        /// Why (recorded in the audit list).
        #[arg(long)]
        reason: String,
    },
    /// Admit a member.
    Admit {
        /// Its identity.
        #[arg(long)]
        member: String,
        /// `data` or `witness`.
        #[arg(long, default_value = "data")]
        kind: String,
        /// Its peer address.
        #[arg(long)]
        address: String,
    },
    /// Start draining a member.
    Drain {
        /// Its identity.
        #[arg(long)]
        member: String,
    },
    /// Remove a member (it must own no ranges).
    Remove {
        /// Its identity.
        #[arg(long)]
        member: String,
    },
}

fn fail(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

/// Runs a member in the foreground until SIGTERM or SIGINT.
///
/// On SIGHUP it reads the configuration file again and puts its `[tls]
/// deny` and `[tls] crl` in force without a restart (new connections at
/// once, open ones at their next read or write), saying so on stderr; a
/// file that no longer loads, or lists that cannot be applied, leave the
/// lists in force and are reported. Other changes need a restart.
/// Raises the process's soft limit on open files to its hard limit (each
/// client connection takes a descriptor), and warns when even that is
/// below what `transport.max_client_connections` allows.
fn open_file_room(config: &NodeConfig) {
    let Some(open_files) = synod::transport::raise_open_file_limit() else {
        return;
    };
    let clients = config
        .max_client_connections
        .unwrap_or(synod::transport::tcp::DEFAULT_MAX_CLIENT_CONNECTIONS) as u64;
    // Peers, handshakes, the data directory and some room besides.
    let wanted = clients + config.max_inbound as u64 + 64;
    if open_files < wanted {
        tracing::warn!(
            open_files,
            wanted,
            "the open-file limit is below what transport.max_client_connections allows: clients past it are refused at accept (raise `ulimit -n`, or lower max_client_connections)"
        );
    }
}

pub fn cmd_node(path: &std::path::Path) -> ExitCode {
    let config = match NodeConfig::load(path) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            return fail(format!("cannot handle signal {sig}: {e}"), 1);
        }
    }
    let hangup = Arc::new(AtomicBool::new(false));
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGHUP, hangup.clone()) {
        return fail(format!("cannot handle SIGHUP: {e}"), 1);
    }
    open_file_room(&config);
    let member = match start_member(&config) {
        Ok(m) => m,
        Err(e) => return fail(e, 1),
    };
    tracing::warn!(
        id = %config.id,
        listen = %member.local_addr(),
        metrics = ?member.metrics_addr(),
        "member running"
    );
    eprintln!(
        "synod node {} listening on {}",
        config.id,
        member.local_addr()
    );
    while !stop.load(Ordering::SeqCst) {
        if hangup.swap(false, Ordering::SeqCst) {
            let reloaded = NodeConfig::load(path)
                .map_err(|e| e.to_string())
                .and_then(|c| member.reload_revocation(&c).map_err(|e| e.to_string()));
            match reloaded {
                Ok(s) => eprintln!(
                    "synod node {}: reloaded: {} denied identities, {} CRLs",
                    config.id, s.denied, s.crls
                ),
                Err(e) => eprintln!(
                    "synod node {}: reload refused, the lists in force stay: {e}",
                    config.id
                ),
            }
        }
        if let Some(why) = member.node().stopped() {
            // The member stopped on its own: say why and exit, so a
            // supervisor sees it (3: removed from the cluster, 1: failed).
            eprintln!("synod node {}: stopped: {why}", config.id);
            member.shutdown();
            return match why {
                Stopped::Removed(_) => ExitCode::from(3),
                Stopped::Failed(_) => ExitCode::from(1),
            };
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("synod node {}: shutting down", config.id);
    member.shutdown();
    ExitCode::SUCCESS
}

/// Builds a client from the command-line flags.
pub fn client(args: &ClientArgs) -> Result<Client, String> {
    let (id, tls) = if args.insecure {
        let id = NodeId::from_certificate_subject(&args.identity)
            .map_err(|e| format!("--identity: {e}"))?;
        (id, TlsSettings::Insecure)
    } else {
        let (Some(cert), Some(key), Some(ca)) = (&args.cert, &args.key, &args.ca) else {
            return Err("give --cert, --key and --ca (mutual TLS), or --insecure".into());
        };
        let t = synod::transport::tls::TlsConfig::from_pem_files(cert, key, ca)
            .map_err(|e| e.to_string())?;
        let id = t.identity().clone();
        (
            id,
            TlsSettings::Mutual {
                cert: cert.clone(),
                key: key.clone(),
                ca: ca.clone(),
            },
        )
    };
    let security = security_for(&id, &tls).map_err(|e| e.to_string())?;
    Ok(Client::new(
        args.endpoints.clone(),
        security,
        Duration::from_millis(args.timeout_ms),
    ))
}

fn call_error(e: ClientCallError) -> ExitCode {
    match &e {
        ClientCallError::Remote(RemoteError::Refused { .. }) => fail(e, 3),
        ClientCallError::Remote(RemoteError::Unauthorized(_)) => fail(e, 4),
        _ => fail(e, 1),
    }
}

/// `synod status`: each endpoint's view.
pub fn cmd_status(args: &ClientArgs, json: bool) -> ExitCode {
    let mut c = match client(args) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let mut rows = Vec::new();
    let mut any = false;
    for addr in &args.endpoints {
        match c.status_of(addr) {
            Ok(s) => {
                any = true;
                rows.push((addr.clone(), Ok(s)));
            }
            Err(e) => rows.push((addr.clone(), Err(e.to_string()))),
        }
    }
    if json {
        let v: Vec<serde_json::Value> = rows
            .iter()
            .map(|(addr, r)| match r {
                Ok(s) => serde_json::json!({
                    "endpoint": addr, "id": s.id.as_str(), "peer_id": s.peer_id, "role": s.role,
                    "term": s.term.0, "leader": s.leader.as_ref().map(|l| l.id.to_string()),
                    "commit": s.commit.0, "applied": s.applied.0, "catalog_version": s.version.0,
                    "voters": s.voters, "learners": s.learners,
                    "peers": s.peers.iter().map(|p| serde_json::json!({
                        "peer_id": p.peer_id,
                        "id": p.id.as_ref().map(|i| i.as_str()),
                        "address": p.address.as_ref().map(|a| a.as_str()),
                        "voter": p.voter,
                        "matched": p.progress.map(|(m, _)| m.0),
                        "lag": p.progress.map(|(_, l)| l),
                    })).collect::<Vec<_>>(),
                }),
                Err(e) => serde_json::json!({ "endpoint": addr, "error": e }),
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
    } else {
        println!(
            "{:<22} {:<16} {:<13} {:>5} {:>8} {:>8} {:<16}",
            "endpoint", "id", "role", "term", "commit", "applied", "leader"
        );
        for (addr, r) in &rows {
            match r {
                Ok(s) => println!(
                    "{:<22} {:<16} {:<13} {:>5} {:>8} {:>8} {:<16}",
                    addr,
                    s.id,
                    s.role,
                    s.term,
                    s.commit,
                    s.applied,
                    s.leader
                        .as_ref()
                        .map(|l| l.id.to_string())
                        .unwrap_or_else(|| "-".into())
                ),
                Err(e) => println!("{addr:<22} unreachable: {e}"),
            }
        }
    }
    if any {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `synod catalog`: members, owned ranges and the audit list.
pub fn cmd_catalog(args: &ClientArgs, linearizable: bool, json: bool) -> ExitCode {
    let mut c = match client(args) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let (members, at) = match c.members(linearizable) {
        Ok(m) => m,
        Err(e) => return call_error(e),
    };
    let ranges = match c.ranges(linearizable) {
        Ok(r) => r,
        Err(e) => return call_error(e),
    };
    let audit = match c.audit(linearizable) {
        Ok(a) => a,
        Err(e) => return call_error(e),
    };
    if json {
        let v = serde_json::json!({
            "applied_index": at.0,
            "members": members.iter().map(|m| serde_json::json!({
                "id": m.id.as_str(), "kind": m.kind.as_str(), "address": m.address.as_str(),
                "state": m.state.as_str(), "peer_id": m.peer_id,
            })).collect::<Vec<_>>(),
            "ranges": ranges.iter().map(|(r, o)| serde_json::json!({
                "range": r.as_str(), "owner": o.owner.as_str(), "epoch": o.epoch.0,
                "version": o.version.0, "term": o.term.0, "index": o.index.0,
            })).collect::<Vec<_>>(),
            "audit": audit.iter().map(|a| serde_json::json!({
                "index": a.index.0, "range": a.range.as_str(),
                "previous_owner": a.previous_owner.as_ref().map(|p| p.to_string()),
                "new_owner": a.new_owner.as_str(), "epoch": a.epoch.0,
                "operator": a.operator.as_str(), "reason": a.reason.as_str(),
            })).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
        return ExitCode::SUCCESS;
    }
    println!(
        "catalog as of applied index {at}{}",
        if linearizable { " (linearizable)" } else { "" }
    );
    println!("\nmembers ({}):", members.len());
    for m in &members {
        println!(
            "  {:<20} {:<8} {:<9} peer {:<3} {}",
            m.id, m.kind, m.state, m.peer_id, m.address
        );
    }
    println!("\nranges ({}):", ranges.len());
    for (r, o) in &ranges {
        println!(
            "  {:<28} {:<16} epoch {:<6} index {}",
            r, o.owner, o.epoch, o.index
        );
    }
    println!("\nforced transitions ({}):", audit.len());
    for a in &audit {
        println!(
            "  index {:<6} {:<20} {} -> {} (epoch {}) by {}: {}",
            a.index,
            a.range,
            a.previous_owner
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "-".into()),
            a.new_owner,
            a.epoch,
            a.operator,
            a.reason
        );
    }
    ExitCode::SUCCESS
}

fn parse<T: std::str::FromStr>(field: &str, s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse::<T>().map_err(|e| format!("--{field}: {e}"))
}

fn entry_of(cmd: &ProposeCommand, operator: &NodeId) -> Result<ControlPlaneEntry, String> {
    Ok(match cmd {
        ProposeCommand::Transition {
            range,
            owner,
            epoch,
        } => ControlPlaneEntry::OwnershipTransition(OwnershipTransition {
            range: parse("range", range)?,
            new_owner: parse("owner", owner)?,
            epoch: Epoch(*epoch),
        }),
        ProposeCommand::Force {
            range,
            owner,
            reason,
        } => ControlPlaneEntry::ForcedOwnershipTransition(ForcedOwnershipTransition {
            range: parse("range", range)?,
            new_owner: parse("owner", owner)?,
            operator: operator.clone(),
            reason: parse("reason", reason)?,
        }),
        ProposeCommand::Admit {
            member,
            kind,
            address,
        } => ControlPlaneEntry::Membership(MembershipChange::Admit {
            member: parse("member", member)?,
            kind: parse::<MemberKind>("kind", kind)?,
            address: parse("address", address)?,
        }),
        ProposeCommand::Drain { member } => {
            ControlPlaneEntry::Membership(MembershipChange::BeginDrain {
                member: parse("member", member)?,
            })
        }
        ProposeCommand::Remove { member } => {
            ControlPlaneEntry::Membership(MembershipChange::Remove {
                member: parse("member", member)?,
            })
        }
    })
}

/// `synod propose ...`: exit 0 when committed, 3 when refused, 4 when not
/// authorized, 1 otherwise.
pub fn cmd_propose(args: &ClientArgs, what: &ProposeCommand) -> ExitCode {
    let mut c = match client(args) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let operator = match c_identity(args) {
        Ok(id) => id,
        Err(e) => return fail(e, 2),
    };
    let entry = match entry_of(what, &operator) {
        Ok(e) => e,
        Err(e) => return fail(e, 2),
    };
    match c.propose(entry.clone()) {
        Ok(done) => {
            println!(
                "committed {entry} at index {} (term {}, catalog version {}){}",
                done.index,
                done.term,
                done.version,
                if done.changed {
                    ""
                } else {
                    "; it was already in effect"
                }
            );
            ExitCode::SUCCESS
        }
        Err(e) => call_error(e),
    }
}

fn c_identity(args: &ClientArgs) -> Result<NodeId, String> {
    if args.insecure {
        return NodeId::from_certificate_subject(&args.identity).map_err(|e| e.to_string());
    }
    let (Some(cert), Some(key), Some(ca)) = (&args.cert, &args.key, &args.ca) else {
        return Err("give --cert, --key and --ca (mutual TLS), or --insecure".into());
    };
    synod::transport::tls::TlsConfig::from_pem_files(cert, key, ca)
        .map(|t| t.identity().clone())
        .map_err(|e| e.to_string())
}

/// `synod transfer --to ID`.
pub fn cmd_transfer(args: &ClientArgs, to: &str) -> ExitCode {
    let mut c = match client(args) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let to = match parse::<NodeId>("to", to) {
        Ok(t) => t,
        Err(e) => return fail(e, 2),
    };
    match c.transfer_leader(&to) {
        Ok(()) => {
            println!("asked the leader to hand leadership to {to}");
            ExitCode::SUCCESS
        }
        Err(e) => call_error(e),
    }
}

/// `synod metrics`: the first reachable endpoint's metrics.
pub fn cmd_metrics(args: &ClientArgs) -> ExitCode {
    let mut c = match client(args) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    match c.metrics() {
        Ok(t) => {
            print!("{t}");
            ExitCode::SUCCESS
        }
        Err(e) => call_error(e),
    }
}

/// How fresh a CLI read must be.
#[derive(Debug, Args)]
pub struct LevelArgs {
    /// Read through the leader: reflects every entry committed before the
    /// call.
    #[arg(long, conflicts_with = "at_least")]
    pub linearizable: bool,
    /// Wait until the member asked has applied this log index (for example
    /// the index a proposal committed at).
    #[arg(long, value_name = "INDEX")]
    pub at_least: Option<u64>,
}

impl LevelArgs {
    fn level(&self) -> synod::node::ReadLevel {
        match (self.linearizable, self.at_least) {
            (true, _) => synod::node::ReadLevel::Linearizable,
            (false, Some(i)) => synod::node::ReadLevel::AtLeast(synod::Index(i)),
            (false, None) => synod::node::ReadLevel::Local,
        }
    }
}

fn parsed<T: std::str::FromStr>(what: &str, s: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    s.parse().map_err(|e| format!("{what}: {e}"))
}

/// `synod owner`: one range's owner and the applied index it reflects.
pub fn cmd_owner(args: &ClientArgs, range: &str, level: &LevelArgs, json: bool) -> ExitCode {
    let range: synod::RangeId = match parsed("range", range) {
        Ok(r) => r,
        Err(e) => return fail(e, 2),
    };
    let mut c = match client(args) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let (owner, at, term) = match c.owner_at(&range, level.level()) {
        Ok(x) => (x.value, x.index, x.term),
        Err(e) => return call_error(e),
    };
    if json {
        let v = serde_json::json!({
            "range": range.as_str(),
            "applied_index": at.0,
            "applied_term": term.0,
            "owner": owner.as_ref().map(|o| serde_json::json!({
                "owner": o.owner.as_str(), "epoch": o.epoch.0, "version": o.version.0,
                "term": o.term.0, "index": o.index.0,
            })),
        });
        println!("{v}");
    } else {
        match owner {
            Some(o) => println!(
                "{range}: {} at epoch {} (set at index {}) as of applied index {at}",
                o.owner, o.epoch, o.index
            ),
            None => println!("{range}: no owner as of applied index {at}"),
        }
    }
    ExitCode::SUCCESS
}

/// `synod fence`: whether (owner, epoch) owns a range. Exit 0 when it is
/// the current owner, 5 when stale or unknown (a fencing script tests it).
pub fn cmd_fence(
    args: &ClientArgs,
    range: &str,
    owner: &str,
    epoch: u64,
    level: &LevelArgs,
    json: bool,
) -> ExitCode {
    let (range, owner): (synod::RangeId, NodeId) = match (
        parsed("range", range),
        NodeId::from_certificate_subject(owner),
    ) {
        (Ok(r), Ok(o)) => (r, o),
        (Err(e), _) => return fail(e, 2),
        (_, Err(e)) => return fail(format!("owner: {e}"), 2),
    };
    let mut c = match client(args) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let (status, at, term) = match c.fence_check_at(&range, &owner, Epoch(epoch), level.level()) {
        Ok(x) => (x.value, x.index, x.term),
        Err(e) => return call_error(e),
    };
    let (name, current, by) = match &status {
        synod::FenceStatus::Current => ("current", true, None),
        synod::FenceStatus::Unknown => ("unknown", false, None),
        synod::FenceStatus::Stale { owner, epoch } => ("stale", false, Some((owner, epoch))),
    };
    if json {
        let v = serde_json::json!({
            "range": range.as_str(), "owner": owner.as_str(), "epoch": epoch,
            "status": name, "applied_index": at.0, "applied_term": term.0,
            "current_owner": by.map(|(o, _)| o.as_str()),
            "current_epoch": by.map(|(_, e)| e.0),
        });
        println!("{v}");
    } else {
        match by {
            Some((o, e)) => println!(
                "{range}: {owner} at epoch {epoch} is stale ({o} owns it at epoch {e}) as of applied index {at}"
            ),
            None => println!("{range}: {owner} at epoch {epoch} is {name} as of applied index {at}"),
        }
    }
    if current {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(5)
    }
}

/// `synod leader`: the leader, its address and term, as the first member
/// that knows one says.
pub fn cmd_leader(args: &ClientArgs, json: bool) -> ExitCode {
    let mut c = match client(args) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let mut last = String::from("no endpoint answered");
    for e in &args.endpoints {
        match c.status_of(e) {
            Ok(s) => match s.leader {
                Some(l) => {
                    let address = l.address.as_ref().map(|a| a.as_str().to_string());
                    if json {
                        let v = serde_json::json!({
                            "leader": l.id.as_str(), "address": address, "term": s.term.0,
                            "according_to": s.id.as_str(),
                        });
                        println!("{v}");
                    } else {
                        println!(
                            "{} at {} leads term {} (according to {})",
                            l.id,
                            address.as_deref().unwrap_or("an unknown address"),
                            s.term,
                            s.id
                        );
                    }
                    return ExitCode::SUCCESS;
                }
                None => last = format!("{e} knows no leader (term {})", s.term),
            },
            Err(err) => last = format!("{e}: {err}"),
        }
    }
    fail(last, 1)
}

/// One watch item as a JSON object (one line of `synod watch --json`).
pub fn watch_json(item: &synod::node::protocol::WatchWireItem) -> serde_json::Value {
    use synod::node::protocol::WatchWireItem;
    match item {
        WatchWireItem::Event {
            index,
            term,
            entry,
            outcome,
        } => {
            let (name, effective, refusal) = match outcome {
                synod::ApplyOutcome::Applied { .. } => ("applied", true, None),
                synod::ApplyOutcome::Unchanged { .. } => ("unchanged", true, None),
                synod::ApplyOutcome::Refused(r) => ("refused", false, Some(r.name())),
                synod::ApplyOutcome::Repeat(_) => ("repeat", outcome.is_effective(), None),
                synod::ApplyOutcome::RetryTooOld => ("retry-too-old", false, None),
            };
            let mut v = serde_json::json!({
                "index": index.0, "term": term.0, "kind": entry.kind_name(),
                "outcome": name, "effective": effective,
            });
            if let Some(r) = refusal {
                v["refusal"] = r.into();
            }
            match entry {
                ControlPlaneEntry::OwnershipTransition(t) => {
                    v["range"] = t.range.as_str().into();
                    v["owner"] = t.new_owner.as_str().into();
                    v["epoch"] = t.epoch.0.into();
                    v["forced"] = false.into();
                }
                ControlPlaneEntry::ForcedOwnershipTransition(t) => {
                    v["range"] = t.range.as_str().into();
                    v["owner"] = t.new_owner.as_str().into();
                    v["forced"] = true.into();
                    v["operator"] = t.operator.as_str().into();
                    v["reason"] = t.reason.as_str().into();
                }
                ControlPlaneEntry::Membership(m) => {
                    let member = match m {
                        MembershipChange::Admit { member, .. }
                        | MembershipChange::BeginDrain { member }
                        | MembershipChange::Remove { member } => member,
                    };
                    v["member"] = member.as_str().into();
                }
                ControlPlaneEntry::LeaderConfiguration { term, leader } => {
                    v["leader"] = leader.as_str().into();
                    v["leader_term"] = term.0.into();
                }
            }
            v
        }
        WatchWireItem::Compacted { at } => serde_json::json!({
            "kind": "compacted", "index": at.0,
            "note": "the events up to this index are not available: read the catalog at least at it",
        }),
        WatchWireItem::SnapshotPart {
            at,
            members,
            ranges,
            last,
        } => serde_json::json!({
            "kind": "snapshot", "index": at.0, "last": last,
            "members": members.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
            "ranges": ranges.iter().map(|(r, o)| serde_json::json!({
                "range": r.as_str(), "owner": o.owner.as_str(), "epoch": o.epoch.0,
            })).collect::<Vec<_>>(),
        }),
        WatchWireItem::Role { role, term, leader } => serde_json::json!({
            "kind": "role", "role": format!("{role:?}").to_lowercase(), "term": term.0,
            "leader": leader.as_ref().map(|l| l.id.as_str()),
        }),
    }
}

/// `synod watch`: prints every committed entry from `--from` on, one line
/// each, across leader changes, until interrupted (or `--count` events).
pub fn cmd_watch(
    args: &ClientArgs,
    from: u64,
    range: Option<&str>,
    count: Option<u64>,
    json: bool,
) -> ExitCode {
    use synod::node::protocol::WatchWireItem;
    let c = match client(args) {
        Ok(c) => c,
        Err(e) => return fail(e, 2),
    };
    let mut w = match c.watch(synod::Index(from)) {
        Ok(w) => w,
        Err(e) => return fail(e, 2),
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&stop));
    }
    let mut events = 0u64;
    let mut out = std::io::stdout().lock();
    while !stop.load(Ordering::Relaxed) && count.is_none_or(|n| events < n) {
        let mut item = match w.next(Duration::from_millis(500)) {
            Ok(item) => item,
            Err(ClientCallError::Unreachable(_)) => continue,
            Err(e) => return call_error(e),
        };
        if let (Some(r), WatchWireItem::SnapshotPart { ranges, .. }) = (range, &mut item) {
            ranges.retain(|(id, _)| id.as_str() == r);
        }
        if let (Some(r), WatchWireItem::Event { entry, .. }) = (range, &item) {
            let on = match entry {
                ControlPlaneEntry::OwnershipTransition(t) => t.range.as_str() == r,
                ControlPlaneEntry::ForcedOwnershipTransition(t) => t.range.as_str() == r,
                _ => false,
            };
            if !on {
                continue;
            }
        }
        if matches!(item, WatchWireItem::Event { .. }) {
            events += 1;
        }
        let line = if json {
            watch_json(&item).to_string()
        } else {
            match &item {
                WatchWireItem::Event {
                    index,
                    entry,
                    outcome,
                    ..
                } => format!("{index} {} {outcome:?}", describe(entry)),
                WatchWireItem::Compacted { at } => {
                    format!("compacted: events up to {at} are not available here; the catalog at {at} follows")
                }
                WatchWireItem::SnapshotPart {
                    at,
                    members,
                    ranges,
                    last,
                } => {
                    let mut lines: Vec<String> = members
                        .iter()
                        .map(|m| format!("snapshot {at} member {} {:?}", m.id, m.kind))
                        .collect();
                    lines.extend(ranges.iter().map(|(r, o)| {
                        format!(
                            "snapshot {at} range {r} owner {} epoch {}",
                            o.owner, o.epoch
                        )
                    }));
                    if *last {
                        lines.push(format!("snapshot {at} complete"));
                    }
                    lines.join("\n")
                }
                WatchWireItem::Role { role, term, leader } => format!(
                    "role: {role:?} in term {term}, leader {}",
                    leader
                        .as_ref()
                        .map_or("unknown".to_string(), |l| l.id.to_string())
                ),
            }
        };
        use std::io::Write as _;
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            return ExitCode::SUCCESS; // the reader went away
        }
    }
    ExitCode::SUCCESS
}

fn describe(entry: &ControlPlaneEntry) -> String {
    match entry {
        ControlPlaneEntry::OwnershipTransition(t) => {
            format!(
                "transition {} -> {} epoch {}",
                t.range, t.new_owner, t.epoch
            )
        }
        ControlPlaneEntry::ForcedOwnershipTransition(t) => format!(
            "forced {} -> {} by {} ({})",
            t.range, t.new_owner, t.operator, t.reason
        ),
        ControlPlaneEntry::Membership(m) => format!("membership {m:?}"),
        ControlPlaneEntry::LeaderConfiguration { term, leader } => {
            format!("leader {leader} for term {term}")
        }
    }
}
