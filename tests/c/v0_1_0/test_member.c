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

    CHECK(synod_node_shutdown(node) == SYNOD_OK);
    CHECK(synod_node_propose_transition(node, "orders:[0,100)", "CN=c-member", 2, 5000, &commit) ==
          SYNOD_ERR_SHUTDOWN);
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

int main(void) {
    test_member_from_config();
    test_bad_configurations();
    printf("test_member: ok\n");
    return 0;
}
