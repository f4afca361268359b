/* test_crash — nothing lost, nothing twice, through SIGKILLs.
 *
 * A reliable producer (tp-pub --reliable, one event in flight so order is
 * kept across crashes) sends 200,000 events of a realistic mix (calls in
 * every status, corrections, contracting steps, surveys) while the test
 * SIGKILLs the daemon at random moments under full write load and
 * restarts it; a durable consumer (tp-tail --durable) runs throughout. At
 * the end the consumer has every alert exactly once (by sequence), and the
 * multiset of (alert_id, status) equals what one clean run of the same
 * input produces (touchpointd --replay). Event clock: deterministic.
 * The clean run is itself checked against counts per rule and status
 * pinned below, so a bug both runs share (a rule that never resolves,
 * dedup off) still fails. At least one kill must have happened; the seed
 * of the kill times is printed and can be replayed with TP_CRASH_SEED. */
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

#include "tp_testdaemon.h"
#include "tp_testutil.h"

#define N_EVENTS 200000
#define T1       1767312000000LL /* 2026-01-02T00:00:00Z: after the fixture's probes */
#define KILLS    3

/* A deterministic realistic stream as JSON lines. */
static void s_generate(const char *path) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    static const char *ch[] = { "IN_PERSON", "PHONE", "VIDEO", "EMAIL" };
    static const char *steps[] = { "NOMINATION",    "NEEDS_ASSESSMENT", "FMV_REVIEW",
                                   "CONTRACT_SENT", "CONTRACT_SIGNED",  "COMPLIANCE_APPROVAL",
                                   "PAYMENT" };
    uint64_t           x = 42;
    int64_t            t = T1;
    unsigned           next_call = 0;
    for (unsigned i = 0; i < N_EVENTS; i++) {
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        unsigned r = (unsigned)(x >> 33) % 100, k = (unsigned)(x >> 20);
        t += 20000 + (int64_t)(k % 40000); /* ~40 s apart: ~90 days in all */
        fprintf(f,
                "{\"eventId\":\"e%u\",\"source\":\"crash\",\"sequence\":\"%u\",\"occurredAtMs\":\"%"
                "lld\",",
                i, i + 1, (long long)t);
        unsigned hcp = k % 3000, rep = k % 150;
        if (r < 80) {
            /* A call: a new one, or a later version of a recent one. */
            unsigned    call = (r < 35 || next_call == 0)
                                   ? next_call++
                                   : next_call - 1 - k % (next_call < 50 ? next_call : 50);
            const char *status = r < 35   ? (r % 7 == 0 ? "SAVED" : "PLANNED")
                                 : r < 72 ? "SUBMITTED"
                                 : r < 78 ? "SUBMITTED"
                                          : "CANCELLED";
            bool        full = r < 72 || (k % 3) == 0;
            fprintf(
                f,
                "\"call\":{\"callId\":\"C%u\",\"hcpId\":\"H%u\",\"repId\":\"R%u\","
                "\"accountId\":\"A%u\",\"territory\":\"T%u\",\"channel\":\"%s\",\"status\":\"%s\","
                "\"callAtMs\":\"%lld\"%s}}\n",
                call % 100000, hcp, rep, hcp % 500, rep % 12, ch[k % 4], status,
                (long long)(t - (int64_t)(k % 3) * 86400000LL),
                full ? ",\"products\":[\"Cardiozan\"],\"topics\":[\"dosing\"],\"notes\":\"n\","
                       "\"nextStep\":\"s\""
                     : "");
        } else if (r < 95) {
            unsigned contract = k % 400;
            fprintf(
                f,
                "\"contracting\":{\"contractId\":\"K%u\",\"hcpId\":\"H%u\",\"repId\":\"R%u\","
                "\"contractType\":\"SPEAKER\",\"step\":\"%s\",\"state\":\"%s\",\"ownerId\":\"O%u\","
                "\"hcpAction\":%s,\"atMs\":\"%lld\"%s}}\n",
                contract, contract % 3000, contract % 150, steps[k % 7],
                (k % 5) == 0 ? "RETURNED"
                : (k % 2)    ? "COMPLETED"
                             : "STARTED",
                k % 9, (k % 4) == 0 ? "true" : "false", (long long)t,
                (k % 97) == 0 ? ",\"caseClosed\":true" : "");
        } else {
            fprintf(f,
                    "\"feedback\":{\"feedbackId\":\"F%u\",\"hcpId\":\"H%u\",\"subjectType\":"
                    "\"general\","
                    "\"nps\":%u,\"preferredChannel\":\"%s\",\"atMs\":\"%lld\"}}\n",
                    i, hcp, k % 11, ch[(k >> 3) % 4], (long long)t);
        }
    }
    fprintf(f,
            "{\"eventId\":\"end\",\"source\":\"export\",\"occurredAtMs\":\"%lld\","
            "\"watermark\":{\"nowMs\":\"%lld\"}}\n",
            (long long)(t + 120 * 86400000LL), (long long)(t + 120 * 86400000LL));
    fclose(f);
}

/* What one clean run of the generated stream raises, per rule and status
 * (the stream is deterministic; a change to a rule that changes these is a
 * change to review, then to pin here). */
static const tp_test_count_t s_pinned[] = {
    { "call_incomplete|ALERT_STATUS_FIRING", 7640 },
    { "call_incomplete|ALERT_STATUS_RESOLVED", 3239 },
    { "call_unsubmitted|ALERT_STATUS_FIRING", 36745 },
    { "call_unsubmitted|ALERT_STATUS_RESOLVED", 16863 },
    { "case_stalled|ALERT_STATUS_FIRING", 375 },
    { "case_stalled|ALERT_STATUS_RESOLVED", 5 },
    { "channel_mismatch|ALERT_STATUS_FIRING", 3486 },
    { "channel_mismatch|ALERT_STATUS_RESOLVED", 1316 },
    { "cycle_time|ALERT_STATUS_FIRING", 214 },
    { "cycle_time|ALERT_STATUS_RESOLVED", 214 },
    { "follow_up_missing|ALERT_STATUS_FIRING", 1151 },
    { "follow_up_missing|ALERT_STATUS_RESOLVED", 1151 },
    { "handoffs|ALERT_STATUS_FIRING", 617 },
    { "handoffs|ALERT_STATUS_RESOLVED", 268 },
    { "hcp_burden|ALERT_STATUS_FIRING", 157 },
    { "hcp_burden|ALERT_STATUS_RESOLVED", 68 },
    { "negative_feedback|ALERT_STATUS_FIRING", 6315 },
    { "negative_feedback|ALERT_STATUS_RESOLVED", 6315 },
    { "rework|ALERT_STATUS_FIRING", 786 },
    { "rework|ALERT_STATUS_RESOLVED", 333 },
    { "step_slow|ALERT_STATUS_FIRING", 1577 },
    { "step_slow|ALERT_STATUS_RESOLVED", 615 },
};
#define N_PINNED (sizeof s_pinned / sizeof s_pinned[0])

static int s_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Multiset of "alertId|status" from JSON lines (skipping the fixture's
 * probes), sorted; also checks sequences are unique when `seqs` is set. */
static size_t s_collect(const char *text, char ***ret, bool check_unique_seq) {
    size_t      cap = 1024, n = 0;
    char      **v = malloc(cap * sizeof *v);
    uint64_t   *seen = NULL;
    size_t      n_seen = 0, cap_seen = 0;
    static char buf[65536];
    for (const char *line = text; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t      len = end ? (size_t)(end - line) : strlen(line);
        /* Search within this line only. */
        size_t cl = len < sizeof buf - 1 ? len : sizeof buf - 1;
        memcpy(buf, line, cl);
        buf[cl] = '\0';
        const char *id = strstr(buf, "\"alertId\":\"");
        const char *st = strstr(buf, "\"status\":\"");
        const char *sq = strstr(buf, "\"sequence\":\"");
        if (id && st && !strstr(buf, "probe-")) {
            id += 11;
            st += 10;
            char key[512];
            snprintf(key, sizeof key, "%.*s|%.*s", (int)(strchr(id, '"') - id), id,
                     (int)(strchr(st, '"') - st), st);
            if (n == cap)
                v = realloc(v, (cap *= 2) * sizeof *v);
            v[n++] = strdup(key);
            if (check_unique_seq && sq) {
                if (n_seen == cap_seen)
                    seen =
                        realloc(seen, (cap_seen = cap_seen ? cap_seen * 2 : 1024) * sizeof *seen);
                seen[n_seen++] = strtoull(sq + 12, NULL, 10);
            }
        }
        line = end ? end + 1 : NULL;
    }
    if (check_unique_seq) {
        for (size_t i = 1; i < n_seen; i++)
            if (seen[i] <= seen[i - 1])
                fail_msg("delivered out of order or twice: sequence %llu after %llu",
                         (unsigned long long)seen[i], (unsigned long long)seen[i - 1]);
    }
    free(seen);
    qsort(v, n, sizeof *v, s_cmp);
    *ret = v;
    return n;
}

static void test_sigkill_under_load_loses_and_repeats_nothing(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
    char     *input = tp_path(d->dir, "input.jsonl");
    s_generate(input);

    /* The reference: one clean run of the same input, same rules. */
    char       *ref_out = tp_path(d->dir, "ref.jsonl"), *ref_err = tp_path(d->dir, "ref.err");
    const char *ref_argv[] = { TP_DAEMON_BIN, "--config", d->cfg, "--replay", input, NULL };
    tp_proc_t   p;
    assert_int_equal(tp_proc_spawn(&p, ref_argv, NULL, ref_out, ref_err), 0);
    assert_int_equal(tp_proc_wait(&p, 120000), 0);
    char  *text = tp_read_file(ref_out);
    char **want;
    size_t n_want = s_collect(text, &want, false);
    free(text);
    tp_test_expect_counts(want, n_want, s_pinned, N_PINNED);

    /* The durable consumer, for the whole run. */
    char       *pos = tp_path(d->dir, "tail.pos"), *tail_out = tp_path(d->dir, "tail.out");
    char       *tail_err = tp_path(d->dir, "tail.err");
    const char *tail_argv[] = { TP_TAIL_BIN,  "--endpoint", d->out_ep, "--replay-endpoint",
                                d->replay_ep, "--durable",  pos,       NULL };
    tp_proc_t   tail;
    assert_int_equal(tp_proc_spawn(&tail, tail_argv, NULL, tail_out, tail_err), 0);

    /* The reliable producer, for the whole run. */
    char       *pub_err = tp_path(d->dir, "pub.err");
    const char *pub_argv[] = {
        TP_PUB_BIN,         "--reliable", "--endpoint", d->reliable_ep, "--window", "1",
        "--ack-timeout-ms", "300",        "--wait-ms",  "60000",        input,      NULL
    };
    tp_proc_t pub;
    assert_int_equal(tp_proc_spawn(&pub, pub_argv, NULL, NULL, pub_err), 0);

    /* SIGKILL at random moments while it streams, then restart. */
    const char *seed_env = getenv("TP_CRASH_SEED");
    unsigned    seed = seed_env ? (unsigned)strtoul(seed_env, NULL, 10) : (unsigned)time(NULL);
    print_message("kill times: seed %u (TP_CRASH_SEED=%u to replay)\n", seed, seed);
    srand(seed);
    int kills = 0;
    for (int k = 0; k < KILLS; k++) {
        int wait_ms = 800 + rand() % 2500;
        if (tp_proc_wait(&pub, wait_ms) != -ETIMEDOUT)
            break; /* finished early: fewer kills */
        kills++;
        assert_int_equal(tp_proc_signal(&d->proc, SIGKILL), 0);
        assert_int_equal(tp_proc_wait(&d->proc, TP_WAIT_MS), 128 + SIGKILL);
        tp_dfx_restart(d, NULL);
    }
    assert_int_equal(tp_proc_wait(&pub, 400000), 0); /* every event acknowledged */

    /* Wait until the consumer has printed as many alerts as the clean run. */
    char    **got = NULL;
    size_t    n_got = 0;
    long long deadline = tp_now_ms() + 120000;
    for (;;) {
        text = tp_read_file(tail_out);
        for (size_t i = 0; i < n_got; i++)
            free(got[i]);
        free(got);
        n_got = s_collect(text ? text : "", &got, true);
        free(text);
        if (n_got >= n_want || tp_now_ms() > deadline)
            break;
        tp_proc_wait(&tail, 200); /* a bounded pause between looks */
    }
    tp_proc_signal(&tail, SIGTERM);
    assert_int_equal(tp_proc_wait(&tail, TP_WAIT_MS), 0);
    print_message("clean run: %zu alerts; consumer through %d kills: %zu alerts\n", n_want, kills,
                  n_got);
    assert_true(kills >= 1); /* else nothing was tested */
    assert_int_equal(n_got, n_want);
    for (size_t i = 0; i < n_want; i++)
        if (strcmp(got[i], want[i]) != 0)
            fail_msg("alert multiset differs at %zu: got %s, want %s", i, got[i], want[i]);
    for (size_t i = 0; i < n_want; i++)
        free(want[i]);
    for (size_t i = 0; i < n_got; i++)
        free(got[i]);
    free(want);
    free(got);
    free(tp_dfx_stop(d));
    free(input);
    free(ref_out);
    free(ref_err);
    free(pos);
    free(tail_out);
    free(tail_err);
    free(pub_err);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_sigkill_under_load_loses_and_repeats_nothing,
                                       tp_dfx_teardown))
