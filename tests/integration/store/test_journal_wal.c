/* test_journal_wal — the journal's disk use stays bounded while the
 * daemon runs: the real daemon takes a long flood of events (each one
 * written to the event log in journal.db), and journal.db-wal never grows
 * past a bound set by a small journal.wal_max_bytes; /metrics shows the
 * WAL's size and the checkpointer's lag. Real daemon, real sockets, real
 * SQLite file; a held write lock delays commits without failing them.
 * The end of the flood is a sentinel event whose alert comes
 * back after every event before it was processed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_testdaemon.h"
#include "tp_testhttp.h"
#include "tp_testutil.h"

#define T0        1767225600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define N_EVENTS  200000
#define WAL_LIMIT (1 << 20) /* journal.wal_max_bytes in the test */
#define WAL_BOUND (8 << 20) /* what the file may reach: the limit + a few rounds */

static long long s_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static void test_wal_stays_bounded_over_a_long_run(void **state) {
    (void)state;
    char extra[160];
    snprintf(extra, sizeof extra, "journal: { checkpoint_interval: 20ms, wal_max_bytes: %d }\n",
             WAL_LIMIT);
    tp_dfx_t *d = tp_dfx_start_http("event", extra);
    char     *wal = tp_path(d->dir, "state/journal.db-wal");
    long long most = 0;
    for (unsigned i = 0; i < N_EVENTS; i++) {
        char id[32];
        snprintf(id, sizeof id, "wm-%u", i);
        tp_dfx_send_watermark(d, id, T0);
        if (i % 2000 == 0 && s_size(wal) > most)
            most = s_size(wal);
    }
    /* The sentinel: its alert comes after every event before it. */
    tp_test_call_t c = {
        .event_id = "sentinel", .at_ms = T0, .call_id = "sentinel", .status = SUBMITTED
    };
    tp_dfx_send_call(d, &c);
    long long deadline = tp_now_ms() + 120000;
    bool      seen = false;
    while (!seen) {
        assert_true(tp_now_ms() < deadline);
        if (s_size(wal) > most)
            most = s_size(wal);
        if (tp_dfx_recv_alert(d, 20))
            seen = strcmp(d->got.alerts[d->got.n - 1]->call_id, "sentinel") == 0;
    }
    if (s_size(wal) > most)
        most = s_size(wal);
    print_message("journal.db-wal: at most %lld bytes over %d events\n", most, N_EVENTS);
    assert_true(most < WAL_BOUND);

    unsigned port = d->http_port;
    double   bytes = tp_test_metric(port, "touchpointd_journal_wal_bytes");
    assert_true(bytes >= 0 && bytes < WAL_BOUND);
    assert_true(tp_test_metric(port, "touchpointd_journal_checkpoint_lag_frames") >= 0);
    assert_true(tp_test_metric(port, "touchpointd_journal_checkpoint_age_seconds") >= 0);
    assert_true(tp_test_metric(port, "touchpointd_journal_wal_truncations_total") >= 1);
    assert_true(tp_test_metric(port, "touchpointd_journal_checkpoint_errors_total") == 0);

    char *log = tp_dfx_stop(d);
    assert_true(tp_dfx_stat(log, "accepted") >= N_EVENTS);
    assert_int_equal(tp_dfx_stat(log, "journal_errors"), 0);
    free(log);
    free(wal);
    tp_dfx_free(d);
}

/* While the journal's write lock is taken (as the checkpointer takes it
 * to empty the WAL), commits wait on a short retry timer: nothing fails,
 * nothing is published before it is stored, and the alert goes out once
 * the lock is free. Here the test holds the lock from its own connection. */
static void test_commit_waits_out_a_held_write_lock(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http("event", NULL);
    char     *db = tp_path(d->dir, "state/journal.db");
    sqlite3  *other;
    assert_int_equal(sqlite3_open(db, &other), SQLITE_OK);
    assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    tp_test_call_t c = {
        .event_id = "locked", .at_ms = T0, .call_id = "locked", .status = SUBMITTED
    };
    tp_dfx_send_call(d, &c);
    assert_false(tp_dfx_recv_alert(d, 300)); /* not stored, so not sent */
    tp_test_resp_t h = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/healthz");
    assert_int_equal(h.code, 200); /* busy is not a failed commit */
    tp_test_resp_free(&h);
    assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->call_id, "locked");
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "journal_errors"), 0);
    free(log);
    free(db);
}

TP_TEST_MAIN(cmocka_unit_test(test_wal_stays_bounded_over_a_long_run),
             cmocka_unit_test_teardown(test_commit_waits_out_a_held_write_lock, tp_dfx_teardown))
