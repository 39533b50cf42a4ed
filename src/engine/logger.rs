//! raft-rs wants a `slog` logger; Synod logs through `tracing`. This drain
//! forwards each raft record to a `tracing` event under the `raft` target,
//! with the record's key-value pairs appended to the message.

use std::fmt::{self, Write as _};

use slog::{Drain, Key, Level, OwnedKVList, Record, Serializer, KV};

/// Forwards slog records to `tracing`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingDrain;

struct Collect(String);

impl Serializer for Collect {
    fn emit_arguments(&mut self, key: Key, val: &fmt::Arguments<'_>) -> slog::Result {
        let _ = write!(self.0, " {key}={val}");
        Ok(())
    }
}

impl Drain for TracingDrain {
    type Ok = ();
    type Err = slog::Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), slog::Never> {
        // Formatting is skipped unless tracing would keep the event.
        macro_rules! emit {
            ($lvl:expr) => {
                if tracing::enabled!(target: "raft", $lvl) {
                    let mut c = Collect(String::new());
                    let _ = record.kv().serialize(record, &mut c);
                    let _ = values.serialize(record, &mut c);
                    tracing::event!(target: "raft", $lvl, "{}{}", record.msg(), c.0);
                }
            };
        }
        match record.level() {
            Level::Critical | Level::Error => emit!(tracing::Level::ERROR),
            Level::Warning => emit!(tracing::Level::WARN),
            Level::Info => emit!(tracing::Level::INFO),
            Level::Debug => emit!(tracing::Level::DEBUG),
            Level::Trace => emit!(tracing::Level::TRACE),
        }
        Ok(())
    }
}

/// A logger for raft-rs that writes through `tracing`, tagged with the peer.
pub fn raft_logger(peer_id: u64) -> slog::Logger {
    slog::Logger::root(TracingDrain, slog::o!("peer" => peer_id))
}
