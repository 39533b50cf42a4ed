/*
 * synod.h: the C ABI of Synod (libsynod), a Raft-replicated control-plane
 * log for cluster membership, leader election and a fenced shard/range
 * ownership catalog.
 *
 * The one boundary: user data never enters the control-plane log. There is
 * one typed propose function per entry a caller may propose
 * (synod_node_propose_*), and no function takes an opaque byte payload.
 *
 * Conventions (docs/conventions.md):
 *
 * Names      synod_<type>_<verb> for functions, SYNOD_... for constants.
 *
 * Errors     Fallible functions return synod_status: SYNOD_OK (0) or a
 *            SYNOD_ERR_* code. Codes are fixed-width integers, never
 *            renumbered; synod_status_str() names them. On failure the
 *            calling thread's last error is replaced: read it with
 *            synod_last_error_status(), synod_last_error_message(),
 *            synod_last_refusal_code() (for SYNOD_ERR_REFUSED) and
 *            synod_last_leader_hint() (for SYNOD_ERR_NOT_LEADER). A
 *            successful call leaves the last error alone; the synod_last_*
 *            readers never change it.
 *
 * Out-params Out-params are written only when the call returns SYNOD_OK;
 *            on failure they keep whatever the caller put there. Every
 *            out-param must be non-NULL unless its documentation says
 *            otherwise (SYNOD_ERR_NULL_ARGUMENT).
 *
 * Ownership  Each function states ownership in one sentence. Handles are
 *            created by synod_<type>_open/_parse/... and released with
 *            synod_<type>_free, exactly once; synod_<type>_free(NULL) does
 *            nothing. Getters on a NULL handle return NULL or 0.
 *
 * Strings    Strings in are NUL-terminated UTF-8, borrowed for the call
 *            only (not UTF-8: SYNOD_ERR_INVALID_ARGUMENT). Strings out are
 *            either static, or borrowed from a handle and valid until that
 *            handle is freed (a range cursor's: until its next call), or
 *            copied into a caller buffer; the caller never frees a returned
 *            const char *. The one exception is a char ** out-param
 *            (synod_node_metrics_text): the caller owns that string and
 *            frees it with synod_string_free.
 *
 * Panics     Every function catches panics at the boundary: a bug inside
 *            libsynod returns SYNOD_ERR_PANIC (or NULL/0 for functions that
 *            do not return a status) and never unwinds into C.
 *
 * Threads    synod_node: all functions taking a const synod_node * may be
 *            called from any number of threads at once; synod_node_free
 *            must not race with any other call on that node. A member
 *            started with synod_node_start runs its own threads (driver,
 *            completion callbacks, transport); after synod_node_shutdown
 *            returns they are gone. Its callbacks run on its callback
 *            thread and may call the node's blocking functions (see
 *            synod_propose_callback).
 *            synod_identity, synod_ownership, synod_member_list,
 *            synod_leader_hint, synod_leader, synod_replica_status,
 *            synod_view, synod_audit_list: immutable once created, so they
 *            may be read from any number of threads at once; free each
 *            exactly once, after every other use. A synod_view does not
 *            depend on its node and outlives it. synod_range_cursor: one
 *            thread at a time. synod_watch: synod_watch_cancel from any
 *            thread; its callback runs on a library thread of its own (see
 *            synod_watch_callback), and synod_node_shutdown ends every
 *            watch of the node (final callback, free function) before it
 *            returns. synod_config: one thread at a time while a setter
 *            changes it; synod_node_start_config only reads it, from any
 *            number of threads at once. The log callback
 *            (synod_set_log_callback) runs on whichever library thread
 *            emitted the record, on several at once; replacing or unsetting
 *            it returns after its last call and its free function.
 *            synod_client: every function taking a const synod_client *
 *            may be called from any thread, but calls on one client are
 *            serialized (a mutex per handle): use one client per thread
 *            for parallelism; synod_client_free must not race with any
 *            other call on it. synod_member_status, synod_range_list:
 *            immutable. synod_remote_watch: as synod_watch (cancel from
 *            any thread, callback on a library thread of its own, free
 *            function exactly once, never after cancel or free returns);
 *            it does not depend on its client. The last error is per
 *            thread.
 *
 * Stopped    A started member that is shut down, or stopped on its own (a
 *            storage failure, its removal from the cluster), answers every
 *            call but synod_node_id, synod_node_shutdown and synod_node_free
 *            with SYNOD_ERR_SHUTDOWN, or SYNOD_ERR_STORAGE after a storage
 *            failure: proposals, reads (never "no owner", an empty list or
 *            SYNOD_FENCE_UNKNOWN), synod_node_is_leader, term and commit
 *            index alike. A single-node engine keeps answering reads after
 *            shutdown; only its proposals answer SYNOD_ERR_SHUTDOWN.
 *
 * Started    Read levels (synod_node_read and the synod_view readers),
 *            synod_node_leader, synod_node_status, synod_node_metrics_text
 *            and watches need a member started with synod_node_start,
 *            synod_node_start_config or synod_node_start_host; a
 *            single-node engine answers them SYNOD_ERR_INVALID_ARGUMENT.
 *
 * Host       synod_node_start_host runs a member whose raft messages travel
 *            through the host's own networking: its send callback gets each
 *            outbound frame on the member's consensus thread (never after
 *            synod_node_shutdown returns; its free function exactly once),
 *            and the host hands inbound frames to synod_node_deliver (any
 *            thread), saying who sent them: authenticating peers is the
 *            host's job; the member still refuses a sender that is not a
 *            member, a message claiming another sender and any frame its
 *            codec refuses, and a full inbox answers SYNOD_ERR_OVERLOADED
 *            after at most one tick.
 *
 * Client     synod_client talks to a cluster over the network from a
 *            process that is not a member. Its proposals are exactly-once
 *            and answer SYNOD_ERR_INDETERMINATE (or SYNOD_ERR_PROTOCOL)
 *            when the outcome stayed unknown, SYNOD_ERR_UNREACHABLE when no
 *            member could serve them in time (then they did not take
 *            effect); its reads say the index and term they reflect
 *            (synod_read_position); timeout_ms 0 means the client's
 *            default.
 *
 * Versions   SYNOD_VERSION_MAJOR/MINOR/PATCH/NUMBER are the version this
 *            header was generated for (compile time);
 *            synod_version_number() and synod_version_string() are the
 *            version of the library linked at run time. They are equal when
 *            header and library come from the same build.
 */

#ifndef SYNOD_H
#define SYNOD_H

/* Generated by cbindgen from bindings/c; do not edit. Regenerate with: SYNOD_BLESS=1 cargo test -p synod-c --test header */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// The largest `len` `synod_node_deliver` takes: one frame header and the
// largest payload of the wire codec.
#define SYNOD_HOST_MAX_FRAME 16777230

// The major version this header belongs to.
#define SYNOD_VERSION_MAJOR 0

// The minor version this header belongs to.
#define SYNOD_VERSION_MINOR 1

// The patch version this header belongs to.
#define SYNOD_VERSION_PATCH 0

// `MAJOR * 1000000 + MINOR * 1000 + PATCH`: compare with
// `synod_version_number()` to detect a header/library mismatch.
#define SYNOD_VERSION_NUMBER (((SYNOD_VERSION_MAJOR * 1000000) + (SYNOD_VERSION_MINOR * 1000)) + SYNOD_VERSION_PATCH)

// The audit list of a view: every forced ownership transition, oldest
// first. Taken by `synod_view_audit`.
//
// Immutable: one handle may be read from any number of threads at once;
// free it exactly once with `synod_audit_list_free`.
typedef struct synod_audit_list synod_audit_list;

// A connection to a cluster for a process that is not a member: it knows
// a few member endpoints and its own identity, sends reads to whichever
// member answers and proposals to the leader, and follows the leader.
//
// Thread safety: every function taking a `const synod_client *` may be
// called from any thread, but calls on one client are serialized (each
// waits for the one before it to return); use one client per thread for
// parallelism. `synod_client_free` must not race with any other call on
// the same handle.
typedef struct synod_client synod_client;

// A member's configuration under construction: the keys of the
// configuration file (docs/configuration.md), set one at a time.
//
// Thread safety: one thread at a time while it is changed; any number of
// threads may start members from it at once (`synod_node_start_config`
// only reads it). Free it exactly once with `synod_config_free`; a member
// started from it does not depend on it.
typedef struct synod_config synod_config;

// A validated member identity (a certificate subject, trimmed and otherwise
// verbatim).
//
// Immutable: one handle may be read from any number of threads at once; it
// must be freed exactly once, with `synod_identity_free`, after every other
// use.
typedef struct synod_identity synod_identity;

// The leader a member knows of and the term it leads in: a snapshot taken
// by `synod_node_leader`.
//
// Immutable: one handle may be read from any number of threads at once;
// free it exactly once with `synod_leader_free`.
typedef struct synod_leader synod_leader;

// The leader a follower named when it answered `SYNOD_ERR_NOT_LEADER`; see
// `synod_last_leader_hint`.
//
// Immutable: one handle may be read from any number of threads at once;
// free it exactly once with `synod_leader_hint_free`.
typedef struct synod_leader_hint synod_leader_hint;

// The members of the catalog, in identity order: a snapshot taken by
// `synod_node_members` or `synod_view_members`.
//
// Immutable: one handle may be read from any number of threads at once;
// free it exactly once with `synod_member_list_free`.
typedef struct synod_member_list synod_member_list;

// What the member a client reached says about itself: its identity, role,
// term, the leader it knows of, its commit and applied index and catalog
// version. A snapshot taken by `synod_client_status`.
//
// Immutable: one handle may be read from any number of threads at once;
// free it exactly once with `synod_member_status_free`.
typedef struct synod_member_status synod_member_status;

// A control-plane member.
//
// Thread safety: every function taking a `const synod_node *` may be called
// from any number of threads at once; `synod_node_free` must not race with
// any other call on the same handle.
typedef struct synod_node synod_node;

// Who owns a range, and which log entry made it so: a snapshot taken by
// `synod_node_owner` or `synod_view_owner`.
//
// Immutable: one handle may be read from any number of threads at once;
// free it exactly once with `synod_ownership_free`.
typedef struct synod_ownership synod_ownership;

// A walk over the owned ranges of one view, in range id order, optionally
// only those of one owner: made by `synod_view_ranges`.
//
// Not thread-safe: one thread at a time (each call advances it). It holds
// the view's catalog itself, so it stays valid after the view is freed;
// free it exactly once with `synod_range_cursor_free`.
typedef struct synod_range_cursor synod_range_cursor;

// Owned ranges fetched by a client, in range id order: made by
// `synod_client_ranges`.
//
// Immutable: one handle may be read from any number of threads at once;
// free it exactly once with `synod_range_list_free`.
typedef struct synod_range_list synod_range_list;

// A running change feed of a cluster: made by `synod_client_watch`.
//
// `synod_remote_watch_cancel` may be called from any thread, any number
// of times; `synod_remote_watch_free` exactly once, not racing with other
// calls on the same handle. It does not depend on its client: it stays
// valid, and the watch goes on, after `synod_client_free`.
typedef struct synod_remote_watch synod_remote_watch;

// A started member's status: role, term, the leader it knows of, its
// commit, applied and last log index, its proposals waiting to commit, and
// the peers of its applied configuration with their replication progress
// as the leader sees it. A snapshot taken by `synod_node_status`.
//
// Immutable: one handle may be read from any number of threads at once;
// free it exactly once with `synod_replica_status_free`.
typedef struct synod_replica_status synod_replica_status;

// The catalog as one member applied it at one log position
// (`synod_view_applied_index`): ranges, members, the audit list. Taken by
// `synod_node_read`.
//
// Immutable: one handle may be read from any number of threads at once,
// and it never changes; it does not depend on its node (it stays valid
// after the node is shut down or freed). Free it exactly once with
// `synod_view_free`, after every other use (cursors and lists taken from
// it keep what they need and may outlive it).
typedef struct synod_view synod_view;

// A running change feed: made by `synod_node_watch`.
//
// `synod_watch_cancel` may be called from any thread, any number of times;
// `synod_watch_free` exactly once, not racing with other calls on the same
// handle. The handle stays valid until freed, also after its watch ended
// and after its node was shut down or freed.
typedef struct synod_watch synod_watch;

// The result of every fallible call: `SYNOD_OK` (0) or one of the
// `SYNOD_ERR_*` codes. A fixed-width integer rather than a C enum so its size
// never depends on the compiler; codes are never renumbered and new ones
// only ever fill the gaps left for them.
typedef uint32_t synod_status;

// Why the catalog refused an entry: the stable number of the core's
// `Refusal::code()`. Numbers are never reused.
typedef uint32_t synod_refusal_code;

// The outcome of `synod_node_reload_revocation`.
typedef struct synod_revocation_summary {
    // Identities on the deny list now in force.
    uint64_t denied;
    // Certificate revocation lists now in force.
    uint64_t crls;
} synod_revocation_summary;

// What a member does: `SYNOD_MEMBER_KIND_DATA` or `SYNOD_MEMBER_KIND_WITNESS`.
// Any other value is refused with `SYNOD_ERR_INVALID_ARGUMENT`; 0 is never a
// kind, so a zeroed variable is never mistaken for one.
typedef uint32_t synod_member_kind;

// A proposal that was committed and took effect.
typedef struct synod_commit {
    // Where the entry sits in the log (from 1).
    uint64_t index;
    // The term that committed it.
    uint64_t term;
    // The catalog version after applying it.
    uint64_t version;
    // False when the entry was an idempotent repeat that changed nothing.
    bool changed;
} synod_commit;

// Called exactly once with the answer to a non-blocking proposal.
// `user_data` is the pointer given with the proposal; `status` is
// `SYNOD_OK` with `commit` pointing at the commit (valid during the call
// only), or an error status with `commit` NULL, in which case this thread's
// last error (`synod_last_error_message`, `synod_last_refusal_code`,
// `synod_last_leader_hint`) describes it during the call.
//
// A started member (`synod_node_start`) runs callbacks on a thread of its
// own, one at a time in the order of the answers, never on its consensus
// thread: a callback may call any function on the same node, blocking ones
// included (`synod_node_propose_*`, reads), and `synod_node_shutdown`,
// which then runs the node's remaining callbacks before it returns; a slow
// callback delays the node's later callbacks, not its consensus. The
// single-node engine runs the callback on the registering thread before
// `synod_node_propose_transition_async` returns: there `synod_node_shutdown`
// on the same node returns `SYNOD_ERR_INVALID_ARGUMENT` and does nothing.
// No callback may call `synod_node_free` on its own node.
typedef void (*synod_propose_callback)(void *user_data,
                                       synod_status status,
                                       const struct synod_commit *commit);

// Releases the `user_data` of a registration. Called exactly once per
// registration: after the callback ran, or without it when the
// registration failed. May be NULL when there is nothing to release.
typedef void (*synod_free_callback)(void *user_data);

// An exactly-once session: a client id (128 bits, random: see
// `synod_session_new`) and the sequence number of one proposal. Give each
// new proposal the next `seq`; give a retry of a proposal the same
// `client_hi`, `client_lo` and `seq` as its first attempt: it takes effect
// once, and the retry answers the first attempt's outcome. Keep at most 128
// proposals of one client in flight (the catalog remembers the outcomes of
// a client's 128 highest sequence numbers).
typedef struct synod_session {
    // The client id's high 64 bits.
    uint64_t client_hi;
    // The client id's low 64 bits.
    uint64_t client_lo;
    // This proposal's sequence number (from 1).
    uint64_t seq;
} synod_session;

// Which entry a `synod_entry` describes.
typedef uint32_t synod_entry_kind;

// One entry to propose: `kind` says which, and which fields it reads (the
// others are ignored and may be NULL or 0). Strings are borrowed for the
// call only. There is no field for bytes: user data cannot be proposed.
typedef struct synod_entry {
    // A `SYNOD_ENTRY_*` kind.
    synod_entry_kind kind;
    // ADMIT, BEGIN_DRAIN, REMOVE: the member's identity.
    const char *member;
    // ADMIT: what the member does.
    synod_member_kind member_kind;
    // ADMIT: where the member is reached (`host:port`).
    const char *address;
    // TRANSITION, FORCED_TRANSITION: the range.
    const char *range;
    // TRANSITION, FORCED_TRANSITION: its new owner.
    const char *new_owner;
    // TRANSITION: the epoch (the current epoch plus one).
    uint64_t epoch;
    // FORCED_TRANSITION: the operator's identity.
    const char *operator_id;
    // FORCED_TRANSITION: why (never blank).
    const char *reason;
} synod_entry;

// The answer of `synod_node_fence_check`. 0 is never an answer, so a zeroed
// variable is never mistaken for `SYNOD_FENCE_CURRENT`.
typedef uint32_t synod_fence_status;

// Whether a member is serving or on its way out. 0 is never a state.
typedef uint32_t synod_member_state;

// A member's raft role, as `synod_node_status` and role watch events say
// it. 0 is never a role.
typedef uint32_t synod_role;

// One peer of a member's applied raft configuration, as
// `synod_replica_status_peer` copies it out. The strings are borrowed from
// the `synod_replica_status` it came from: valid until that is freed.
typedef struct synod_peer {
    // Its raft peer id (assigned by the catalog at admission, never reused).
    uint64_t peer_id;
    // Its identity, or NULL when the catalog this member applied does not
    // name that peer id (a configuration change not yet applied here).
    const char *id;
    // True for a voter, false for a learner (a member catching up before
    // it is promoted).
    bool voter;
    // True when `matched` and `lag` hold the leader's view of this peer:
    // only in the status of the leader, and never for the leader itself.
    bool has_progress;
    // The highest log index the leader knows is replicated to the peer.
    uint64_t matched;
    // How many entries the peer is behind the leader's last index.
    uint64_t lag;
} synod_peer;

// How fresh a read must be (`synod_node_read`). 0 is never a level.
typedef uint32_t synod_read_level;

// One owned range, as `synod_range_cursor_next` copies it out. The strings
// are borrowed from the cursor: valid until the next
// `synod_range_cursor_next` on it or its free.
typedef struct synod_range {
    // The range id.
    const char *range;
    // Its current owner.
    const char *owner;
    // Its ownership epoch.
    uint64_t epoch;
    // The catalog version the transition that set it produced.
    uint64_t version;
    // The term of that entry.
    uint64_t term;
    // The log index of that entry.
    uint64_t index;
} synod_range;

// One forced ownership transition of the audit list, as
// `synod_audit_list_get` copies it out. The strings are borrowed from the
// list: valid until it is freed.
typedef struct synod_audit_record {
    // The log index of the forced transition.
    uint64_t index;
    // Its term.
    uint64_t term;
    // The range that was moved.
    const char *range;
    // The owner before, or NULL when the range had none.
    const char *previous_owner;
    // The epoch before (0 when the range had no owner).
    uint64_t previous_epoch;
    // The owner after.
    const char *new_owner;
    // The epoch after.
    uint64_t epoch;
    // The operator who forced it.
    const char *operator_id;
    // Why.
    const char *reason;
} synod_audit_record;

// What a `synod_watch_event` is. 0 is never a kind.
typedef uint32_t synod_watch_kind;

// What applying a committed entry did, the same on every member. 0 (for
// events that are not entries) is never an outcome.
typedef uint32_t synod_watch_outcome;

// Which membership change a `SYNOD_WATCH_MEMBERSHIP` event is. 0 is never
// one.
typedef uint32_t synod_membership_change;

// One item of a watch, borrowed by its callback for the duration of the
// call (every pointer in it too). Fields that do not apply to its `kind`
// are 0, false or NULL.
typedef struct synod_watch_event {
    // What this is (`SYNOD_WATCH_*`).
    synod_watch_kind kind;
    // A log entry's index; for `SYNOD_WATCH_SNAPSHOT` the index the
    // catalog is at.
    uint64_t index;
    // A log entry's term; for `SYNOD_WATCH_SNAPSHOT` the term of the entry
    // at `index`; for `SYNOD_WATCH_ROLE` the member's current term.
    uint64_t term;
    // For entries: what applying it did (`SYNOD_OUTCOME_*`).
    synod_watch_outcome outcome;
    // For a refused entry (or the repeat of one): why.
    synod_refusal_code refusal;
    // For an entry that applied or was already in effect (or the repeat of
    // one): the catalog version after it.
    uint64_t version;
    // `SYNOD_WATCH_TRANSITION`: the range.
    const char *range;
    // `SYNOD_WATCH_TRANSITION`: the new owner.
    const char *owner;
    // `SYNOD_WATCH_TRANSITION`: the epoch a plain transition named; for a
    // forced one, the epoch it moved the range to (0 if it was refused).
    uint64_t epoch;
    // `SYNOD_WATCH_TRANSITION`: an operator's forced transition.
    bool forced;
    // A forced transition: the operator who forced it.
    const char *operator_id;
    // A forced transition: why.
    const char *reason;
    // `SYNOD_WATCH_MEMBERSHIP`: the member.
    const char *member;
    // `SYNOD_WATCH_MEMBERSHIP`: which change.
    synod_membership_change member_change;
    // An admission: the member's kind.
    synod_member_kind member_kind;
    // An admission: the member's peer address.
    const char *address;
    // `SYNOD_WATCH_ROLE`: the member's role (`SYNOD_ROLE_*`).
    synod_role role;
    // `SYNOD_WATCH_ROLE`: the leader it knows of (NULL: none);
    // `SYNOD_WATCH_LEADER_CONFIGURATION`: the elected leader.
    const char *leader_id;
    // `SYNOD_WATCH_ROLE`: that leader's address (NULL: not known).
    const char *leader_address;
    // `SYNOD_WATCH_LEADER_CONFIGURATION`: the term that elected the leader.
    uint64_t leader_term;
    // `SYNOD_WATCH_SNAPSHOT`: the catalog as of `index`, borrowed for the
    // call (read it with the `synod_view_*` functions; never free it).
    const struct synod_view *view;
    // `SYNOD_WATCH_END`: why the watch ended.
    synod_status status;
} synod_watch_event;

// Called with each item of a watch, on that watch's own library thread,
// one call at a time and in order. `user_data` is the pointer given to
// `synod_node_watch`; `event` and everything it points to are valid during
// the call only.
//
// A callback may call any read function on any node (`synod_node_read`,
// `synod_node_owner`, ...), blocking ones included, and proposals;
// `synod_watch_cancel` and `synod_watch_free` on its own watch (then no
// callback of it runs after this one returns, and its free function runs
// right after) or on another (which waits for that one's callback).
// It must not call `synod_node_shutdown` on the node of its watch (which
// returns `SYNOD_ERR_INVALID_ARGUMENT` and does nothing) nor
// `synod_node_free` on it. A slow callback holds back its own watch only:
// one that falls behind the member's history gets `SYNOD_WATCH_SNAPSHOT`.
typedef void (*synod_watch_callback)(void *user_data, const struct synod_watch_event *event);

// Hands one outbound message of a member started with
// `synod_node_start_host` to the host.
//
// `user_data` is the pointer given to `synod_node_start_host`;
// `to_peer_id` the raft peer id of the destination and `to_identity` its
// identity (NUL-terminated, or NULL if the member does not know it); both
// borrowed for the call only. `bytes[0..len)` is one complete frame of
// Synod's wire codec, valid during the call only: the host copies it and
// carries it, unchanged and whole, to that member, whose host passes it to
// `synod_node_deliver` with this member's peer id as `from`. Frames may be
// lost, duplicated or reordered (raft retries); a frame must never be cut
// or merged with another.
//
// Runs on the member's consensus thread, one call at a time, never after
// `synod_node_shutdown` of the member returns. While it runs the member
// does nothing else: copy, queue, return (drop under pressure: raft
// retries). It may call `synod_node_deliver` on any node, the member's
// own included, and the node's non-blocking functions; it must not wait
// for the member (its blocking calls, `synod_node_propose_*`, reads at a
// level, `synod_node_wait_applied`, would wait until their timeout), and
// must not shut it down (`synod_node_shutdown` answers
// `SYNOD_ERR_INVALID_ARGUMENT`) or free it.
typedef void (*synod_host_send_callback)(void *user_data,
                                         uint64_t to_peer_id,
                                         const char *to_identity,
                                         const uint8_t *bytes,
                                         size_t len);

// The mutual-TLS files of a client: PEM paths, borrowed for the call of
// `synod_client_new` only. The client's identity is the subject of the
// certificate.
typedef struct synod_client_tls {
    // The client's certificate chain, its own certificate first.
    const char *cert;
    // Its private key.
    const char *key;
    // The CA bundle the members' certificates must chain to.
    const char *ca;
} synod_client_tls;

// Where in the log a client read's answer stands: the applied index of
// the member that answered, and the term of the entry at that index.
typedef struct synod_read_position {
    // The applied index the answer reflects.
    uint64_t index;
    // The term of the entry at `index` (0 before the first entry).
    uint64_t term;
} synod_read_position;

// One transition of a pipelined batch (`synod_client_propose_transitions`).
// The strings are borrowed for the call only.
typedef struct synod_transition_request {
    // The range.
    const char *range;
    // Its new owner.
    const char *new_owner;
    // Exactly the range's current epoch plus one.
    uint64_t epoch;
} synod_transition_request;

// The outcome of one entry of a batch.
typedef struct synod_batch_result {
    // `SYNOD_OK` (then `commit` is its commit) or the status its own
    // proposal would have returned, with the same promise about the
    // outcome (see `synod_client_propose_admit`).
    synod_status status;
    // For `SYNOD_ERR_REFUSED`: why; else `SYNOD_REFUSAL_NONE`.
    synod_refusal_code refusal;
    // For `SYNOD_OK`: the commit; else zeroed.
    struct synod_commit commit;
} synod_batch_result;

// The severity of a log record, from `SYNOD_LOG_TRACE` (1, the most
// verbose) to `SYNOD_LOG_ERROR` (5).
typedef uint32_t synod_log_level;

// One key/value field of a record. Both strings are borrowed for the
// callback's call only.
typedef struct synod_log_field {
    // The field's name (`"peer"`, `"identity"`).
    const char *key;
    // Its value, formatted as text.
    const char *value;
} synod_log_field;

// A log record, borrowed for the callback's call only: copy what must
// outlive it.
typedef struct synod_log_record {
    // Its severity.
    synod_log_level level;
    // Where it comes from: a Rust module path, `"synod::node::runner"` for
    // the core, `"synod::node::open"` for this ABI.
    const char *target;
    // The message (may be empty).
    const char *message;
    // `field_count` key/value fields, in the order they were written
    // (NULL when there are none).
    const struct synod_log_field *fields;
    // How many fields.
    size_t field_count;
    // The source file, or NULL when unknown.
    const char *file;
    // The source line, or 0 when unknown.
    uint32_t line;
} synod_log_record;

// Receives the library's log records (see `synod_set_log_callback`).
// Called from any library thread, several at once: it must be
// thread-safe. It may call any libsynod function except
// `synod_set_log_callback` (refused from a callback); records that such a
// call emits on this thread are dropped and counted, not delivered.
typedef void (*synod_log_callback)(void *user_data, const struct synod_log_record *record);

// Success.
#define SYNOD_OK 0

// A pointer argument that must not be NULL was NULL.
#define SYNOD_ERR_NULL_ARGUMENT 1

// An argument is out of its domain: a string that is not UTF-8, an unknown
// enum value, a range id, address or audit reason the core refuses.
#define SYNOD_ERR_INVALID_ARGUMENT 2

// A string is UTF-8 but not a valid member identity.
#define SYNOD_ERR_INVALID_IDENTITY 3

// The caller's buffer is too small; see `synod_last_error_message`.
#define SYNOD_ERR_BUFFER_TOO_SMALL 4

// The thing asked for does not exist (a range without an owner, no leader
// hint in the last error, ...).
#define SYNOD_ERR_NOT_FOUND 5

// This member is not the leader; `synod_last_leader_hint` tells where to go.
#define SYNOD_ERR_NOT_LEADER 100

// The leader could not reach a quorum.
#define SYNOD_ERR_NO_QUORUM 101

// The deadline passed before the outcome was known; the entry may still
// commit later.
#define SYNOD_ERR_TIMEOUT 102

// The catalog refused the entry; `synod_last_refusal_code` says why.
#define SYNOD_ERR_REFUSED 103

// The node is shut down (or, a started member, was removed from the
// cluster): a stopped member answers every call with it, reads included,
// rather than an empty answer. A proposal answered this did not take
// effect here.
#define SYNOD_ERR_SHUTDOWN 104

// Whether the proposal took effect is not known and could not be found
// out: it may have committed. Read the state before acting on it. (Every
// other error status of a proposal means it did not take effect, except
// `SYNOD_ERR_TIMEOUT`, whose entry may still commit later.)
#define SYNOD_ERR_INDETERMINATE 105

// The member has as many calls in flight as it takes and none finished in
// time (a blocking call waited until its deadline; an asynchronous proposal
// is told at once). Nothing was proposed: the call did not take effect.
// Retry later, with backoff.
#define SYNOD_ERR_OVERLOADED 106

// A client (`synod_client`) reached no member that could serve the call
// before its timeout: none answered, or none knew a leader (an election
// under way, a cluster without quorum). A proposal answered this did not
// take effect: no attempt of it can have reached a log.
#define SYNOD_ERR_UNREACHABLE 107

// A member refused the client's identity for this call (see the member's
// `[authorization]` readers, proposers and operators). Nothing was done.
#define SYNOD_ERR_UNAUTHORIZED 108

// A member's answer to a client did not decode or was of the wrong kind
// (a member of another version, say). For a proposal, whether it took
// effect is not known: read the state before acting on it.
#define SYNOD_ERR_PROTOCOL 109

// A client (`synod_client`) was refused by every endpoint's TLS handshake,
// or none presented a certificate it trusts (another CA, expired, the
// wrong name, revoked or denied): answered at once, after one round,
// instead of `SYNOD_ERR_UNREACHABLE` after the timeout. Nothing was sent in
// that round; a proposal is `SYNOD_ERR_INDETERMINATE` instead when an
// earlier attempt of it may have been.
#define SYNOD_ERR_TLS 110

// Durable storage failed; the member stopped on it and answers every later
// call with it, reads included (the last error says what failed). Also a
// damaged or locked data directory at `synod_node_start`.
#define SYNOD_ERR_STORAGE 200

// A member could not start: its listener, TLS material, or joining the
// cluster failed (the last error says which).
#define SYNOD_ERR_START 201

// A bug: Synod panicked inside the call. The panic was caught at the
// boundary; the message is in the last error.
#define SYNOD_ERR_PANIC 900

// No refusal: the last failure was not a refusal.
#define SYNOD_REFUSAL_NONE 0

// The named member is not admitted.
#define SYNOD_REFUSAL_UNKNOWN_MEMBER 1

// The member is already admitted with another kind or address.
#define SYNOD_REFUSAL_MEMBER_CONFLICT 2

// The member is draining.
#define SYNOD_REFUSAL_MEMBER_DRAINING 3

// The member still owns ranges.
#define SYNOD_REFUSAL_MEMBER_OWNS_RANGES 4

// The member is the last one and cannot be removed.
#define SYNOD_REFUSAL_LAST_MEMBER 5

// A witness was named as a range owner.
#define SYNOD_REFUSAL_WITNESS_CANNOT_OWN 6

// The proposed epoch is not above the range's current epoch (a transition
// moves a range to exactly its current epoch plus one).
#define SYNOD_REFUSAL_STALE_EPOCH 7

// The range's epoch cannot grow any more.
#define SYNOD_REFUSAL_EPOCH_EXHAUSTED 8

// A leader configuration for a term older than the recorded one.
#define SYNOD_REFUSAL_TERM_REGRESSED 9

// A second, different leader for an already recorded term.
#define SYNOD_REFUSAL_CONFLICTING_LEADER 10

// A caller proposed a leader configuration other than the current
// leader's own for its current term (only the engine records elections).
#define SYNOD_REFUSAL_LEADER_CONFIGURATION_NOT_CURRENT 11

// The proposed epoch skips epochs: a transition moves a range to exactly
// its current epoch plus one.
#define SYNOD_REFUSAL_EPOCH_NOT_NEXT 12

// The entry would grow the catalog past one of its documented limits
// (256 members, 100 MiB of snapshot for the ranges, 16,384 audit records:
// see docs/configuration.md): admitting a new member, the first transition
// of a range, or any forced transition (each adds an audit record). It was
// refused: nothing of it was applied, on any member. Entries that change
// what exists still apply (moving an owned range, draining, removing or
// re-admitting a member); removing members makes room for new ones.
// Whether the limit was members, the ranges' bytes or audit records is in
// the last error message.
#define SYNOD_REFUSAL_CATALOG_FULL 13

// A member that votes and may own ranges.
#define SYNOD_MEMBER_KIND_DATA 1

// A member that votes and never owns a range.
#define SYNOD_MEMBER_KIND_WITNESS 2

// Admitted and eligible as a new owner (if a data member).
#define SYNOD_MEMBER_STATE_ACTIVE 1

// Draining: not eligible as a new owner.
#define SYNOD_MEMBER_STATE_DRAINING 2

// The (owner, epoch) pair is the range's current owner and epoch.
#define SYNOD_FENCE_CURRENT 1

// The pair is fenced: the range has moved on to another owner or epoch.
#define SYNOD_FENCE_STALE 2

// This member cannot vouch for the pair: the range has no owner here, or the
// epoch is newer than anything it has applied.
#define SYNOD_FENCE_UNKNOWN 3

// Follows a leader (or waits for one).
#define SYNOD_ROLE_FOLLOWER 1

// Campaigns for leadership.
#define SYNOD_ROLE_CANDIDATE 2

// Checks it could win an election before raising the term.
#define SYNOD_ROLE_PRE_CANDIDATE 3

// Leads.
#define SYNOD_ROLE_LEADER 4

// Admit `member` as a `member_kind` member reachable at `address`.
#define SYNOD_ENTRY_ADMIT 1

// Put `member` into drain.
#define SYNOD_ENTRY_BEGIN_DRAIN 2

// Remove `member` (it must own no range).
#define SYNOD_ENTRY_REMOVE 3

// The fenced transition of `range` to `new_owner` at `epoch` (the range's
// current epoch plus one).
#define SYNOD_ENTRY_TRANSITION 4

// An operator's forced transition of `range` to `new_owner`, recorded with
// `operator_id` and `reason`.
#define SYNOD_ENTRY_FORCED_TRANSITION 5

// What this member has applied, now: never waits, may be behind the
// cluster by as much as the view's index says.
#define SYNOD_READ_LOCAL 1

// At least the given log index applied here: waits (up to the timeout)
// for this member to catch up. Read-your-writes across members: pass the
// index of a commit to any member.
#define SYNOD_READ_AT_LEAST 2

// Everything committed before the call began: the leader confirms its
// commit index (ReadIndex), this member applies up to it, and the view is
// served from that applied state. Works on followers.
#define SYNOD_READ_LINEARIZABLE 3

// A committed ownership transition, plain or forced (`forced`): `range`,
// `owner`, `epoch`, and for a forced one `operator_id` and `reason`.
#define SYNOD_WATCH_TRANSITION 1

// A committed membership change: `member`, `member_change`, and for an
// admission `member_kind` and `address`.
#define SYNOD_WATCH_MEMBERSHIP 2

// A committed leader configuration (the record of an election):
// `leader_id` and `leader_term`.
#define SYNOD_WATCH_LEADER_CONFIGURATION 3

// The entries before `index` are not available as events here (the watch
// started before this member's history, fell behind it, or the member
// installed a snapshot): re-read the catalog as of `index` (`view` is it,
// borrowed for the call). Events continue after `index`.
#define SYNOD_WATCH_SNAPSHOT 4

// This member's role, term or known leader changed (not a log entry;
// coalesced, so the latest one counts): `role`, `term`, `leader_id`,
// `leader_address`.
#define SYNOD_WATCH_ROLE 5

// The last event of a watch its node ended: `status` says why
// (`SYNOD_ERR_SHUTDOWN` for a shutdown or the member's removal,
// `SYNOD_ERR_STORAGE` for a storage failure), and this thread's last error
// says it in words during the call. Never sent to a cancelled watch.
#define SYNOD_WATCH_END 6

// The entry changed the catalog, now at `version`.
#define SYNOD_OUTCOME_APPLIED 1

// The entry was valid and already in effect (an idempotent repeat).
#define SYNOD_OUTCOME_UNCHANGED 2

// The catalog refused the entry (`refusal` says why); nothing changed.
#define SYNOD_OUTCOME_REFUSED 3

// A retry of a proposal already applied in the same client session:
// nothing changed now; `refusal` and `version` are what the first did.
#define SYNOD_OUTCOME_REPEAT 4

// A retry whose client session is older than the catalog remembers:
// nothing changed now, and whether the first attempt took effect is not
// known.
#define SYNOD_OUTCOME_RETRY_TOO_OLD 5

// The member was admitted (`member_kind`, `address`).
#define SYNOD_MEMBERSHIP_ADMIT 1

// The member began to drain.
#define SYNOD_MEMBERSHIP_BEGIN_DRAIN 2

// The member was removed.
#define SYNOD_MEMBERSHIP_REMOVE 3

// A client watch only: the member it reads from could not supply the
// events up to `index` (the watch started before its history, or
// `from_index` was 0 or 1): the catalog as of `index` follows in
// `SYNOD_WATCH_SNAPSHOT_MEMBER` and `SYNOD_WATCH_SNAPSHOT_RANGE` events,
// then `SYNOD_WATCH_SNAPSHOT_END`, then the events after `index`. A new
// `SYNOD_WATCH_SNAPSHOT_BEGIN` before the `END` (a connection broke inside
// a snapshot) discards the unfinished one: a whole snapshot follows, maybe
// as of another index. `term` is 0 (not known over the network).
#define SYNOD_WATCH_SNAPSHOT_BEGIN 7

// A client watch only: one member of the snapshot begun by the last
// `SYNOD_WATCH_SNAPSHOT_BEGIN` (`index` is its index): `member`,
// `member_kind`, `address`, and its state in `member_change`:
// `SYNOD_MEMBERSHIP_ADMIT` for an active member,
// `SYNOD_MEMBERSHIP_BEGIN_DRAIN` for a draining one.
#define SYNOD_WATCH_SNAPSHOT_MEMBER 8

// A client watch only: one owned range of the snapshot (in range id
// order; only the watch's range when it has a range filter): `range`,
// `owner`, `epoch`, `version` and `term` of the transition that set it
// (`index` is the snapshot's).
#define SYNOD_WATCH_SNAPSHOT_RANGE 9

// A client watch only: the snapshot is complete, as of `index`; events
// continue after it.
#define SYNOD_WATCH_SNAPSHOT_END 10

// Very verbose records (none today).
#define SYNOD_LOG_TRACE 1

// Details: connections opening and ending, leadership hand-overs.
#define SYNOD_LOG_DEBUG 2

// Milestones: a cluster bootstrapped, a member joining or removed.
#define SYNOD_LOG_INFO 3

// Something was refused or recovered from: a refused connection, a torn
// write cut off, an exposed configuration.
#define SYNOD_LOG_WARN 4

// A member stops, a write failed.
#define SYNOD_LOG_ERROR 5

#ifdef __cplusplus
extern "C" {
#endif // __cplusplus

// The symbolic name of a status code, e.g. `"SYNOD_ERR_REFUSED"`.
//
// Never returns NULL: an unknown code gives `"SYNOD_ERR_UNKNOWN"`. The string
// is static; the caller must not free it.
const char *synod_status_str(synod_status status);

// The stable short name of a refusal code, e.g. `"stale-epoch"`.
//
// Never returns NULL: `SYNOD_REFUSAL_NONE` gives `"none"`, an unknown code
// gives `"unknown"`. The string is static; the caller must not free it.
const char *synod_refusal_str(synod_refusal_code code);

// The status of the most recent failed call on this thread, or `SYNOD_OK`
// if no call on this thread has failed yet.
//
// Does not change the last error; owns nothing.
synod_status synod_last_error_status(void);

// Copies the message of the most recent failed call on this thread into
// `buf`.
//
// The message is UTF-8; it is empty when no call on this thread has failed.
// Exactly:
// * `*n` (when `n` is not NULL) is set to the full message length in bytes,
//   not counting the terminating NUL, whatever the outcome except
//   `SYNOD_ERR_NULL_ARGUMENT`; a buffer of `*n + 1` bytes holds it whole.
// * If `len > *n`, the whole message and a NUL are written and `SYNOD_OK`
//   is returned.
// * If `0 < len <= *n`, the longest prefix of at most `len - 1` bytes that
//   ends on a UTF-8 character boundary is written, followed by a NUL, and
//   `SYNOD_ERR_BUFFER_TOO_SMALL` is returned.
// * If `len == 0`, nothing is written (`buf` may then be NULL, to ask for
//   the size) and `SYNOD_ERR_BUFFER_TOO_SMALL` is returned.
// * `buf == NULL` with `len > 0` gives `SYNOD_ERR_NULL_ARGUMENT` and writes
//   nothing.
//
// Never changes the last error, so it can be called repeatedly. The caller
// owns `buf`; nothing is retained after the call.
synod_status synod_last_error_message(char *buf, size_t len, size_t *n);

// The refusal code of the most recent failed call on this thread when that
// failure was `SYNOD_ERR_REFUSED`, else `SYNOD_REFUSAL_NONE` (0).
//
// Does not change the last error; owns nothing.
synod_refusal_code synod_last_refusal_code(void);

// Where the refused entry of the most recent failed call on this thread sits
// in the log, when the refusal was computed at apply time.
//
// Returns `SYNOD_OK` and writes `*index` and `*term`, or
// `SYNOD_ERR_NOT_FOUND` (writing nothing) when the last failure was not a
// refusal or the entry was refused before it entered the log. Does not
// change the last error; the caller owns both out-params.
synod_status synod_last_refusal_position(uint64_t *index, uint64_t *term);

// The leader named by the most recent failed call on this thread, when that
// failure was `SYNOD_ERR_NOT_LEADER` and a leader is known.
//
// Returns `SYNOD_OK` and writes a new `synod_leader_hint` to `*out`, which
// the caller owns and frees with `synod_leader_hint_free`; or
// `SYNOD_ERR_NOT_FOUND` (writing nothing) when there is no such leader. Does
// not change the last error.
synod_status synod_last_leader_hint(struct synod_leader_hint **out);

// Parses a certificate subject (e.g. `"CN=node-a"`) into an identity.
//
// Surrounding white space is trimmed; the rest must be non-empty, at most
// 1024 bytes and free of control characters. Returns `SYNOD_OK` and writes
// `*out`, or `SYNOD_ERR_NULL_ARGUMENT`, `SYNOD_ERR_INVALID_ARGUMENT` (not
// UTF-8) or `SYNOD_ERR_INVALID_IDENTITY`, leaving `*out` untouched. The
// caller owns `*out` and frees it with `synod_identity_free`.
synod_status synod_identity_parse(const char *subject, struct synod_identity **out);

// The identity as a NUL-terminated UTF-8 string, or NULL when `identity` is
// NULL.
//
// The string is borrowed from the handle: valid until `identity` is freed;
// the caller must not free it.
const char *synod_identity_str(const struct synod_identity *identity);

// Frees an identity; `synod_identity_free(NULL)` does nothing.
//
// Takes ownership of `identity`, which must come from `synod_identity_parse`
// and not be used again.
void synod_identity_free(struct synod_identity *identity);

// Creates an empty configuration: every key unset (the defaults of
// docs/configuration.md); `id`, `listen`, `data_dir`, the TLS settings and
// the bootstrap members or join address must be set before a start.
//
// Returns `SYNOD_OK` and writes `*out`, or `SYNOD_ERR_NULL_ARGUMENT`
// leaving it untouched. The caller owns `*out` and frees it with
// `synod_config_free`.
synod_status synod_config_new(struct synod_config **out);

// Reads a configuration file (the format of `synod node --config`,
// docs/configuration.md) into a new configuration that the setters may
// then change. The file is checked whole, as `synod_node_start` checks it
// (on Unix, the private key's permissions too), and its relative paths are
// made absolute against the file's directory.
//
// Returns `SYNOD_OK` and writes `*out`. On failure `*out` is untouched:
// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_ARGUMENT` for a file that
// cannot be read or is refused (the last error names the file and the
// field). The caller owns `*out` and frees it with `synod_config_free`.
synod_status synod_config_from_file(const char *path, struct synod_config **out);

// Frees a configuration; `synod_config_free(NULL)` does nothing.
//
// Takes ownership of `cfg`, which must not be used again. Members started
// from it keep running.
void synod_config_free(struct synod_config *cfg);

// The configuration as the text of a configuration file (TOML, paths
// absolute): what `synod_node_start_config` checks and starts, and what
// `synod node --config` would read.
//
// Returns `SYNOD_OK` and writes a new string to `*out`, which the caller
// owns and frees with `synod_string_free`; `SYNOD_ERR_NULL_ARGUMENT`
// leaves it untouched. Does not check the configuration.
synod_status synod_config_to_toml(const struct synod_config *cfg, char **out);

// Sets `id`: this member's identity, the subject of its certificate in
// RFC 4514 form (`"CN=node-a,O=Acme"`).
//
// Every setter returns `SYNOD_OK`, or fails leaving the configuration as
// it was, the last error naming the field: `SYNOD_ERR_NULL_ARGUMENT` (`cfg`
// or a string is NULL), `SYNOD_ERR_INVALID_ARGUMENT` (not UTF-8, a bad
// address or path, a number out of range), `SYNOD_ERR_INVALID_IDENTITY` (an
// identity the core refuses, OpenSSL's `"CN=a, O=b"` style included).
// Strings are borrowed for the call only. A setter replaces an earlier
// value of its key; `add` functions append to a list.
synod_status synod_config_set_id(struct synod_config *cfg, const char *identity);

// Sets `listen`: the `host:port` this member binds for peers and clients
// (port 0: any free port). Statuses: see `synod_config_set_id`.
synod_status synod_config_set_listen(struct synod_config *cfg, const char *address);

// Sets `data_dir`: the member's durable store, created if missing. A
// relative path is made absolute against the current working directory
// now. Statuses: see `synod_config_set_id`.
synod_status synod_config_set_data_dir(struct synod_config *cfg, const char *path);

// Adds a founding member to `cluster.bootstrap`: its identity, kind
// (`SYNOD_MEMBER_KIND_DATA` or `SYNOD_MEMBER_KIND_WITNESS`) and the
// `host:port` the others reach it at (its advertised address). Every
// founding member lists the same members; this member must be among them.
//
// Also `SYNOD_ERR_INVALID_ARGUMENT` when a join address is set (a member
// bootstraps or joins, not both), or the identity is listed already. Other
// statuses: see `synod_config_set_id`.
synod_status synod_config_add_bootstrap_member(struct synod_config *cfg,
                                               const char *identity,
                                               uint32_t kind,
                                               const char *address);

// Sets `cluster.join`: the `host:port` of a member of an existing cluster
// this member joins through (an operator must have admitted it first).
// Used only when the data directory holds no cluster yet.
//
// Also `SYNOD_ERR_INVALID_ARGUMENT` when bootstrap members are set. Other
// statuses: see `synod_config_set_id`.
synod_status synod_config_set_join(struct synod_config *cfg, const char *address);

// Sets `tls.cert`, `tls.key` and `tls.ca`: mutual TLS with these PEM files
// (this member's certificate chain, its private key, the CA bundle).
// Relative paths are made absolute against the current working directory
// now; the files are read at the start (on Unix the key must not be
// readable by group or others, see `synod_config_set_allow_key_readable_by_others`).
//
// Also `SYNOD_ERR_INVALID_ARGUMENT` when `insecure` is set. Other
// statuses: see `synod_config_set_id`.
synod_status synod_config_set_tls_files(struct synod_config *cfg,
                                        const char *cert,
                                        const char *key,
                                        const char *ca);

// Sets `tls.insecure`: plain TCP, identities merely claimed (tests and
// development only; refused at the start on a `listen` address that is
// not loopback unless `allow_insecure_non_loopback` is set). `false`
// removes the setting.
//
// Also `SYNOD_ERR_INVALID_ARGUMENT` when TLS files are set. Other statuses:
// see `synod_config_set_id`.
synod_status synod_config_set_insecure(struct synod_config *cfg, bool insecure);

// Sets `tls.allow_insecure_non_loopback`: with `insecure`, accept a
// `listen` address that is not loopback (a warning is logged at start).
// Checked with the rest at the start. Statuses: see `synod_config_set_id`.
synod_status synod_config_set_allow_insecure_non_loopback(struct synod_config *cfg, bool allow);

// Sets `tls.allow_key_readable_by_others`: accept a private key file that
// its group or others have permissions on (a warning at start instead of
// a refusal). Statuses: see `synod_config_set_id`.
synod_status synod_config_set_allow_key_readable_by_others(struct synod_config *cfg, bool allow);

// Adds an identity to `tls.deny`: refused although the CA signed it, as a
// client and as a peer (mutual TLS only; not this member's own identity,
// checked at the start). Statuses: see `synod_config_set_id`.
synod_status synod_config_add_deny(struct synod_config *cfg, const char *identity);

// Sets `tls.crl`: a PEM file of the CA's revocation lists (mutual TLS
// only), read at the start. Statuses: see `synod_config_set_id`.
synod_status synod_config_set_crl(struct synod_config *cfg, const char *path);

// Adds an identity to `authorization.readers` (may read). Statuses: see
// `synod_config_set_id`.
synod_status synod_config_add_reader(struct synod_config *cfg, const char *identity);

// Adds an identity to `authorization.proposers` (may read and propose
// ownership transitions). Statuses: see `synod_config_set_id`.
synod_status synod_config_add_proposer(struct synod_config *cfg, const char *identity);

// Adds an identity to `authorization.operators` (may do everything).
// Statuses: see `synod_config_set_id`.
synod_status synod_config_add_operator(struct synod_config *cfg, const char *identity);

// Sets `engine.tick_ms`: one tick, in milliseconds (default 50; at least
// 1). Every `engine` setter is checked with the engine settings set so far
// (`heartbeat_ticks` below `election_ticks`, an election timeout of at
// most a day); set `election_ticks` before a `heartbeat_ticks` it must
// exceed. Statuses: see `synod_config_set_id`.
synod_status synod_config_set_tick_ms(struct synod_config *cfg, uint64_t ms);

// Sets `engine.heartbeat_ticks`: ticks between leader heartbeats (default
// 1; at least 1, below `election_ticks`). See `synod_config_set_tick_ms`.
synod_status synod_config_set_heartbeat_ticks(struct synod_config *cfg, uint64_t ticks);

// Sets `engine.election_ticks`: the base election timeout in ticks
// (default 10; above `heartbeat_ticks`). See `synod_config_set_tick_ms`.
synod_status synod_config_set_election_ticks(struct synod_config *cfg, uint64_t ticks);

// Sets `engine.snapshot_every`: applied entries between snapshots, the
// snapshot threshold (default 10000; at least 1). See
// `synod_config_set_tick_ms`.
synod_status synod_config_set_snapshot_every(struct synod_config *cfg, uint64_t entries);

// Sets `engine.max_learner_lag`: a learner within this many entries of the
// leader is promoted to voter (default 64; 0 allowed). See
// `synod_config_set_tick_ms`.
synod_status synod_config_set_max_learner_lag(struct synod_config *cfg, uint64_t entries);

// Sets `engine.max_pending_calls`: calls in flight at once, past which
// calls answer `SYNOD_ERR_OVERLOADED` (default 4096; at least 1).
// Statuses: see `synod_config_set_id`.
synod_status synod_config_set_max_pending_calls(struct synod_config *cfg, uint64_t calls);

// Sets `engine.max_inbound_messages`: peer messages waiting for the
// driver (default 4096; at least 1). Statuses: see `synod_config_set_id`.
synod_status synod_config_set_max_inbound_messages(struct synod_config *cfg, uint64_t messages);

// Sets `engine.watch_history`: recent committed entries kept for watches
// that start in the past (default 65536; at least 1). Statuses: see
// `synod_config_set_id`.
synod_status synod_config_set_watch_history(struct synod_config *cfg, uint64_t entries);

// Sets `admin.metrics_listen`: the `host:port` of the plain-HTTP
// `GET /metrics` listener, or a port alone (`"9401"`), which binds
// 127.0.0.1 (port 0: any free port). Statuses: see `synod_config_set_id`.
synod_status synod_config_set_metrics_listen(struct synod_config *cfg, const char *address);

// Sets `transport.max_inbound`: connections in their TLS handshake plus
// accepted peer connections at once (default 64; at least 1). Statuses:
// see `synod_config_set_id`.
synod_status synod_config_set_max_inbound(struct synod_config *cfg, uint64_t connections);

// Sets `transport.max_client_connections`: client connections open at
// once (default 16384; at least 1). Statuses: see `synod_config_set_id`.
synod_status synod_config_set_max_client_connections(struct synod_config *cfg,
                                                     uint64_t connections);

// Sets `transport.max_client_connections_per_identity`: client connections
// one identity may hold at once (default 16; at least 1). Statuses: see
// `synod_config_set_id`.
synod_status synod_config_set_max_client_connections_per_identity(struct synod_config *cfg,
                                                                  uint64_t connections);

// Starts a member of a replicated cluster from its configuration file, the
// format `synod node --config` reads: opens its data directory (or writes
// the genesis of a new cluster, or joins through the configured member),
// binds its listener with mutual TLS, and starts its driver thread. The
// returned node proposes, reads and answers exactly like any other.
//
// Returns `SYNOD_OK` and writes `*out`. On failure `*out` is left untouched:
// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_ARGUMENT` for an unreadable
// or invalid configuration (the last error names the field);
// `SYNOD_ERR_STORAGE` for a damaged or locked data directory;
// `SYNOD_ERR_START` when the listener, the TLS material or joining fails.
// The caller owns `*out` and frees it with `synod_node_free`, which shuts
// the member down.
synod_status synod_node_start(const char *config_path, struct synod_node **out);

// Starts a member of a replicated cluster from a configuration built with
// the `synod_config_*` functions (or read by `synod_config_from_file`),
// exactly as `synod_node_start` does from a file, and waits at most
// `timeout_ms` for the start to finish. The configuration is checked whole
// first (the core's parser, and on Unix the private key's permissions);
// `cfg` is only read and may be freed once this returns.
//
// Returns `SYNOD_OK` and writes `*out`. On failure `*out` is left untouched:
// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_ARGUMENT` for an incomplete
// or invalid configuration (the last error names the field);
// `SYNOD_ERR_STORAGE` for a damaged or locked data directory;
// `SYNOD_ERR_START` when the listener, the TLS material or joining fails;
// `SYNOD_ERR_TIMEOUT` when the start did not finish by the deadline.
//
// The deadline: the start runs on a thread of its own (named
// `synod-start`), because the core cannot abort one in progress (joining
// through an unreachable member takes about 10 s to fail, one not yet
// admitted up to 30 s). When the deadline passes first, this returns
// `SYNOD_ERR_TIMEOUT` and the start is abandoned: if it still succeeds,
// that thread shuts the member down at once, before anything else sees
// it (it never proposes, never calls a callback of the caller's, and is
// gone when the thread ends); if it fails, nothing is left. Until the
// thread ends, the abandoned start may hold the data directory's lock, so
// a later `synod_node_start_config` on the same `data_dir` (as written in
// the configuration) first waits, within its own deadline, for the
// abandoned one to end (and answers `SYNOD_ERR_TIMEOUT` if it does not in
// time). Log records of the abandoned start still reach the log callback
// (`synod_set_log_callback`). `timeout_ms = 0` is a deadline already
// passed, as everywhere in this header: after the configuration is
// checked, the call returns `SYNOD_ERR_TIMEOUT` and starts nothing. For
// no practical bound pass `UINT32_MAX` (49 days).
//
// The caller owns `*out` and frees it with `synod_node_free`, which shuts
// the member down. Thread-safe: any number of starts may run at once.
synod_status synod_node_start_config(const struct synod_config *cfg,
                                     uint32_t timeout_ms,
                                     struct synod_node **out);

// Opens a single-member control plane: `identity` is its only member (a data
// member listening at `address`) and the leader of term 1. Kept in memory.
//
// Returns `SYNOD_OK` and writes `*out`; on failure (`SYNOD_ERR_NULL_ARGUMENT`,
// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY`) `*out` is left
// untouched. The caller owns `*out` and frees it with `synod_node_free`.
synod_status synod_node_open_single(const char *identity,
                                    const char *address,
                                    struct synod_node **out);

// Re-reads the revocation lists (`[tls] deny` and `[tls] crl`) of the
// configuration file at `config_path` (normally the one the member started
// from) and puts them in force on a started member without a restart: new
// connections see them at once, open connections of a newly refused
// identity fail at their next read or write. This is what `synod node`
// does on SIGHUP; the library never handles signals itself, so a host
// calls this from wherever it learns of a change (its own SIGHUP handler
// thread, an admin command). Only these two settings are re-read.
//
// Returns `SYNOD_OK` and, if `out` is not NULL, writes what is now in
// force. On failure nothing changed (the lists in force stay):
// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_ARGUMENT` for an unreadable
// or invalid configuration, a CRL that cannot be read or belongs to
// another CA, lists that would refuse the member's own certificate, lists
// on a member running without TLS, or a node from
// `synod_node_open_single` or `synod_node_start_host` (nothing to
// reload); `SYNOD_ERR_SHUTDOWN` once the node was shut down. Thread-safe:
// any thread, any time before `synod_node_free`.
synod_status synod_node_reload_revocation(const struct synod_node *node,
                                          const char *config_path,
                                          struct synod_revocation_summary *out);

// This member's identity, or NULL when `node` is NULL.
//
// The string is borrowed from the handle: valid until `node` is freed; the
// caller must not free it.
const char *synod_node_id(const struct synod_node *node);

// Writes whether this member is the leader to `*out`.
//
// `*out` is written only on `SYNOD_OK`; the caller owns it. A stopped member
// answers `SYNOD_ERR_SHUTDOWN` (shut down or removed) or `SYNOD_ERR_STORAGE`
// (stopped on a storage failure) instead.
synod_status synod_node_is_leader(const struct synod_node *node, bool *out);

// Writes the current election term to `*out`.
//
// `*out` is written only on `SYNOD_OK`; the caller owns it. A stopped member
// answers `SYNOD_ERR_SHUTDOWN` or `SYNOD_ERR_STORAGE` instead.
synod_status synod_node_current_term(const struct synod_node *node, uint64_t *out);

// Writes the index of the highest committed entry to `*out`, 0 when nothing
// is committed yet (log indices start at 1).
//
// `*out` is written only on `SYNOD_OK`; the caller owns it. A stopped member
// answers `SYNOD_ERR_SHUTDOWN` or `SYNOD_ERR_STORAGE` instead.
synod_status synod_node_commit_index(const struct synod_node *node, uint64_t *out);

// Proposes admitting `member` as a `kind` member reachable at `address`, and
// waits up to `timeout_ms` for it to commit.
//
// Admitting a member already admitted with the same kind and address commits
// with `changed == false`. On `SYNOD_OK` `*out` receives the commit; on any
// failure it is untouched (`SYNOD_ERR_REFUSED`: see
// `synod_last_refusal_code`; `SYNOD_ERR_NOT_LEADER`: see
// `synod_last_leader_hint`). The caller owns `*out`; strings are borrowed for
// the call only.
synod_status synod_node_propose_admit(const struct synod_node *node,
                                      const char *member,
                                      synod_member_kind kind,
                                      const char *address,
                                      uint32_t timeout_ms,
                                      struct synod_commit *out);

// Proposes putting `member` into drain (no longer eligible as a new owner),
// and waits up to `timeout_ms` for it to commit.
//
// On `SYNOD_OK` `*out` receives the commit; on any failure it is untouched.
// The caller owns `*out`; strings are borrowed for the call only.
synod_status synod_node_propose_begin_drain(const struct synod_node *node,
                                            const char *member,
                                            uint32_t timeout_ms,
                                            struct synod_commit *out);

// Proposes removing `member` from the authorized set (refused while it owns
// ranges, and for the last member), and waits up to `timeout_ms` for it to
// commit.
//
// On `SYNOD_OK` `*out` receives the commit; on any failure it is untouched.
// The caller owns `*out`; strings are borrowed for the call only.
synod_status synod_node_propose_remove(const struct synod_node *node,
                                       const char *member,
                                       uint32_t timeout_ms,
                                       struct synod_commit *out);

// Proposes the fenced transition of `range` to `new_owner` at `epoch`, which
// must be exactly the range's current epoch plus one (a compare-and-set),
// and waits up to `timeout_ms` for it to commit.
//
// A stale epoch is refused before it enters the log (`SYNOD_ERR_REFUSED`,
// refusal code `SYNOD_REFUSAL_STALE_EPOCH`), and so is one that skips
// epochs (`SYNOD_REFUSAL_EPOCH_NOT_NEXT`). On `SYNOD_OK` `*out` receives
// the commit; on any failure it is untouched. The caller owns `*out`;
// strings are borrowed for the call only.
synod_status synod_node_propose_transition(const struct synod_node *node,
                                           const char *range,
                                           const char *new_owner,
                                           uint64_t epoch,
                                           uint32_t timeout_ms,
                                           struct synod_commit *out);

// Proposes the fenced transition of `range` to `new_owner` at `epoch`
// without waiting: `callback` receives the answer exactly once, then
// `free_user_data` (if not NULL) releases `user_data`.
//
// Returns `SYNOD_OK` when the proposal was handed to the member; the
// callback may run before this function returns (on the calling thread,
// for the single-node engine) or later on the member's callback thread (a
// started member; see `synod_propose_callback` for what a callback may
// call). It never runs after `synod_node_shutdown` returns: a shutdown
// answers every proposal still waiting (`SYNOD_ERR_SHUTDOWN`) before it
// returns. On failure (`SYNOD_ERR_NULL_ARGUMENT`,
// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY`,
// `SYNOD_ERR_SHUTDOWN` once shutdown began or the member stopped,
// `SYNOD_ERR_STORAGE` once it stopped on a storage failure,
// `SYNOD_ERR_OVERLOADED` when the member has as many calls in flight as it
// takes: this never waits for room) the callback is
// not called and `free_user_data` is called before this function returns.
// Strings are borrowed for the call only.
synod_status synod_node_propose_transition_async(const struct synod_node *node,
                                                 const char *range,
                                                 const char *new_owner,
                                                 uint64_t epoch,
                                                 uint32_t timeout_ms,
                                                 synod_propose_callback callback,
                                                 void *user_data,
                                                 synod_free_callback free_user_data);

// Proposes an operator's forced transition of `range` to `new_owner`,
// recorded in the audit list with `operator_id` and `reason` (never blank). The
// range moves to its current epoch plus one. Waits up to `timeout_ms` for it
// to commit.
//
// On `SYNOD_OK` `*out` receives the commit; on any failure it is untouched.
// The caller owns `*out`; strings are borrowed for the call only.
synod_status synod_node_propose_forced_transition(const struct synod_node *node,
                                                  const char *range,
                                                  const char *new_owner,
                                                  const char *operator_id,
                                                  const char *reason,
                                                  uint32_t timeout_ms,
                                                  struct synod_commit *out);

// Writes a new session to `*out`: a random client id and `seq` 0 (set
// `seq` to 1 for the first proposal). Returns `SYNOD_OK`, or
// `SYNOD_ERR_NULL_ARGUMENT` (`*out` untouched).
synod_status synod_session_new(struct synod_session *out);

// Proposes `entry` (any kind a caller may propose), in `session` when not
// NULL, and waits up to `timeout_ms` for it to commit.
//
// On `SYNOD_OK` `*out` receives the commit; on any failure it is untouched.
// What each status promises about the outcome is in the header's opening
// comment: `SYNOD_ERR_REFUSED`, `SYNOD_ERR_NOT_LEADER`,
// `SYNOD_ERR_OVERLOADED` and argument errors took no effect;
// `SYNOD_ERR_TIMEOUT`, `SYNOD_ERR_NO_QUORUM`, `SYNOD_ERR_INDETERMINATE`,
// `SYNOD_ERR_SHUTDOWN` during the wait and `SYNOD_ERR_STORAGE` may have:
// retry in the same session to learn the outcome without applying it
// twice. A retry whose first attempt is too old to be remembered is
// answered `SYNOD_ERR_REFUSED` with the retry-too-old outcome (never
// applied again). Strings are borrowed for the call only. Thread-safe.
synod_status synod_node_submit(const struct synod_node *node,
                               const struct synod_entry *entry,
                               const struct synod_session *session,
                               uint32_t timeout_ms,
                               struct synod_commit *out);

// `synod_node_submit` without waiting: `callback` receives the answer
// exactly once, then `free_user_data` (if not NULL) releases `user_data`,
// as for `synod_node_propose_transition_async` (the same threads, the same
// promise that no callback runs after `synod_node_shutdown` returns). On
// failure the callback is not called and `free_user_data` is called before
// this function returns. Strings are borrowed for the call only.
// Thread-safe.
synod_status synod_node_submit_async(const struct synod_node *node,
                                     const struct synod_entry *entry,
                                     const struct synod_session *session,
                                     uint32_t timeout_ms,
                                     synod_propose_callback callback,
                                     void *user_data,
                                     synod_free_callback free_user_data);

// Looks up the owner of `range` as this member has applied it.
//
// Returns `SYNOD_OK` and writes a new snapshot to `*out`. On failure `*out`
// is left untouched: `SYNOD_ERR_NOT_FOUND` when the range has no owner on
// this running member; `SYNOD_ERR_SHUTDOWN` once the member is shut down
// (or removed from the cluster), `SYNOD_ERR_STORAGE` once it stopped on a
// storage failure (a stopped member never answers "no owner");
// `SYNOD_ERR_NULL_ARGUMENT`, `SYNOD_ERR_INVALID_ARGUMENT`. The caller owns
// `*out` and frees it with `synod_ownership_free`.
synod_status synod_node_owner(const struct synod_node *node,
                              const char *range,
                              struct synod_ownership **out);

// The owner's identity, or NULL when `ownership` is NULL.
//
// Borrowed from the handle: valid until `ownership` is freed; the caller must
// not free it.
const char *synod_ownership_owner(const struct synod_ownership *ownership);

// The range's ownership epoch, or 0 when `ownership` is NULL.
//
// Owns nothing.
uint64_t synod_ownership_epoch(const struct synod_ownership *ownership);

// The catalog version the transition produced, or 0 when `ownership` is
// NULL.
//
// Owns nothing.
uint64_t synod_ownership_version(const struct synod_ownership *ownership);

// The term of the entry that set the owner, or 0 when `ownership` is NULL.
//
// Owns nothing.
uint64_t synod_ownership_term(const struct synod_ownership *ownership);

// The log index of the entry that set the owner, or 0 when `ownership` is
// NULL.
//
// Owns nothing.
uint64_t synod_ownership_index(const struct synod_ownership *ownership);

// Frees an ownership snapshot; `synod_ownership_free(NULL)` does nothing.
//
// Takes ownership of `ownership`, which must come from `synod_node_owner` or
// `synod_view_owner` and not be used again.
void synod_ownership_free(struct synod_ownership *ownership);

// Checks whether (`owner`, `epoch`) is the current owner of `range`, as this
// member has applied it: a data plane's fence.
//
// Writes `SYNOD_FENCE_CURRENT`, `SYNOD_FENCE_STALE` or `SYNOD_FENCE_UNKNOWN`
// to `*out` on `SYNOD_OK` only. A stopped member answers no fence:
// `SYNOD_ERR_SHUTDOWN` once it is shut down (or removed),
// `SYNOD_ERR_STORAGE` once it stopped on a storage failure, never
// `SYNOD_FENCE_UNKNOWN`. The caller owns `*out`; strings are borrowed for
// the call only.
synod_status synod_node_fence_check(const struct synod_node *node,
                                    const char *range,
                                    const char *owner,
                                    uint64_t epoch,
                                    synod_fence_status *out);

// Takes a snapshot of the members, in identity order.
//
// Returns `SYNOD_OK` and writes `*out`, leaving it untouched on failure:
// `SYNOD_ERR_SHUTDOWN` once the member is shut down (or removed),
// `SYNOD_ERR_STORAGE` once it stopped on a storage failure (a stopped member
// never answers an empty list), `SYNOD_ERR_NULL_ARGUMENT`. The caller owns
// `*out` and frees it with `synod_member_list_free`.
synod_status synod_node_members(const struct synod_node *node, struct synod_member_list **out);

// The number of members in the snapshot, 0 when `list` is NULL.
//
// Owns nothing.
size_t synod_member_list_len(const struct synod_member_list *list);

// The identity of member `i`, or NULL when `list` is NULL or `i` is out of
// range.
//
// Borrowed from the handle: valid until `list` is freed; the caller must not
// free it.
const char *synod_member_list_id(const struct synod_member_list *list, size_t i);

// The peer address of member `i`, or NULL when `list` is NULL or `i` is out
// of range.
//
// Borrowed from the handle: valid until `list` is freed; the caller must not
// free it.
const char *synod_member_list_address(const struct synod_member_list *list, size_t i);

// The kind of member `i`, or 0 (no kind) when `list` is NULL or `i` is out
// of range.
//
// Owns nothing.
synod_member_kind synod_member_list_kind(const struct synod_member_list *list, size_t i);

// The state of member `i`, or 0 (no state) when `list` is NULL or `i` is out
// of range.
//
// Owns nothing.
synod_member_state synod_member_list_state(const struct synod_member_list *list, size_t i);

// Frees a member snapshot; `synod_member_list_free(NULL)` does nothing.
//
// Takes ownership of `list`, which must come from `synod_node_members` or
// `synod_view_members` and not be used again.
void synod_member_list_free(struct synod_member_list *list);

// The leader's identity, or NULL when `hint` is NULL.
//
// Borrowed from the handle: valid until `hint` is freed; the caller must not
// free it.
const char *synod_leader_hint_id(const struct synod_leader_hint *hint);

// The leader's peer address, or NULL when it is not known (or `hint` is
// NULL).
//
// Borrowed from the handle: valid until `hint` is freed; the caller must not
// free it.
const char *synod_leader_hint_address(const struct synod_leader_hint *hint);

// Frees a leader hint; `synod_leader_hint_free(NULL)` does nothing.
//
// Takes ownership of `hint`, which must come from `synod_last_leader_hint`
// and not be used again.
void synod_leader_hint_free(struct synod_leader_hint *hint);

// Writes the leader this started member knows of, with its address and
// the term it leads in, to `*out`.
//
// Returns `SYNOD_OK` and a new `synod_leader` the caller owns and frees
// with `synod_leader_free`. On failure `*out` is untouched:
// `SYNOD_ERR_NOT_FOUND` while this running member knows of no leader (an
// election is under way, or it is cut off); `SYNOD_ERR_SHUTDOWN` /
// `SYNOD_ERR_STORAGE` once it stopped (never "no leader");
// `SYNOD_ERR_INVALID_ARGUMENT` for a single-node engine;
// `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe; never waits.
synod_status synod_node_leader(const struct synod_node *node, struct synod_leader **out);

// The leader's identity, or NULL when `leader` is NULL.
//
// Borrowed from the handle: valid until `leader` is freed; the caller must
// not free it.
const char *synod_leader_id(const struct synod_leader *leader);

// The leader's peer address, or NULL when the member's catalog does not
// know it (or `leader` is NULL).
//
// Borrowed from the handle: valid until `leader` is freed; the caller must
// not free it.
const char *synod_leader_address(const struct synod_leader *leader);

// The term the leader leads in, or 0 when `leader` is NULL.
//
// Owns nothing.
uint64_t synod_leader_term(const struct synod_leader *leader);

// Frees a leader snapshot; `synod_leader_free(NULL)` does nothing.
//
// Takes ownership of `leader`, which must come from `synod_node_leader` and
// not be used again.
void synod_leader_free(struct synod_leader *leader);

// Takes a snapshot of this started member's status, as of its driver's
// last turn (the driver publishes it after every batch of work: at most a
// tick old).
//
// Returns `SYNOD_OK` and writes a new `synod_replica_status` to `*out`,
// which the caller owns and frees with `synod_replica_status_free`. On
// failure `*out` is untouched: `SYNOD_ERR_SHUTDOWN` / `SYNOD_ERR_STORAGE`
// once the member stopped; `SYNOD_ERR_INVALID_ARGUMENT` for a single-node
// engine; `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe; never waits.
synod_status synod_node_status(const struct synod_node *node, struct synod_replica_status **out);

// The member's role (`SYNOD_ROLE_*`), or 0 when `status` is NULL.
//
// Owns nothing.
synod_role synod_replica_status_role(const struct synod_replica_status *status);

// The member's current term, or 0 when `status` is NULL.
//
// Owns nothing.
uint64_t synod_replica_status_term(const struct synod_replica_status *status);

// The member's own raft peer id, or 0 when `status` is NULL.
//
// Owns nothing.
uint64_t synod_replica_status_peer_id(const struct synod_replica_status *status);

// The identity of the leader the member knows of, or NULL when it knows of
// none (or `status` is NULL).
//
// Borrowed from the handle: valid until `status` is freed; the caller must
// not free it.
const char *synod_replica_status_leader_id(const struct synod_replica_status *status);

// The peer address of that leader, or NULL when no leader is known, its
// address is not, or `status` is NULL.
//
// Borrowed from the handle: valid until `status` is freed; the caller must
// not free it.
const char *synod_replica_status_leader_address(const struct synod_replica_status *status);

// The member's commit index (0 before anything committed), or 0 when
// `status` is NULL.
//
// Owns nothing.
uint64_t synod_replica_status_commit_index(const struct synod_replica_status *status);

// The index of the last entry the member applied to its catalog, or 0 when
// `status` is NULL.
//
// Owns nothing.
uint64_t synod_replica_status_applied_index(const struct synod_replica_status *status);

// The index of the last entry in the member's log (committed or not), or
// 0 when `status` is NULL.
//
// Owns nothing.
uint64_t synod_replica_status_last_index(const struct synod_replica_status *status);

// The proposals this member holds waiting for their entry to commit, or 0
// when `status` is NULL.
//
// Owns nothing.
uint64_t synod_replica_status_pending_proposals(const struct synod_replica_status *status);

// The number of peers in the member's applied configuration (voters, then
// learners; the member itself among them), or 0 when `status` is NULL.
//
// Owns nothing.
size_t synod_replica_status_peer_count(const struct synod_replica_status *status);

// Copies peer `i` (voters first, in peer id order, then learners) to
// `*out`.
//
// Returns `SYNOD_OK`, or `SYNOD_ERR_NOT_FOUND` when `i` is not below
// `synod_replica_status_peer_count`, `SYNOD_ERR_NULL_ARGUMENT`; `*out` is
// written only on `SYNOD_OK`. Its strings are borrowed from `status`:
// valid until `status` is freed.
synod_status synod_replica_status_peer(const struct synod_replica_status *status,
                                       size_t i,
                                       struct synod_peer *out);

// Frees a status snapshot; `synod_replica_status_free(NULL)` does nothing.
//
// Takes ownership of `status`, which must come from `synod_node_status` and
// not be used again.
void synod_replica_status_free(struct synod_replica_status *status);

// Writes this started member's metrics in the Prometheus text exposition
// format (every series labelled with the member) to `*out`.
//
// Returns `SYNOD_OK` and a new NUL-terminated string the caller owns and
// frees with `synod_string_free` (the one kind of string out the caller
// frees). On failure `*out` is untouched: `SYNOD_ERR_SHUTDOWN` /
// `SYNOD_ERR_STORAGE` once the member stopped; `SYNOD_ERR_INVALID_ARGUMENT`
// for a single-node engine; `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe.
synod_status synod_node_metrics_text(const struct synod_node *node, char **out);

// Frees a string the library handed to the caller to own (today only
// `synod_node_metrics_text`'s); `synod_string_free(NULL)` does nothing.
//
// Takes ownership of `s`, which must come from such a function and not be
// used again. Never pass it a `const char *` borrowed from a handle or a
// static string.
void synod_string_free(char *s);

// Reads the catalog of a started member at `level`, waiting at most
// `timeout_ms` for it: `SYNOD_READ_LOCAL` never waits (and ignores the
// timeout); `SYNOD_READ_AT_LEAST` waits until this member applied
// `at_least_index`; `SYNOD_READ_LINEARIZABLE` asks the leader for its commit
// index and waits until this member applied it. `at_least_index` must be 0
// for the other levels.
//
// Returns `SYNOD_OK` and writes a new `synod_view` to `*out` (its
// `synod_view_applied_index` is the index it reflects: at least
// `at_least_index`, or the read index). The caller owns `*out` and frees
// it with `synod_view_free`. On failure `*out` is untouched:
// `SYNOD_ERR_TIMEOUT` when the member did not get there in time (an index
// far ahead; no leader answered the read index), `SYNOD_ERR_NOT_LEADER` /
// `SYNOD_ERR_NO_QUORUM` when a linearizable read found no leader to
// confirm it, `SYNOD_ERR_OVERLOADED` (a linearizable read found no call
// slot in time), `SYNOD_ERR_SHUTDOWN` / `SYNOD_ERR_STORAGE` once the member
// stopped (also while waiting), `SYNOD_ERR_INVALID_ARGUMENT` for an unknown
// level, a non-zero index with another level than `SYNOD_READ_AT_LEAST`, or
// a single-node engine; `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe; may be
// called from any callback of the node.
synod_status synod_node_read(const struct synod_node *node,
                             synod_read_level level,
                             uint64_t at_least_index,
                             uint32_t timeout_ms,
                             struct synod_view **out);

// Asks the leader, through this started member, for the index a
// linearizable read must reflect (ReadIndex), and waits until this member
// applied it; writes that index to `*out`.
//
// Every entry committed before the call began is at or below it. Returns
// `SYNOD_OK`; on failure `*out` is untouched, with the statuses of
// `synod_node_read` at `SYNOD_READ_LINEARIZABLE`. Thread-safe.
synod_status synod_node_read_index(const struct synod_node *node,
                                   uint32_t timeout_ms,
                                   uint64_t *out);

// Waits at most `timeout_ms` until this started member has applied log
// index `index`.
//
// Returns `SYNOD_OK` once it has (at once if it already had);
// `SYNOD_ERR_TIMEOUT` when it had not in time; `SYNOD_ERR_SHUTDOWN` /
// `SYNOD_ERR_STORAGE` once the member stopped (also while waiting);
// `SYNOD_ERR_INVALID_ARGUMENT` for a single-node engine;
// `SYNOD_ERR_NULL_ARGUMENT`. Thread-safe.
synod_status synod_node_wait_applied(const struct synod_node *node,
                                     uint64_t index,
                                     uint32_t timeout_ms);

// The log index of the last entry the view reflects, or 0 when `view` is
// NULL.
//
// Owns nothing.
uint64_t synod_view_applied_index(const struct synod_view *view);

// The term of that entry, or 0 when `view` is NULL.
//
// Owns nothing.
uint64_t synod_view_applied_term(const struct synod_view *view);

// The catalog version of the view, or 0 when `view` is NULL.
//
// Owns nothing.
uint64_t synod_view_version(const struct synod_view *view);

// Looks up the owner of `range` in the view.
//
// Returns `SYNOD_OK` and writes a new `synod_ownership` (the same snapshot
// `synod_node_owner` hands out) to `*out`, which the caller owns and frees
// with `synod_ownership_free`. On failure `*out` is untouched:
// `SYNOD_ERR_NOT_FOUND` when the range has no owner in this view,
// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_NULL_ARGUMENT`.
synod_status synod_view_owner(const struct synod_view *view,
                              const char *range,
                              struct synod_ownership **out);

// Checks whether (`owner`, `epoch`) is the current owner of `range` in the
// view: a data plane's fence, at the view's index.
//
// Writes `SYNOD_FENCE_CURRENT`, `SYNOD_FENCE_STALE` or `SYNOD_FENCE_UNKNOWN`
// (the range has no owner in the view, or `epoch` is newer than the view's)
// to `*out` on `SYNOD_OK` only; `SYNOD_ERR_NULL_ARGUMENT`,
// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY` otherwise.
synod_status synod_view_fence_check(const struct synod_view *view,
                                    const char *range,
                                    const char *owner,
                                    uint64_t epoch,
                                    synod_fence_status *out);

// Takes the view's members, in identity order.
//
// Returns `SYNOD_OK` and writes a new `synod_member_list` (the same snapshot
// `synod_node_members` hands out) to `*out`, which the caller owns and
// frees with `synod_member_list_free`; `SYNOD_ERR_NULL_ARGUMENT` otherwise,
// leaving `*out` untouched.
synod_status synod_view_members(const struct synod_view *view, struct synod_member_list **out);

// Frees a view; `synod_view_free(NULL)` does nothing.
//
// Takes ownership of `view`, which must come from `synod_node_read` and not
// be used again (a view handed to a watch callback is borrowed: never free
// it). Cursors and lists taken from it stay valid.
void synod_view_free(struct synod_view *view);

// Starts a walk over the view's owned ranges in range id order: those of
// `owner` only, or all when `owner` is NULL; after the range id `after`
// (which need not exist), or from the first when `after` is NULL. To page,
// take rows with `synod_range_cursor_next` and start the next page's cursor
// (of this view, or of a newer one) after the last range of the previous
// page.
//
// Returns `SYNOD_OK` and writes a new cursor to `*out`, which the caller
// owns and frees with `synod_range_cursor_free`; on failure
// (`SYNOD_ERR_NULL_ARGUMENT`, `SYNOD_ERR_INVALID_ARGUMENT`,
// `SYNOD_ERR_INVALID_IDENTITY`) `*out` is untouched.
synod_status synod_view_ranges(const struct synod_view *view,
                               const char *owner,
                               const char *after,
                               struct synod_range_cursor **out);

// Copies the next range of the walk to `*out`.
//
// Returns `SYNOD_OK`, or `SYNOD_ERR_NOT_FOUND` when the walk is over (and
// again on every later call), `SYNOD_ERR_NULL_ARGUMENT`; `*out` is written
// only on `SYNOD_OK`. Its strings are borrowed from the cursor: valid until
// the next call on it or its free.
synod_status synod_range_cursor_next(struct synod_range_cursor *cursor, struct synod_range *out);

// Frees a range cursor; `synod_range_cursor_free(NULL)` does nothing.
//
// Takes ownership of `cursor`, which must come from `synod_view_ranges` and
// not be used again; strings it handed out become invalid.
void synod_range_cursor_free(struct synod_range_cursor *cursor);

// Takes the view's audit list (every forced ownership transition, oldest
// first).
//
// Returns `SYNOD_OK` and writes a new `synod_audit_list` to `*out`, which
// the caller owns and frees with `synod_audit_list_free`;
// `SYNOD_ERR_NULL_ARGUMENT` otherwise, leaving `*out` untouched.
synod_status synod_view_audit(const struct synod_view *view, struct synod_audit_list **out);

// The number of records in the list, 0 when `list` is NULL.
//
// Owns nothing.
size_t synod_audit_list_len(const struct synod_audit_list *list);

// Copies record `i` (0 is the oldest) to `*out`.
//
// Returns `SYNOD_OK`, or `SYNOD_ERR_NOT_FOUND` when `i` is not below
// `synod_audit_list_len`, `SYNOD_ERR_NULL_ARGUMENT`; `*out` is written only
// on `SYNOD_OK`. Its strings are borrowed from `list`: valid until `list`
// is freed.
synod_status synod_audit_list_get(const struct synod_audit_list *list,
                                  size_t i,
                                  struct synod_audit_record *out);

// Frees an audit list; `synod_audit_list_free(NULL)` does nothing.
//
// Takes ownership of `list`, which must come from `synod_view_audit` and
// not be used again.
void synod_audit_list_free(struct synod_audit_list *list);

// Starts a change feed of this started member: every committed catalog
// entry it applies from log index `from_index` on, in log order and each
// once, with its outcome; its role changes; `SYNOD_WATCH_SNAPSHOT` where
// entries are not available (`from_index` 0 or 1, or before the member's
// history: the catalog first, then what follows it). To resume after the
// last event seen, pass its index plus one. With `range` not NULL, only
// the transitions (plain and forced) of that range are delivered, plus the
// snapshot, role and end events; NULL delivers everything.
//
// `callback` runs on the watch's own library thread (see
// `synod_watch_callback`). `free_user_data` (if not NULL) releases
// `user_data` exactly once: after the last callback, when the watch is
// cancelled (`synod_watch_cancel`, `synod_watch_free`) or its node ended it.
// A node's shutdown (`synod_node_shutdown`, `synod_node_free`) and a
// member that stops on its own (removed, storage failure) end every watch
// on it with one last `SYNOD_WATCH_END` event; a shutdown returns only
// after those callbacks and free functions ran, and no callback of the
// watch runs after that.
//
// Returns `SYNOD_OK` and writes a new `synod_watch` to `*out`, which the
// caller owns and frees with `synod_watch_free` (whether or not the watch
// has ended). On failure the callback never runs, `free_user_data` is
// called before this returns, and `*out` is untouched:
// `SYNOD_ERR_NULL_ARGUMENT` (`node`, `callback`, `out`),
// `SYNOD_ERR_INVALID_ARGUMENT` (a `range` the core refuses; a single-node
// engine), `SYNOD_ERR_SHUTDOWN` once shutdown began or the member stopped,
// `SYNOD_ERR_STORAGE` once it stopped on a storage failure,
// `SYNOD_ERR_START` when the system refused a new thread. Thread-safe; may
// be called from a callback.
synod_status synod_node_watch(const struct synod_node *node,
                              uint64_t from_index,
                              const char *range,
                              synod_watch_callback callback,
                              void *user_data,
                              synod_free_callback free_user_data,
                              struct synod_watch **out);

// Stops a watch: no callback of it starts after this returns, and its free
// function has run by then. Called on another thread, it waits for a
// running callback of the watch to return; called from the watch's own callback, it
// returns at once, no callback runs after the current one, and the free
// function runs as soon as the current callback returns. No
// `SYNOD_WATCH_END` event is sent for a cancelled watch.
//
// Returns `SYNOD_OK`, also for a watch that already ended (cancelled, or
// ended by its node: nothing more happens), or `SYNOD_ERR_NULL_ARGUMENT`.
// Does not free `watch`: the caller still frees it with `synod_watch_free`.
// Thread-safe: any thread, any number of times, before `synod_watch_free`.
synod_status synod_watch_cancel(const struct synod_watch *watch);

// Cancels the watch as `synod_watch_cancel` does (unless it already ended)
// and frees its handle; `synod_watch_free(NULL)` does nothing.
//
// Takes ownership of `watch`, which must come from `synod_node_watch` and
// not be used again. Allowed from the watch's own callback (then the watch
// ends when that callback returns), and before or after its node is shut
// down or freed.
void synod_watch_free(struct synod_watch *watch);

// Starts a member of a replicated cluster from a configuration built with
// the `synod_config_*` functions (or read by `synod_config_from_file`),
// whose raft messages travel through the host's own networking instead of
// Synod's TCP transport: each outbound message is handed to `send` (see
// `synod_host_send_callback`), and the host hands each message that
// arrives for it to `synod_node_deliver`. It opens its data directory (or
// writes the genesis of a new cluster from the bootstrap members) and
// starts its consensus thread; it opens no socket. When this returns the
// member takes deliveries from the members of its catalog.
//
// The configuration: `id`, `data_dir`, the `[cluster]` bootstrap members
// (their addresses are recorded in the catalog, where the host may read
// them; Synod never dials them), `[engine]` apply. `listen`, the `[tls]`
// files and flags, `[authorization]` and the client connection limits
// belong to the TCP transport and its client service and are ignored (no
// `synod_client` can reach this member). Refused
// (`SYNOD_ERR_INVALID_ARGUMENT`, the field named): `tls.deny` and
// `tls.crl` (the host authenticates its peers and refuses them itself),
// `admin.metrics_listen` (read metrics with `synod_node_metrics_text`),
// and `cluster.join` on a data directory that holds no cluster yet (the
// core asks an existing member for the admission over TCP; restarting a
// member whose data directory holds its cluster works). `cfg` is only
// read and may be freed once this returns.
//
// Peers: the host authenticates who sent the bytes it delivers (its own
// TLS, tokens, ...) and says so with `from` (the sender's raft peer id,
// see `synod_node_peer_id`); the member still refuses a `from` that is not
// a current member and a message that claims another sender.
//
// `free_user_data` (if not NULL) releases `user_data` exactly once: during
// `synod_node_shutdown` (or `synod_node_free`), after the last call of
// `send` and before it returns; or before this returns when the start
// fails. A member that stops on its own (removed, storage failure) stops
// calling `send`; its free function still runs at its shutdown.
//
// Returns `SYNOD_OK` and writes `*out`. On failure `send` is never called,
// `free_user_data` is called before this returns and `*out` is untouched:
// `SYNOD_ERR_NULL_ARGUMENT` (`cfg`, `send`, `out`);
// `SYNOD_ERR_INVALID_ARGUMENT` for an incomplete, invalid or refused
// configuration (the last error names the field); `SYNOD_ERR_STORAGE` for
// a damaged or locked data directory; `SYNOD_ERR_START` when the data
// directory cannot be created or the system refused a thread. The caller
// owns `*out` and frees it with `synod_node_free`, which shuts the member
// down. Thread-safe: any number of starts may run at once.
synod_status synod_node_start_host(const struct synod_config *cfg,
                                   synod_host_send_callback send,
                                   void *user_data,
                                   synod_free_callback free_user_data,
                                   struct synod_node **out);

// Hands one frame that arrived from peer `from_peer_id` to a member
// started with `synod_node_start_host`: `bytes[0..len)` is exactly one
// frame as the sending member's `synod_host_send_callback` produced it,
// borrowed for the call only. The host says who sent it and is
// responsible for having authenticated that (see
// `synod_node_start_host`). A snapshot travels as several frames: each
// part is delivered like any frame, and the snapshot reaches the member
// with its last part.
//
// Returns `SYNOD_OK` when the member took the message (or a snapshot part).
// A refused delivery changes nothing (the member never sees it) and
// returns: `SYNOD_ERR_NULL_ARGUMENT` (`node`; `bytes` NULL with `len` not
// 0); `SYNOD_ERR_INVALID_ARGUMENT` for bytes that are not one whole valid
// frame (empty, truncated, followed by more bytes, longer than
// `SYNOD_HOST_MAX_FRAME`, a bad magic, version or checksum, a message our
// codec refuses: a proposal, a raft-local type, a field out of bounds), a
// message that says it is from another peer than `from_peer_id`, or a node
// not started with `synod_node_start_host`; `SYNOD_ERR_UNAUTHORIZED` when
// `from_peer_id` is not one of the member's current peers (a member not
// yet, or no longer, in its catalog); `SYNOD_ERR_SHUTDOWN` /
// `SYNOD_ERR_STORAGE` once the member stopped.
//
// Back-pressure: when the member's inbox is full (`max_inbound_messages`
// messages waiting for its consensus thread), the call waits up to one
// tick (`tick_ms`) for room and then drops the message and returns
// `SYNOD_ERR_OVERLOADED` (raft retransmits; `synod_inbox_dropped_total`
// counts it); called on a member's consensus thread (from a send
// callback) it does not wait. It never blocks longer. With several
// threads delivering to one member at once, `SYNOD_ERR_OVERLOADED` may
// also answer a message that was taken while another thread's was
// dropped: either way the host may simply drop the frame.
//
// A message addressed to another member passes these checks and is
// refused by the member itself (logged). Thread-safe: any thread, any
// number at once, from a send callback too, until `synod_node_free`.
synod_status synod_node_deliver(const struct synod_node *node,
                                uint64_t from_peer_id,
                                const uint8_t *bytes,
                                size_t len);

// Writes the raft peer id of member `identity` (this member included) to
// `*out`, as the catalog this started member applied names it: the `from`
// a host passes to `synod_node_deliver` for what that member sent, and the
// `to_peer_id` of the send callback. A peer id is never reused in a
// cluster.
//
// Returns `SYNOD_OK` and writes `*out`. On failure `*out` is untouched:
// `SYNOD_ERR_NULL_ARGUMENT`; `SYNOD_ERR_INVALID_IDENTITY` for an identity
// that does not parse; `SYNOD_ERR_NOT_FOUND` when the catalog holds no
// such member; `SYNOD_ERR_INVALID_ARGUMENT` for a single-node engine;
// `SYNOD_ERR_SHUTDOWN` / `SYNOD_ERR_STORAGE` once the member stopped.
// Thread-safe; never waits; may be called from a send callback.
synod_status synod_node_peer_id(const struct synod_node *node, const char *identity, uint64_t *out);

// Stops the node: every proposal still waiting is answered. Afterwards a
// started member (`synod_node_start`) answers every call but
// `synod_node_id`, `synod_node_shutdown` and `synod_node_free` with
// `SYNOD_ERR_SHUTDOWN` (`SYNOD_ERR_STORAGE` if it had stopped on a storage
// failure), reads and `synod_node_is_leader` included; the single-node
// engine (`synod_node_open_single`) answers `SYNOD_ERR_SHUTDOWN` to
// proposals and keeps answering reads. Calling it again does nothing more.
//
// Every watch on the node (`synod_node_watch`) ends before this returns:
// each gets its last callback (`SYNOD_WATCH_END`, status
// `SYNOD_ERR_SHUTDOWN`) and its free function, and no watch callback runs
// after this returns.
//
// A member started with `synod_node_start_host` calls its send callback
// no more once this returns, and has released the callback's user data
// (its free function, exactly once) before it returns.
//
// May be called from a proposal callback of the same started member (it
// then runs the member's remaining callbacks before it returns). From a
// callback of the same single-node engine, or from a watch callback of the
// same node, or from the send callback of the same member on the host's
// transport, it would wait for that very callback: it returns
// `SYNOD_ERR_INVALID_ARGUMENT` and does nothing.
//
// Does not free `node`; the caller still owns it and frees it with
// `synod_node_free`.
synod_status synod_node_shutdown(const struct synod_node *node);

// Shuts the node down if it is not already (ending its watches as
// `synod_node_shutdown` does), and frees it; `synod_node_free(NULL)` does
// nothing. Watch handles of the node stay valid until freed.
//
// Takes ownership of `node`, which must come from `synod_node_start` or
// `synod_node_open_single` and not be used again; strings borrowed from it become invalid.
void synod_node_free(struct synod_node *node);

// Makes a client for the members at `endpoints`: a comma-separated list of
// `host:port` (spaces around entries ignored, at least one entry, e.g.
// `"10.0.0.1:7401, 10.0.0.2:7401"`).
//
// `tls` not NULL: mutual TLS with those files; the identity is the
// certificate's subject, and `identity`, when not NULL, must equal it
// (`SYNOD_ERR_INVALID_IDENTITY` otherwise). `tls` NULL: plain TCP claiming
// `identity` (required then), for tests and development only. `timeout_ms`
// (above 0) bounds each call given a `timeout_ms` of 0, retries included,
// and each connection attempt of a client watch.
//
// Connects lazily: nothing is sent until the first call, so an unreachable
// cluster is reported by the calls (`SYNOD_ERR_UNREACHABLE`), not here.
// Returns `SYNOD_OK` and writes a new client to `*out`, which the caller
// owns and frees with `synod_client_free`. On failure `*out` is untouched:
// `SYNOD_ERR_NULL_ARGUMENT`, `SYNOD_ERR_INVALID_ARGUMENT` (an endpoint that
// is not `host:port`, an empty list, `timeout_ms` 0, TLS files that do not
// load; the last error names which), `SYNOD_ERR_INVALID_IDENTITY`. Strings
// are borrowed for the call only.
synod_status synod_client_new(const char *endpoints,
                              const struct synod_client_tls *tls,
                              const char *identity,
                              uint32_t timeout_ms,
                              struct synod_client **out);

// Closes the client's connection and frees it; `synod_client_free(NULL)`
// does nothing.
//
// Takes ownership of `client`, which must come from `synod_client_new` and
// not be used again. Its watches (`synod_client_watch`) do not depend on it
// and go on until cancelled or freed.
void synod_client_free(struct synod_client *client);

// Asks the first member that answers (the one the client is connected to,
// else its endpoints in order) for its status, waiting at most
// `timeout_ms` (0: the client's default).
//
// Returns `SYNOD_OK` and writes a new `synod_member_status` to `*out`,
// which the caller owns and frees with `synod_member_status_free`. On
// failure `*out` is untouched: `SYNOD_ERR_UNREACHABLE` (no member answered
// in time), `SYNOD_ERR_UNAUTHORIZED`, `SYNOD_ERR_PROTOCOL`,
// `SYNOD_ERR_NULL_ARGUMENT`. Serialized with the client's other calls.
synod_status synod_client_status(const struct synod_client *client,
                                 uint32_t timeout_ms,
                                 struct synod_member_status **out);

// The member's identity, or NULL when `status` is NULL.
//
// Borrowed from the handle: valid until `status` is freed.
const char *synod_member_status_id(const struct synod_member_status *status);

// The member's raft peer id, or 0 when `status` is NULL.
//
// Owns nothing.
uint64_t synod_member_status_peer_id(const struct synod_member_status *status);

// The member's role (`SYNOD_ROLE_*`), or 0 when `status` is NULL or the
// member named a role this library does not know.
//
// Owns nothing.
synod_role synod_member_status_role(const struct synod_member_status *status);

// The member's current term, or 0 when `status` is NULL.
//
// Owns nothing.
uint64_t synod_member_status_term(const struct synod_member_status *status);

// The identity of the leader the member knows of, or NULL when it knows
// none (or `status` is NULL).
//
// Borrowed from the handle: valid until `status` is freed.
const char *synod_member_status_leader_id(const struct synod_member_status *status);

// That leader's address, or NULL when not known (or `status` is NULL).
//
// Borrowed from the handle: valid until `status` is freed.
const char *synod_member_status_leader_address(const struct synod_member_status *status);

// The member's commit index, or 0 when `status` is NULL.
//
// Owns nothing.
uint64_t synod_member_status_commit_index(const struct synod_member_status *status);

// The member's applied index, or 0 when `status` is NULL.
//
// Owns nothing.
uint64_t synod_member_status_applied_index(const struct synod_member_status *status);

// The member's catalog version, or 0 when `status` is NULL.
//
// Owns nothing.
uint64_t synod_member_status_version(const struct synod_member_status *status);

// Frees a member status; `synod_member_status_free(NULL)` does nothing.
//
// Takes ownership of `status`, which must come from `synod_client_status`
// and not be used again.
void synod_member_status_free(struct synod_member_status *status);

// Writes the leader the first member that answers knows of, with its
// address and the term it leads in (that member's term), to `*out`;
// waits at most `timeout_ms` (0: the client's default).
//
// Returns `SYNOD_OK` and a new `synod_leader` (the node API's snapshot)
// the caller owns and frees with `synod_leader_free`. On failure `*out` is
// untouched: `SYNOD_ERR_NOT_FOUND` when the member that answered knows of
// no leader (an election is under way: ask again), and the statuses of
// `synod_client_status`. Serialized with the client's other calls.
synod_status synod_client_leader(const struct synod_client *client,
                                 uint32_t timeout_ms,
                                 struct synod_leader **out);

// Asks the leader to hand leadership to the member `to`, and waits at
// most `timeout_ms` (0: the client's default) for the move.
//
// Returns `SYNOD_OK` once `to` leads. Otherwise: `SYNOD_ERR_TIMEOUT` (the
// move did not happen in time; nothing changed), `SYNOD_ERR_UNREACHABLE`
// (no leader answered in time), `SYNOD_ERR_INVALID_ARGUMENT` (`to` is not
// a voter the leader can hand to), `SYNOD_ERR_UNAUTHORIZED` (operators
// only), `SYNOD_ERR_INVALID_IDENTITY`, `SYNOD_ERR_NULL_ARGUMENT`,
// `SYNOD_ERR_PROTOCOL`. Strings are borrowed for the call only.
synod_status synod_client_transfer_leader(const struct synod_client *client,
                                          const char *to,
                                          uint32_t timeout_ms);

// Writes the metrics of the first member that answers, in the Prometheus
// text exposition format, to `*out`; waits at most `timeout_ms` (0: the
// client's default).
//
// Returns `SYNOD_OK` and a new NUL-terminated string the caller owns and
// frees with `synod_string_free`. On failure `*out` is untouched, with the
// statuses of `synod_client_status`.
synod_status synod_client_metrics_text(const struct synod_client *client,
                                       uint32_t timeout_ms,
                                       char **out);

// Looks up the owner of `range` at `level` (`at_least_index`: the index
// `SYNOD_READ_AT_LEAST` waits for, 0 for the other levels), waiting at
// most `timeout_ms` (0: the client's default).
//
// Returns `SYNOD_OK`, writes a new `synod_ownership` to `*out` (the caller
// owns it and frees it with `synod_ownership_free`) and, when `at` is not
// NULL, the position the answer reflects to `*at`. On failure neither is
// written: `SYNOD_ERR_NOT_FOUND` when the range has no owner at that
// position; `SYNOD_ERR_TIMEOUT` (the member did not reach the index, or no
// leader confirmed a linearizable read, in time), `SYNOD_ERR_UNREACHABLE`,
// `SYNOD_ERR_UNAUTHORIZED`, `SYNOD_ERR_PROTOCOL`,
// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_NULL_ARGUMENT`. Serialized with
// the client's other calls; strings are borrowed for the call only.
synod_status synod_client_owner(const struct synod_client *client,
                                const char *range,
                                synod_read_level level,
                                uint64_t at_least_index,
                                uint32_t timeout_ms,
                                struct synod_ownership **out,
                                struct synod_read_position *at);

// Checks whether (`owner`, `epoch`) is the current owner of `range` at
// `level` (as `synod_client_owner`): a data plane's fence.
//
// Returns `SYNOD_OK`, writes `SYNOD_FENCE_CURRENT`, `SYNOD_FENCE_STALE` or
// `SYNOD_FENCE_UNKNOWN` to `*out` and, when `at` is not NULL, the position
// the answer reflects to `*at`; on failure neither is written, with the
// statuses of `synod_client_owner` (never `SYNOD_ERR_NOT_FOUND`: a range
// without an owner is `SYNOD_FENCE_UNKNOWN`) and
// `SYNOD_ERR_INVALID_IDENTITY`.
synod_status synod_client_fence_check(const struct synod_client *client,
                                      const char *range,
                                      const char *owner,
                                      uint64_t epoch,
                                      synod_read_level level,
                                      uint64_t at_least_index,
                                      uint32_t timeout_ms,
                                      synod_fence_status *out,
                                      struct synod_read_position *at);

// Takes the members, in identity order, at `level` (as
// `synod_client_owner`).
//
// Returns `SYNOD_OK`, writes a new `synod_member_list` to `*out` (the
// caller owns it and frees it with `synod_member_list_free`) and, when
// `at` is not NULL, the position to `*at`; on failure neither is written,
// with the statuses of `synod_client_owner` but `SYNOD_ERR_NOT_FOUND`.
synod_status synod_client_members(const struct synod_client *client,
                                  synod_read_level level,
                                  uint64_t at_least_index,
                                  uint32_t timeout_ms,
                                  struct synod_member_list **out,
                                  struct synod_read_position *at);

// Fetches every owned range (page by page, as the member serves them), or
// only those of `owner` when it is not NULL, at `level`:
// `SYNOD_READ_LOCAL` or `SYNOD_READ_LINEARIZABLE` (each page at that
// level; a cluster that changes in between may show pages of different
// positions). Waits at most `timeout_ms` (0: the client's default) per
// page.
//
// Returns `SYNOD_OK` and writes a new `synod_range_list` to `*out`, which
// the caller owns and frees with `synod_range_list_free`; on failure
// `*out` is untouched: `SYNOD_ERR_INVALID_ARGUMENT` (another level),
// `SYNOD_ERR_INVALID_IDENTITY`, and the statuses of `synod_client_owner`
// but `SYNOD_ERR_NOT_FOUND`.
synod_status synod_client_ranges(const struct synod_client *client,
                                 const char *owner,
                                 synod_read_level level,
                                 uint32_t timeout_ms,
                                 struct synod_range_list **out);

// The number of ranges in the list, 0 when `list` is NULL.
//
// Owns nothing.
size_t synod_range_list_len(const struct synod_range_list *list);

// Copies range `i` (in range id order) to `*out`.
//
// Returns `SYNOD_OK`, or `SYNOD_ERR_NOT_FOUND` when `i` is not below
// `synod_range_list_len`, `SYNOD_ERR_NULL_ARGUMENT`; `*out` is written
// only on `SYNOD_OK`. Its strings are borrowed from `list`: valid until
// `list` is freed.
synod_status synod_range_list_get(const struct synod_range_list *list,
                                  size_t i,
                                  struct synod_range *out);

// Frees a range list; `synod_range_list_free(NULL)` does nothing.
//
// Takes ownership of `list`, which must come from `synod_client_ranges`
// and not be used again.
void synod_range_list_free(struct synod_range_list *list);

// Fetches the audit list (every forced ownership transition, oldest
// first, page by page) at `level`: `SYNOD_READ_LOCAL` or
// `SYNOD_READ_LINEARIZABLE`. Waits at most `timeout_ms` (0: the client's
// default).
//
// Returns `SYNOD_OK` and writes a new `synod_audit_list` (the node API's)
// to `*out`, which the caller owns and frees with `synod_audit_list_free`;
// on failure `*out` is untouched, with the statuses of
// `synod_client_ranges`.
synod_status synod_client_audit(const struct synod_client *client,
                                synod_read_level level,
                                uint32_t timeout_ms,
                                struct synod_audit_list **out);

// Proposes admitting `member` as a `kind` member reachable at `address`
// through the leader, and waits up to `timeout_ms` (0: the client's
// default) for it to commit, following the leader and retrying in the
// client's session.
//
// On `SYNOD_OK` `*out` receives the commit (`changed == false` for a
// repeat that was already in effect); on any failure it is untouched.
// What a failure says about the outcome, for every
// `synod_client_propose_*`:
// * `SYNOD_ERR_INDETERMINATE`: an attempt may have reached the log and the
//   deadline passed before a retry learnt its fate: it may have taken
//   effect (once). Read the state before acting on it.
// * `SYNOD_ERR_PROTOCOL`: a member answered something that is not a
//   commit: as indeterminate.
// * `SYNOD_ERR_REFUSED` (see `synod_last_refusal_code`,
//   `synod_last_refusal_position`), `SYNOD_ERR_UNREACHABLE` (no member
//   reached, or none led, in time: no attempt can have reached a log),
//   `SYNOD_ERR_UNAUTHORIZED`, `SYNOD_ERR_INVALID_ARGUMENT`,
//   `SYNOD_ERR_INVALID_IDENTITY`, `SYNOD_ERR_NULL_ARGUMENT`: it did not
//   take effect.
//
// Serialized with the client's other calls; strings are borrowed for the
// call only.
synod_status synod_client_propose_admit(const struct synod_client *client,
                                        const char *member,
                                        synod_member_kind kind,
                                        const char *address,
                                        uint32_t timeout_ms,
                                        struct synod_commit *out);

// Proposes putting `member` into drain, as `synod_client_propose_admit`
// proposes (same statuses and promises).
synod_status synod_client_propose_begin_drain(const struct synod_client *client,
                                              const char *member,
                                              uint32_t timeout_ms,
                                              struct synod_commit *out);

// Proposes removing `member` (refused while it owns ranges, and for the
// last member), as `synod_client_propose_admit` proposes (same statuses
// and promises).
synod_status synod_client_propose_remove(const struct synod_client *client,
                                         const char *member,
                                         uint32_t timeout_ms,
                                         struct synod_commit *out);

// Proposes the fenced transition of `range` to `new_owner` at `epoch`
// (exactly the range's current epoch plus one: a stale one is refused
// with `SYNOD_REFUSAL_STALE_EPOCH`, one that skips with
// `SYNOD_REFUSAL_EPOCH_NOT_NEXT`), as `synod_client_propose_admit`
// proposes (same statuses and promises).
synod_status synod_client_propose_transition(const struct synod_client *client,
                                             const char *range,
                                             const char *new_owner,
                                             uint64_t epoch,
                                             uint32_t timeout_ms,
                                             struct synod_commit *out);

// Proposes an operator's forced transition of `range` to `new_owner`
// (recorded in the audit list with `operator_id` and `reason`, never
// blank; the range moves to its current epoch plus one), as
// `synod_client_propose_admit` proposes (same statuses and promises).
synod_status synod_client_propose_forced_transition(const struct synod_client *client,
                                                    const char *range,
                                                    const char *new_owner,
                                                    const char *operator_id,
                                                    const char *reason,
                                                    uint32_t timeout_ms,
                                                    struct synod_commit *out);

// Proposes the `n` transitions of `requests` pipelined: sent to the
// leader on one connection without waiting for each other (they commit
// together, in an order not promised), each exactly once in a sequence
// number of its own; an entry the pipelined attempt did not settle is
// retried alone, as a single proposal is. All share `timeout_ms` (0: the
// client's default).
//
// Every request is checked before anything is sent: a NULL or invalid
// string returns its status (`SYNOD_ERR_NULL_ARGUMENT`,
// `SYNOD_ERR_INVALID_ARGUMENT`, `SYNOD_ERR_INVALID_IDENTITY`, the last
// error naming the request) and nothing is proposed or written. Otherwise
// returns `SYNOD_OK` and writes each entry's outcome to `results[i]` (an
// array of `n` the caller owns): `SYNOD_OK` does not mean every entry
// committed; look at each `status`. `n == 0` returns `SYNOD_OK` at once
// (`requests` and `results` may then be NULL). The last error is left as
// it was by the batch's entries: read each entry's `status`.
synod_status synod_client_propose_transitions(const struct synod_client *client,
                                              const struct synod_transition_request *requests,
                                              size_t n,
                                              uint32_t timeout_ms,
                                              struct synod_batch_result *results);

// Starts a change feed of the cluster `client` talks to: every committed
// catalog entry from log index `from_index` on, in log order and each
// once, with its outcome, across member failures (the watch moves to
// another endpoint and resumes after the last event it delivered); the
// role changes of the member it reads from; and where the events are not
// available (`from_index` 0 or 1, or before the member's history) a
// snapshot in parts (`SYNOD_WATCH_SNAPSHOT_BEGIN`, `_MEMBER`, `_RANGE`,
// `_END`) first. To resume after the last event seen, pass its index plus
// one. With `range` not NULL, only the transitions (plain and forced) of
// that range are delivered, plus the snapshot (its range rows of that
// range only), role and end events. The events are the node watch's
// `synod_watch_event`s, with two differences: a forced transition's
// `epoch` is 0 unless the watch saw the range's epoch before (in a
// snapshot or a transition), and `SYNOD_WATCH_SNAPSHOT` never comes.
//
// `callback` runs on the watch's own library thread, one call at a time
// (see `synod_watch_callback`; it may call any client function, on any
// client). `free_user_data` (if not NULL) releases `user_data` exactly
// once: after the last callback, when the watch is cancelled or ended. A
// watch whose members are all unreachable keeps trying; it ends on its own
// only when it cannot go on, with one last `SYNOD_WATCH_END` whose
// `status` says why (`SYNOD_ERR_UNAUTHORIZED`: the identity may not read;
// `SYNOD_ERR_PROTOCOL`). A cancelled watch gets no `SYNOD_WATCH_END`.
//
// Returns `SYNOD_OK` and writes a new `synod_remote_watch` to `*out`,
// which the caller owns and frees with `synod_remote_watch_free` (whether
// or not the watch has ended). On failure the callback never runs,
// `free_user_data` is called before this returns, and `*out` is
// untouched: `SYNOD_ERR_NULL_ARGUMENT` (`client`, `callback`, `out`),
// `SYNOD_ERR_INVALID_ARGUMENT` (a `range` the core refuses),
// `SYNOD_ERR_START` when the system refused a thread. Serialized with the
// client's other calls (it only copies the client's endpoints and
// identity); connects on its own thread.
synod_status synod_client_watch(const struct synod_client *client,
                                uint64_t from_index,
                                const char *range,
                                synod_watch_callback callback,
                                void *user_data,
                                synod_free_callback free_user_data,
                                struct synod_remote_watch **out);

// Stops a client watch: no callback of it starts after this returns, and
// its free function has run by then. Called on another thread, it waits
// for a running callback of the watch to return (not for the network);
// called from the watch's own callback, it returns at once, no callback
// runs after the current one, and the free function runs as soon as the
// current callback returns. No `SYNOD_WATCH_END` event is sent for a
// cancelled watch. Its connection closes within a few seconds.
//
// Returns `SYNOD_OK`, also for a watch that already ended, or
// `SYNOD_ERR_NULL_ARGUMENT`. Does not free `watch`: the caller still frees
// it with `synod_remote_watch_free`. Thread-safe: any thread, any number
// of times, before `synod_remote_watch_free`.
synod_status synod_remote_watch_cancel(const struct synod_remote_watch *watch);

// Cancels the watch as `synod_remote_watch_cancel` does (unless it already
// ended) and frees its handle; `synod_remote_watch_free(NULL)` does
// nothing.
//
// Takes ownership of `watch`, which must come from `synod_client_watch`
// and not be used again. Allowed from the watch's own callback (then the
// watch ends when that callback returns), and before or after its client
// is freed.
void synod_remote_watch_free(struct synod_remote_watch *watch);

// Sends the library's log records at `level` and above (`SYNOD_LOG_TRACE`
// .. `SYNOD_LOG_ERROR`) to `callback`, replacing the callback in force; a
// NULL `callback` unsets it (then `level` and `user_data` are ignored).
// Records below `level` are not even formatted. Without a callback libsynod
// writes no log at all (nothing to stderr either).
//
// The callback runs on the thread that emitted the record (any library
// thread: drivers, transports, a start, the caller's own thread), possibly
// on several threads at once, so it and `user_data` must be thread-safe.
// It receives a borrowed `synod_log_record`. It may call into the library;
// a record that such a call emits on the same thread is dropped (never
// delivered re-entrantly) and counted in `synod_log_dropped_total`, and
// `synod_set_log_callback` itself is refused from inside a callback.
//
// `free_user_data` (if not NULL) releases `user_data`, exactly once: when
// a later call replaces or unsets this callback, after the last call of
// this callback has returned and before that later call returns (it waits
// for calls in progress on other threads). On failure the callback is not
// installed, the one in force stays, and `free_user_data` is called before
// this function returns.
//
// The first callback makes libsynod's `tracing` layer the process's global
// default subscriber, for good. Returns `SYNOD_OK`;
// `SYNOD_ERR_INVALID_ARGUMENT` for an unknown level, a call from inside a
// log callback, or a process where another `tracing` subscriber is the
// global default already (a Rust host that installed its own). Thread-safe.
synod_status synod_set_log_callback(synod_log_level level,
                                    synod_log_callback callback,
                                    void *user_data,
                                    synod_free_callback free_user_data);

// How many log records were dropped since the process started: emitted
// while a log callback ran on the same thread (the callback called into
// the library), or on a thread being torn down. Records below the level
// asked for, or emitted while no callback is set, are not counted.
// Thread-safe.
uint64_t synod_log_dropped_total(void);

// The version of the linked library, encoded as `SYNOD_VERSION_NUMBER` is.
//
// Owns nothing; never fails.
uint32_t synod_version_number(void);

// The version of the linked library as `"MAJOR.MINOR.PATCH"`.
//
// The string is static; the caller must not free it.
const char *synod_version_string(void);

#ifdef __cplusplus
}  // extern "C"
#endif  // __cplusplus

#endif  /* SYNOD_H */
