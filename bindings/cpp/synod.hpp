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
#ifndef SYNOD_HPP
#define SYNOD_HPP

#include <chrono>
#include <cstdint>
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
        detail::handle<synod_member_list, synod_member_list_free> list(raw);
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
    detail::handle<synod_node, synod_node_free> handle_;
};

} // namespace synod

#endif // SYNOD_HPP
