// synod.hpp: a header-only C++17 wrapper over the C ABI in synod.h.
//
// What it owns: RAII for the C handles (std::unique_ptr with the matching
// synod_*_free) and the translation of a failed synod_status into a thrown
// synod::error that carries the status, the last error's message, the
// refusal code (SYNOD_ERR_REFUSED) and the leader hint (SYNOD_ERR_NOT_LEADER).
// What it promises: nothing the C API does not; every call is one C call plus
// copying results into C++ values. Like the C API, it offers no way to
// propose bytes: one typed propose function per entry.
// Thread safety follows synod.h: a synod::node may be used from many threads
// at once (its methods are const); moving or destroying it must not race
// with other use.
// A stopped member (shut down, removed, or stopped on a storage failure)
// answers as synod.h says: every method but id() and shutdown() throws
// synod::error with SYNOD_ERR_SHUTDOWN (SYNOD_ERR_STORAGE after a storage
// failure), reads and is_leader() included; it never answers "no owner", an
// empty member list or fence::unknown for want of a running member. A
// single-node engine keeps answering reads after shutdown().
// A synod::view is immutable and may be read from many threads at once; it
// outlives its node. A synod::watch runs its callable on a library thread
// (see synod_node_watch); destroying or cancelling it waits for a running
// call of the callable (except from inside it) and releases the callable.
// A synod::config is changed by one thread at a time; node::start(config,
// timeout) only reads it. set_log_handler's handler runs on any library
// thread, several at once. node::start_host's send callable runs on the
// member's consensus thread; deliver() may be called from any thread.
#ifndef SYNOD_HPP
#define SYNOD_HPP

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "synod.h"

namespace synod {

/// The leader a follower named in SYNOD_ERR_NOT_LEADER.
struct leader_hint {
    std::string id;
    std::optional<std::string> address;
};

/// A failed call: its status, message and, when they apply, the refusal code
/// and leader hint.
class error : public std::runtime_error {
public:
    error(synod_status status, const std::string &message,
          synod_refusal_code refusal = SYNOD_REFUSAL_NONE,
          std::optional<leader_hint> leader = std::nullopt)
        : std::runtime_error(message), status_(status), refusal_(refusal),
          leader_(std::move(leader)) {}

    /// The SYNOD_ERR_* code.
    synod_status status() const noexcept { return status_; }
    /// The symbolic name of the status, e.g. "SYNOD_ERR_REFUSED".
    const char *status_name() const noexcept { return synod_status_str(status_); }
    /// SYNOD_REFUSAL_NONE unless status() == SYNOD_ERR_REFUSED.
    synod_refusal_code refusal_code() const noexcept { return refusal_; }
    /// The stable name of the refusal, e.g. "stale-epoch".
    const char *refusal_name() const noexcept { return synod_refusal_str(refusal_); }
    /// The leader to go to, when status() == SYNOD_ERR_NOT_LEADER and one is known.
    const std::optional<leader_hint> &leader() const noexcept { return leader_; }

private:
    synod_status status_;
    synod_refusal_code refusal_;
    std::optional<leader_hint> leader_;
};

namespace detail {

template <typename T, void (*Free)(T *)> struct deleter {
    void operator()(T *p) const noexcept { Free(p); }
};

template <typename T, void (*Free)(T *)> using handle = std::unique_ptr<T, deleter<T, Free>>;

inline std::string last_message() {
    std::size_t n = 0;
    synod_last_error_message(nullptr, 0, &n);
    std::vector<char> buf(n + 1, '\0');
    synod_last_error_message(buf.data(), buf.size(), &n);
    return std::string(buf.data());
}

/// Builds the synod::error for `status` from this thread's last error.
inline error last_error(synod_status status) {
    std::optional<leader_hint> leader;
    synod_leader_hint *raw = nullptr;
    if (synod_last_leader_hint(&raw) == SYNOD_OK) {
        handle<synod_leader_hint, synod_leader_hint_free> hint(raw);
        const char *address = synod_leader_hint_address(hint.get());
        leader = leader_hint{synod_leader_hint_id(hint.get()),
                             address ? std::optional<std::string>(address) : std::nullopt};
    }
    return error(status, last_message(), synod_last_refusal_code(), std::move(leader));
}

inline void check(synod_status status) {
    if (status != SYNOD_OK) {
        throw last_error(status);
    }
}

/// A std::string as a C string argument; an embedded NUL would silently cut
/// it short, so it is refused here.
inline const char *c_arg(const std::string &s, const char *what) {
    if (s.find('\0') != std::string::npos) {
        throw error(SYNOD_ERR_INVALID_ARGUMENT, std::string(what) + " contains a NUL byte");
    }
    return s.c_str();
}

inline std::uint32_t timeout_ms(std::chrono::milliseconds t) {
    if (t.count() <= 0) {
        return 0;
    }
    if (t.count() > static_cast<std::chrono::milliseconds::rep>(
                        std::numeric_limits<std::uint32_t>::max())) {
        return std::numeric_limits<std::uint32_t>::max();
    }
    return static_cast<std::uint32_t>(t.count());
}

} // namespace detail

/// The version of the linked library ("MAJOR.MINOR.PATCH").
inline std::string version() { return synod_version_string(); }

/// A validated member identity.
class identity {
public:
    /// Parses a certificate subject; throws synod::error
    /// (SYNOD_ERR_INVALID_IDENTITY, SYNOD_ERR_INVALID_ARGUMENT).
    static identity parse(const std::string &subject) {
        synod_identity *raw = nullptr;
        detail::check(synod_identity_parse(detail::c_arg(subject, "subject"), &raw));
        return identity(raw);
    }

    /// The identity text.
    std::string str() const { return synod_identity_str(handle_.get()); }

private:
    explicit identity(synod_identity *raw) : handle_(raw) {}
    detail::handle<synod_identity, synod_identity_free> handle_;
};

enum class member_kind : synod_member_kind {
    data = SYNOD_MEMBER_KIND_DATA,
    witness = SYNOD_MEMBER_KIND_WITNESS,
};

enum class fence : synod_fence_status {
    current = SYNOD_FENCE_CURRENT,
    stale = SYNOD_FENCE_STALE,
    unknown = SYNOD_FENCE_UNKNOWN,
};

/// A committed proposal.
using commit = synod_commit;

/// Who owns a range, copied out of a synod_ownership snapshot.
struct ownership {
    std::string owner;
    std::uint64_t epoch;
    std::uint64_t version;
    std::uint64_t term;
    std::uint64_t index;
};

/// A member, copied out of a synod_member_list snapshot.
struct member {
    std::string id;
    std::string address;
    member_kind kind;
    bool draining;
};

/// The leader a started member knows of (see synod_node_leader).
struct leader_info {
    std::string id;
    std::optional<std::string> address;
    std::uint64_t term;
};

enum class role : synod_role {
    follower = SYNOD_ROLE_FOLLOWER,
    candidate = SYNOD_ROLE_CANDIDATE,
    pre_candidate = SYNOD_ROLE_PRE_CANDIDATE,
    leader = SYNOD_ROLE_LEADER,
};

/// A peer of a member's applied configuration (see synod_peer).
struct peer {
    std::uint64_t peer_id;
    std::optional<std::string> id;
    bool voter;
    /// The leader's view (matched, lag); only in the leader's status.
    std::optional<std::pair<std::uint64_t, std::uint64_t>> progress;
};

/// A started member's status, copied out of a synod_replica_status.
struct status {
    synod::role role;
    std::uint64_t term;
    std::uint64_t peer_id;
    std::optional<std::string> leader_id;
    std::optional<std::string> leader_address;
    std::uint64_t commit_index;
    std::uint64_t applied_index;
    std::uint64_t last_index;
    std::uint64_t pending_proposals;
    std::vector<peer> peers;
};

/// An owned range, copied out of a synod_range.
struct range {
    std::string id;
    std::string owner;
    std::uint64_t epoch;
    std::uint64_t version;
    std::uint64_t term;
    std::uint64_t index;
};

/// A forced transition of the audit list, copied out of a synod_audit_record.
struct audit_record {
    std::uint64_t index;
    std::uint64_t term;
    std::string range;
    std::optional<std::string> previous_owner;
    std::uint64_t previous_epoch;
    std::string new_owner;
    std::uint64_t epoch;
    std::string operator_id;
    std::string reason;
};

enum class read_level : synod_read_level {
    local = SYNOD_READ_LOCAL,
    at_least = SYNOD_READ_AT_LEAST,
    linearizable = SYNOD_READ_LINEARIZABLE,
};

namespace detail {

inline std::optional<std::string> opt(const char *s) {
    return s ? std::optional<std::string>(s) : std::nullopt;
}

inline std::vector<member> copy_members(synod_member_list *raw) {
    handle<synod_member_list, synod_member_list_free> list(raw);
    std::vector<member> out;
    std::size_t len = synod_member_list_len(list.get());
    out.reserve(len);
    for (std::size_t i = 0; i < len; ++i) {
        out.push_back(member{synod_member_list_id(list.get(), i),
                             synod_member_list_address(list.get(), i),
                             static_cast<member_kind>(synod_member_list_kind(list.get(), i)),
                             synod_member_list_state(list.get(), i) ==
                                 SYNOD_MEMBER_STATE_DRAINING});
    }
    return out;
}

inline ownership copy_ownership(synod_ownership *raw) {
    handle<synod_ownership, synod_ownership_free> o(raw);
    return ownership{synod_ownership_owner(o.get()), synod_ownership_epoch(o.get()),
                     synod_ownership_version(o.get()), synod_ownership_term(o.get()),
                     synod_ownership_index(o.get())};
}

} // namespace detail

/// The catalog as one member applied it at one index (see synod_node_read).
/// Immutable; may be read from many threads at once; outlives its node.
class view {
public:
    /// The log index this view reflects.
    std::uint64_t applied_index() const { return synod_view_applied_index(handle_.get()); }
    std::uint64_t applied_term() const { return synod_view_applied_term(handle_.get()); }
    std::uint64_t version() const { return synod_view_version(handle_.get()); }

    /// The owner of `range` in this view, or std::nullopt when it has none.
    std::optional<ownership> owner(const std::string &range_id) const {
        synod_ownership *raw = nullptr;
        synod_status status = synod_view_owner(handle_.get(), detail::c_arg(range_id, "range"), &raw);
        if (status == SYNOD_ERR_NOT_FOUND) {
            return std::nullopt;
        }
        detail::check(status);
        return detail::copy_ownership(raw);
    }

    fence fence_check(const std::string &range_id, const std::string &owner_id,
                      std::uint64_t epoch) const {
        synod_fence_status out = 0;
        detail::check(synod_view_fence_check(handle_.get(), detail::c_arg(range_id, "range"),
                                             detail::c_arg(owner_id, "owner"), epoch, &out));
        return static_cast<fence>(out);
    }

    std::vector<member> members() const {
        synod_member_list *raw = nullptr;
        detail::check(synod_view_members(handle_.get(), &raw));
        return detail::copy_members(raw);
    }

    /// Up to `limit` owned ranges in id order: of `owner_id` only (all when
    /// std::nullopt), after the range id `after` (from the first when
    /// std::nullopt). Page by passing the last id of one page as the next
    /// page's `after`.
    std::vector<range> ranges(const std::optional<std::string> &owner_id = std::nullopt,
                              const std::optional<std::string> &after = std::nullopt,
                              std::size_t limit = std::numeric_limits<std::size_t>::max()) const {
        synod_range_cursor *raw = nullptr;
        detail::check(synod_view_ranges(
            handle_.get(), owner_id ? detail::c_arg(*owner_id, "owner") : nullptr,
            after ? detail::c_arg(*after, "after") : nullptr, &raw));
        detail::handle<synod_range_cursor, synod_range_cursor_free> cursor(raw);
        std::vector<range> out;
        synod_range r{};
        while (out.size() < limit) {
            synod_status status = synod_range_cursor_next(cursor.get(), &r);
            if (status == SYNOD_ERR_NOT_FOUND) {
                break;
            }
            detail::check(status);
            out.push_back(range{r.range, r.owner, r.epoch, r.version, r.term, r.index});
        }
        return out;
    }

    /// Every forced transition, oldest first.
    std::vector<audit_record> audit() const {
        synod_audit_list *raw = nullptr;
        detail::check(synod_view_audit(handle_.get(), &raw));
        detail::handle<synod_audit_list, synod_audit_list_free> list(raw);
        std::vector<audit_record> out;
        std::size_t len = synod_audit_list_len(list.get());
        for (std::size_t i = 0; i < len; ++i) {
            synod_audit_record a{};
            detail::check(synod_audit_list_get(list.get(), i, &a));
            out.push_back(audit_record{a.index, a.term, a.range, detail::opt(a.previous_owner),
                                       a.previous_epoch, a.new_owner, a.epoch, a.operator_id,
                                       a.reason});
        }
        return out;
    }

    /// The C handle, borrowed.
    const synod_view *get() const noexcept { return handle_.get(); }

private:
    friend class node;
    explicit view(synod_view *raw) : handle_(raw) {}
    detail::handle<synod_view, synod_view_free> handle_;
};

/// A running change feed (see synod_node_watch). Move-only. Destroying it
/// cancels the watch (waiting for a running call of its callable, unless
/// destroyed from inside it) and destroys the callable.
class watch {
public:
    /// What the callable receives: the C event, valid during the call only.
    using callback = std::function<void(const synod_watch_event &)>;

    /// Stops the watch (see synod_watch_cancel): afterwards the callable is
    /// never called again and has been destroyed (unless cancelled from
    /// inside it: then right after it returns).
    void cancel() const { detail::check(synod_watch_cancel(handle_.get())); }

    /// The C handle, borrowed; NULL after the watch was moved from.
    const synod_watch *get() const noexcept { return handle_.get(); }

private:
    friend class node;
    explicit watch(synod_watch *raw) : handle_(raw) {}

    // The callable cannot throw into C: an exception it lets out is
    // caught here and dropped.
    static void call(void *user_data, const synod_watch_event *event) noexcept {
        try {
            (*static_cast<callback *>(user_data))(*event);
        } catch (...) {
        }
    }
    static void release(void *user_data) noexcept { delete static_cast<callback *>(user_data); }

    detail::handle<synod_watch, synod_watch_free> handle_;
};

/// A member's configuration built in code (see synod_config_new): fluent
/// setters, one per key of the configuration file, each checked at once (a
/// refusal throws synod::error naming the field and leaves the configuration
/// as it was). Move-only; one thread at a time while it is changed.
class config {
public:
    /// An empty configuration.
    config() {
        synod_config *raw = nullptr;
        detail::check(synod_config_new(&raw));
        handle_.reset(raw);
    }

    /// A configuration file read into a builder (see synod_config_from_file).
    static config from_file(const std::string &path) {
        synod_config *raw = nullptr;
        detail::check(synod_config_from_file(detail::c_arg(path, "path"), &raw));
        return config(raw);
    }

    config &id(const std::string &identity) {
        return set(synod_config_set_id(get(), detail::c_arg(identity, "id")));
    }
    config &listen(const std::string &address) {
        return set(synod_config_set_listen(get(), detail::c_arg(address, "listen")));
    }
    config &data_dir(const std::string &path) {
        return set(synod_config_set_data_dir(get(), detail::c_arg(path, "data_dir")));
    }
    config &bootstrap_member(const std::string &identity, member_kind kind,
                             const std::string &address) {
        return set(synod_config_add_bootstrap_member(
            get(), detail::c_arg(identity, "cluster.bootstrap.id"),
            static_cast<synod_member_kind>(kind),
            detail::c_arg(address, "cluster.bootstrap.address")));
    }
    config &join(const std::string &address) {
        return set(synod_config_set_join(get(), detail::c_arg(address, "cluster.join")));
    }
    config &tls_files(const std::string &cert, const std::string &key, const std::string &ca) {
        return set(synod_config_set_tls_files(get(), detail::c_arg(cert, "tls.cert"),
                                              detail::c_arg(key, "tls.key"),
                                              detail::c_arg(ca, "tls.ca")));
    }
    config &insecure(bool on = true) { return set(synod_config_set_insecure(get(), on)); }
    config &allow_insecure_non_loopback(bool on = true) {
        return set(synod_config_set_allow_insecure_non_loopback(get(), on));
    }
    config &allow_key_readable_by_others(bool on = true) {
        return set(synod_config_set_allow_key_readable_by_others(get(), on));
    }
    config &deny(const std::string &identity) {
        return set(synod_config_add_deny(get(), detail::c_arg(identity, "tls.deny")));
    }
    config &crl(const std::string &path) {
        return set(synod_config_set_crl(get(), detail::c_arg(path, "tls.crl")));
    }
    config &reader(const std::string &identity) {
        return set(synod_config_add_reader(get(), detail::c_arg(identity, "authorization.readers")));
    }
    config &proposer(const std::string &identity) {
        return set(
            synod_config_add_proposer(get(), detail::c_arg(identity, "authorization.proposers")));
    }
    config &operator_(const std::string &identity) {
        return set(
            synod_config_add_operator(get(), detail::c_arg(identity, "authorization.operators")));
    }
    config &tick(std::chrono::milliseconds t) {
        return set(synod_config_set_tick_ms(
            get(), t.count() < 0 ? 0 : static_cast<std::uint64_t>(t.count())));
    }
    config &heartbeat_ticks(std::uint64_t n) {
        return set(synod_config_set_heartbeat_ticks(get(), n));
    }
    config &election_ticks(std::uint64_t n) {
        return set(synod_config_set_election_ticks(get(), n));
    }
    config &snapshot_every(std::uint64_t n) {
        return set(synod_config_set_snapshot_every(get(), n));
    }
    config &max_learner_lag(std::uint64_t n) {
        return set(synod_config_set_max_learner_lag(get(), n));
    }
    config &max_pending_calls(std::uint64_t n) {
        return set(synod_config_set_max_pending_calls(get(), n));
    }
    config &max_inbound_messages(std::uint64_t n) {
        return set(synod_config_set_max_inbound_messages(get(), n));
    }
    config &watch_history(std::uint64_t n) {
        return set(synod_config_set_watch_history(get(), n));
    }
    config &metrics_listen(const std::string &address) {
        return set(synod_config_set_metrics_listen(
            get(), detail::c_arg(address, "admin.metrics_listen")));
    }
    config &max_inbound(std::uint64_t n) { return set(synod_config_set_max_inbound(get(), n)); }
    config &max_client_connections(std::uint64_t n) {
        return set(synod_config_set_max_client_connections(get(), n));
    }
    config &max_client_connections_per_identity(std::uint64_t n) {
        return set(synod_config_set_max_client_connections_per_identity(get(), n));
    }

    /// The configuration as the text of a configuration file.
    std::string to_toml() const {
        char *raw = nullptr;
        detail::check(synod_config_to_toml(get(), &raw));
        std::string out(raw);
        synod_string_free(raw);
        return out;
    }

    /// The C handle, borrowed; NULL after the config was moved from.
    synod_config *get() const noexcept { return handle_.get(); }

private:
    explicit config(synod_config *raw) : handle_(raw) {}
    config &set(synod_status status) {
        detail::check(status);
        return *this;
    }
    detail::handle<synod_config, synod_config_free> handle_;
};

/// One log record, copied out of the C record.
struct log_record {
    synod_log_level level;
    std::string target;
    std::string message;
    std::vector<std::pair<std::string, std::string>> fields;
    std::string file;
    std::uint32_t line;
};

namespace detail {

using log_handler = std::function<void(const log_record &)>;

inline void log_trampoline(void *user_data, const synod_log_record *r) noexcept {
    try {
        log_record rec{r->level, r->target, r->message, {}, r->file ? r->file : "", r->line};
        for (std::size_t i = 0; i < r->field_count; i++) {
            rec.fields.emplace_back(r->fields[i].key, r->fields[i].value);
        }
        (*static_cast<log_handler *>(user_data))(rec);
    } catch (...) {
        // An exception must not cross into the library: it is dropped.
    }
}

inline void log_free(void *user_data) noexcept { delete static_cast<log_handler *>(user_data); }

} // namespace detail

/// Sends the library's log records at `level` and above to `handler` (see
/// synod_set_log_callback): called from any library thread, several at
/// once; an exception it throws is caught and dropped. Replaces the handler
/// in force, whose copy is destroyed after its last call returned and before
/// this returns. An empty handler unsets.
inline void set_log_handler(synod_log_level level, std::function<void(const log_record &)> handler) {
    if (!handler) {
        detail::check(synod_set_log_callback(level, nullptr, nullptr, nullptr));
        return;
    }
    auto *owned = new detail::log_handler(std::move(handler));
    // On failure the library calls log_free itself.
    detail::check(
        synod_set_log_callback(level, detail::log_trampoline, owned, detail::log_free));
}

/// Log records dropped so far (see synod_log_dropped_total).
inline std::uint64_t log_dropped_total() { return synod_log_dropped_total(); }

/// A control-plane member. Move-only; destroying it shuts it down and frees it.
/// Once it stopped, its methods throw (see the top of this file).
class node {
public:
    using timeout = std::chrono::milliseconds;

    /// Opens a single-member control plane (see synod_node_open_single).
    static node open_single(const std::string &self, const std::string &address) {
        synod_node *raw = nullptr;
        detail::check(synod_node_open_single(detail::c_arg(self, "identity"),
                                             detail::c_arg(address, "address"), &raw));
        return node(raw);
    }

    /// Starts a member of a replicated cluster from its configuration file
    /// (see synod_node_start).
    static node start(const std::string &config_path) {
        synod_node *raw = nullptr;
        detail::check(synod_node_start(detail::c_arg(config_path, "config_path"), &raw));
        return node(raw);
    }

    /// Starts a member of a replicated cluster from a built configuration,
    /// waiting at most `timeout` (see synod_node_start_config: a late start
    /// throws SYNOD_ERR_TIMEOUT and is shut down when it finishes).
    static node start(const config &cfg, std::chrono::milliseconds timeout) {
        synod_node *raw = nullptr;
        detail::check(synod_node_start_config(cfg.get(), detail::timeout_ms(timeout), &raw));
        return node(raw);
    }

    /// What a member on the host's transport hands the host (see
    /// synod_host_send_callback): the destination's raft peer id, its
    /// identity (empty when unknown) and one frame, valid during the call
    /// only. Runs on the member's consensus thread; an exception it lets
    /// out is caught and dropped (the frame is lost: raft retries).
    using host_send = std::function<void(std::uint64_t to_peer_id, const std::string &to_identity,
                                         const std::uint8_t *bytes, std::size_t len)>;

    /// Starts a member whose raft messages travel through the host's own
    /// networking (see synod_node_start_host): `send` carries each frame
    /// and the host hands what arrives to deliver(). `send` is destroyed
    /// exactly once: when the node shuts down, or here when the start
    /// throws.
    static node start_host(const config &cfg, host_send send) {
        auto *boxed = new host_send(std::move(send));
        synod_node *raw = nullptr;
        // On failure the library has already released `boxed`.
        detail::check(synod_node_start_host(cfg.get(), &host_send_call, boxed, &host_send_release,
                                            &raw));
        return node(raw);
    }

    /// Hands one frame from peer `from_peer_id` to a member on the host's
    /// transport (see synod_node_deliver): throws SYNOD_ERR_INVALID_ARGUMENT
    /// for bytes that are not one valid frame of that sender,
    /// SYNOD_ERR_UNAUTHORIZED for a sender that is not a member and
    /// SYNOD_ERR_OVERLOADED when the member's inbox is full (the frame was
    /// dropped).
    void deliver(std::uint64_t from_peer_id, const std::uint8_t *bytes, std::size_t len) const {
        detail::check(synod_node_deliver(get(), from_peer_id, bytes, len));
    }

    /// The raft peer id of member `identity` (see synod_node_peer_id), or
    /// std::nullopt when the catalog holds no such member.
    std::optional<std::uint64_t> peer_id(const std::string &identity) const {
        std::uint64_t out = 0;
        synod_status status = synod_node_peer_id(get(), detail::c_arg(identity, "identity"), &out);
        if (status == SYNOD_ERR_NOT_FOUND) {
            return std::nullopt;
        }
        detail::check(status);
        return out;
    }

    /// The leader a started member knows of, or std::nullopt while it knows
    /// of none. A stopped member throws (SYNOD_ERR_SHUTDOWN,
    /// SYNOD_ERR_STORAGE); a single-node engine SYNOD_ERR_INVALID_ARGUMENT.
    std::optional<leader_info> leader() const {
        synod_leader *raw = nullptr;
        synod_status status = synod_node_leader(get(), &raw);
        if (status == SYNOD_ERR_NOT_FOUND) {
            return std::nullopt;
        }
        detail::check(status);
        detail::handle<synod_leader, synod_leader_free> l(raw);
        return leader_info{synod_leader_id(l.get()), detail::opt(synod_leader_address(l.get())),
                           synod_leader_term(l.get())};
    }

    /// A started member's status (see synod_node_status).
    synod::status status() const {
        synod_replica_status *raw = nullptr;
        detail::check(synod_node_status(get(), &raw));
        detail::handle<synod_replica_status, synod_replica_status_free> s(raw);
        synod::status out{static_cast<synod::role>(synod_replica_status_role(s.get())),
                          synod_replica_status_term(s.get()),
                          synod_replica_status_peer_id(s.get()),
                          detail::opt(synod_replica_status_leader_id(s.get())),
                          detail::opt(synod_replica_status_leader_address(s.get())),
                          synod_replica_status_commit_index(s.get()),
                          synod_replica_status_applied_index(s.get()),
                          synod_replica_status_last_index(s.get()),
                          synod_replica_status_pending_proposals(s.get()),
                          {}};
        std::size_t n = synod_replica_status_peer_count(s.get());
        for (std::size_t i = 0; i < n; ++i) {
            synod_peer p{};
            detail::check(synod_replica_status_peer(s.get(), i, &p));
            out.peers.push_back(peer{p.peer_id, detail::opt(p.id), p.voter,
                                     p.has_progress ? std::optional<std::pair<std::uint64_t, std::uint64_t>>(
                                                          std::make_pair(p.matched, p.lag))
                                                    : std::nullopt});
        }
        return out;
    }

    /// The catalog at `level` (see synod_node_read); `at_least_index` only
    /// with read_level::at_least. Throws SYNOD_ERR_TIMEOUT when the member
    /// did not get there in time.
    view read(read_level level, std::uint64_t at_least_index = 0,
              timeout t = std::chrono::seconds(5)) const {
        synod_view *raw = nullptr;
        detail::check(synod_node_read(get(), static_cast<synod_read_level>(level), at_least_index,
                                      detail::timeout_ms(t), &raw));
        return view(raw);
    }

    /// The linearizable read index, applied here (see synod_node_read_index).
    std::uint64_t read_index(timeout t = std::chrono::seconds(5)) const {
        std::uint64_t out = 0;
        detail::check(synod_node_read_index(get(), detail::timeout_ms(t), &out));
        return out;
    }

    /// Waits until this member applied `index`; throws SYNOD_ERR_TIMEOUT.
    void wait_applied(std::uint64_t index, timeout t = std::chrono::seconds(5)) const {
        detail::check(synod_node_wait_applied(get(), index, detail::timeout_ms(t)));
    }

    /// The Prometheus text of a started member's metrics.
    std::string metrics_text() const {
        char *raw = nullptr;
        detail::check(synod_node_metrics_text(get(), &raw));
        std::string out(raw);
        synod_string_free(raw);
        return out;
    }

    /// Starts a change feed from `from_index` (see synod_node_watch):
    /// `fn` runs on the watch's library thread with each event; with
    /// `range_id`, only that range's transitions (and snapshot, role and end
    /// events). `fn` is destroyed exactly once, when the watch ends.
    watch watch_from(std::uint64_t from_index, watch::callback fn,
                     const std::optional<std::string> &range_id = std::nullopt) const {
        const char *filter = range_id ? detail::c_arg(*range_id, "range") : nullptr;
        auto *boxed = new watch::callback(std::move(fn));
        synod_watch *raw = nullptr;
        // On failure the library has already released `boxed`.
        detail::check(synod_node_watch(get(), from_index, filter, &watch::call, boxed,
                                       &watch::release, &raw));
        return watch(raw);
    }

    std::string id() const { return synod_node_id(get()); }

    bool is_leader() const {
        bool out = false;
        detail::check(synod_node_is_leader(get(), &out));
        return out;
    }

    std::uint64_t current_term() const {
        std::uint64_t out = 0;
        detail::check(synod_node_current_term(get(), &out));
        return out;
    }

    std::uint64_t commit_index() const {
        std::uint64_t out = 0;
        detail::check(synod_node_commit_index(get(), &out));
        return out;
    }

    commit propose_admit(const std::string &member_id, member_kind kind, const std::string &address,
                         timeout t = std::chrono::seconds(5)) const {
        commit out{};
        detail::check(synod_node_propose_admit(
            get(), detail::c_arg(member_id, "member"), static_cast<synod_member_kind>(kind),
            detail::c_arg(address, "address"), detail::timeout_ms(t), &out));
        return out;
    }

    commit propose_begin_drain(const std::string &member_id,
                               timeout t = std::chrono::seconds(5)) const {
        commit out{};
        detail::check(synod_node_propose_begin_drain(get(), detail::c_arg(member_id, "member"),
                                                     detail::timeout_ms(t), &out));
        return out;
    }

    commit propose_remove(const std::string &member_id, timeout t = std::chrono::seconds(5)) const {
        commit out{};
        detail::check(synod_node_propose_remove(get(), detail::c_arg(member_id, "member"),
                                                detail::timeout_ms(t), &out));
        return out;
    }

    commit propose_transition(const std::string &range, const std::string &new_owner,
                              std::uint64_t epoch, timeout t = std::chrono::seconds(5)) const {
        commit out{};
        detail::check(synod_node_propose_transition(get(), detail::c_arg(range, "range"),
                                                    detail::c_arg(new_owner, "new_owner"), epoch,
                                                    detail::timeout_ms(t), &out));
        return out;
    }

    commit propose_forced_transition(const std::string &range, const std::string &new_owner,
                                     const std::string &operator_id, const std::string &reason,
                                     timeout t = std::chrono::seconds(5)) const {
        commit out{};
        detail::check(synod_node_propose_forced_transition(
            get(), detail::c_arg(range, "range"), detail::c_arg(new_owner, "new_owner"),
            detail::c_arg(operator_id, "operator_id"), detail::c_arg(reason, "reason"),
            detail::timeout_ms(t), &out));
        return out;
    }

    /// The owner of `range`, or std::nullopt when it has none. A stopped
    /// member throws (SYNOD_ERR_SHUTDOWN, SYNOD_ERR_STORAGE) instead.
    std::optional<ownership> owner(const std::string &range) const {
        synod_ownership *raw = nullptr;
        synod_status status = synod_node_owner(get(), detail::c_arg(range, "range"), &raw);
        if (status == SYNOD_ERR_NOT_FOUND) {
            return std::nullopt;
        }
        detail::check(status);
        detail::handle<synod_ownership, synod_ownership_free> o(raw);
        return ownership{synod_ownership_owner(o.get()), synod_ownership_epoch(o.get()),
                         synod_ownership_version(o.get()), synod_ownership_term(o.get()),
                         synod_ownership_index(o.get())};
    }

    /// The fence answer for (`owner`, `epoch`) on `range`. A stopped member
    /// throws (SYNOD_ERR_SHUTDOWN, SYNOD_ERR_STORAGE), never fence::unknown.
    fence fence_check(const std::string &range, const std::string &owner,
                      std::uint64_t epoch) const {
        synod_fence_status out = 0;
        detail::check(synod_node_fence_check(get(), detail::c_arg(range, "range"),
                                             detail::c_arg(owner, "owner"), epoch, &out));
        return static_cast<fence>(out);
    }

    /// The members, in identity order. A stopped member throws
    /// (SYNOD_ERR_SHUTDOWN, SYNOD_ERR_STORAGE), never an empty list.
    std::vector<member> members() const {
        synod_member_list *raw = nullptr;
        detail::check(synod_node_members(get(), &raw));
        return detail::copy_members(raw);
    }

    /// Puts the `[tls] deny` and `crl` of the configuration file at
    /// `config_path` in force on a started member without a restart (see
    /// synod_node_reload_revocation); throws SYNOD_ERR_INVALID_ARGUMENT when
    /// they cannot apply (nothing changed then).
    synod_revocation_summary reload_revocation(const std::string &config_path) const {
        synod_revocation_summary out{};
        detail::check(synod_node_reload_revocation(get(), config_path.c_str(), &out));
        return out;
    }

    /// Stops the node (see synod_node_shutdown): a started member then throws
    /// SYNOD_ERR_SHUTDOWN from every method but id() and shutdown(); a
    /// single-node engine throws it from proposals and keeps answering reads.
    void shutdown() const { detail::check(synod_node_shutdown(get())); }

    /// The C handle, borrowed; NULL after the node was moved from.
    const synod_node *get() const noexcept { return handle_.get(); }

private:
    explicit node(synod_node *raw) : handle_(raw) {}

    // The callable cannot throw into C: an exception it lets out is caught
    // here and dropped.
    static void host_send_call(void *user_data, std::uint64_t to_peer_id, const char *to_identity,
                               const std::uint8_t *bytes, std::size_t len) noexcept {
        try {
            (*static_cast<host_send *>(user_data))(to_peer_id, to_identity ? to_identity : "",
                                                   bytes, len);
        } catch (...) {
        }
    }
    static void host_send_release(void *user_data) noexcept {
        delete static_cast<host_send *>(user_data);
    }

    detail::handle<synod_node, synod_node_free> handle_;
};

/// A read's answer with the position it reflects (see synod_read_position).
template <typename T> struct read_at {
    T value;
    std::uint64_t index;
    std::uint64_t term;
};

/// The status of the member a client reached (see synod_member_status).
struct member_status {
    std::string id;
    std::uint64_t peer_id;
    synod::role role;
    std::uint64_t term;
    std::optional<std::string> leader_id;
    std::optional<std::string> leader_address;
    std::uint64_t commit_index;
    std::uint64_t applied_index;
    std::uint64_t version;
};

/// One transition of a pipelined batch (see client::propose_transitions).
struct transition_request {
    std::string range;
    std::string new_owner;
    std::uint64_t epoch;
};

/// A change feed of a cluster through a client (see synod_client_watch).
/// Move-only. Destroying it cancels the watch (waiting for a running call
/// of its callable, unless destroyed from inside it) and destroys the
/// callable.
class remote_watch {
public:
    using callback = std::function<void(const synod_watch_event &)>;

    /// Stops the watch (see synod_remote_watch_cancel).
    void cancel() const { detail::check(synod_remote_watch_cancel(handle_.get())); }

    /// The C handle, borrowed; NULL after the watch was moved from.
    const synod_remote_watch *get() const noexcept { return handle_.get(); }

private:
    friend class client;
    explicit remote_watch(synod_remote_watch *raw) : handle_(raw) {}

    static void call(void *user_data, const synod_watch_event *event) noexcept {
        try {
            (*static_cast<callback *>(user_data))(*event);
        } catch (...) {
        }
    }
    static void release(void *user_data) noexcept { delete static_cast<callback *>(user_data); }

    detail::handle<synod_remote_watch, synod_remote_watch_free> handle_;
};

/// A client of a cluster for a process that is not a member (see
/// synod_client_new). Move-only; destroying it frees it. Calls on one
/// client are serialized; use one client per thread for parallelism.
/// Every method throws synod::error carrying the status (and the refusal
/// code, the leader hint) on failure; a timeout of 0 means the client's
/// default.
class client {
public:
    /// Mutual TLS: the client's identity is its certificate's subject.
    static client connect_tls(const std::string &endpoints, const std::string &cert,
                              const std::string &key, const std::string &ca,
                              std::chrono::milliseconds timeout) {
        synod_client_tls tls{detail::c_arg(cert, "cert"), detail::c_arg(key, "key"),
                             detail::c_arg(ca, "ca")};
        synod_client *raw = nullptr;
        detail::check(synod_client_new(detail::c_arg(endpoints, "endpoints"), &tls, nullptr,
                                       detail::timeout_ms(timeout), &raw));
        return client(raw);
    }

    /// Plain TCP claiming `identity`: tests and development only.
    static client connect_insecure(const std::string &endpoints, const std::string &identity,
                                   std::chrono::milliseconds timeout) {
        synod_client *raw = nullptr;
        detail::check(synod_client_new(detail::c_arg(endpoints, "endpoints"), nullptr,
                                       detail::c_arg(identity, "identity"),
                                       detail::timeout_ms(timeout), &raw));
        return client(raw);
    }

    member_status status(std::chrono::milliseconds timeout = {}) const {
        synod_member_status *raw = nullptr;
        detail::check(synod_client_status(get(), detail::timeout_ms(timeout), &raw));
        detail::handle<synod_member_status, synod_member_status_free> s(raw);
        return member_status{synod_member_status_id(s.get()),
                             synod_member_status_peer_id(s.get()),
                             static_cast<synod::role>(synod_member_status_role(s.get())),
                             synod_member_status_term(s.get()),
                             detail::opt(synod_member_status_leader_id(s.get())),
                             detail::opt(synod_member_status_leader_address(s.get())),
                             synod_member_status_commit_index(s.get()),
                             synod_member_status_applied_index(s.get()),
                             synod_member_status_version(s.get())};
    }

    /// The leader the first member that answers knows of, or std::nullopt.
    std::optional<leader_info> leader(std::chrono::milliseconds timeout = {}) const {
        synod_leader *raw = nullptr;
        synod_status st = synod_client_leader(get(), detail::timeout_ms(timeout), &raw);
        if (st == SYNOD_ERR_NOT_FOUND) {
            return std::nullopt;
        }
        detail::check(st);
        detail::handle<synod_leader, synod_leader_free> l(raw);
        return leader_info{synod_leader_id(l.get()), detail::opt(synod_leader_address(l.get())),
                           synod_leader_term(l.get())};
    }

    commit propose_transition(const std::string &range_id, const std::string &new_owner,
                              std::uint64_t epoch, std::chrono::milliseconds timeout = {}) const {
        commit out{};
        detail::check(synod_client_propose_transition(
            get(), detail::c_arg(range_id, "range"), detail::c_arg(new_owner, "new_owner"), epoch,
            detail::timeout_ms(timeout), &out));
        return out;
    }

    commit propose_forced_transition(const std::string &range_id, const std::string &new_owner,
                                     const std::string &operator_id, const std::string &reason,
                                     std::chrono::milliseconds timeout = {}) const {
        commit out{};
        detail::check(synod_client_propose_forced_transition(
            get(), detail::c_arg(range_id, "range"), detail::c_arg(new_owner, "new_owner"),
            detail::c_arg(operator_id, "operator_id"), detail::c_arg(reason, "reason"),
            detail::timeout_ms(timeout), &out));
        return out;
    }

    commit propose_admit(const std::string &member_id, member_kind kind,
                         const std::string &address, std::chrono::milliseconds timeout = {}) const {
        commit out{};
        detail::check(synod_client_propose_admit(
            get(), detail::c_arg(member_id, "member"), static_cast<synod_member_kind>(kind),
            detail::c_arg(address, "address"), detail::timeout_ms(timeout), &out));
        return out;
    }

    commit propose_begin_drain(const std::string &member_id,
                               std::chrono::milliseconds timeout = {}) const {
        commit out{};
        detail::check(synod_client_propose_begin_drain(get(), detail::c_arg(member_id, "member"),
                                                       detail::timeout_ms(timeout), &out));
        return out;
    }

    commit propose_remove(const std::string &member_id,
                          std::chrono::milliseconds timeout = {}) const {
        commit out{};
        detail::check(synod_client_propose_remove(get(), detail::c_arg(member_id, "member"),
                                                  detail::timeout_ms(timeout), &out));
        return out;
    }

    /// Pipelined transitions: each entry's outcome (status, refusal,
    /// commit), in the order of `requests`; throws only when a request is
    /// invalid (then nothing was proposed).
    std::vector<synod_batch_result> propose_transitions(const std::vector<transition_request> &requests,
                                                        std::chrono::milliseconds timeout = {}) const {
        std::vector<synod_transition_request> raw;
        raw.reserve(requests.size());
        for (const auto &r : requests) {
            raw.push_back(synod_transition_request{detail::c_arg(r.range, "range"),
                                                   detail::c_arg(r.new_owner, "new_owner"),
                                                   r.epoch});
        }
        std::vector<synod_batch_result> out(requests.size());
        detail::check(synod_client_propose_transitions(get(), raw.data(), raw.size(),
                                                       detail::timeout_ms(timeout), out.data()));
        return out;
    }

    /// The owner of `range_id` at `level`, or std::nullopt when it has none
    /// (then without a position).
    std::optional<read_at<ownership>> owner(const std::string &range_id, read_level level,
                                            std::uint64_t at_least_index = 0,
                                            std::chrono::milliseconds timeout = {}) const {
        synod_ownership *raw = nullptr;
        synod_read_position at{};
        synod_status st = synod_client_owner(get(), detail::c_arg(range_id, "range"),
                                             static_cast<synod_read_level>(level), at_least_index,
                                             detail::timeout_ms(timeout), &raw, &at);
        if (st == SYNOD_ERR_NOT_FOUND) {
            return std::nullopt;
        }
        detail::check(st);
        return read_at<ownership>{detail::copy_ownership(raw), at.index, at.term};
    }

    read_at<fence> fence_check(const std::string &range_id, const std::string &owner_id,
                               std::uint64_t epoch, read_level level,
                               std::uint64_t at_least_index = 0,
                               std::chrono::milliseconds timeout = {}) const {
        synod_fence_status out = 0;
        synod_read_position at{};
        detail::check(synod_client_fence_check(
            get(), detail::c_arg(range_id, "range"), detail::c_arg(owner_id, "owner"), epoch,
            static_cast<synod_read_level>(level), at_least_index, detail::timeout_ms(timeout),
            &out, &at));
        return read_at<fence>{static_cast<fence>(out), at.index, at.term};
    }

    read_at<std::vector<member>> members(read_level level, std::uint64_t at_least_index = 0,
                                         std::chrono::milliseconds timeout = {}) const {
        synod_member_list *raw = nullptr;
        synod_read_position at{};
        detail::check(synod_client_members(get(), static_cast<synod_read_level>(level),
                                           at_least_index, detail::timeout_ms(timeout), &raw,
                                           &at));
        return read_at<std::vector<member>>{detail::copy_members(raw), at.index, at.term};
    }

    /// Every owned range (of `owner_id` only, when given), local or
    /// linearizable.
    std::vector<range> ranges(read_level level,
                              const std::optional<std::string> &owner_id = std::nullopt,
                              std::chrono::milliseconds timeout = {}) const {
        synod_range_list *raw = nullptr;
        detail::check(synod_client_ranges(
            get(), owner_id ? detail::c_arg(*owner_id, "owner") : nullptr,
            static_cast<synod_read_level>(level), detail::timeout_ms(timeout), &raw));
        detail::handle<synod_range_list, synod_range_list_free> list(raw);
        std::vector<range> out;
        std::size_t len = synod_range_list_len(list.get());
        for (std::size_t i = 0; i < len; ++i) {
            synod_range r{};
            detail::check(synod_range_list_get(list.get(), i, &r));
            out.push_back(range{r.range, r.owner, r.epoch, r.version, r.term, r.index});
        }
        return out;
    }

    /// Every forced transition, oldest first, local or linearizable.
    std::vector<audit_record> audit(read_level level,
                                    std::chrono::milliseconds timeout = {}) const {
        synod_audit_list *raw = nullptr;
        detail::check(synod_client_audit(get(), static_cast<synod_read_level>(level),
                                         detail::timeout_ms(timeout), &raw));
        detail::handle<synod_audit_list, synod_audit_list_free> list(raw);
        std::vector<audit_record> out;
        std::size_t len = synod_audit_list_len(list.get());
        for (std::size_t i = 0; i < len; ++i) {
            synod_audit_record r{};
            detail::check(synod_audit_list_get(list.get(), i, &r));
            out.push_back(audit_record{r.index, r.term, r.range, detail::opt(r.previous_owner),
                                       r.previous_epoch, r.new_owner, r.epoch, r.operator_id,
                                       r.reason});
        }
        return out;
    }

    void transfer_leader(const std::string &to, std::chrono::milliseconds timeout = {}) const {
        detail::check(synod_client_transfer_leader(get(), detail::c_arg(to, "to"),
                                                   detail::timeout_ms(timeout)));
    }

    std::string metrics_text(std::chrono::milliseconds timeout = {}) const {
        char *raw = nullptr;
        detail::check(synod_client_metrics_text(get(), detail::timeout_ms(timeout), &raw));
        std::string out(raw);
        synod_string_free(raw);
        return out;
    }

    /// Starts a change feed from `from_index` (see synod_client_watch);
    /// `fn` is destroyed exactly once, when the watch ends.
    remote_watch watch_from(std::uint64_t from_index, remote_watch::callback fn,
                            const std::optional<std::string> &range_id = std::nullopt) const {
        const char *filter = range_id ? detail::c_arg(*range_id, "range") : nullptr;
        auto *boxed = new remote_watch::callback(std::move(fn));
        synod_remote_watch *raw = nullptr;
        // On failure the library has already released `boxed`.
        detail::check(synod_client_watch(get(), from_index, filter, &remote_watch::call, boxed,
                                         &remote_watch::release, &raw));
        return remote_watch(raw);
    }

    /// The C handle, borrowed; NULL after the client was moved from.
    const synod_client *get() const noexcept { return handle_.get(); }

private:
    explicit client(synod_client *raw) : handle_(raw) {}
    detail::handle<synod_client, synod_client_free> handle_;
};

} // namespace synod

#endif // SYNOD_HPP
