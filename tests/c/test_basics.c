/* Version, status and refusal names, the thread-local last error (including
 * its truncation rules), identity parsing, NULL arguments and _free(NULL). */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

static void test_version(void)
{
    char want[64];
    CHECK(SYNOD_VERSION_NUMBER == synod_version_number());
    CHECK(SYNOD_VERSION_NUMBER ==
          SYNOD_VERSION_MAJOR * 1000000 + SYNOD_VERSION_MINOR * 1000 + SYNOD_VERSION_PATCH);
    snprintf(want, sizeof want, "%d.%d.%d", SYNOD_VERSION_MAJOR, SYNOD_VERSION_MINOR,
             SYNOD_VERSION_PATCH);
    CHECK_STR(synod_version_string(), want);
#if SYNOD_VERSION_NUMBER < 1000
#error "the version macros must be usable in #if"
#endif
}

static void test_status_strings(void)
{
    CHECK_STR(synod_status_str(SYNOD_OK), "SYNOD_OK");
    CHECK_STR(synod_status_str(SYNOD_ERR_NULL_ARGUMENT), "SYNOD_ERR_NULL_ARGUMENT");
    CHECK_STR(synod_status_str(SYNOD_ERR_INVALID_ARGUMENT), "SYNOD_ERR_INVALID_ARGUMENT");
    CHECK_STR(synod_status_str(SYNOD_ERR_INVALID_IDENTITY), "SYNOD_ERR_INVALID_IDENTITY");
    CHECK_STR(synod_status_str(SYNOD_ERR_BUFFER_TOO_SMALL), "SYNOD_ERR_BUFFER_TOO_SMALL");
    CHECK_STR(synod_status_str(SYNOD_ERR_NOT_FOUND), "SYNOD_ERR_NOT_FOUND");
    CHECK_STR(synod_status_str(SYNOD_ERR_NOT_LEADER), "SYNOD_ERR_NOT_LEADER");
    CHECK_STR(synod_status_str(SYNOD_ERR_NO_QUORUM), "SYNOD_ERR_NO_QUORUM");
    CHECK_STR(synod_status_str(SYNOD_ERR_TIMEOUT), "SYNOD_ERR_TIMEOUT");
    CHECK_STR(synod_status_str(SYNOD_ERR_REFUSED), "SYNOD_ERR_REFUSED");
    CHECK_STR(synod_status_str(SYNOD_ERR_SHUTDOWN), "SYNOD_ERR_SHUTDOWN");
    CHECK_STR(synod_status_str(SYNOD_ERR_INDETERMINATE), "SYNOD_ERR_INDETERMINATE");
    CHECK_STR(synod_status_str(SYNOD_ERR_STORAGE), "SYNOD_ERR_STORAGE");
    CHECK_STR(synod_status_str(SYNOD_ERR_PANIC), "SYNOD_ERR_PANIC");
    CHECK_STR(synod_status_str(6), "SYNOD_ERR_UNKNOWN");
    CHECK_STR(synod_status_str(SYNOD_ERR_OVERLOADED), "SYNOD_ERR_OVERLOADED");
    CHECK_STR(synod_status_str(SYNOD_ERR_UNREACHABLE), "SYNOD_ERR_UNREACHABLE");
    CHECK_STR(synod_status_str(SYNOD_ERR_UNAUTHORIZED), "SYNOD_ERR_UNAUTHORIZED");
    CHECK_STR(synod_status_str(SYNOD_ERR_PROTOCOL), "SYNOD_ERR_PROTOCOL");
    CHECK_STR(synod_status_str(SYNOD_ERR_TLS), "SYNOD_ERR_TLS");
    CHECK_STR(synod_status_str(111), "SYNOD_ERR_UNKNOWN");
    CHECK_STR(synod_status_str(UINT32_MAX), "SYNOD_ERR_UNKNOWN");

    /* The numbers are part of the ABI. */
    CHECK(SYNOD_OK == 0);
    CHECK(SYNOD_ERR_NULL_ARGUMENT == 1);
    CHECK(SYNOD_ERR_REFUSED == 103);
    CHECK(SYNOD_ERR_INDETERMINATE == 105);
    CHECK(SYNOD_ERR_OVERLOADED == 106);
    CHECK(SYNOD_ERR_UNREACHABLE == 107);
    CHECK(SYNOD_ERR_UNAUTHORIZED == 108);
    CHECK(SYNOD_ERR_PROTOCOL == 109);
    CHECK(SYNOD_ERR_TLS == 110);
    CHECK(SYNOD_ERR_PANIC == 900);
    CHECK(sizeof(synod_status) == 4);

    CHECK_STR(synod_refusal_str(SYNOD_REFUSAL_NONE), "none");
    CHECK_STR(synod_refusal_str(SYNOD_REFUSAL_STALE_EPOCH), "stale-epoch");
    CHECK_STR(synod_refusal_str(SYNOD_REFUSAL_CONFLICTING_LEADER), "conflicting-leader");
    CHECK_STR(synod_refusal_str(SYNOD_REFUSAL_LEADER_CONFIGURATION_NOT_CURRENT),
              "leader-configuration-not-current");
    CHECK_STR(synod_refusal_str(SYNOD_REFUSAL_EPOCH_NOT_NEXT), "epoch-not-next");
    CHECK(SYNOD_REFUSAL_STALE_EPOCH == 7);
    CHECK(SYNOD_REFUSAL_EPOCH_NOT_NEXT == 12);
    CHECK_STR(synod_refusal_str(SYNOD_REFUSAL_CATALOG_FULL), "catalog-full");
    CHECK(SYNOD_REFUSAL_CATALOG_FULL == 13);
    CHECK_STR(synod_refusal_str(14), "unknown"); /* the first unknown code */
    CHECK_STR(synod_refusal_str(UINT32_MAX), "unknown");
}

/* Runs first, before any failure on this thread. */
static void test_no_error_yet(void)
{
    char buf[8];
    size_t n = 99;
    CHECK(synod_last_error_status() == SYNOD_OK);
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_NONE);
    buf[0] = 'x';
    CHECK_OK(synod_last_error_message(buf, sizeof buf, &n));
    CHECK(n == 0);
    CHECK(buf[0] == '\0');
    /* Even the empty message needs one byte for its NUL. */
    n = 99;
    CHECK_STATUS(synod_last_error_message(NULL, 0, &n), SYNOD_ERR_BUFFER_TOO_SMALL);
    CHECK(n == 0);
}

static void test_last_error_semantics(void)
{
    synod_identity *id = NULL;
    const char *want = "subject: identity is empty";
    size_t want_len = strlen(want);
    char buf[64];
    size_t n = 0;

    CHECK_STATUS(synod_identity_parse("   ", &id), SYNOD_ERR_INVALID_IDENTITY);
    CHECK(id == NULL);
    CHECK(synod_last_error_status() == SYNOD_ERR_INVALID_IDENTITY);

    /* Size query: len 0 writes nothing and reports the full length. */
    CHECK_STATUS(synod_last_error_message(NULL, 0, &n), SYNOD_ERR_BUFFER_TOO_SMALL);
    CHECK(n == want_len);
    memset(buf, 'x', sizeof buf);
    CHECK_STATUS(synod_last_error_message(buf, 0, &n), SYNOD_ERR_BUFFER_TOO_SMALL);
    CHECK(buf[0] == 'x');

    /* Exactly *n + 1 bytes hold it whole. */
    memset(buf, 'x', sizeof buf);
    n = 0;
    CHECK_OK(synod_last_error_message(buf, want_len + 1, &n));
    CHECK(n == want_len);
    CHECK_STR(buf, want);
    CHECK(buf[want_len + 1] == 'x');

    /* One byte short: truncated to len - 1 bytes plus NUL. */
    memset(buf, 'x', sizeof buf);
    n = 0;
    CHECK_STATUS(synod_last_error_message(buf, want_len, &n), SYNOD_ERR_BUFFER_TOO_SMALL);
    CHECK(n == want_len);
    CHECK(strlen(buf) == want_len - 1);
    CHECK(strncmp(buf, want, want_len - 1) == 0);
    CHECK(buf[want_len] == 'x');

    /* A one-byte buffer gets only the NUL. */
    buf[0] = 'x';
    buf[1] = 'x';
    CHECK_STATUS(synod_last_error_message(buf, 1, &n), SYNOD_ERR_BUFFER_TOO_SMALL);
    CHECK(buf[0] == '\0');
    CHECK(buf[1] == 'x');

    /* `n` is optional. */
    CHECK_OK(synod_last_error_message(buf, sizeof buf, NULL));
    CHECK_STR(buf, want);

    /* A NULL buffer with a length is refused, writing nothing. */
    n = 12345;
    CHECK_STATUS(synod_last_error_message(NULL, 5, &n), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(n == 12345);

    /* None of the readers changed the last error... */
    CHECK(synod_last_error_status() == SYNOD_ERR_INVALID_IDENTITY);
    CHECK_STR(last_message(), want);

    /* ...and neither does a successful call. */
    CHECK_OK(synod_identity_parse("CN=ok", &id));
    synod_identity_free(id);
    CHECK(synod_last_error_status() == SYNOD_ERR_INVALID_IDENTITY);
    CHECK_STR(last_message(), want);

    /* A new failure replaces it as a whole. */
    CHECK_STATUS(synod_identity_parse(NULL, &id), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(synod_last_error_status() == SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STR(last_message(), "subject is NULL");
    CHECK(synod_last_refusal_code() == SYNOD_REFUSAL_NONE);
}

static void *other_thread(void *arg)
{
    char buf[16];
    size_t n = 99;
    (void)arg;
    /* The main thread's failure is not visible here. */
    if (synod_last_error_status() != SYNOD_OK) {
        return (void *)1;
    }
    if (synod_last_error_message(buf, sizeof buf, &n) != SYNOD_OK || n != 0) {
        return (void *)2;
    }
    return NULL;
}

static void test_last_error_is_per_thread(void)
{
    pthread_t t;
    void *result = (void *)99;
    synod_identity *id = NULL;
    CHECK_STATUS(synod_identity_parse("", &id), SYNOD_ERR_INVALID_IDENTITY);
    CHECK(pthread_create(&t, NULL, other_thread, NULL) == 0);
    CHECK(pthread_join(t, &result) == 0);
    CHECK(result == NULL);
    CHECK(synod_last_error_status() == SYNOD_ERR_INVALID_IDENTITY);
}

static void test_identity(void)
{
    synod_identity *id = NULL;
    synod_identity *sentinel = (synod_identity *)&id; /* any non-NULL pointer */
    char long_subject[1100];

    CHECK_OK(synod_identity_parse("  CN=node-a, O=Synod \n", &id));
    CHECK(id != NULL);
    CHECK_STR(synod_identity_str(id), "CN=node-a, O=Synod");
    synod_identity_free(id);

    /* Failures leave *out untouched. */
    id = sentinel;
    CHECK_STATUS(synod_identity_parse("", &id), SYNOD_ERR_INVALID_IDENTITY);
    CHECK(id == sentinel);
    CHECK_STATUS(synod_identity_parse(" \t ", &id), SYNOD_ERR_INVALID_IDENTITY);
    CHECK(id == sentinel);
    CHECK_STATUS(synod_identity_parse("CN=a\x01" "b", &id), SYNOD_ERR_INVALID_IDENTITY);
    CHECK(id == sentinel);
    CHECK_STR(last_message(),
              "subject: identity contains a control character (U+0001) at byte 4");
    CHECK_STATUS(synod_identity_parse("CN=a\nCN=b", &id), SYNOD_ERR_INVALID_IDENTITY);
    CHECK(id == sentinel);
    CHECK_STATUS(synod_identity_parse("CN=\xff", &id), SYNOD_ERR_INVALID_ARGUMENT);
    CHECK(id == sentinel);
    CHECK_STR(last_message(), "subject is not valid UTF-8 (at byte 3)");

    memset(long_subject, 'a', 1025);
    long_subject[1025] = '\0';
    CHECK_STATUS(synod_identity_parse(long_subject, &id), SYNOD_ERR_INVALID_IDENTITY);
    CHECK(id == sentinel);
    long_subject[1024] = '\0';
    CHECK_OK(synod_identity_parse(long_subject, &id));
    CHECK(strlen(synod_identity_str(id)) == 1024);
    synod_identity_free(id);

    /* NULL arguments never crash. */
    id = sentinel;
    CHECK_STATUS(synod_identity_parse(NULL, &id), SYNOD_ERR_NULL_ARGUMENT);
    CHECK(id == sentinel);
    CHECK_STATUS(synod_identity_parse("CN=a", NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STR(last_message(), "out is NULL");
    CHECK(synod_identity_str(NULL) == NULL);
}

static void test_null_readers_and_frees(void)
{
    uint64_t index = 7, term = 8;
    synod_leader_hint *hint = NULL;

    CHECK_STATUS(synod_last_refusal_position(NULL, &term), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_last_refusal_position(&index, NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_last_refusal_position(&index, &term), SYNOD_ERR_NOT_FOUND);
    CHECK(index == 7 && term == 8);
    CHECK_STATUS(synod_last_leader_hint(NULL), SYNOD_ERR_NULL_ARGUMENT);
    CHECK_STATUS(synod_last_leader_hint(&hint), SYNOD_ERR_NOT_FOUND);
    CHECK(hint == NULL);
    CHECK(synod_leader_hint_id(NULL) == NULL);
    CHECK(synod_leader_hint_address(NULL) == NULL);

    /* _free(NULL) does nothing, for every handle type. */
    synod_identity_free(NULL);
    synod_node_free(NULL);
    synod_ownership_free(NULL);
    synod_member_list_free(NULL);
    synod_leader_hint_free(NULL);
}

int main(void)
{
    test_no_error_yet();
    test_version();
    test_status_strings();
    test_last_error_semantics();
    test_last_error_is_per_thread();
    test_identity();
    test_null_readers_and_frees();
    printf("test_basics: ok\n");
    return 0;
}
