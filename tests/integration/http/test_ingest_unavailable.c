/* test_ingest_unavailable — POST /v1/events answers 503 with Retry-After
 * when it cannot promise durability: the journal's commit fails. Provoked
 * as it happens in the field, by another process holding the journal's
 * write lock (an operator's sqlite3 shell in a transaction): the daemon's
 * commit is refused at once (SQLITE_BUSY), it retries, and once the lock
 * is gone the events are stored and the endpoint answers 200 again. */
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tp_testdaemon.h"
#include "tp_testhttp.h"
#include "tp_testutil.h"

#define JSON "Content-Type: application/json\r\n"

static const char s_event[] =
    "{\"eventId\": \"%s\", \"source\": \"webhook\", \"occurredAtMs\": 1767225600000, "
    "\"call\": {\"callId\": \"%s\", \"hcpId\": \"HCP-1\", \"repId\": \"REP-1\", "
    "\"status\": \"CALL_STATUS_PLANNED\", \"callAtMs\": 1767225600000}}";

/* POSTs one planned call; returns the status and the whole answer. */
static int s_post(tp_dfx_t *d, const char *id, char **ret_text) {
    char body[512];
    snprintf(body, sizeof body, s_event, id, id);
    return tp_test_request(d->http_port, "POST", "/v1/events", JSON, body, ret_text);
}

static void test_commit_failing(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with("ingest: { enabled: true }");
    char     *text;
    assert_int_equal(s_post(d, "e1", &text), 200);
    free(text);

    /* Another writer takes the journal's lock. */
    char    *path = tp_path(d->dir, "state/journal.db");
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);

    /* Processed, but its commit fails: not promised. */
    assert_int_equal(s_post(d, "e2", &text), 503);
    assert_non_null(strstr(text, "Retry-After: 1\r\n"));
    assert_non_null(strstr(text, "the journal commit failed before these events were committed"));
    free(text);
    /* While commits fail, nothing is even processed. */
    assert_int_equal(s_post(d, "e3", &text), 503);
    assert_non_null(strstr(text, "Retry-After: 1\r\n"));
    assert_non_null(strstr(text, "the journal is failing to commit; nothing was processed"));
    free(text);
    tp_test_get_expect(d->http_port, "/healthz", 503, "journal: the last commit failed");

    /* The lock is released: the daemon's retry stores e2, and the client
     * that follows Retry-After gets its 200 (e2 is a duplicate by then). */
    assert_int_equal(sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    long long end = tp_now_ms() + TP_WAIT_MS;
    int       code;
    while ((code = s_post(d, "e2", &text)) == 503) {
        free(text);
        assert_true(tp_now_ms() < end);
    }
    assert_int_equal(code, 200);
    assert_non_null(strstr(text, "{\"accepted\":0,\"duplicates\":1,\"refused\":[]}"));
    free(text);
    assert_int_equal(s_post(d, "e3", &text), 200);
    assert_non_null(strstr(text, "{\"accepted\":1,\"duplicates\":0,\"refused\":[]}"));
    free(text);
    assert_true(tp_test_metric(d->http_port, "touchpointd_journal_commit_errors_total") >= 1);
    free(path);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_commit_failing, tp_dfx_teardown))
