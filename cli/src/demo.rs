//! `synod demo`: a real cluster on this machine, end to end.
//!
//! Generates a dev CA and certificates, starts the first member as its own
//! process (bootstrapping a one-member cluster), admits the others through
//! the operator client and starts them with `join` (they catch up by
//! snapshot), runs fenced ownership transitions, kills the leader with
//! SIGKILL and measures the time to the next commit, restarts it, and checks
//! that every acknowledged transition is on every member. Exits 0 only if
//! nothing was lost; the last line then starts with `demo ok`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use synod::node::client::Client;
use synod::node::config::TlsSettings;
use synod::node::runner::security_for;
use synod::transport::certs::write_dev_certs;
use synod::{
    ControlPlaneEntry, Epoch, MemberKind, MembershipChange, NodeId, OwnershipTransition, RangeId,
};

type DemoResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// Options of the demo.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Members.
    pub nodes: usize,
    /// Where to keep certificates, configurations, data and logs (a
    /// temporary directory, removed afterwards, when `None`).
    pub data_dir: Option<PathBuf>,
    /// Ownership transitions to run before and after the failover.
    pub transitions: usize,
}

struct Member {
    name: String,
    id: NodeId,
    addr: String,
    config: PathBuf,
    log: PathBuf,
    child: Option<Child>,
}

/// Kills every member still running when the demo ends, however it ends.
struct Members(Vec<Member>);

impl Drop for Members {
    fn drop(&mut self) {
        for m in &mut self.0 {
            if let Some(c) = m.child.take() {
                synod_bench::process::stop(c, Duration::from_secs(3));
            }
        }
    }
}

fn free_port() -> DemoResult<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn spawn(m: &mut Member) -> DemoResult {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&m.log)?;
    let child = Command::new(std::env::current_exe()?)
        .arg("node")
        .arg("--config")
        .arg(&m.config)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()?;
    m.child = Some(child);
    Ok(())
}

fn write_config(dir: &Path, m: &Member, first: &Member, bootstrap: bool) -> DemoResult {
    let cluster = if bootstrap {
        format!(
            "bootstrap = [ {{ id = \"{}\", address = \"{}\" }} ]",
            m.id, m.addr
        )
    } else {
        format!("join = \"{}\"", first.addr)
    };
    let text = format!(
        "id = \"{id}\"\nlisten = \"{addr}\"\ndata_dir = \"data/{name}\"\n\n[tls]\ncert = \"certs/{name}.pem\"\nkey = \"certs/{name}-key.pem\"\nca = \"certs/ca.pem\"\n\n[cluster]\n{cluster}\n\n[authorization]\noperators = [\"CN=operator\"]\n",
        id = m.id,
        addr = m.addr,
        name = m.name,
    );
    std::fs::write(dir.join(&m.config), text)?;
    Ok(())
}

fn wait_for<T>(what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> DemoResult<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if Instant::now() > deadline {
            return Err(format!("timed out after {within:?} waiting for {what}").into());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The member currently leading, by index into `members`.
fn leader_of(client: &mut Client, members: &[Member]) -> Option<usize> {
    for (i, m) in members.iter().enumerate() {
        if m.child.is_none() {
            continue;
        }
        if let Ok(s) = client.status_of(&m.addr) {
            if s.role == "leader" {
                return Some(i);
            }
        }
    }
    None
}

struct Acked {
    range: RangeId,
    owner: NodeId,
    epoch: Epoch,
    index: u64,
}

/// Runs the demo. On failure the directory is kept and the end of every
/// member's log is printed.
pub fn run(opts: DemoOptions) -> DemoResult {
    if opts.nodes < 3 {
        return Err("the demo needs at least 3 members (one is killed)".into());
    }
    let (dir, temp) = match &opts.data_dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            (d.canonicalize()?, None)
        }
        None => {
            let t = tempfile::tempdir()?;
            (t.path().canonicalize()?, Some(t))
        }
    };
    let result = run_in(&dir, &opts);
    if result.is_err() {
        if let Some(t) = temp {
            let _ = t.keep();
        }
        for name in (1..=opts.nodes).map(|i| format!("node-{i}.log")) {
            if let Ok(text) = std::fs::read_to_string(dir.join(&name)) {
                let lines: Vec<&str> = text.lines().collect();
                eprintln!("--- last lines of {name}:");
                for l in &lines[lines.len().saturating_sub(8)..] {
                    eprintln!("  {l}");
                }
            }
        }
        eprintln!("kept {} for inspection", dir.display());
    }
    result
}

fn run_in(dir: &Path, opts: &DemoOptions) -> DemoResult {
    let dir = dir.to_path_buf();
    println!("demo directory: {}", dir.display());
    let names: Vec<String> = (1..=opts.nodes).map(|i| format!("node-{i}")).collect();
    write_dev_certs(&dir.join("certs"), &names, &["operator".to_string()])?;
    println!(
        "generated a dev CA and certificates for {} members and CN=operator",
        names.len()
    );

    let mut members = Members(Vec::new());
    for name in &names {
        members.0.push(Member {
            name: name.clone(),
            id: NodeId::from_certificate_subject(&format!("CN={name}"))?,
            addr: format!("127.0.0.1:{}", free_port()?),
            config: PathBuf::from(format!("{name}.toml")),
            log: dir.join(format!("{name}.log")),
            child: None,
        });
    }
    let first_addr = members.0[0].addr.clone();
    for i in 0..members.0.len() {
        let m = &members.0[i];
        write_config(&dir, m, &members.0[0], i == 0)?;
    }
    for m in &mut members.0 {
        m.config = dir.join(&m.config);
    }
    let operator = NodeId::from_certificate_subject("CN=operator")?;
    let security = security_for(
        &operator,
        &TlsSettings::Mutual {
            cert: dir.join("certs/operator.pem"),
            key: dir.join("certs/operator-key.pem"),
            ca: dir.join("certs/ca.pem"),
        },
    )?;
    let endpoints: Vec<String> = members.0.iter().map(|m| m.addr.clone()).collect();
    let mut client = Client::new(endpoints.clone(), security, Duration::from_secs(10));

    // 1. The first member bootstraps a one-member cluster.
    spawn(&mut members.0[0])?;
    wait_for("the first member to lead", Duration::from_secs(15), || {
        client
            .status_of(&first_addr)
            .ok()
            .filter(|s| s.role == "leader")
    })?;
    println!(
        "{} bootstrapped the cluster at {}",
        members.0[0].id, first_addr
    );

    // 2. The operator admits the others; each joins and is promoted.
    for i in 1..members.0.len() {
        let (id, addr) = (members.0[i].id.clone(), members.0[i].addr.clone());
        let c = client.propose(ControlPlaneEntry::Membership(MembershipChange::Admit {
            member: id.clone(),
            kind: MemberKind::Data,
            address: addr.parse()?,
        }))?;
        spawn(&mut members.0[i])?;
        let peer = wait_for(
            "the new member to report its status",
            Duration::from_secs(15),
            || client.status_of(&addr).ok().map(|s| s.peer_id),
        )?;
        wait_for(
            "the new member to become a voter",
            Duration::from_secs(20),
            || {
                client
                    .status_of(&first_addr)
                    .ok()
                    .filter(|s| s.voters.contains(&peer))
            },
        )?;
        println!(
            "admitted {id} at index {}; it joined by snapshot and was promoted to voter",
            c.index
        );
    }

    // 3. Fenced ownership transitions, with a progress bar.
    let ranges: Vec<RangeId> = (0..50)
        .map(|i| format!("users:[{:06},{:06})", i * 1000, (i + 1) * 1000).parse())
        .collect::<Result<_, _>>()?;
    let mut acked: Vec<Acked> = Vec::new();
    let mut epoch_of = vec![0u64; ranges.len()];
    let bar = indicatif::ProgressBar::new(opts.transitions as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg:<24} [{bar:40}] {pos}/{len} ({per_sec})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message("ownership transitions");
    let ids: Vec<NodeId> = members.0.iter().map(|m| m.id.clone()).collect();
    let mut propose_transition =
        |client: &mut Client, i: usize, acked: &mut Vec<Acked>| -> DemoResult {
            let r = i % ranges.len();
            epoch_of[r] += 1;
            let owner = ids[i % ids.len()].clone();
            let t = OwnershipTransition {
                range: ranges[r].clone(),
                new_owner: owner.clone(),
                epoch: Epoch(epoch_of[r]),
            };
            let c = client.propose(ControlPlaneEntry::OwnershipTransition(t))?;
            acked.push(Acked {
                range: ranges[r].clone(),
                owner,
                epoch: Epoch(epoch_of[r]),
                index: c.index.0,
            });
            Ok(())
        };
    let t0 = Instant::now();
    for i in 0..opts.transitions {
        propose_transition(&mut client, i, &mut acked)?;
        bar.inc(1);
    }
    bar.finish();
    let rate = opts.transitions as f64 / t0.elapsed().as_secs_f64();
    println!(
        "{} transitions committed ({rate:.0}/s, one at a time)",
        acked.len()
    );

    // 4. Kill the leader with SIGKILL; time the next commit.
    let l = leader_of(&mut client, &members.0).ok_or("no leader")?;
    let killed = members.0[l].id.clone();
    let election = synod::engine::EngineConfig::default().election_timeout();
    let kill_at = Instant::now();
    if let Some(mut c) = members.0[l].child.take() {
        c.kill()?;
        c.wait()?;
    }
    println!("killed the leader {killed} with SIGKILL");
    let survivors: Vec<String> = members
        .0
        .iter()
        .filter(|m| m.child.is_some())
        .map(|m| m.addr.clone())
        .collect();
    let mut after_client = Client::new(
        survivors,
        client_security(&dir)?,
        Duration::from_millis(300),
    );
    let probe: RangeId = "failover-probe".parse()?;
    let next_owner = members.0[(l + 1) % members.0.len()].id.clone();
    let committed = wait_for(
        "a commit after the leader died",
        Duration::from_secs(30),
        || {
            after_client
                .propose(ControlPlaneEntry::OwnershipTransition(
                    OwnershipTransition {
                        range: probe.clone(),
                        new_owner: next_owner.clone(),
                        epoch: Epoch(1),
                    },
                ))
                .ok()
        },
    )?;
    let failover = kill_at.elapsed();
    acked.push(Acked {
        range: probe,
        owner: next_owner,
        epoch: Epoch(1),
        index: committed.index.0,
    });
    println!(
        "next commit {:.0} ms after the kill (election timeout {} ms)",
        failover.as_secs_f64() * 1e3,
        election.as_millis()
    );

    // 5. More transitions on the new leader; restart the killed member.
    for i in opts.transitions..opts.transitions * 3 / 2 {
        propose_transition(&mut client, i, &mut acked)?;
    }
    spawn(&mut members.0[l])?;
    println!("restarted {killed} from its data directory");

    // 6. Every acknowledged transition must be on every member.
    let last = acked.iter().map(|a| a.index).max().unwrap_or(0);
    let mut expected: std::collections::BTreeMap<RangeId, (&NodeId, Epoch)> = Default::default();
    for a in &acked {
        let e = expected
            .entry(a.range.clone())
            .or_insert((&a.owner, a.epoch));
        if a.epoch >= e.1 {
            *e = (&a.owner, a.epoch);
        }
    }
    let mut rows = Vec::new();
    let mut lost = 0usize;
    for m in &members.0 {
        let status = wait_for(
            &format!("{} to apply up to {last}", m.id),
            Duration::from_secs(30),
            || {
                client
                    .status_of(&m.addr)
                    .ok()
                    .filter(|s| s.applied.0 >= last)
            },
        )?;
        let mut one = Client::new(
            vec![m.addr.clone()],
            client_security(&dir)?,
            Duration::from_secs(10),
        );
        let have: std::collections::BTreeMap<RangeId, (NodeId, Epoch)> = one
            .ranges(false)?
            .into_iter()
            .map(|(r, o)| (r, (o.owner, o.epoch)))
            .collect();
        let missing = expected
            .iter()
            .filter(|(r, (owner, epoch))| have.get(*r) != Some(&((*owner).clone(), *epoch)))
            .count();
        lost += missing;
        rows.push((
            m.id.clone(),
            status.role,
            status.term.0,
            status.applied.0,
            have.len(),
            missing,
        ));
    }
    println!();
    println!(
        "{:<12} {:<10} {:>5} {:>8} {:>7} {:>8}",
        "member", "role", "term", "applied", "ranges", "missing"
    );
    for (id, role, term, applied, ranges, missing) in &rows {
        println!(
            "{:<12} {:<10} {:>5} {:>8} {:>7} {:>8}",
            id, role, term, applied, ranges, missing
        );
    }
    println!();
    println!("acknowledged transitions:   {}", acked.len());
    println!("leader killed:              {killed}");
    println!(
        "failover (kill to commit):  {:.0} ms (election timeout {} ms)",
        failover.as_secs_f64() * 1e3,
        election.as_millis()
    );
    println!("logs and data:              {}", dir.display());
    if lost > 0 {
        return Err(format!("{lost} acknowledged transitions missing on some member").into());
    }
    println!(
        "demo ok: {} members, {} acknowledged transitions on every member, failover {:.0} ms",
        members.0.len(),
        acked.len(),
        failover.as_secs_f64() * 1e3
    );
    drop(members);
    Ok(())
}

fn client_security(dir: &Path) -> DemoResult<synod::transport::Security> {
    Ok(security_for(
        &NodeId::from_certificate_subject("CN=operator")?,
        &TlsSettings::Mutual {
            cert: dir.join("certs/operator.pem"),
            key: dir.join("certs/operator-key.pem"),
            ca: dir.join("certs/ca.pem"),
        },
    )?)
}
