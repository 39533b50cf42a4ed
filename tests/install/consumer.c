/* A program that uses an installed libsynod the way a host would: built by
 * tests/install-check.sh with pkg-config (shared and static) and CMake
 * (find_package(synod)). It needs no cluster: it checks the header against
 * the library, parses identities and opens an in-memory single-member
 * control plane. It prints one line per check and "consumer ok" last; any
 * failure prints "FAIL ..." and exits 1. */
#include <stdio.h>
#include <string.h>

#include <synod.h>

static int failures = 0;

#define EXPECT(cond, ...)                                  \
    do {                                                   \
        if (!(cond)) {                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
            fprintf(stderr, __VA_ARGS__);                  \
            fputc('\n', stderr);                           \
            failures++;                                    \
        }                                                  \
    } while (0)

int main(void)
{
    /* The header's version is the library's. */
    EXPECT(synod_version_number() == SYNOD_VERSION_NUMBER,
           "library %u, header %u", (unsigned)synod_version_number(), (unsigned)SYNOD_VERSION_NUMBER);
    printf("version %s\n", synod_version_string());

    /* A valid identity is trimmed; an empty one is refused with a message. */
    synod_identity *id = NULL;
    synod_status st = synod_identity_parse("  CN=node-a, O=Synod \n", &id);
    EXPECT(st == SYNOD_OK && id != NULL, "parse: %s", synod_status_str(st));
    if (id != NULL) {
        printf("identity %s\n", synod_identity_str(id));
        synod_identity_free(id);
    }
    id = NULL;
    st = synod_identity_parse(" ", &id);
    EXPECT(st == SYNOD_ERR_INVALID_IDENTITY && id == NULL, "empty identity: %s", synod_status_str(st));
    char msg[128];
    size_t n = 0;
    EXPECT(synod_last_error_message(msg, sizeof msg, &n) == SYNOD_OK, "last error message");
    printf("refused %s: %s\n", synod_status_str(st), msg);

    /* A single-member control plane: its member is the leader. */
    synod_node *node = NULL;
    st = synod_node_open_single("CN=node-a", "127.0.0.1:7400", &node);
    EXPECT(st == SYNOD_OK && node != NULL, "open_single: %s", synod_status_str(st));
    if (node != NULL) {
        bool leader = false;
        EXPECT(synod_node_is_leader(node, &leader) == SYNOD_OK && leader, "is_leader");
        synod_member_list *members = NULL;
        EXPECT(synod_node_members(node, &members) == SYNOD_OK, "members");
        size_t len = synod_member_list_len(members);
        printf("node %s leader=%d members=%zu first=%s@%s\n", synod_node_id(node), (int)leader, len,
               len > 0 ? synod_member_list_id(members, 0) : "-",
               len > 0 ? synod_member_list_address(members, 0) : "-");
        synod_member_list_free(members);
        EXPECT(synod_node_shutdown(node) == SYNOD_OK, "shutdown");
        synod_node_free(node);
    }

    if (failures != 0) {
        fprintf(stderr, "FAIL %d check(s)\n", failures);
        return 1;
    }
    printf("consumer ok\n");
    return 0;
}
