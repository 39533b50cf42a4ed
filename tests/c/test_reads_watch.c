/* Reads at a chosen level, the leader, the status, metrics and watches
 * through the C ABI, on a three-member cluster started in this process:
 * every read says the index it reflects, AT_LEAST waits and times out, a
 * follower serves linearizable reads, range cursors filter and page, the
 * audit list holds forced transitions; a watch sees every transition once,
 * in order, with its epoch; cancelling (from another thread, from inside
 * the callback, by freeing) and shutting down end it with its free function
 * called exactly once and no callback after; NULL and bad arguments are
 * refused with out-parameters untouched. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "synod.h"

#define T 10000u
#define MEMBERS 3

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    close(fd);
    return ntohs(a.sin_port);
}

typedef struct {
    synod_node *node[MEMBERS];
    char id[MEMBERS][32];
    char addr[MEMBERS][32];
} cluster;

static void start_cluster(cluster *c) {
    char dir[] = "/tmp/synod-c-reads-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char bootstrap[512] = "";
    for (int i = 0; i < MEMBERS; i++) {
        snprintf(c->id[i], sizeof c->id[i], "CN=rw-%d", i);
        snprintf(c->addr[i], sizeof c->addr[i], "127.0.0.1:%d", free_port());
        char one[128];
        snprintf(one, sizeof one, "%s{ id = \"%s\", address = \"%s\" }", i ? ", " : "", c->id[i],
                 c->addr[i]);
        strcat(bootstrap, one);
    }
    for (int i = 0; i < MEMBERS; i++) {
        char config[256];
        char text[2048];
        snprintf(config, sizeof config, "%s/rw-%d.toml", dir, i);
        snprintf(text, sizeof text,
                 "id = \"%s\"\nlisten = \"%s\"\ndata_dir = \"%s/data-%d\"\n"
                 "[tls]\ninsecure = true\n"
                 "[cluster]\nbootstrap = [ %s ]\n"
                 "[engine]\ntick_ms = 20\n",
                 c->id[i], c->addr[i], dir, i, bootstrap);
        FILE *f = fopen(config, "w");
        CHECK(f != NULL);
        CHECK(fputs(text, f) >= 0);
        CHECK(fclose(f) == 0);
        c->node[i] = NULL;
        CHECK_OK(synod_node_start(config, &c->node[i]));
    }
}

/* The member every member names as leader, once they agree. */
static int agreed_leader(const cluster *c) {
    for (int attempt = 0; attempt < 1500; attempt++) {
        int leader = -1;
        bool agreed = true;
        for (int i = 0; i < MEMBERS && agreed; i++) {
            synod_leader *l = NULL;
            if (synod_node_leader(c->node[i], &l) != SYNOD_OK) {
                agreed = false;
                break;
            }
            int which = -1;
            for (int j = 0; j < MEMBERS; j++) {
                if (strcmp(synod_leader_id(l), c->id[j]) == 0) which = j;
            }
            synod_leader_free(l);
            if (which < 0 || (leader >= 0 && which != leader)) agreed = false;
            leader = which;
        }
        if (agreed && leader >= 0) {
            bool is = false;
            if (synod_node_is_leader(c->node[leader], &is) == SYNOD_OK && is) return leader;
        }
        sleep_ms(10);
    }
    CHECK(!"the members agreed on a leader");
    return -1;
}

/* Proposes a transition through whoever leads (retrying a leader change). */
static synod_commit transition(const cluster *c, const char *range, const char *owner, uint64_t epoch) {
    synod_commit out;
    memset(&out, 0, sizeof out);
    for (int attempt = 0; attempt < 50; attempt++) {
        int l = agreed_leader(c);
        synod_status s = synod_node_propose_transition(c->node[l], range, owner, epoch, T, &out);
        if (s == SYNOD_OK) return out;
        CHECK(s == SYNOD_ERR_NOT_LEADER || s == SYNOD_ERR_NO_QUORUM);
        sleep_ms(50);
    }
    CHECK(!"the transition committed");
    return out;
}

static int follower_of(const cluster *c) { return (agreed_leader(c) + 1) % MEMBERS; }

/* --- leader and status ---------------------------------------------------- */

static void test_leader_and_status(const cluster *c) {
    int l = agreed_leader(c);
    int f = (l + 1) % MEMBERS;
    synod_leader *seen[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        CHECK_OK(synod_node_leader(c->node[i], &seen[i]));
        CHECK_STR(synod_leader_id(seen[i]), c->id[l]);
        CHECK_STR(synod_leader_address(seen[i]), c->addr[l]);
        CHECK(synod_leader_term(seen[i]) >= 1);
    }
    uint64_t term = 0;
    CHECK_OK(synod_node_current_term(c->node[l], &term));
    CHECK(synod_leader_term(seen[l]) == term);
    for (int i = 0; i < MEMBERS; i++) synod_leader_free(seen[i]);
    synod_leader *untouched = (synod_leader *)0x1;
    CHECK_STATUS(synod_node_leader(NULL, &untouched), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_leader(c->node[l], NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(untouched == (synod_leader *)0x1);
    CHECK(synod_leader_id(NULL) == NULL && synod_leader_address(NULL) == NULL);
    CHECK(synod_leader_term(NULL) == 0);
    synod_leader_free(NULL);

    /* Something to replicate, so the leader's view of its followers moves. */
    synod_commit commit = transition(c, "status-range", c->id[f], 1);
    CHECK_OK(synod_node_wait_applied(c->node[f], commit.index, T));

    /* The leader: its role, every peer a voter, and (once its driver has
     * published it) each follower's replication progress. */
    synod_replica_status *s = NULL;
    bool progress = false;
    for (int attempt = 0; attempt < 500 && !progress; attempt++) {
        synod_replica_status_free(s);
        s = NULL;
        CHECK_OK(synod_node_status(c->node[l], &s));
        int with = 0;
        for (size_t i = 0; i < synod_replica_status_peer_count(s); i++) {
            synod_peer p;
            CHECK_OK(synod_replica_status_peer(s, i, &p));
            if (p.has_progress && p.matched >= commit.index) with++;
        }
        progress = with == MEMBERS - 1 && synod_replica_status_applied_index(s) >= commit.index;
        if (!progress) sleep_ms(10);
    }
    CHECK(progress);
    CHECK(synod_replica_status_role(s) == SYNOD_ROLE_LEADER);
    CHECK(synod_replica_status_term(s) >= 1);
    CHECK(synod_replica_status_peer_id(s) != 0);
    CHECK_STR(synod_replica_status_leader_id(s), c->id[l]);
    CHECK_STR(synod_replica_status_leader_address(s), c->addr[l]);
    CHECK(synod_replica_status_commit_index(s) >= commit.index);
    CHECK(synod_replica_status_applied_index(s) >= commit.index);
    CHECK(synod_replica_status_last_index(s) >= synod_replica_status_commit_index(s));
    CHECK(synod_replica_status_pending_proposals(s) == 0);
    CHECK(synod_replica_status_peer_count(s) == MEMBERS);
    int named = 0;
    for (size_t i = 0; i < MEMBERS; i++) {
        synod_peer p;
        CHECK_OK(synod_replica_status_peer(s, i, &p));
        CHECK(p.voter);
        CHECK(p.id != NULL);
        for (int j = 0; j < MEMBERS; j++) named += strcmp(p.id, c->id[j]) == 0;
        /* The leader has no progress of its own. */
        CHECK(p.has_progress == (strcmp(p.id, c->id[l]) != 0));
        if (p.peer_id == synod_replica_status_peer_id(s)) CHECK(!p.has_progress);
    }
    CHECK(named == MEMBERS);
    synod_peer untouched_peer = {.peer_id = 77};
    CHECK_STATUS(synod_replica_status_peer(s, MEMBERS, &untouched_peer), SYNOD_ERR_NOT_FOUND);
    CHECK_STATUS(synod_replica_status_peer(NULL, 0, &untouched_peer), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_replica_status_peer(s, 0, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(untouched_peer.peer_id == 77);
    synod_replica_status_free(s);

    /* A follower: its role, the leader it follows, no progress. Its status
     * is as of its driver's last turn: it catches up within one. */
    CHECK_OK(synod_node_status(c->node[f], &s));
    for (int attempt = 0; attempt < 500 && synod_replica_status_applied_index(s) < commit.index; attempt++) {
        synod_replica_status_free(s);
        sleep_ms(10);
        CHECK_OK(synod_node_status(c->node[f], &s));
    }
    CHECK(synod_replica_status_role(s) == SYNOD_ROLE_FOLLOWER);
    CHECK_STR(synod_replica_status_leader_id(s), c->id[l]);
    CHECK(synod_replica_status_applied_index(s) >= commit.index);
    for (size_t i = 0; i < synod_replica_status_peer_count(s); i++) {
        synod_peer p;
        CHECK_OK(synod_replica_status_peer(s, i, &p));
        CHECK(!p.has_progress);
    }
    synod_replica_status_free(s);

    synod_replica_status *st = (synod_replica_status *)0x1;
    CHECK_STATUS(synod_node_status(NULL, &st), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_status(c->node[f], NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(st == (synod_replica_status *)0x1);
    CHECK(synod_replica_status_role(NULL) == 0 && synod_replica_status_peer_count(NULL) == 0);
    CHECK(synod_replica_status_leader_id(NULL) == NULL);
    synod_replica_status_free(NULL);

    /* Metrics: the Prometheus text, owned by the caller. */
    char *text = NULL;
    CHECK_OK(synod_node_metrics_text(c->node[l], &text));
    CHECK(strstr(text, "synod_") != NULL);
    CHECK(strstr(text, c->id[l]) != NULL);
    synod_string_free(text);
    synod_string_free(NULL);
    char *no_text = (char *)0x1;
    CHECK_STATUS(synod_node_metrics_text(NULL, &no_text), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_metrics_text(c->node[l], NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(no_text == (char *)0x1);
}

/* --- reads ---------------------------------------------------------------- */

static void test_read_levels(const cluster *c) {
    int f = follower_of(c);
    synod_commit commit = transition(c, "read-range", c->id[f], 1);

    /* AT_LEAST on a follower waits for the commit and says its index. */
    synod_view *v = NULL;
    CHECK_OK(synod_node_read(c->node[f], SYNOD_READ_AT_LEAST, commit.index, T, &v));
    CHECK(synod_view_applied_index(v) >= commit.index);
    CHECK(synod_view_applied_term(v) >= 1);
    CHECK(synod_view_version(v) >= commit.version);
    synod_ownership *own = NULL;
    CHECK_OK(synod_view_owner(v, "read-range", &own));
    CHECK_STR(synod_ownership_owner(own), c->id[f]);
    CHECK(synod_ownership_epoch(own) == 1);
    CHECK(synod_ownership_index(own) == commit.index);
    synod_ownership_free(own);
    synod_view_free(v);

    /* LOCAL never waits; now it reflects at least the commit too. */
    CHECK_OK(synod_node_read(c->node[f], SYNOD_READ_LOCAL, 0, 0, &v));
    CHECK(synod_view_applied_index(v) >= commit.index);
    synod_view_free(v);

    /* LINEARIZABLE on a follower: everything committed before the call. */
    synod_commit later = transition(c, "read-range", c->id[(f + 1) % MEMBERS], 2);
    CHECK_OK(synod_node_read(c->node[f], SYNOD_READ_LINEARIZABLE, 0, T, &v));
    CHECK(synod_view_applied_index(v) >= later.index);
    CHECK_OK(synod_view_owner(v, "read-range", &own));
    CHECK(synod_ownership_epoch(own) == 2);
    synod_ownership_free(own);
    uint64_t read_index = 0;
    CHECK_OK(synod_node_read_index(c->node[f], T, &read_index));
    CHECK(read_index >= later.index);
    CHECK_OK(synod_node_wait_applied(c->node[f], read_index, T));

    /* An index far ahead: the timeout status, out-params untouched. */
    synod_view *untouched = (synod_view *)0x1;
    CHECK_STATUS(synod_node_read(c->node[f], SYNOD_READ_AT_LEAST, later.index + 1000000, 100, &untouched),
                 SYNOD_ERR_TIMEOUT);
    CHECK(untouched == (synod_view *)0x1);
    CHECK_STATUS(synod_node_wait_applied(c->node[f], later.index + 1000000, 100), SYNOD_ERR_TIMEOUT);

    /* Bad arguments. */
    CHECK_STATUS(synod_node_read(c->node[f], 0, 0, T, &untouched), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_read(c->node[f], 99, 0, T, &untouched), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_read(c->node[f], SYNOD_READ_LOCAL, 5, T, &untouched), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_read(c->node[f], SYNOD_READ_LINEARIZABLE, 5, T, &untouched),
                 SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_read(NULL, SYNOD_READ_LOCAL, 0, T, &untouched), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_read(c->node[f], SYNOD_READ_LOCAL, 0, T, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(untouched == (synod_view *)0x1);
    uint64_t idx = 42;
    CHECK_STATUS(synod_node_read_index(NULL, T, &idx), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_read_index(c->node[f], T, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(idx == 42);
    CHECK_STATUS(synod_node_wait_applied(NULL, 1, T), SYNOD_ERR_NULL_ARGUMENT);

    /* The view's readers: owner, fence at its index, members. */
    CHECK_STATUS(synod_view_owner(v, "never-assigned", &own), SYNOD_ERR_NOT_FOUND);
    synod_fence_status fence = 0;
    CHECK_OK(synod_view_fence_check(v, "read-range", c->id[(f + 1) % MEMBERS], 2, &fence));
    CHECK(fence == SYNOD_FENCE_CURRENT);
    CHECK_OK(synod_view_fence_check(v, "read-range", c->id[f], 1, &fence));
    CHECK(fence == SYNOD_FENCE_STALE);
    CHECK_OK(synod_view_fence_check(v, "read-range", c->id[f], 3, &fence));
    CHECK(fence == SYNOD_FENCE_UNKNOWN);
    fence = 0xdead;
    CHECK_STATUS(synod_view_fence_check(v, "read-range", "", 1, &fence), SYNOD_ERR_INVALID_IDENTITY);
    CHECK_STATUS(synod_view_fence_check(NULL, "read-range", c->id[f], 1, &fence), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(fence == 0xdead);
    synod_member_list *members = NULL;
    CHECK_OK(synod_view_members(v, &members));
    CHECK(synod_member_list_len(members) == MEMBERS);
    CHECK_STR(synod_member_list_id(members, 0), c->id[0]);
    CHECK(synod_member_list_kind(members, 0) == SYNOD_MEMBER_KIND_DATA);
    synod_member_list_free(members);
    CHECK_STATUS(synod_view_members(NULL, &members), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_view_owner(v, "read-range", NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(synod_view_applied_index(NULL) == 0 && synod_view_version(NULL) == 0);
    synod_view_free(v);
    synod_view_free(NULL);
}

static int walk(synod_range_cursor *cur, char names[][32], int max) {
    int n = 0;
    synod_range r;
    synod_status s;
    while ((s = synod_range_cursor_next(cur, &r)) == SYNOD_OK) {
        CHECK(n < max);
        snprintf(names[n++], 32, "%s", r.range);
        CHECK(r.epoch >= 1 && r.index > 0 && r.owner != NULL);
    }
    CHECK(s == SYNOD_ERR_NOT_FOUND);
    return n;
}

static void test_ranges_and_audit(const cluster *c) {
    int f = follower_of(c);
    const char *a = c->id[0];
    const char *b = c->id[1];
    synod_commit last;
    memset(&last, 0, sizeof last);
    for (int i = 0; i < 7; i++) {
        char range[32];
        snprintf(range, sizeof range, "page-%d", i);
        last = transition(c, range, i % 2 ? b : a, 1);
    }
    synod_view *v = NULL;
    CHECK_OK(synod_node_read(c->node[f], SYNOD_READ_AT_LEAST, last.index, T, &v));

    /* All ranges, in id order; only page-* ones were named so here. */
    synod_range_cursor *cur = NULL;
    char names[64][32];
    CHECK_OK(synod_view_ranges(v, NULL, "page-", &cur));
    int n = walk(cur, names, 64);
    int pages = 0;
    for (int i = 0; i < n; i++) pages += strncmp(names[i], "page-", 5) == 0;
    CHECK(pages == 7);
    CHECK_STR(names[0], "page-0");
    CHECK_STR(names[6], "page-6");
    /* The end stays the end. */
    synod_range r = {.epoch = 99};
    CHECK_STATUS(synod_range_cursor_next(cur, &r), SYNOD_ERR_NOT_FOUND);
    CHECK(r.epoch == 99);
    synod_range_cursor_free(cur);

    /* Filtered by owner: a's four, in order. */
    CHECK_OK(synod_view_ranges(v, a, "page-", &cur));
    n = walk(cur, names, 64);
    int of_a = 0;
    for (int i = 0; i < n; i++) of_a += strncmp(names[i], "page-", 5) == 0;
    CHECK(of_a == 4);
    CHECK_STR(names[0], "page-0");
    CHECK_STR(names[1], "page-2");
    synod_range_cursor_free(cur);

    /* Paging by 3, each page a new cursor after the last range seen; the
     * cursor outlives the view it came from. */
    char after[32] = "page-";
    char seen[16][32];
    int total = 0;
    for (int page = 0; page < 5; page++) {
        CHECK_OK(synod_view_ranges(v, NULL, after, &cur));
        int got = 0;
        synod_range row;
        while (got < 3 && synod_range_cursor_next(cur, &row) == SYNOD_OK) {
            if (strncmp(row.range, "page-", 5) != 0) break;
            snprintf(seen[total++], 32, "%s", row.range);
            snprintf(after, sizeof after, "%s", row.range);
            got++;
        }
        synod_range_cursor_free(cur);
        if (got < 3) break;
    }
    CHECK(total == 7);
    for (int i = 0; i < 7; i++) {
        char want[32];
        snprintf(want, sizeof want, "page-%d", i);
        CHECK_STR(seen[i], want);
    }
    CHECK_OK(synod_view_ranges(v, b, NULL, &cur));
    synod_view_free(v);
    n = walk(cur, names, 64);
    CHECK(n >= 3);
    synod_range_cursor_free(cur);
    synod_range_cursor_free(NULL);

    synod_range_cursor *untouched = (synod_range_cursor *)0x1;
    CHECK_STATUS(synod_view_ranges(NULL, NULL, NULL, &untouched), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(untouched == (synod_range_cursor *)0x1);
    CHECK_STATUS(synod_range_cursor_next(NULL, &r), SYNOD_ERR_NULL_ARGUMENT);

    /* A forced transition lands in the audit list. */
    int l = agreed_leader(c);
    synod_commit forced;
    CHECK_OK(synod_node_propose_forced_transition(c->node[l], "page-3", a, "CN=ops", "b lost its disk", T,
                                                  &forced));
    CHECK_OK(synod_node_read(c->node[f], SYNOD_READ_AT_LEAST, forced.index, T, &v));
    synod_audit_list *audit = NULL;
    CHECK_OK(synod_view_audit(v, &audit));
    size_t len = synod_audit_list_len(audit);
    CHECK(len >= 1);
    synod_audit_record rec;
    CHECK_OK(synod_audit_list_get(audit, len - 1, &rec));
    CHECK(rec.index == forced.index);
    CHECK_STR(rec.range, "page-3");
    CHECK_STR(rec.previous_owner, b);
    CHECK(rec.previous_epoch == 1);
    CHECK_STR(rec.new_owner, a);
    CHECK(rec.epoch == 2);
    CHECK_STR(rec.operator_id, "CN=ops");
    CHECK_STR(rec.reason, "b lost its disk");
    synod_audit_record untouched_rec = {.index = 5};
    CHECK_STATUS(synod_audit_list_get(audit, len, &untouched_rec), SYNOD_ERR_NOT_FOUND);
    CHECK_STATUS(synod_audit_list_get(NULL, 0, &untouched_rec), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(untouched_rec.index == 5);
    CHECK(synod_audit_list_len(NULL) == 0);
    synod_audit_list_free(audit);
    synod_audit_list_free(NULL);
    CHECK_STATUS(synod_view_audit(NULL, &audit), SYNOD_ERR_NULL_ARGUMENT);
    synod_view_free(v);
}

/* --- watches -------------------------------------------------------------- */

#define MAX_SEEN 512

typedef struct {
    synod_watch_kind kind;
    uint64_t index, epoch;
    bool forced;
    synod_watch_outcome outcome;
    synod_status status;
    char range[32], owner[32];
} seen_event;

typedef struct {
    pthread_mutex_t lock;
    seen_event ev[MAX_SEEN];
    int n;
    atomic_int calls;     /* every callback */
    atomic_int freed;     /* the free function */
    atomic_int ends;      /* SYNOD_WATCH_END events */
    atomic_int after_end; /* callbacks after the end (must stay 0) */
    atomic_int bad_read;  /* a read from inside the callback went wrong */
    const synod_node *node;       /* read from inside the callback, if set */
    _Atomic(synod_watch *) self;  /* cancel from inside on the first transition, if set */
    atomic_int free_inside;       /* ... by freeing rather than cancelling */
    atomic_int shutdown_inside;   /* the status of a shutdown tried from inside */
} recorder;

static recorder *new_recorder(void) {
    recorder *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    CHECK(pthread_mutex_init(&r->lock, NULL) == 0);
    atomic_store(&r->shutdown_inside, -1);
    return r;
}

static void drop_recorder(recorder *r) {
    pthread_mutex_destroy(&r->lock);
    free(r);
}

static void on_event(void *user_data, const synod_watch_event *e) {
    recorder *r = user_data;
    CHECK(e != NULL);
    atomic_fetch_add(&r->calls, 1);
    if (atomic_load(&r->ends) > 0) atomic_fetch_add(&r->after_end, 1);
    if (e->kind == SYNOD_WATCH_END) {
        atomic_fetch_add(&r->ends, 1);
        CHECK(synod_last_error_status() == e->status);
    }
    if (e->kind == SYNOD_WATCH_SNAPSHOT) {
        /* The borrowed view is the catalog at the snapshot's index. */
        CHECK(e->view != NULL);
        CHECK(synod_view_applied_index(e->view) == e->index);
    }
    if (e->kind == SYNOD_WATCH_ROLE) CHECK(e->role >= SYNOD_ROLE_FOLLOWER && e->role <= SYNOD_ROLE_LEADER);
    if (e->kind == SYNOD_WATCH_TRANSITION && r->node != NULL) {
        /* A callback may read: the member has applied what it watches. */
        synod_view *v = NULL;
        if (synod_node_read(r->node, SYNOD_READ_LOCAL, 0, 0, &v) != SYNOD_OK ||
            synod_view_applied_index(v) < e->index) {
            atomic_fetch_add(&r->bad_read, 1);
        }
        synod_view_free(v);
        /* And may not shut its own node down. */
        if (atomic_load(&r->shutdown_inside) == -1) {
            atomic_store(&r->shutdown_inside, (int)synod_node_shutdown(r->node));
        }
    }
    pthread_mutex_lock(&r->lock);
    if (r->n < MAX_SEEN) {
        seen_event *s = &r->ev[r->n++];
        s->kind = e->kind;
        s->index = e->index;
        s->epoch = e->epoch;
        s->forced = e->forced;
        s->outcome = e->outcome;
        s->status = e->status;
        snprintf(s->range, sizeof s->range, "%s", e->range ? e->range : "");
        snprintf(s->owner, sizeof s->owner, "%s", e->owner ? e->owner : "");
    }
    pthread_mutex_unlock(&r->lock);
    synod_watch *self = atomic_load(&r->self);
    if (self != NULL && e->kind == SYNOD_WATCH_TRANSITION) {
        atomic_store(&r->self, NULL);
        if (atomic_load(&r->free_inside)) {
            synod_watch_free(self);
        } else {
            CHECK_OK(synod_watch_cancel(self));
            /* Cancelling again from inside is harmless. */
            CHECK_OK(synod_watch_cancel(self));
        }
    }
}

static void on_free(void *user_data) {
    recorder *r = user_data;
    atomic_fetch_add(&r->freed, 1);
}

static int count_kind(recorder *r, synod_watch_kind kind) {
    pthread_mutex_lock(&r->lock);
    int n = 0;
    for (int i = 0; i < r->n; i++) n += r->ev[i].kind == kind;
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void wait_kind_at(recorder *r, synod_watch_kind kind, int want, int line) {
    for (int i = 0; i < 2000 && count_kind(r, kind) < want; i++) sleep_ms(5);
    if (count_kind(r, kind) < want) {
        fprintf(stderr, "line %d: %d events of kind %u, expected %d (%d calls)\n", line, count_kind(r, kind),
                kind, want, atomic_load(&r->calls));
        check_fail(__FILE__, line, "wait_kind");
    }
}
#define wait_kind(r, kind, want) wait_kind_at((r), (kind), (want), __LINE__)

static void wait_freed(recorder *r) {
    for (int i = 0; i < 2000 && atomic_load(&r->freed) == 0; i++) sleep_ms(5);
    CHECK(atomic_load(&r->freed) == 1);
}

static uint64_t commit_index_of(const synod_node *n) {
    uint64_t i = 0;
    CHECK_OK(synod_node_commit_index(n, &i));
    return i;
}

/* Every transition once, in log order, with its epoch; a callback reads. */
static void test_watch_sees_every_transition(const cluster *c) {
    int f = follower_of(c);
    recorder *r = new_recorder();
    r->node = c->node[f];
    synod_watch *w = NULL;
    /* Past every entry committed so far (the earlier tests' included): a
     * linearizable read index, not the status's commit index, which may lag
     * the last acknowledged commit by a tick. */
    uint64_t read_index = 0;
    CHECK_OK(synod_node_read_index(c->node[f], T, &read_index));
    uint64_t from = read_index + 1;
    CHECK_OK(synod_node_watch(c->node[f], from, NULL, on_event, r, on_free, &w));
    CHECK(w != NULL);
    /* A member learns its role at once. */
    wait_kind(r, SYNOD_WATCH_ROLE, 1);

    const char *x = c->id[0], *y = c->id[1];
    uint64_t want_index[5];
    want_index[0] = transition(c, "watched", x, 1).index;
    want_index[1] = transition(c, "other", y, 1).index;
    want_index[2] = transition(c, "watched", y, 2).index;
    want_index[3] = transition(c, "watched", x, 3).index;
    int l = agreed_leader(c);
    synod_commit forced;
    CHECK_OK(synod_node_propose_forced_transition(c->node[l], "watched", y, "CN=ops", "drill", T, &forced));
    want_index[4] = forced.index;
    wait_kind(r, SYNOD_WATCH_TRANSITION, 5);

    static const char *want_range[5] = {"watched", "other", "watched", "watched", "watched"};
    const char *want_owner[5] = {x, y, y, x, y};
    static const uint64_t want_epoch[5] = {1, 1, 2, 3, 4};
    pthread_mutex_lock(&r->lock);
    int t = 0;
    uint64_t last = 0;
    for (int i = 0; i < r->n; i++) {
        seen_event *e = &r->ev[i];
        if (e->kind == SYNOD_WATCH_SNAPSHOT) CHECK(!"no snapshot for a watch from the present");
        if (e->kind != SYNOD_WATCH_TRANSITION && e->kind != SYNOD_WATCH_MEMBERSHIP &&
            e->kind != SYNOD_WATCH_LEADER_CONFIGURATION) {
            continue;
        }
        CHECK(e->index > last); /* log order, each once */
        CHECK(e->index >= from);
        last = e->index;
        if (e->kind != SYNOD_WATCH_TRANSITION) continue;
        CHECK(t < 5);
        if (e->index != want_index[t]) {
            fprintf(stderr, "transition %d: event at index %llu (range %s owner %s epoch %llu), want index %llu; from %llu\n",
                    t, (unsigned long long)e->index, e->range, e->owner, (unsigned long long)e->epoch,
                    (unsigned long long)want_index[t], (unsigned long long)from);
            for (int k = 0; k < 5; k++) fprintf(stderr, "  want[%d] = %llu\n", k, (unsigned long long)want_index[k]);
        }
        CHECK(e->index == want_index[t]);
        CHECK_STR(e->range, want_range[t]);
        CHECK_STR(e->owner, want_owner[t]);
        CHECK(e->epoch == want_epoch[t]);
        CHECK(e->forced == (t == 4));
        CHECK(e->outcome == SYNOD_OUTCOME_APPLIED);
        t++;
    }
    CHECK(t == 5);
    pthread_mutex_unlock(&r->lock);
    CHECK(atomic_load(&r->bad_read) == 0);
    /* Shutting the node down from its own watch callback is refused. */
    CHECK(atomic_load(&r->shutdown_inside) == SYNOD_ERR_INVALID_ARGUMENT);
    bool running = false;
    CHECK_OK(synod_node_is_leader(c->node[f], &running));

    /* Cancel from this thread: the free function has run when it returns,
     * and no callback after it. */
    CHECK(atomic_load(&r->freed) == 0);
    CHECK_OK(synod_watch_cancel(w));
    CHECK(atomic_load(&r->freed) == 1);
    int calls = atomic_load(&r->calls);
    transition(c, "watched", x, 5);
    sleep_ms(200);
    CHECK(atomic_load(&r->calls) == calls);
    CHECK_OK(synod_watch_cancel(w));
    CHECK(atomic_load(&r->freed) == 1);
    CHECK(atomic_load(&r->ends) == 0); /* a cancelled watch gets no end event */
    synod_watch_free(w);
    CHECK(atomic_load(&r->freed) == 1);
    drop_recorder(r);
}

/* A range filter delivers that range's transitions only; a watch from the
 * start gets the catalog first. */
static void test_watch_filter_and_snapshot(const cluster *c) {
    int f = follower_of(c);
    recorder *r = new_recorder();
    synod_watch *w = NULL;
    CHECK_OK(synod_node_watch(c->node[f], 0, "filtered", on_event, r, on_free, &w));
    wait_kind(r, SYNOD_WATCH_SNAPSHOT, 1);
    transition(c, "unfiltered", c->id[0], 1);
    uint64_t want = transition(c, "filtered", c->id[2], 1).index;
    wait_kind(r, SYNOD_WATCH_TRANSITION, 1);
    sleep_ms(100);
    pthread_mutex_lock(&r->lock);
    CHECK(r->ev[0].kind == SYNOD_WATCH_SNAPSHOT || r->ev[0].kind == SYNOD_WATCH_ROLE);
    int transitions = 0;
    for (int i = 0; i < r->n; i++) {
        CHECK(r->ev[i].kind != SYNOD_WATCH_MEMBERSHIP && r->ev[i].kind != SYNOD_WATCH_LEADER_CONFIGURATION);
        if (r->ev[i].kind != SYNOD_WATCH_TRANSITION) continue;
        transitions++;
        CHECK_STR(r->ev[i].range, "filtered");
        CHECK(r->ev[i].index == want);
    }
    CHECK(transitions == 1);
    pthread_mutex_unlock(&r->lock);
    /* Freeing cancels too. */
    synod_watch_free(w);
    CHECK(atomic_load(&r->freed) == 1);
    drop_recorder(r);
}

/* Cancelling (or freeing) from inside the callback: no callback after it,
 * the free function once, right after it returns. */
static void test_watch_cancel_inside(const cluster *c, bool by_free) {
    int f = follower_of(c);
    recorder *r = new_recorder();
    atomic_store(&r->free_inside, by_free ? 1 : 0);
    synod_watch *w = NULL;
    CHECK_OK(synod_node_watch(c->node[f], commit_index_of(c->node[f]) + 1, NULL, on_event, r, on_free, &w));
    atomic_store(&r->self, w);
    transition(c, by_free ? "inside-free" : "inside-cancel", c->id[0], 1);
    wait_freed(r);
    transition(c, by_free ? "inside-free" : "inside-cancel", c->id[1], 2);
    sleep_ms(200);
    CHECK(count_kind(r, SYNOD_WATCH_TRANSITION) == 1);
    CHECK(atomic_load(&r->freed) == 1);
    if (!by_free) {
        CHECK_OK(synod_watch_cancel(w));
        synod_watch_free(w);
    }
    CHECK(atomic_load(&r->freed) == 1);
    drop_recorder(r);
}

static void *cancel_thread(void *arg) {
    CHECK_OK(synod_watch_cancel((synod_watch *)arg));
    return NULL;
}

/* Cancelling from another thread while events flow. */
static void test_watch_cancel_other_thread(const cluster *c) {
    int f = follower_of(c);
    recorder *r = new_recorder();
    synod_watch *w = NULL;
    CHECK_OK(synod_node_watch(c->node[f], 1, NULL, on_event, r, on_free, &w));
    transition(c, "cancelled-meanwhile", c->id[0], 1);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, cancel_thread, w) == 0);
    transition(c, "cancelled-meanwhile", c->id[1], 2);
    CHECK(pthread_join(th, NULL) == 0);
    CHECK(atomic_load(&r->freed) == 1);
    int calls = atomic_load(&r->calls);
    transition(c, "cancelled-meanwhile", c->id[2], 3);
    sleep_ms(200);
    CHECK(atomic_load(&r->calls) == calls);
    synod_watch_free(w);
    CHECK(atomic_load(&r->freed) == 1);
    drop_recorder(r);
}

static void test_watch_bad_arguments(const cluster *c) {
    recorder *r = new_recorder();
    synod_watch *untouched = (synod_watch *)0x1;
    CHECK_STATUS(synod_node_watch(NULL, 1, NULL, on_event, r, on_free, &untouched), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(atomic_load(&r->freed) == 1);
    CHECK_STATUS(synod_node_watch(c->node[0], 1, NULL, NULL, r, on_free, &untouched), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(atomic_load(&r->freed) == 2);
    CHECK_STATUS(synod_node_watch(c->node[0], 1, NULL, on_event, r, on_free, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(atomic_load(&r->freed) == 3);
    CHECK_STATUS(synod_node_watch(c->node[0], 1, "", on_event, r, on_free, &untouched), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(atomic_load(&r->freed) == 4);
    /* A NULL free function is allowed. */
    CHECK_STATUS(synod_node_watch(NULL, 1, NULL, on_event, r, NULL, &untouched), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(untouched == (synod_watch *)0x1);
    CHECK(atomic_load(&r->calls) == 0);
    CHECK_STATUS(synod_watch_cancel(NULL), SYNOD_ERR_NULL_ARGUMENT);
    synod_watch_free(NULL);
    drop_recorder(r);
}

/* The single-node engine has no read levels, status, metrics or watches. */
static void test_single_node_refuses(void) {
    synod_node *single = NULL;
    CHECK_OK(synod_node_open_single("CN=solo", "127.0.0.1:7001", &single));
    synod_leader *l = (synod_leader *)0x1;
    CHECK_STATUS(synod_node_leader(single, &l), SYNOD_ERR_INVALID_ARGUMENT);
    synod_replica_status *s = (synod_replica_status *)0x1;
    CHECK_STATUS(synod_node_status(single, &s), SYNOD_ERR_INVALID_ARGUMENT);
    synod_view *v = (synod_view *)0x1;
    CHECK_STATUS(synod_node_read(single, SYNOD_READ_LOCAL, 0, T, &v), SYNOD_ERR_INVALID_ARGUMENT);
    uint64_t i = 42;
    CHECK_STATUS(synod_node_read_index(single, T, &i), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK_STATUS(synod_node_wait_applied(single, 1, T), SYNOD_ERR_INVALID_ARGUMENT);
    char *text = (char *)0x1;
    CHECK_STATUS(synod_node_metrics_text(single, &text), SYNOD_ERR_INVALID_ARGUMENT);
    recorder *r = new_recorder();
    synod_watch *w = (synod_watch *)0x1;
    CHECK_STATUS(synod_node_watch(single, 1, NULL, on_event, r, on_free, &w), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(atomic_load(&r->freed) == 1 && atomic_load(&r->calls) == 0);
    CHECK(l == (synod_leader *)0x1 && s == (synod_replica_status *)0x1 && v == (synod_view *)0x1);
    CHECK(i == 42 && text == (char *)0x1 && w == (synod_watch *)0x1);
    synod_node_free(single);
    drop_recorder(r);
}

/* Shutdown with watches pending: each ends with SYNOD_WATCH_END and its
 * free function before shutdown returns, nothing after; the stopped member
 * answers the new calls SYNOD_ERR_SHUTDOWN; a view outlives its node. */
static void test_shutdown_with_watches(cluster *c) {
    recorder *r[MEMBERS];
    synod_watch *w[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) {
        r[i] = new_recorder();
        CHECK_OK(synod_node_watch(c->node[i], commit_index_of(c->node[i]) + 1, NULL, on_event, r[i], on_free,
                                  &w[i]));
    }
    synod_view *kept = NULL;
    CHECK_OK(synod_node_read(c->node[0], SYNOD_READ_LOCAL, 0, 0, &kept));
    uint64_t kept_index = synod_view_applied_index(kept);

    for (int i = 0; i < MEMBERS; i++) {
        CHECK_OK(synod_node_shutdown(c->node[i]));
        CHECK(atomic_load(&r[i]->ends) == 1);
        CHECK(atomic_load(&r[i]->freed) == 1);
        pthread_mutex_lock(&r[i]->lock);
        CHECK(r[i]->ev[r[i]->n - 1].kind == SYNOD_WATCH_END);
        CHECK(r[i]->ev[r[i]->n - 1].status == SYNOD_ERR_SHUTDOWN);
        pthread_mutex_unlock(&r[i]->lock);
    }
    int calls[MEMBERS];
    for (int i = 0; i < MEMBERS; i++) calls[i] = atomic_load(&r[i]->calls);

    /* Stopped: every new call says so, out-params untouched. */
    synod_leader *l = (synod_leader *)0x1;
    CHECK_STATUS(synod_node_leader(c->node[0], &l), SYNOD_ERR_SHUTDOWN);
    synod_replica_status *s = (synod_replica_status *)0x1;
    CHECK_STATUS(synod_node_status(c->node[0], &s), SYNOD_ERR_SHUTDOWN);
    synod_view *v = (synod_view *)0x1;
    CHECK_STATUS(synod_node_read(c->node[0], SYNOD_READ_LOCAL, 0, 0, &v), SYNOD_ERR_SHUTDOWN);
    CHECK_STATUS(synod_node_read(c->node[0], SYNOD_READ_LINEARIZABLE, 0, T, &v), SYNOD_ERR_SHUTDOWN);
    uint64_t i64 = 42;
    CHECK_STATUS(synod_node_read_index(c->node[0], T, &i64), SYNOD_ERR_SHUTDOWN);
    CHECK_STATUS(synod_node_wait_applied(c->node[0], 1, T), SYNOD_ERR_SHUTDOWN);
    char *text = (char *)0x1;
    CHECK_STATUS(synod_node_metrics_text(c->node[0], &text), SYNOD_ERR_SHUTDOWN);
    recorder *late = new_recorder();
    synod_watch *lw = (synod_watch *)0x1;
    CHECK_STATUS(synod_node_watch(c->node[0], 1, NULL, on_event, late, on_free, &lw), SYNOD_ERR_SHUTDOWN);
    CHECK(atomic_load(&late->freed) == 1 && atomic_load(&late->calls) == 0);
    CHECK(l == (synod_leader *)0x1 && s == (synod_replica_status *)0x1 && v == (synod_view *)0x1);
    CHECK(i64 == 42 && text == (char *)0x1 && lw == (synod_watch *)0x1);
    drop_recorder(late);

    /* Cancelling an ended watch does nothing more; freeing works before and
     * after its node is freed. */
    CHECK_OK(synod_watch_cancel(w[0]));
    synod_watch_free(w[0]);
    for (int i = 0; i < MEMBERS; i++) synod_node_free(c->node[i]);
    for (int i = 1; i < MEMBERS; i++) synod_watch_free(w[i]);
    sleep_ms(50);
    for (int i = 0; i < MEMBERS; i++) {
        CHECK(atomic_load(&r[i]->calls) == calls[i]);
        CHECK(atomic_load(&r[i]->freed) == 1);
        CHECK(atomic_load(&r[i]->after_end) == 0);
        drop_recorder(r[i]);
    }
    CHECK(synod_view_applied_index(kept) == kept_index);
    synod_member_list *members = NULL;
    CHECK_OK(synod_view_members(kept, &members));
    CHECK(synod_member_list_len(members) == MEMBERS);
    synod_member_list_free(members);
    synod_view_free(kept);
}

int main(void) {
    test_single_node_refuses();
    cluster c;
    start_cluster(&c);
    test_leader_and_status(&c);
    test_read_levels(&c);
    test_ranges_and_audit(&c);
    test_watch_sees_every_transition(&c);
    test_watch_filter_and_snapshot(&c);
    test_watch_cancel_inside(&c, false);
    test_watch_cancel_inside(&c, true);
    test_watch_cancel_other_thread(&c);
    test_watch_bad_arguments(&c);
    test_shutdown_with_watches(&c);
    printf("test_reads_watch: ok\n");
    return 0;
}
