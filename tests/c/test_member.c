/* A replicated member started from its configuration file through the C ABI:
 * it bootstraps a one-member cluster, leads, commits a transition and reads
 * the owner back; shutdown stops it; bad configurations are refused with a
 * named field and leave the out-parameter untouched. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "synod.h"

static void sleep_ms(long ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    CHECK(fputs(text, f) >= 0);
    CHECK(fclose(f) == 0);
}

/* A shut-down member answers every call with SYNOD_ERR_SHUTDOWN, never an
 * empty answer ("no owner", no members, SYNOD_FENCE_UNKNOWN, not the
 * leader), and leaves every out-parameter untouched. */
static void test_stopped_member_reads(synod_node *node) {
    synod_ownership *own = (synod_ownership *)0x1;
    CHECK_STATUS(synod_node_owner(node, "orders:[0,100)", &own), SYNOD_ERR_SHUTDOWN);
    CHECK(own == (synod_ownership *)0x1);
    CHECK_STR(last_message(), "the member is shut down");
    /* A range it never saw: still "shut down", not "no owner". */
    CHECK_STATUS(synod_node_owner(node, "never-assigned", &own), SYNOD_ERR_SHUTDOWN);
    CHECK(own == (synod_ownership *)0x1);

    synod_member_list *list = (synod_member_list *)0x1;
    CHECK_STATUS(synod_node_members(node, &list), SYNOD_ERR_SHUTDOWN);
    CHECK(list == (synod_member_list *)0x1);

    synod_fence_status fence = 0xdead;
    CHECK_STATUS(synod_node_fence_check(node, "orders:[0,100)", "CN=c-member", 1, &fence),
                 SYNOD_ERR_SHUTDOWN);
    CHECK(fence == 0xdead);

    bool leader = true;
    CHECK_STATUS(synod_node_is_leader(node, &leader), SYNOD_ERR_SHUTDOWN);
    CHECK(leader);
    uint64_t u = 42;
    CHECK_STATUS(synod_node_current_term(node, &u), SYNOD_ERR_SHUTDOWN);
    CHECK_STATUS(synod_node_commit_index(node, &u), SYNOD_ERR_SHUTDOWN);
    CHECK(u == 42);
    CHECK(synod_last_error_status() == SYNOD_ERR_SHUTDOWN);

    synod_commit commit;
    memset(&commit, 0, sizeof commit);
    CHECK_STATUS(synod_node_propose_admit(node, "CN=z", SYNOD_MEMBER_KIND_DATA, "h:1", 1000, &commit),
                 SYNOD_ERR_SHUTDOWN);
    CHECK(commit.index == 0);
    /* What still works: its identity, and shutting down again. */
    CHECK_STR(synod_node_id(node), "CN=c-member");
    CHECK_OK(synod_node_shutdown(node));
}

static void test_member_from_config(void) {
    char dir[] = "/tmp/synod-c-member-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char config[512];
    char text[1024];
    snprintf(config, sizeof config, "%s/node.toml", dir);
    snprintf(text, sizeof text,
             "id = \"CN=c-member\"\n"
             "listen = \"127.0.0.1:0\"\n"
             "data_dir = \"%s/data\"\n"
             "[tls]\ninsecure = true\n"
             "[cluster]\nbootstrap = [ { id = \"CN=c-member\", address = \"127.0.0.1:0\" } ]\n"
             "[engine]\ntick_ms = 10\n",
             dir);
    write_file(config, text);

    synod_node *node = NULL;
    CHECK(synod_node_start(config, &node) == SYNOD_OK);
    CHECK(node != NULL);
    CHECK_STR(synod_node_id(node), "CN=c-member");

    bool led = false;
    for (int i = 0; i < 500 && !led; i++) {
        CHECK_OK(synod_node_is_leader(node, &led));
        if (!led) sleep_ms(10);
    }
    CHECK(led);

    synod_commit commit;
    memset(&commit, 0, sizeof commit);
    CHECK(synod_node_propose_transition(node, "orders:[0,100)", "CN=c-member", 1, 5000, &commit) == SYNOD_OK);
    CHECK(commit.index > 1);
    CHECK(commit.changed);

    synod_ownership *own = NULL;
    CHECK(synod_node_owner(node, "orders:[0,100)", &own) == SYNOD_OK);
    CHECK_STR(synod_ownership_owner(own), "CN=c-member");
    CHECK(synod_ownership_epoch(own) == 1);
    CHECK(synod_ownership_index(own) == commit.index);
    synod_ownership_free(own);

    /* The replicated engine refuses a stale epoch before it is logged. */
    CHECK(synod_node_propose_transition(node, "orders:[0,100)", "CN=c-member", 1, 5000, &commit) ==
          SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_STALE_EPOCH);
    /* And an epoch that skips the next one, with its own code. */
    CHECK(synod_node_propose_transition(node, "orders:[0,100)", "CN=c-member", 3, 5000, &commit) ==
          SYNOD_ERR_REFUSED);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_EPOCH_NOT_NEXT);

    CHECK(synod_node_shutdown(node) == SYNOD_OK);
    CHECK(synod_node_propose_transition(node, "orders:[0,100)", "CN=c-member", 2, 5000, &commit) ==
          SYNOD_ERR_SHUTDOWN);
    test_stopped_member_reads(node);
    synod_node_free(node);

    /* Reopening the same directory recovers the committed transition. */
    CHECK(synod_node_start(config, &node) == SYNOD_OK);
    own = NULL;
    for (int i = 0; i < 500 && own == NULL; i++) {
        if (synod_node_owner(node, "orders:[0,100)", &own) != SYNOD_OK) sleep_ms(10);
    }
    CHECK(own != NULL);
    CHECK(synod_ownership_epoch(own) == 1);
    synod_ownership_free(own);
    synod_node_free(node);
}

static void test_bad_configurations(void) {
    synod_node *untouched = (synod_node *)0x1;
    CHECK(synod_node_start("/nonexistent/synod.toml", &untouched) == SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(untouched == (synod_node *)0x1);
    CHECK(strstr(last_message(), "/nonexistent/synod.toml") != NULL);

    char path[] = "/tmp/synod-c-bad-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    write_file(path, "id = \"\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"/tmp/x\"\n[tls]\ninsecure = true\n"
                     "[cluster]\njoin = \"127.0.0.1:1\"\n");
    CHECK(synod_node_start(path, &untouched) == SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(untouched == (synod_node *)0x1);
    CHECK(strstr(last_message(), "id") != NULL);
    unlink(path);

    CHECK(synod_node_start(NULL, &untouched) == SYNOD_ERR_NULL_ARGUMENT);
    CHECK(synod_node_start("x", NULL) == SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STR(synod_status_str(SYNOD_ERR_START), "SYNOD_ERR_START");
}

/* Writes the configuration of the mutual-TLS member CN=node-0 with `tls_extra`
 * appended to its [tls] table. */
static void write_tls_config(const char *config, const char *dir, const char *certs, const char *tls_extra) {
    char text[4096];
    snprintf(text, sizeof text,
             "id = \"CN=node-0\"\nlisten = \"127.0.0.1:0\"\ndata_dir = \"%s/data\"\n"
             "[tls]\ncert = \"%s/node-0.pem\"\nkey = \"%s/node-0-key.pem\"\nca = \"%s/ca.pem\"\n%s"
             "[cluster]\nbootstrap = [ { id = \"CN=node-0\", address = \"127.0.0.1:0\" } ]\n"
             "[engine]\ntick_ms = 10\n",
             dir, certs, certs, certs, tls_extra);
    write_file(config, text);
}

/* An embedded member's host puts new revocation lists in force without a
 * restart (the library handles no signals: this is the host's SIGHUP); a
 * reload that cannot apply changes nothing and says why. */
static void test_reload_revocation(void) {
    const char *certs = getenv("SYNOD_TEST_CERTS");
    CHECK(certs != NULL); /* set by the test harness (bindings/c/tests/c_tests.rs) */
    char dir[] = "/tmp/synod-c-reload-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char config[512];
    snprintf(config, sizeof config, "%s/node.toml", dir);
    write_tls_config(config, dir, certs, "");
    synod_node *node = NULL;
    CHECK_OK(synod_node_start(config, &node));
    bool led = false;
    for (int i = 0; i < 500 && !led; i++) {
        CHECK_OK(synod_node_is_leader(node, &led));
        if (!led) sleep_ms(10);
    }
    CHECK(led);

    synod_revocation_summary summary = {99, 99};
    CHECK_OK(synod_node_reload_revocation(node, config, &summary));
    CHECK(summary.denied == 0 && summary.crls == 0);

    write_tls_config(config, dir, certs, "deny = [\"CN=ops\", \"CN=old\"]\n");
    CHECK_OK(synod_node_reload_revocation(node, config, &summary));
    CHECK(summary.denied == 2 && summary.crls == 0);
    CHECK_OK(synod_node_reload_revocation(node, config, NULL));

    /* Refused, and nothing changes: lists that refuse the member's own
     * certificate, an unreadable CRL, a broken file, NULLs. */
    write_tls_config(config, dir, certs, "deny = [\"CN=node-0\"]\n");
    summary.denied = 77;
    CHECK(synod_node_reload_revocation(node, config, &summary) == SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "CN=node-0") != NULL);
    CHECK(summary.denied == 77);
    write_tls_config(config, dir, certs, "crl = \"/nonexistent/ca.crl.pem\"\n");
    CHECK(synod_node_reload_revocation(node, config, &summary) == SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(strstr(last_message(), "/nonexistent/ca.crl.pem") != NULL);
    write_file(config, "id = ");
    CHECK(synod_node_reload_revocation(node, config, &summary) == SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(synod_node_reload_revocation(node, NULL, &summary) == SYNOD_ERR_NULL_ARGUMENT);
    CHECK(synod_node_reload_revocation(NULL, config, &summary) == SYNOD_ERR_NULL_ARGUMENT);
    CHECK(summary.denied == 77);

    /* The member carries on. */
    synod_commit commit;
    CHECK_OK(synod_node_propose_transition(node, "reloaded", "CN=node-0", 1, 5000, &commit));

    CHECK_OK(synod_node_shutdown(node));
    write_tls_config(config, dir, certs, "");
    CHECK(synod_node_reload_revocation(node, config, &summary) == SYNOD_ERR_SHUTDOWN);
    synod_node_free(node);

    /* The single-node engine has nothing to reload. */
    synod_node *single = NULL;
    CHECK_OK(synod_node_open_single("CN=solo", "127.0.0.1:7001", &single));
    CHECK(synod_node_reload_revocation(single, config, &summary) == SYNOD_ERR_INVALID_ARGUMENT);
    synod_node_free(single);
}

int main(void) {
    test_member_from_config();
    test_bad_configurations();
    test_reload_revocation();
    printf("test_member: ok\n");
    return 0;
}
