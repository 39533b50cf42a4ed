/* The configuration builder and the log callback through the C ABI: a
 * member built in code (mutual TLS with the harness's development
 * certificates) starts, commits and reads; every setter's refusal names its
 * field and leaves the configuration as it was; a start that cannot join
 * returns by its deadline and leaves nothing running; a file is read into a
 * builder; log records reach the callback, a callback that calls back into
 * the library does not deadlock, and free functions run exactly once. */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "synod.h"

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static long now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
}

/* A loopback port nobody listens on (bound, read, closed). */
static int free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(fd, (struct sockaddr *)&a, sizeof a) == 0);
    socklen_t len = sizeof a;
    CHECK(getsockname(fd, (struct sockaddr *)&a, &len) == 0);
    CHECK(close(fd) == 0);
    return ntohs(a.sin_port);
}

static void wait_leader(synod_node *node) {
    bool led = false;
    for (int i = 0; i < 1000 && !led; i++) {
        CHECK_OK(synod_node_is_leader(node, &led));
        if (!led) sleep_ms(10);
    }
    CHECK(led);
}

static char *toml_of(const synod_config *cfg) {
    char *text = NULL;
    CHECK_OK(synod_config_to_toml(cfg, &text));
    CHECK(text != NULL);
    return text;
}

/* The call fails with `status`, the last error names `field`, and the
 * configuration's text is what it was. */
#define CHECK_REFUSED(cfg, call, status, field)                                  \
    do {                                                                         \
        char *before_ = toml_of(cfg);                                            \
        CHECK_STATUS(call, status);                                              \
        if (strstr(last_message(), (field)) == NULL) {                           \
            fprintf(stderr, "%s:%d: the message does not name %s\n", __FILE__,   \
                    __LINE__, (field));                                          \
            check_fail(__FILE__, __LINE__, #call);                               \
        }                                                                        \
        char *after_ = toml_of(cfg);                                             \
        CHECK_STR(after_, before_);                                              \
        synod_string_free(before_);                                              \
        synod_string_free(after_);                                               \
    } while (0)

/* An insecure one-member cluster on loopback, its data in `dir`/data. */
static synod_config *insecure_config(const char *dir, const char *id, const char *listen) {
    char data[512];
    snprintf(data, sizeof data, "%s/data", dir);
    synod_config *cfg = NULL;
    CHECK_OK(synod_config_new(&cfg));
    CHECK_OK(synod_config_set_id(cfg, id));
    CHECK_OK(synod_config_set_listen(cfg, listen));
    CHECK_OK(synod_config_set_data_dir(cfg, data));
    CHECK_OK(synod_config_set_insecure(cfg, true));
    CHECK_OK(synod_config_add_bootstrap_member(cfg, id, SYNOD_MEMBER_KIND_DATA, listen));
    CHECK_OK(synod_config_set_tick_ms(cfg, 10));
    return cfg;
}

static void test_setter_refusals(void) {
    synod_config *cfg = (synod_config *)0x1;
    CHECK_STATUS(synod_config_new(NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_OK(synod_config_new(&cfg));
    CHECK_OK(synod_config_set_id(cfg, "CN=node-a"));
    CHECK_OK(synod_config_set_listen(cfg, "127.0.0.1:7401"));
    CHECK_OK(synod_config_set_election_ticks(cfg, 10));
    CHECK_OK(synod_config_add_bootstrap_member(cfg, "CN=node-a", SYNOD_MEMBER_KIND_DATA,
                                               "127.0.0.1:7401"));
    CHECK_OK(synod_config_add_reader(cfg, "CN=reader"));

    CHECK_STATUS(synod_config_set_id(NULL, "CN=a"), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STR(last_message(), "cfg is NULL");
    CHECK_REFUSED(cfg, synod_config_set_id(cfg, NULL), SYNOD_ERR_NULL_ARGUMENT, "id is NULL");
    CHECK_REFUSED(cfg, synod_config_set_id(cfg, "CN=\xff"), SYNOD_ERR_INVALID_ARGUMENT,
                  "id is not valid UTF-8");
    CHECK_REFUSED(cfg, synod_config_set_id(cfg, "  "), SYNOD_ERR_INVALID_IDENTITY, "id:");
    CHECK_REFUSED(cfg, synod_config_set_id(cfg, "CN=a, O=b"), SYNOD_ERR_INVALID_IDENTITY,
                  "RFC 4514");
    CHECK_REFUSED(cfg, synod_config_set_listen(cfg, NULL), SYNOD_ERR_NULL_ARGUMENT, "listen");
    CHECK_REFUSED(cfg, synod_config_set_listen(cfg, "nowhere"), SYNOD_ERR_INVALID_ARGUMENT,
                  "listen:");
    CHECK_REFUSED(cfg, synod_config_set_listen(cfg, "h:99999"), SYNOD_ERR_INVALID_ARGUMENT,
                  "listen:");
    CHECK_REFUSED(cfg, synod_config_set_listen(cfg, "\xc3"), SYNOD_ERR_INVALID_ARGUMENT,
                  "listen is not valid UTF-8");
    CHECK_REFUSED(cfg, synod_config_set_data_dir(cfg, ""), SYNOD_ERR_INVALID_ARGUMENT,
                  "data_dir");
    CHECK_REFUSED(cfg, synod_config_set_data_dir(cfg, NULL), SYNOD_ERR_NULL_ARGUMENT,
                  "data_dir");

    CHECK_REFUSED(cfg,
                  synod_config_add_bootstrap_member(cfg, "CN=x, O=y", SYNOD_MEMBER_KIND_DATA,
                                                    "h:1"),
                  SYNOD_ERR_INVALID_IDENTITY, "cluster.bootstrap.id");
    CHECK_REFUSED(cfg, synod_config_add_bootstrap_member(cfg, "CN=b", 7, "h:1"),
                  SYNOD_ERR_INVALID_ARGUMENT, "cluster.bootstrap.kind");
    CHECK_REFUSED(cfg,
                  synod_config_add_bootstrap_member(cfg, "CN=b", SYNOD_MEMBER_KIND_WITNESS,
                                                    "no-port"),
                  SYNOD_ERR_INVALID_ARGUMENT, "cluster.bootstrap.address");
    CHECK_REFUSED(cfg,
                  synod_config_add_bootstrap_member(cfg, "CN=node-a", SYNOD_MEMBER_KIND_DATA,
                                                    "h:2"),
                  SYNOD_ERR_INVALID_ARGUMENT, "listed already");
    CHECK_REFUSED(cfg, synod_config_set_join(cfg, "127.0.0.1:7402"), SYNOD_ERR_INVALID_ARGUMENT,
                  "cluster.join");

    CHECK_OK(synod_config_set_insecure(cfg, true));
    CHECK_REFUSED(cfg, synod_config_set_tls_files(cfg, "c.pem", "k.pem", "ca.pem"),
                  SYNOD_ERR_INVALID_ARGUMENT, "tls");
    CHECK_OK(synod_config_set_insecure(cfg, false));
    CHECK_REFUSED(cfg, synod_config_set_tls_files(cfg, NULL, "k.pem", "ca.pem"),
                  SYNOD_ERR_NULL_ARGUMENT, "tls.cert");
    CHECK_REFUSED(cfg, synod_config_set_tls_files(cfg, "c.pem", "", "ca.pem"),
                  SYNOD_ERR_INVALID_ARGUMENT, "tls.key");
    CHECK_OK(synod_config_set_tls_files(cfg, "c.pem", "k.pem", "ca.pem"));
    CHECK_REFUSED(cfg, synod_config_set_insecure(cfg, true), SYNOD_ERR_INVALID_ARGUMENT,
                  "tls.insecure");
    CHECK_REFUSED(cfg, synod_config_add_deny(cfg, "/CN=old"), SYNOD_ERR_INVALID_IDENTITY,
                  "tls.deny");
    CHECK_REFUSED(cfg, synod_config_set_crl(cfg, NULL), SYNOD_ERR_NULL_ARGUMENT, "tls.crl");

    CHECK_REFUSED(cfg, synod_config_add_reader(cfg, ""), SYNOD_ERR_INVALID_IDENTITY,
                  "authorization.readers");
    CHECK_REFUSED(cfg, synod_config_add_proposer(cfg, "CN=a, O=b"), SYNOD_ERR_INVALID_IDENTITY,
                  "authorization.proposers");
    CHECK_REFUSED(cfg, synod_config_add_operator(cfg, NULL), SYNOD_ERR_NULL_ARGUMENT,
                  "authorization.operators");

    CHECK_REFUSED(cfg, synod_config_set_tick_ms(cfg, 0), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.tick_ms");
    CHECK_REFUSED(cfg, synod_config_set_tick_ms(cfg, UINT64_MAX), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.tick_ms");
    /* A day is the longest election timeout: 10 ticks of 9 000 s is not. */
    CHECK_REFUSED(cfg, synod_config_set_tick_ms(cfg, 9000000), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.tick_ms");
    CHECK_REFUSED(cfg, synod_config_set_heartbeat_ticks(cfg, 0), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.heartbeat_ticks");
    CHECK_REFUSED(cfg, synod_config_set_heartbeat_ticks(cfg, 10), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.heartbeat_ticks");
    CHECK_REFUSED(cfg, synod_config_set_election_ticks(cfg, 1), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.election_ticks");
    CHECK_REFUSED(cfg, synod_config_set_snapshot_every(cfg, 0), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.snapshot_every");
    CHECK_REFUSED(cfg, synod_config_set_max_pending_calls(cfg, 0), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.max_pending_calls");
    CHECK_REFUSED(cfg, synod_config_set_max_inbound_messages(cfg, 0), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.max_inbound_messages");
    CHECK_REFUSED(cfg, synod_config_set_watch_history(cfg, 0), SYNOD_ERR_INVALID_ARGUMENT,
                  "engine.watch_history");
    CHECK_REFUSED(cfg, synod_config_set_max_inbound(cfg, 0), SYNOD_ERR_INVALID_ARGUMENT,
                  "transport.max_inbound");
    CHECK_REFUSED(cfg, synod_config_set_max_client_connections(cfg, 0),
                  SYNOD_ERR_INVALID_ARGUMENT, "transport.max_client_connections");
    CHECK_REFUSED(cfg, synod_config_set_max_client_connections_per_identity(cfg, 0),
                  SYNOD_ERR_INVALID_ARGUMENT, "transport.max_client_connections_per_identity");
    CHECK_REFUSED(cfg, synod_config_set_metrics_listen(cfg, "host:port"),
                  SYNOD_ERR_INVALID_ARGUMENT, "admin.metrics_listen");
    CHECK_REFUSED(cfg, synod_config_set_metrics_listen(cfg, NULL), SYNOD_ERR_NULL_ARGUMENT,
                  "admin.metrics_listen");

    /* What was accepted is in the text, the refused values are not. */
    CHECK_OK(synod_config_set_max_learner_lag(cfg, 0));
    CHECK_OK(synod_config_set_max_client_connections_per_identity(cfg, 5));
    CHECK_OK(synod_config_set_metrics_listen(cfg, "9401"));
    char *text = toml_of(cfg);
    CHECK(strstr(text, "CN=reader") != NULL);
    CHECK(strstr(text, "max_client_connections_per_identity = 5") != NULL);
    CHECK(strstr(text, "CN=a, O=b") == NULL);
    synod_string_free(text);

    /* An incomplete configuration is refused at the start, by field. */
    synod_node *node = (synod_node *)0x1;
    CHECK_STATUS(synod_node_start_config(cfg, 1000, &node), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "data_dir") != NULL);
    CHECK(node == (synod_node *)0x1);
    CHECK_STATUS(synod_node_start_config(NULL, 1000, &node), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_node_start_config(cfg, 1000, NULL), SYNOD_ERR_NULL_ARGUMENT);
    synod_config *empty = NULL;
    CHECK_OK(synod_config_new(&empty));
    CHECK_STATUS(synod_node_start_config(empty, 1000, &node), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "id: not set") != NULL);
    CHECK(node == (synod_node *)0x1);
    synod_config_free(empty);
    synod_config_free(cfg);
    synod_config_free(NULL);
}

/* A member built in code with mutual TLS starts, commits and reads. */
static void test_tls_member_from_builder(void) {
    const char *certs = getenv("SYNOD_TEST_CERTS");
    CHECK(certs != NULL); /* set by the test harness (bindings/c/tests/c_tests.rs) */
    char dir[] = "/tmp/synod-c-cfg-tls-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char data[512], cert[512], key[512], ca[512];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(cert, sizeof cert, "%s/node-0.pem", certs);
    snprintf(key, sizeof key, "%s/node-0-key.pem", certs);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);

    synod_config *cfg = NULL;
    CHECK_OK(synod_config_new(&cfg));
    CHECK_OK(synod_config_set_id(cfg, "CN=node-0"));
    CHECK_OK(synod_config_set_listen(cfg, "127.0.0.1:0"));
    CHECK_OK(synod_config_set_data_dir(cfg, data));
    CHECK_OK(synod_config_set_tls_files(cfg, cert, key, ca));
    CHECK_OK(synod_config_add_bootstrap_member(cfg, "CN=node-0", SYNOD_MEMBER_KIND_DATA,
                                               "127.0.0.1:0"));
    CHECK_OK(synod_config_add_operator(cfg, "CN=ops"));
    CHECK_OK(synod_config_add_deny(cfg, "CN=old-client"));
    CHECK_OK(synod_config_set_tick_ms(cfg, 10));
    CHECK_OK(synod_config_set_election_ticks(cfg, 20));
    CHECK_OK(synod_config_set_heartbeat_ticks(cfg, 2));
    CHECK_OK(synod_config_set_snapshot_every(cfg, 1000));
    CHECK_OK(synod_config_set_max_inbound(cfg, 8));
    CHECK_OK(synod_config_set_max_client_connections(cfg, 100));
    CHECK_OK(synod_config_set_metrics_listen(cfg, "127.0.0.1:0"));

    synod_node *node = NULL;
    CHECK_OK(synod_node_start_config(cfg, 20000, &node));
    synod_config_free(cfg); /* the member does not depend on it */
    CHECK_STR(synod_node_id(node), "CN=node-0");
    wait_leader(node);
    synod_commit commit;
    CHECK_OK(synod_node_propose_transition(node, "orders:[0,100)", "CN=node-0", 1, 10000, &commit));
    synod_ownership *own = NULL;
    CHECK_OK(synod_node_owner(node, "orders:[0,100)", &own));
    CHECK_STR(synod_ownership_owner(own), "CN=node-0");
    CHECK(synod_ownership_epoch(own) == 1);
    synod_ownership_free(own);
    CHECK_OK(synod_node_shutdown(node));
    synod_node_free(node);
}

/* A start that cannot join returns by its deadline and leaves nothing
 * running: a start on the same data directory and port then succeeds. */
static void test_bounded_start(void) {
    char dir[] = "/tmp/synod-c-cfg-join-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char listen[64], join[64], data[512];
    snprintf(listen, sizeof listen, "127.0.0.1:%d", free_port());
    snprintf(join, sizeof join, "127.0.0.1:%d", free_port());
    snprintf(data, sizeof data, "%s/data", dir);

    synod_config *joining = NULL;
    CHECK_OK(synod_config_new(&joining));
    CHECK_OK(synod_config_set_id(joining, "CN=late"));
    CHECK_OK(synod_config_set_listen(joining, listen));
    CHECK_OK(synod_config_set_data_dir(joining, data));
    CHECK_OK(synod_config_set_insecure(joining, true));
    CHECK_OK(synod_config_set_join(joining, join));

    synod_node *node = (synod_node *)0x1;
    /* 0 is a deadline already passed: nothing is started. */
    CHECK_STATUS(synod_node_start_config(joining, 0, &node), SYNOD_ERR_TIMEOUT);
    CHECK(node == (synod_node *)0x1);

    long start = now_ms();
    CHECK_STATUS(synod_node_start_config(joining, 300, &node), SYNOD_ERR_TIMEOUT);
    long took = now_ms() - start;
    CHECK(took >= 290);
    CHECK(took < 300 + 1500);
    CHECK(node == (synod_node *)0x1);
    CHECK(strstr(last_message(), "300 ms") != NULL);
    synod_config_free(joining);

    /* The same data directory and port, bootstrapping: it waits for the
     * abandoned start to end (within its own deadline), then starts. */
    synod_config *again = insecure_config(dir, "CN=late", listen);
    CHECK_OK(synod_node_start_config(again, 60000, &node));
    synod_config_free(again);
    wait_leader(node);
    CHECK_OK(synod_node_shutdown(node));
    synod_node_free(node);
}

static void test_from_file(void) {
    char dir[] = "/tmp/synod-c-cfg-file-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[512];
    snprintf(path, sizeof path, "%s/node.toml", dir);
    write_file(path, "id = \"CN=filed\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n"
                     "[tls]\ninsecure = true\n"
                     "[cluster]\nbootstrap = [ { id = \"CN=filed\", address = \"127.0.0.1:0\" } ]\n"
                     "[engine]\ntick_ms = 50\n");
    synod_config *cfg = NULL;
    CHECK_OK(synod_config_from_file(path, &cfg));
    char *text = toml_of(cfg);
    char want[600];
    snprintf(want, sizeof want, "data_dir = \"%s/data\"", dir);
    CHECK(strstr(text, want) != NULL); /* relative to the file, made absolute */
    synod_string_free(text);
    CHECK_OK(synod_config_set_tick_ms(cfg, 10)); /* changed after reading */
    synod_node *node = NULL;
    CHECK_OK(synod_node_start_config(cfg, 20000, &node));
    wait_leader(node);
    CHECK_OK(synod_node_shutdown(node));
    synod_node_free(node);
    synod_config_free(cfg);

    synod_config *bad = (synod_config *)0x1;
    write_file(path, "id = \"CN=filed\"\nbogus = 1\n");
    CHECK_STATUS(synod_config_from_file(path, &bad), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "bogus") != NULL);
    CHECK(bad == (synod_config *)0x1);
    write_file(path, "id = \"CN=a, O=b\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"d\"\n"
                     "[tls]\ninsecure = true\n[cluster]\njoin = \"127.0.0.1:1\"\n");
    CHECK_STATUS(synod_config_from_file(path, &bad), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "node.toml: id:") != NULL);
    CHECK(bad == (synod_config *)0x1);
    snprintf(path, sizeof path, "%s/missing.toml", dir);
    CHECK_STATUS(synod_config_from_file(path, &bad), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "missing.toml") != NULL);
    CHECK_STATUS(synod_config_from_file(NULL, &bad), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(bad == (synod_config *)0x1);
}

/* ---- logs ---- */

typedef struct {
    atomic_int records;
    atomic_int synod_records;
    atomic_int with_fields;
    atomic_int frees;
    atomic_int reenter;       /* 1: the next callback on any thread calls back in */
    atomic_int nested_start;  /* the status of the start made from inside */
    atomic_int nested_set;    /* the status of synod_set_log_callback from inside */
    const synod_config *bad;  /* a configuration whose start fails at once */
} log_state;

static atomic_int nested_frees;

static void count_nested_free(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&nested_frees, 1);
}

static void on_log(void *user_data, const synod_log_record *record) {
    log_state *s = user_data;
    CHECK(record != NULL && record->target != NULL && record->message != NULL);
    CHECK(record->level >= SYNOD_LOG_TRACE && record->level <= SYNOD_LOG_ERROR);
    atomic_fetch_add(&s->records, 1);
    if (strncmp(record->target, "synod", 5) == 0) atomic_fetch_add(&s->synod_records, 1);
    if (record->field_count > 0) {
        CHECK(record->fields != NULL);
        for (size_t i = 0; i < record->field_count; i++) {
            CHECK(record->fields[i].key != NULL && record->fields[i].value != NULL);
        }
        atomic_fetch_add(&s->with_fields, 1);
    }
    int expected = 1;
    if (atomic_compare_exchange_strong(&s->reenter, &expected, 0)) {
        /* Calls back into the library: a start (whose own records on this
         * thread are dropped and counted), and a refused re-registration. */
        synod_node *node = NULL;
        atomic_store(&s->nested_start, (int)synod_node_start_config(s->bad, 10000, &node));
        CHECK(node == NULL);
        atomic_store(&s->nested_set,
                     (int)synod_set_log_callback(SYNOD_LOG_INFO, on_log, NULL, count_nested_free));
        (void)synod_log_dropped_total();
    }
}

static void count_free(void *user_data) {
    log_state *s = user_data;
    atomic_fetch_add(&s->frees, 1);
}

static void test_log_callback(void) {
    static log_state first, second;
    char dir[] = "/tmp/synod-c-cfg-log-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);

    /* A start that fails at once: its data directory cannot be created. */
    synod_config *bad = insecure_config("/dev/null", "CN=bad", "127.0.0.1:0");
    first.bad = bad;
    second.bad = bad;

    CHECK_STATUS(synod_set_log_callback(9, on_log, &first, count_free), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(atomic_load(&first.frees) == 1); /* freed on failure, before the return */
    atomic_store(&first.frees, 0);

    CHECK_OK(synod_set_log_callback(SYNOD_LOG_DEBUG, on_log, &first, count_free));
    synod_config *cfg = insecure_config(dir, "CN=logged", "127.0.0.1:0");
    synod_node *node = NULL;
    CHECK_OK(synod_node_start_config(cfg, 20000, &node));
    wait_leader(node);
    CHECK_OK(synod_node_shutdown(node));
    synod_node_free(node);
    synod_config_free(cfg);
    CHECK(atomic_load(&first.records) > 0);
    CHECK(atomic_load(&first.synod_records) > 0); /* "bootstrapped a new cluster", ... */
    CHECK(atomic_load(&first.with_fields) > 0);
    CHECK(atomic_load(&first.frees) == 0);

    /* A callback that calls back into the library does not deadlock; what
     * the nested call logs on the callback's thread is dropped and counted. */
    uint64_t dropped = synod_log_dropped_total();
    atomic_store(&first.reenter, 1);
    synod_node *none = NULL;
    CHECK_STATUS(synod_node_start_config(bad, 10000, &none), SYNOD_ERR_START);
    CHECK(none == NULL);
    CHECK(atomic_load(&first.reenter) == 0);
    CHECK(atomic_load(&first.nested_start) == (int)SYNOD_ERR_START);
    CHECK(atomic_load(&first.nested_set) == (int)SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(atomic_load(&nested_frees) == 1);
    CHECK(synod_log_dropped_total() > dropped);

    /* Replacing: the old free runs exactly once, before the call returns;
     * records below the new level are not delivered. */
    CHECK_OK(synod_set_log_callback(SYNOD_LOG_ERROR, on_log, &second, count_free));
    CHECK(atomic_load(&first.frees) == 1);
    int before = atomic_load(&first.records);
    CHECK_STATUS(synod_node_start_config(bad, 10000, &none), SYNOD_ERR_START);
    CHECK(atomic_load(&second.records) == 0); /* its records are INFO */
    CHECK(atomic_load(&first.records) == before);

    /* Unsetting: the free runs exactly once; unsetting again frees nothing. */
    CHECK_OK(synod_set_log_callback(0, NULL, NULL, NULL));
    CHECK(atomic_load(&second.frees) == 1);
    CHECK_OK(synod_set_log_callback(0, NULL, NULL, NULL));
    CHECK(atomic_load(&second.frees) == 1);
    CHECK(atomic_load(&first.frees) == 1);
    synod_config_free(bad);
}

int main(void) {
    test_setter_refusals();
    test_tls_member_from_builder();
    test_from_file();
    test_log_callback();
    test_bounded_start();
    printf("test_config_log: ok\n");
    return 0;
}
