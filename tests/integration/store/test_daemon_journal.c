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
#include <time.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_config.h"
#include "tp_testdaemon.h"
#include "tp_testutil.h"

#define T0        1767225600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED

/* Sends n incomplete calls (n FIRING alerts) named prefix-0.. */
static void s_fire(tp_dfx_t *d, const char *prefix, unsigned n) {
    tp_dfx_fire_with(d, prefix, n, &(tp_dfx_fire_t){ .no_wait = true });
}

typedef struct {
    size_t   n;
    uint64_t seq[4096];
    char     call[4096][48];
    char     end[96]; /* "END" value, or "ERROR: reason" */
} replay_t;

static void s_keep(void *ctx, const Touchpoint__V1__Alert *al) {
    replay_t *out = ctx;
    assert_true(out->n < 4096);
    out->seq[out->n] = al->sequence;
    snprintf(out->call[out->n], sizeof out->call[0], "%s", al->call_id);
    out->n++;
}

/* One replay request over a DEALER: everything up to END (or ERROR). */
static void s_replay(tp_dfx_t *d, const char *cmd, const char *arg, replay_t *out) {
    void *s = zmq_socket(d->zctx, ZMQ_DEALER);
    int   zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, d->replay_ep), 0);
    assert_true(zmq_send(s, cmd, strlen(cmd), arg ? ZMQ_SNDMORE : 0) >= 0);
    if (arg)
        assert_true(zmq_send(s, arg, strlen(arg), 0) >= 0);
    out->n = 0;
    char end[sizeof out->end + 8];
    tp_dfx_read_replay(s, s_keep, out, end, sizeof end);
    /* "END <value>" -> "<value>"; "ERROR <reason>" -> "ERROR: <reason>". */
    if (strncmp(end, "END ", 4) == 0)
        snprintf(out->end, sizeof out->end, "%.80s", end + 4);
    else
        snprintf(out->end, sizeof out->end, "ERROR: %.80s", end + 6);
    zmq_close(s);
}

static void test_sequences_survive_restarts_and_replay_serves_them(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
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
    s_replay(d, "REPLAY", want, &r); /* nothing after the last */
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
    s_replay(d, "REPLAY", want, &r); /* after the first batch */
    int found = 0;
    for (size_t i = 0; i < r.n; i++) {
        found += strncmp(r.call[i], "C-", 2) == 0;
        if (i)
            assert_int_equal(r.seq[i], r.seq[i - 1] + 1); /* no holes, no repeats */
    }
    assert_int_equal(found, 3);
    assert_true(r.seq[r.n - 1] > last + 3); /* the restart's probes came after */
    /* An alert is published only after its commit: one more alert, at
     * least one more commit (not the shutdown flush: counted before it). */
    unsigned long long commits = tp_dfx_live_stat(d, "journal_commits");
    tp_test_alerts_clear(&d->got);
    s_fire(d, "D", 1);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_true(tp_dfx_live_stat(d, "journal_commits") > commits);
    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "journal_errors", 0 }, { "replay_requests", 1 });
    free(log);
}

/* A subscriber that never reads: the PUB side fills up and drops, each
 * drop is counted, and the journal still has every alert. */
static void test_pub_drops_are_counted_and_journal_has_all(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_with("event", NULL, 10);
    void     *lazy = zmq_socket(d->zctx, ZMQ_SUB);
    int       one = 1, zero = 0;
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
    long long       deadline = tp_now_ms() + TP_WAIT_MS;
    do {
        while (tp_dfx_recv_alert(d, 50))
            tp_test_alerts_clear(&d->got);
        s_replay(d, "REPLAY", "0", &r);
        assert_true(tp_now_ms() < deadline);
    } while (r.n < d->probes + 2 + 3000);
    assert_int_equal(r.n, d->probes + 2 + 3000);
    char              *log = tp_dfx_stop(d);
    unsigned long long dropped = tp_dfx_stat(log, "alerts_dropped");
    assert_true(dropped > 0);
    assert_true(dropped <= 3000);
    free(log);
    zmq_close(lazy);
}

static void test_corrupt_journal_is_refused_then_moved_aside(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
    free(tp_dfx_stop(d));
    char *db = tp_path(d->dir, "state/journal.db");
    assert_int_equal(tp_write_file(db, "this is not an SQLite database, it is a shopping list\n"
                                       "milk, eggs, a working backup strategy\n"),
                     0);
    char *wal = tp_path(d->dir, "state/journal.db-wal");
    remove(wal);
    tp_dfx_expect_refusal(d, "is corrupt or not a journal");
    TP_EXPECT_FILE_HAS(d->err, "--move-aside-corrupt");

    tp_dfx_restart(d, "--move-aside-corrupt");
    s_fire(d, "N", 1);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    /* Sequence numbers jump above anything the lost journal handed out. */
    assert_true(d->got.alerts[0]->sequence > 1700000000000000ULL);
    TP_EXPECT_FILE_HAS(d->err, "Moved the corrupt journal to");
    free(tp_dfx_stop(d));
    free(db);
    free(wal);
}

/* Runs tp-tail --durable until it has printed `count` alerts; returns the
 * sequences it printed, in order. */
static size_t s_tail(tp_dfx_t *d, const char *pos, unsigned count, uint64_t *seqs, size_t max) {
    char *out = tp_path(d->dir, "tail.out"), *err = tp_path(d->dir, "tail.err");
    char  count_s[16];
    snprintf(count_s, sizeof count_s, "%u", count);
    const char *argv[] = { TP_TAIL_BIN,  "--endpoint", d->out_ep, "--replay-endpoint",
                           d->replay_ep, "--durable",  pos,       "--count",
                           count_s,      NULL };
    assert_int_equal(tp_run(argv, out, err, TP_WAIT_MS), 0);
    char  *text = tp_read_file(out);
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
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
    char     *pos = tp_path(d->dir, "tail.pos");
    s_fire(d, "A", 5); /* nobody is listening durably yet */
    for (int i = 0; i < 5; i++)
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    uint64_t        k = d->got.alerts[4]->sequence;
    static uint64_t seqs[512];
    size_t          n = s_tail(d, pos, (unsigned)k, seqs, 512);
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
        assert_int_equal(seqs[i], k + 1 + i); /* resumes after k, none twice */
    free(tp_dfx_stop(d));
    free(pos);
}

/* Rule state, deadlines, the open-alert table, the event-id window and
 * sequence positions survive a SIGKILL: rebuilt from the event log. */
static void test_state_survives_sigkill(void **state) {
    tp_dfx_t      *d = *state = tp_dfx_start("event", NULL);
    tp_test_call_t planned = { .event_id = "p1",
                               .source = "veeva",
                               .sequence = 1,
                               .at_ms = T0,
                               .call_id = "C-R",
                               .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED,
                               .call_at_ms = T0 + 3600000 };
    tp_dfx_send_call(d, &planned);
    tp_test_call_t inc = { .event_id = "i1",
                           .source = "veeva",
                           .sequence = 2,
                           .at_ms = T0 + 1,
                           .call_id = "C-I",
                           .status = SUBMITTED };
    tp_dfx_send_call(d, &inc);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS)); /* call_incomplete C-I */
    assert_string_equal(d->got.alerts[0]->call_id, "C-I");
    assert_int_equal(tp_proc_signal(&d->proc, SIGKILL), 0);
    assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 128 + SIGKILL);

    tp_dfx_restart(d, NULL);
    TP_EXPECT_FILE_HAS(d->err, "Rebuilt state from");
    /* The same event again: still known. Another incomplete version of
     * C-I: still FIRING, no second alert. Sequence 3 follows 2: no gap. */
    tp_dfx_send_call(d, &inc);
    inc.event_id = "i2";
    inc.sequence = 3;
    inc.at_ms = T0 + 2;
    tp_dfx_send_call(d, &inc);
    /* The deadline armed before the kill fires when event time passes it. */
    tp_dfx_send_watermark(d, "wm", T0 + 3600000 + 48 * 3600000LL + 1);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->alert_id, "call_unsubmitted:call/C-R");
    assert_string_equal(tp_test_evidence(d->got.alerts[0], "due_at"), "2026-01-03T01:00:00Z");
    tp_dfx_expect_nothing_more(d);
    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "duplicates", 1 }, { "seq_gaps", 0 });
    free(log);
}

/* Wall clock: a deadline that passes while the daemon is down fires at
 * start-up, with its original due time in the evidence. The deadline must
 * still be ahead when the SIGKILL lands (else it may have fired before:
 * nothing tested); on a machine too loaded for a 1.5 s margin the attempt
 * is made again with twice the margin, not failed. */
static void test_deadline_missed_while_down_fires_at_start(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("wall", NULL);
    int64_t   due = 0;
    char      call_id[32] = "";
    for (int64_t margin = 1500;; margin *= 2) {
        assert_true(margin <= 24000);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t wall = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        due = wall + margin;
        snprintf(call_id, sizeof call_id, "C-W%lld", (long long)margin);
        tp_test_call_t c = { .event_id = call_id,
                             .at_ms = wall,
                             .call_id = call_id,
                             .status = TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED,
                             .call_at_ms = due - 48 * 3600000LL };
        tp_dfx_send_call(d, &c);
        /* A probe after it: once its alert is back, the call is committed
         * (the call's own alert may come first, if it fired already). */
        char probe_id[40];
        snprintf(probe_id, sizeof probe_id, "C-probe-%lld", (long long)margin);
        tp_test_call_t probe = {
            .event_id = probe_id, .at_ms = wall, .call_id = probe_id, .status = SUBMITTED
        };
        tp_dfx_send_call(d, &probe);
        do
            assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        while (strcmp(d->got.alerts[d->got.n - 1]->call_id, probe_id) != 0);
        /* The timer cannot fire before `due`: killed 50 ms before it, the
         * daemon died with the deadline still ahead. */
        clock_gettime(CLOCK_REALTIME, &ts);
        int64_t at_kill = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        assert_int_equal(tp_proc_signal(&d->proc, SIGKILL), 0);
        assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 128 + SIGKILL);
        if (at_kill < due - 50)
            break;
        print_message("%s: killed only %lld ms before its deadline (loaded machine): again, "
                      "%lld ms ahead\n",
                      call_id, (long long)(due - at_kill), (long long)margin * 2);
        tp_dfx_restart(d, NULL);
    }
    /* Down while the deadline passes (seconds, not minutes). */
    for (;;) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        if ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 > due + 100)
            break;
        nanosleep(&(struct timespec){ .tv_nsec = 50000000 }, NULL);
    }
    tp_dfx_restart(d, NULL);
    /* It fired while the consumer was re-syncing: ask the journal. */
    static replay_t r;
    const char     *dueline = NULL;
    long long       deadline = tp_now_ms() + TP_WAIT_MS;
    size_t          at = 0;
    while (!dueline) {
        s_replay(d, "REPLAY", "0", &r);
        for (size_t i = 0; i < r.n && !dueline; i++)
            if (strcmp(r.call[i], call_id) == 0) {
                dueline = r.call[i];
                at = i;
            }
        assert_true(tp_now_ms() < deadline);
    }
    assert_true(r.seq[at] > 0);
    /* The published alert, as a late subscriber gets it from the journal. */
    char *out = tp_read_file(d->out); /* --print-alerts: the restarted daemon's */
    char  alert_id[64];
    snprintf(alert_id, sizeof alert_id, "call_unsubmitted:call/%s", call_id);
    const char *line = strstr(out, alert_id);
    assert_non_null(line);
    char      want[32];
    time_t    secs = (time_t)(due / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(want, sizeof want, "\"due_at\":\"%Y-%m-%dT%H:%M:%S", &tm);
    assert_non_null(strstr(line, want));
    free(out);
    free(tp_dfx_stop(d));
}

/* A reliable producer's event over limits.max_message_bytes is NACKed
 * with its event_id and the reason (it used to be dropped silently, so the
 * producer resent it for ever); the connection stays usable. */
static void test_reliable_oversize_is_nacked(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", "limits:\n  max_message_bytes: 1000\n");
    void     *s = zmq_socket(d->zctx, ZMQ_DEALER);
    int       zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, d->reliable_ep), 0);

    static char notes[2000];
    memset(notes, 'n', sizeof notes - 1);
    tp_test_call_t bc = {
        .event_id = "big-1", .at_ms = T0, .call_id = "C-BIG", .status = SUBMITTED, .notes = notes
    };
    uint8_t *big;
    size_t   big_len = tp_test_pack_call(&bc, &big);
    assert_true(big_len > 1000);

    uint8_t       *small;
    tp_test_call_t c = {
        .event_id = "small-1", .at_ms = T0, .call_id = "C-SMALL", .status = SUBMITTED
    };
    size_t      small_len = tp_test_pack_call(&c, &small);
    const char *expect_what[] = { "NACK", "ACK" }, *expect_id[] = { "big-1", "small-1" };
    for (int round = 0; round < 2; round++) {
        zmq_send(s, "crm.call", 8, ZMQ_SNDMORE);
        zmq_send(s, round ? small : big, round ? small_len : big_len, 0);
        zmq_pollitem_t item = { .socket = s, .events = ZMQ_POLLIN };
        assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
        char what[8] = "", id[32] = "", reason[160] = "";
        assert_true(zmq_recv(s, what, sizeof what - 1, 0) > 0);
        assert_true(zmq_recv(s, id, sizeof id - 1, 0) >= 0);
        assert_string_equal(what, expect_what[round]);
        assert_string_equal(id, expect_id[round]);
        if (round == 0) {
            assert_true(zmq_recv(s, reason, sizeof reason - 1, 0) > 0);
            assert_non_null(strstr(reason, "is over limits.max_message_bytes (1000)"));
        }
    }
    free(big);
    free(small);
    zmq_close(s);
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "oversize"), 1);
    free(log);
}

/* Reliable ingest: ACK after commit, again for a resend, NACK with a
 * reason for what can never be accepted. */
static void test_reliable_ingest_acks_after_commit(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
    void     *s = zmq_socket(d->zctx, ZMQ_DEALER);
    int       zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, d->reliable_ep), 0);
    uint8_t       *buf;
    tp_test_call_t c = { .event_id = "r1", .at_ms = T0, .call_id = "C-REL", .status = SUBMITTED };
    size_t         len = tp_test_pack_call(&c, &buf);
    const char    *expect[] = { "ACK", "ACK", "NACK" };
    for (int round = 0; round < 3; round++) {
        if (round < 2) { /* the event, then its resend */
            zmq_send(s, "crm.call", 8, ZMQ_SNDMORE);
            zmq_send(s, buf, len, 0);
        } else { /* a payload on the wrong topic */
            zmq_send(s, "crm.feedback", 12, ZMQ_SNDMORE);
            zmq_send(s, buf, len, 0);
        }
        zmq_pollitem_t item = { .socket = s, .events = ZMQ_POLLIN };
        assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
        char what[8] = "", id[32] = "", reason[128] = "";
        int  n = zmq_recv(s, what, sizeof what - 1, 0);
        assert_true(n > 0);
        n = zmq_recv(s, id, sizeof id - 1, 0);
        assert_true(n >= 0);
        assert_string_equal(what, expect[round]);
        assert_string_equal(id, "r1");
        if (round == 2) {
            n = zmq_recv(s, reason, sizeof reason - 1, 0);
            assert_true(n > 0);
            assert_non_null(strstr(reason, "topic crm.feedback carries call payload"));
        }
    }
    free(buf);
    /* The ACK came after the commit: the alert is in the journal now. */
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->call_id, "C-REL");
    zmq_close(s);
    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "duplicates", 1 }, { "bad_mismatch", 1 });
    free(log);
}

/* Timers keep running under a flood: with a 5 ms commit interval, 30,000
 * events arriving as fast as the producer can send are committed in many
 * transactions, not one at the end (libevent runs an event re-activated
 * from its own callback again in the same pass; the bus must yield through
 * a timer or every timer, rule deadlines included, waits for the flood). */
static void test_timers_run_during_a_flood(void **state) {
    tp_dfx_t      *d = *state = tp_dfx_start("event", "journal: { commit_interval: 5ms }\n");
    const unsigned n = 30000;
    /* Commits before the flood (the probes'), so only the flood's count. */
    unsigned long long before = tp_dfx_live_stat(d, "journal_commits");
    for (unsigned i = 0; i < n; i++) {
        char id[32];
        snprintf(id, sizeof id, "fl-%u", i);
        tp_test_call_t c = { .event_id = id,
                             .at_ms = T0,
                             .call_id = id,
                             .status = SUBMITTED,
                             .fields = TP_FIELD_PRODUCTS | TP_FIELD_TOPICS | TP_FIELD_NOTES |
                                       TP_FIELD_NEXT_STEP };
        tp_dfx_send_call(d, &c);
    }
    tp_test_call_t last = {
        .event_id = "fl-last", .at_ms = T0, .call_id = "fl-last", .status = SUBMITTED
    };
    tp_dfx_send_call(d, &last);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    /* fl-last's alert is out, so it and the flood are committed; the
     * shutdown flush is not counted. One transaction for the flood would
     * make this at most 2 (the flood, fl-last). */
    unsigned long long commits = tp_dfx_live_stat(d, "journal_commits") - before;
    print_message("%u events, %llu group commits\n", n, commits);
    assert_true(commits > 2);
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "accepted"), n + 1 + d->probes);
    free(log);
}

TP_TEST_MAIN(
    cmocka_unit_test_teardown(test_sequences_survive_restarts_and_replay_serves_them,
                              tp_dfx_teardown),
    cmocka_unit_test_teardown(test_pub_drops_are_counted_and_journal_has_all, tp_dfx_teardown),
    cmocka_unit_test_teardown(test_corrupt_journal_is_refused_then_moved_aside, tp_dfx_teardown),
    cmocka_unit_test_teardown(test_durable_consumer_catches_up, tp_dfx_teardown),
    cmocka_unit_test_teardown(test_state_survives_sigkill, tp_dfx_teardown),
    cmocka_unit_test_teardown(test_deadline_missed_while_down_fires_at_start, tp_dfx_teardown),
    cmocka_unit_test_teardown(test_reliable_ingest_acks_after_commit, tp_dfx_teardown),
    cmocka_unit_test_teardown(test_reliable_oversize_is_nacked, tp_dfx_teardown),
    cmocka_unit_test_teardown(test_timers_run_during_a_flood, tp_dfx_teardown))
