# The Python half of the logging bridge (`logs.rs`), compiled into the
# extension and run once at import. The Rust half collects the library's
# `tracing` records into a bounded queue; its drain thread takes the GIL and
# hands each batch to `_emit`, and every 0.25 s asks `_threshold` which
# levels any `synod` logger is enabled for, so that disabled levels are
# neither formatted nor queued.
#
# A record of target `synod::transport::tcp` goes to the logger
# `synod.transport.tcp`; a target outside the crate (raft's is `raft`) goes
# under `synod` (`synod.raft`). Its fields are `record.synod_fields` (a
# dict: int, float, bool or str values) and are also appended to the message
# as `key=value`, as tracing's own formatter shows them; `record.synod_target`
# is the tracing target. `created` is when the record was made (not when it
# was handed over) and `threadName` the Rust thread that made it
# (`thread` is None: it has no Python thread id).

import logging

#: tracing's TRACE has no logging level of its own: it is 5, named "TRACE"
#: unless the application named level 5 already.
TRACE = 5
if logging.getLevelName(TRACE) == f"Level {TRACE}":
    logging.addLevelName(TRACE, "TRACE")

_ROOT = "synod"

# A library's loggers have a NullHandler, so that records nobody configured
# a handler for are not printed by logging's last resort (stderr, WARNING
# and above).
logging.getLogger(_ROOT).addHandler(logging.NullHandler())

_loggers = {}


def _logger(target):
    logger = _loggers.get(target)
    if logger is None:
        parts = [p for p in target.split("::") if p]
        if not parts or parts[0] != _ROOT:
            parts.insert(0, _ROOT)
        logger = logging.getLogger(".".join(parts))
        _loggers[target] = logger
    return logger


def _text(value):
    if isinstance(value, str) and (not value or any(c.isspace() or c in "\"=" for c in value)):
        return repr(value)
    return str(value)


def _emit(batch):
    """Hands each `(target, level, message, fields, file, line, created,
    thread)` of `batch` to its logger, if that logger is enabled for it."""
    for target, level, message, fields, file, line, created, thread in batch:
        logger = _logger(target)
        if not logger.isEnabledFor(level):
            continue
        try:
            if fields:
                message = " ".join(
                    [message] + [f"{k}={_text(v)}" for k, v in fields.items()]
                )
            record = logger.makeRecord(
                logger.name,
                level,
                file or "(rust)",
                line or 0,
                message,
                (),
                None,
                extra={"synod_fields": fields, "synod_target": target},
            )
            record.relativeCreated += (created - record.created) * 1000.0
            record.created = created
            record.msecs = (created - int(created)) * 1000.0
            record.thread = None
            record.threadName = thread
            logger.handle(record)
        except Exception:
            # As a handler's own failure (`Handler.handleError`): reported
            # on stderr when logging says so, never raised into the drain.
            if logging.raiseExceptions:
                import traceback

                traceback.print_exc()


def _threshold():
    """The lowest level any `synod` logger is enabled for."""
    manager = logging.Logger.manager
    lowest = logging.getLogger(_ROOT).getEffectiveLevel()
    prefix = _ROOT + "."
    for name, logger in list(manager.loggerDict.items()):
        if name.startswith(prefix) and isinstance(logger, logging.Logger) and logger.level:
            lowest = min(lowest, logger.level)
    return max(lowest, manager.disable + 1)
