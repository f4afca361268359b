/* test_journal_retention — what the docs promise about the journal and
 * had no test: journal.max_alerts and journal.retention prune alerts from
 * the journal (gone from REPLAY too) while sequence numbers go on, and
 * /healthz answers 503 after a commit failed, 200 again once one works.
 *
 * The failed commit is real: the daemon runs with RLIMIT_FSIZE lowered
 * under it (prlimit on the child, SIGXFSZ ignored as it inherited), so
 * SQLite's next write to journal.db-wal gets EFBIG, as it would get
 * ENOSPC on a full disk; the limit lifted, the retry commits. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_testdaemon.h"
#include "tp_testhttp.h"
#include "tp_testutil.h"

#define T0        1767225600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED

typedef struct {
    size_t      n;
    uint64_t    first, last; /* sequences of the first and last alert sent */
    size_t      named;       /* alerts whose call_id starts with the prefix asked for */
    const char *prefix;
    char        end[64];
} replay_t;

static void s_count_cb(void *ctx, const Touchpoint__V1__Alert *al) {
    replay_t *out = ctx;
    if (out->n++ == 0)
        out->first = al->sequence;
    out->last = al->sequence;
    out->named += strncmp(al->call_id, out->prefix, strlen(out->prefix)) == 0;
}

/* REPLAY 0 over a DEALER: what came, up to END. */
static void s_replay_all(tp_dfx_t *d, const char *prefix, replay_t *out) {
    void *s = zmq_socket(d->zctx, ZMQ_DEALER);
    int   zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, d->replay_ep), 0);
    assert_true(zmq_send(s, "REPLAY", 6, ZMQ_SNDMORE) == 6);
    assert_true(zmq_send(s, "0", 1, 0) == 1);
    *out = (replay_t){ .prefix = prefix };
    size_t n = tp_dfx_read_replay(s, s_count_cb, out, out->end, sizeof out->end);
    assert_int_equal(n, out->n);
    assert_int_equal(strncmp(out->end, "END ", 4), 0);
    zmq_close(s);
}

/* Retention runs at start (and every minute after commits): a restart
 * applies it. */
static void test_max_alerts_keeps_the_newest(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", "journal: { max_alerts: 1000 }\n");
    tp_dfx_fire(d, "A", 1500);
    uint64_t        last = d->probes + 1500;
    static replay_t r;
    s_replay_all(d, "A-", &r);
    assert_int_equal(r.n, last); /* all of them, before the prune */
    free(tp_dfx_stop(d));
    tp_dfx_restart(d, NULL);
    s_replay_all(d, "A-", &r);
    /* The newest 1000 up to `last`, then the restart's probes. */
    assert_int_equal(r.first, last - 999);
    assert_int_equal(r.named, 1000);
    assert_int_equal(r.n, 1000 + (r.last - last));
    free(tp_dfx_stop(d));
}

static void test_retention_prunes_by_age_and_sequence_goes_on(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", "journal: { retention: 1ms }\n");
    tp_dfx_fire(d, "A", 20);
    uint64_t last = d->probes + 20;
    free(tp_dfx_stop(d));
    tp_dfx_restart(d, NULL);
    static replay_t r;
    s_replay_all(d, "A-", &r);
    /* Every alert of the first run is gone; numbering went on above it. */
    assert_int_equal(r.named, 0);
    assert_true(r.n > 0); /* the restart's probes */
    assert_int_equal(r.first, last + 1);
    free(tp_dfx_stop(d));
}

static int s_healthz(tp_dfx_t *d, char *why, size_t len) {
    tp_test_resp_t r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/healthz");
    int            code = r.code;
    snprintf(why, len, "%s", r.body);
    tp_test_resp_free(&r);
    return code;
}

static void test_healthz_503_after_a_failed_commit(void **state) {
    (void)state;
    /* Ignored here, ignored in the daemon (exec keeps SIG_IGN): a write
     * over the limit fails with EFBIG instead of killing it. */
    signal(SIGXFSZ, SIG_IGN);
    tp_dfx_t *d = tp_dfx_start_http("event", NULL);
    char      why[256];
    assert_int_equal(s_healthz(d, why, sizeof why), 200);

    /* Only the soft limit goes down, so the test can lift it again. */
    struct rlimit old;
    assert_int_equal(prlimit(d->proc.pid, RLIMIT_FSIZE, NULL, &old), 0);
    struct rlimit low = { 1, old.rlim_max };
    assert_int_equal(prlimit(d->proc.pid, RLIMIT_FSIZE, &low, NULL), 0);
    tp_test_call_t c = { .event_id = "x-1", .at_ms = T0, .call_id = "x-1", .status = SUBMITTED };
    tp_dfx_send_call(d, &c);
    /* Not published: it is not stored. */
    assert_false(tp_dfx_recv_alert(d, 500));
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    while (s_healthz(d, why, sizeof why) != 503)
        assert_true(tp_now_ms() < deadline);
    assert_non_null(strstr(why, "the last commit failed"));

    assert_int_equal(prlimit(d->proc.pid, RLIMIT_FSIZE, &old, NULL), 0);
    /* The retry (a second later) stores and publishes it. */
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->call_id, "x-1");
    assert_int_equal(s_healthz(d, why, sizeof why), 200);
    char *log = tp_dfx_stop(d);
    assert_true(tp_dfx_stat(log, "journal_errors") >= 1);
    free(log);
    tp_dfx_free(d);
    signal(SIGXFSZ, SIG_DFL);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_max_alerts_keeps_the_newest, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_retention_prunes_by_age_and_sequence_goes_on,
                                       tp_dfx_teardown),
             cmocka_unit_test(test_healthz_503_after_a_failed_commit))
