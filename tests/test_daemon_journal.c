/* test_daemon_journal — nothing lost for consumers: the alert journal,
 * sequence numbers across restarts (also after SIGKILL), the replay
 * endpoint, counted PUB-side drops, and a corrupt journal at start. Real
 * daemon, real sockets, real SQLite file; every wait has a deadline. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_testdaemon.h"

#define T0 1767225600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED

/* Sends n incomplete calls (n FIRING alerts) named prefix-0.. */
static void s_fire(tp_dfx_t *d, const char *prefix, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        char id[48];
        snprintf(id, sizeof id, "%s-%u", prefix, i);
        tp_test_call_t c = { .event_id = id, .at_ms = T0, .call_id = id, .status = SUBMITTED };
        tp_dfx_send_call(d, &c);
    }
}

typedef struct {
    size_t   n;
    uint64_t seq[4096];
    char     call[4096][48];
    char     end[96];            /* "END" value, or "ERROR: reason" */
} replay_t;

/* One replay request over a DEALER: everything up to END (or ERROR). */
static void s_replay(tp_dfx_t *d, const char *cmd, const char *arg, replay_t *out) {
    void *s = zmq_socket(d->zctx, ZMQ_DEALER);
    int zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, d->replay_ep), 0);
    assert_true(zmq_send(s, cmd, strlen(cmd), arg ? ZMQ_SNDMORE : 0) >= 0);
    if (arg)
        assert_true(zmq_send(s, arg, strlen(arg), 0) >= 0);
    out->n = 0;
    for (;;) {
        zmq_pollitem_t item = { .socket = s, .events = ZMQ_POLLIN };
        assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
        zmq_msg_t a, b;
        zmq_msg_init(&a);
        zmq_msg_init(&b);
        assert_true(zmq_msg_recv(&a, s, 0) >= 0);
        assert_true(zmq_msg_more(&a));
        assert_true(zmq_msg_recv(&b, s, 0) >= 0);
        const char *what = zmq_msg_data(&a);
        size_t wl = zmq_msg_size(&a);
        if ((wl == 3 && memcmp(what, "END", 3) == 0) || (wl == 5 && memcmp(what, "ERROR", 5) == 0)) {
            snprintf(out->end, sizeof out->end, "%s%.*s", wl == 5 ? "ERROR: " : "",
                     (int)zmq_msg_size(&b), (const char *)zmq_msg_data(&b));
            zmq_msg_close(&a);
            zmq_msg_close(&b);
            break;
        }
        Touchpoint__V1__Alert *al = touchpoint__v1__alert__unpack(NULL, zmq_msg_size(&b),
                                                                   zmq_msg_data(&b));
        assert_non_null(al);
        assert_true(out->n < 4096);
        out->seq[out->n] = al->sequence;
        snprintf(out->call[out->n], sizeof out->call[0], "%s", al->call_id);
        out->n++;
        touchpoint__v1__alert__free_unpacked(al, NULL);
        zmq_msg_close(&a);
        zmq_msg_close(&b);
    }
    zmq_close(s);
}

static void test_sequences_survive_restarts_and_replay_serves_them(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_start("event", NULL);
    s_fire(d, "A", 5);
    for (int i = 0; i < 5; i++)
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    uint64_t last = d->got.alerts[4]->sequence;
    assert_int_equal(last, d->probes + 5);

    /* Everything from the start, in order, then END with the last one. */
    static replay_t r;
    s_replay(d, "REPLAY", "0", &r);
    assert_int_equal(r.n, last);
    for (size_t i = 0; i < r.n; i++)
        assert_int_equal(r.seq[i], i + 1);
    char want[32];
    snprintf(want, sizeof want, "%llu", (unsigned long long)last);
    assert_string_equal(r.end, want);
    assert_string_equal(r.call[r.n - 1], "A-4");
    s_replay(d, "REPLAY", want, &r);                 /* nothing after the last */
    assert_int_equal(r.n, 0);
    assert_string_equal(r.end, want);
    s_replay(d, "REPLAY", "-1", &r);
    assert_int_equal(r.n, 0);
    assert_string_equal(r.end, "ERROR: sequence must be a decimal number");
    s_replay(d, "SNAPSHOT", NULL, &r);
    assert_string_equal(r.end, "ERROR: expected [REPLAY, <sequence>]");

    /* A clean restart: numbering continues, never reused. */
    free(tp_dfx_stop(d));
    unsigned probes_before = d->probes;
    tp_dfx_restart(d, NULL);
    s_fire(d, "B", 1);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_int_equal(d->got.alerts[0]->sequence, last + (d->probes - probes_before) + 1);
    last = d->got.alerts[0]->sequence;

    /* SIGKILL right after consumers got alerts: they were journaled first. */
    s_fire(d, "C", 3);
    for (int i = 0; i < 3; i++)
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_int_equal(tp_proc_signal(&d->proc, SIGKILL), 0);
    assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 128 + SIGKILL);
    tp_dfx_restart(d, NULL);
    s_replay(d, "REPLAY", want, &r);                 /* after the first batch */
    int found = 0;
    for (size_t i = 0; i < r.n; i++) {
        found += strncmp(r.call[i], "C-", 2) == 0;
        if (i)
            assert_int_equal(r.seq[i], r.seq[i - 1] + 1);   /* no holes, no repeats */
    }
    assert_int_equal(found, 3);
    assert_true(r.seq[r.n - 1] > last + 3);          /* the restart's probes came after */
    char *log = tp_dfx_stop(d);
    assert_true(tp_dfx_stat(log, "journal_commits") > 0);
    assert_int_equal(tp_dfx_stat(log, "journal_errors"), 0);
    assert_int_equal(tp_dfx_stat(log, "replay_requests"), 1);
    free(log);
    tp_dfx_free(d);
}

/* A subscriber that never reads: the PUB side fills up and drops, each
 * drop is counted, and the journal still has every alert. */
static void test_pub_drops_are_counted_and_journal_has_all(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_start_with("event", NULL, 10);
    void *lazy = zmq_socket(d->zctx, ZMQ_SUB);
    int one = 1, zero = 0;
    zmq_setsockopt(lazy, ZMQ_RCVHWM, &one, sizeof one);
    zmq_setsockopt(lazy, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(lazy, ZMQ_SUBSCRIBE, "", 0);
    assert_int_equal(zmq_connect(lazy, d->out_ep), 0);
    /* Until the lazy subscriber has joined, our own reading subscriber
     * syncs: then fire a flood it will never read. */
    for (int i = 0; i < 2; i++) {
        char id[16];
        snprintf(id, sizeof id, "sync-%d", i);
        tp_test_call_t c = { .event_id = id, .at_ms = T0, .call_id = id, .status = SUBMITTED };
        tp_dfx_send_call(d, &c);
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    }
    s_fire(d, "F", 3000);
    /* Our subscriber may lose some too (it shares the drop policy): read
     * until the journal says all were written. */
    static replay_t r;
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    do {
        while (tp_dfx_recv_alert(d, 50))
            tp_test_alerts_clear(&d->got);
        s_replay(d, "REPLAY", "0", &r);
        assert_true(tp_now_ms() < deadline);
    } while (r.n < d->probes + 2 + 3000);
    assert_int_equal(r.n, d->probes + 2 + 3000);
    char *log = tp_dfx_stop(d);
    unsigned long long dropped = tp_dfx_stat(log, "alerts_dropped");
    assert_true(dropped > 0);
    assert_true(dropped <= 3000);
    free(log);
    zmq_close(lazy);
    tp_dfx_free(d);
}

static void test_corrupt_journal_is_refused_then_moved_aside(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_start("event", NULL);
    free(tp_dfx_stop(d));
    char *db = tp_path(d->dir, "state/journal.db");
    assert_int_equal(tp_write_file(db, "this is not an SQLite database, it is a shopping list\n"
                                       "milk, eggs, a working backup strategy\n"), 0);
    char *wal = tp_path(d->dir, "state/journal.db-wal");
    remove(wal);
    const char *argv[] = { TP_DAEMON_BIN, "--config", d->cfg, NULL };
    assert_int_equal(tp_proc_spawn(&d->proc, argv, NULL, NULL, d->err), 0);
    assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 1);
    char *text = tp_read_file(d->err);
    assert_non_null(strstr(text, "is corrupt or not a journal"));
    assert_non_null(strstr(text, "--move-aside-corrupt"));
    free(text);

    tp_dfx_restart(d, "--move-aside-corrupt");
    s_fire(d, "N", 1);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    /* Sequence numbers jump above anything the lost journal handed out. */
    assert_true(d->got.alerts[0]->sequence > 1700000000000000ULL);
    text = tp_read_file(d->err);
    assert_non_null(strstr(text, "Moved the corrupt journal to"));
    free(text);
    free(tp_dfx_stop(d));
    free(db);
    free(wal);
    tp_dfx_free(d);
}

/* Runs tp-tail --durable until it has printed `count` alerts; returns the
 * sequences it printed, in order. */
static size_t s_tail(tp_dfx_t *d, const char *pos, unsigned count, uint64_t *seqs, size_t max) {
    char *out = tp_path(d->dir, "tail.out"), *err = tp_path(d->dir, "tail.err");
    char count_s[16];
    snprintf(count_s, sizeof count_s, "%u", count);
    const char *argv[] = { TP_TAIL_BIN, "--endpoint", d->out_ep, "--replay-endpoint", d->replay_ep,
                           "--durable", pos, "--count", count_s, NULL };
    tp_proc_t p;
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, out, err), 0);
    assert_int_equal(tp_proc_wait(&p, TP_WAIT_MS), 0);
    char *text = tp_read_file(out);
    size_t n = 0;
    for (char *line = strtok(text, "\n"); line && n < max; line = strtok(NULL, "\n")) {
        const char *k = strstr(line, "\"sequence\":\"");
        assert_non_null(k);
        seqs[n++] = strtoull(k + strlen("\"sequence\":\""), NULL, 10);
    }
    free(text);
    free(out);
    free(err);
    return n;
}

/* A durable consumer that is down while alerts fire, and a daemon that
 * restarts in between: every alert is printed once, in order. */
static void test_durable_consumer_catches_up(void **state) {
    (void)state;
    tp_dfx_t *d = tp_dfx_start("event", NULL);
    char *pos = tp_path(d->dir, "tail.pos");
    s_fire(d, "A", 5);                               /* nobody is listening durably yet */
    for (int i = 0; i < 5; i++)
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    uint64_t k = d->got.alerts[4]->sequence;
    static uint64_t seqs[512];
    size_t n = s_tail(d, pos, (unsigned)k, seqs, 512);
    assert_int_equal(n, k);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seqs[i], i + 1);
    char *text = tp_read_file(pos);
    assert_int_equal(strtoull(text, NULL, 10), k);
    free(text);

    free(tp_dfx_stop(d));
    unsigned probes = d->probes;
    tp_dfx_restart(d, NULL);
    s_fire(d, "B", 3);
    for (int i = 0; i < 3; i++)
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    unsigned more = (d->probes - probes) + 3;
    n = s_tail(d, pos, more, seqs, 512);
    assert_int_equal(n, more);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seqs[i], k + 1 + i);         /* resumes after k, none twice */
    free(tp_dfx_stop(d));
    free(pos);
    tp_dfx_free(d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequences_survive_restarts_and_replay_serves_them),
        cmocka_unit_test(test_pub_drops_are_counted_and_journal_has_all),
        cmocka_unit_test(test_corrupt_journal_is_refused_then_moved_aside),
        cmocka_unit_test(test_durable_consumer_catches_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
