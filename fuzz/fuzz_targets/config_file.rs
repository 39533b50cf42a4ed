//! The configuration file (`synod node --config`): arbitrary text through
//! [`NodeConfig::parse`], the loader's validation without the file system.
//!
//! Properties: nothing panics; a configuration that is accepted is one a
//! member can start with (its timing arithmetic at start cannot overflow or
//! truncate: the election timeout, and deadlines twice that far); and it is
//! a fixed point:
//! rendered back to TOML with every value as parsed (identities trimmed,
//! paths resolved, a bare metrics port as host:port), it parses to the same
//! configuration.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use synod::node::config::{is_loopback, ClusterStart, NodeConfig, TlsSettings};
use synod::NodeId;
use synod_fuzz::config_path;
use toml::{Table, Value};

fn ids(set: &std::collections::BTreeSet<NodeId>) -> Value {
    Value::Array(set.iter().map(|id| Value::from(id.as_str())).collect())
}

fn int(v: impl TryInto<i64>) -> Value {
    Value::Integer(
        v.try_into()
            .unwrap_or_else(|_| panic!("an accepted number fits TOML")),
    )
}

fn path(p: &std::path::Path) -> Value {
    Value::from(p.to_str().expect("paths from TOML are UTF-8"))
}

/// `c` as a configuration file.
fn render(c: &NodeConfig) -> String {
    let mut t = Table::new();
    t.insert("id".into(), c.id.as_str().into());
    t.insert("listen".into(), c.listen.as_str().into());
    t.insert("data_dir".into(), path(&c.data_dir));
    let mut tls = Table::new();
    match &c.tls {
        TlsSettings::Insecure => {
            tls.insert("insecure".into(), true.into());
            if !is_loopback(&c.listen) {
                tls.insert("allow_insecure_non_loopback".into(), true.into());
            }
        }
        TlsSettings::Mutual { cert, key, ca } => {
            tls.insert("cert".into(), path(cert));
            tls.insert("key".into(), path(key));
            tls.insert("ca".into(), path(ca));
            tls.insert(
                "allow_key_readable_by_others".into(),
                c.allow_key_readable_by_others.into(),
            );
            tls.insert("deny".into(), ids(&c.revocation.deny));
            if let Some(crl) = &c.revocation.crl {
                tls.insert("crl".into(), path(crl));
            }
        }
    }
    t.insert("tls".into(), tls.into());
    let mut cluster = Table::new();
    match &c.cluster {
        ClusterStart::Bootstrap(members) => {
            let members = members
                .iter()
                .map(|m| {
                    let mut e = Table::new();
                    e.insert("id".into(), m.id.as_str().into());
                    e.insert("kind".into(), m.kind.as_str().into());
                    e.insert("address".into(), m.address.as_str().into());
                    Value::Table(e)
                })
                .collect();
            cluster.insert("bootstrap".into(), Value::Array(members));
        }
        ClusterStart::Join(addr) => {
            cluster.insert("join".into(), addr.as_str().into());
        }
    }
    t.insert("cluster".into(), cluster.into());
    let mut auth = Table::new();
    auth.insert("readers".into(), ids(&c.authorization.readers));
    auth.insert("proposers".into(), ids(&c.authorization.proposers));
    auth.insert("operators".into(), ids(&c.authorization.operators));
    t.insert("authorization".into(), auth.into());
    let e = &c.engine;
    let mut engine = Table::new();
    engine.insert("tick_ms".into(), int(e.tick_interval.as_millis()));
    engine.insert("heartbeat_ticks".into(), int(e.heartbeat_ticks));
    engine.insert("election_ticks".into(), int(e.election_ticks));
    engine.insert("snapshot_every".into(), int(e.snapshot_every));
    engine.insert("max_learner_lag".into(), int(e.max_learner_lag));
    t.insert("engine".into(), engine.into());
    if let Some(addr) = &c.metrics_listen {
        let mut admin = Table::new();
        admin.insert("metrics_listen".into(), addr.as_str().into());
        t.insert("admin".into(), admin.into());
    }
    let mut transport = Table::new();
    transport.insert("max_inbound".into(), int(c.max_inbound));
    if let Some(n) = c.max_client_connections_per_identity {
        transport.insert("max_client_connections_per_identity".into(), int(n));
    }
    t.insert("transport".into(), transport.into());
    toml::to_string(&t).expect("a table renders")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = NodeConfig::parse(text, &config_path()) else {
        return;
    };

    // What a member computes from the engine settings when it starts: the
    // election timeout (from the full tick count, not a truncated one), and
    // deadlines up to twice that far from now.
    let e = &config.engine;
    let timeout = e.election_timeout();
    assert_eq!(
        timeout.as_nanos(),
        e.tick_interval.as_nanos() * e.election_ticks as u128,
        "the election timeout is computed from a truncated tick count"
    );
    let twice = timeout
        .checked_mul(2)
        .expect("twice the election timeout overflows");
    assert!(
        Instant::now().checked_add(twice).is_some(),
        "a deadline twice the election timeout ({timeout:?}) away overflows"
    );

    let rendered = render(&config);
    let again = NodeConfig::parse(&rendered, &config_path()).unwrap_or_else(|err| {
        panic!("an accepted configuration rendered is refused: {err}\n{rendered}")
    });
    assert_eq!(
        format!("{again:?}"),
        format!("{config:?}"),
        "an accepted configuration is not a fixed point:\n{rendered}"
    );
});
