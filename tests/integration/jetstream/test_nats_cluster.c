/* test_nats_cluster — partitioned touchpointd instances on a JetStream
 * cluster, with failures: three nats-servers clustered on loopback
 * (JetStream, file storage in temp dirs, streams and lease bucket with 3
 * replicas), three real daemons with nats.ownership: lease (event clock,
 * lease_ttl 2 s), tp-pub --nats as the producer of a generated, realistic
 * stream (calls in every status with corrections and cancellations,
 * detractor feedback, contracting cases with returns, watermarks).
 *
 * Mid-stream one daemon is SIGKILLed; later one nats-server is killed. At
 * the end TP_ALERTS must hold exactly the multiset of (alert_id, status) a
 * single-node run of the same input raises through the reliable ZeroMQ
 * input: nothing lost, nothing twice, also after the killed instance comes
 * back and takes its share again. The failover time (SIGKILL -> every
 * partition of the dead instance live on a survivor) is measured and
 * printed, not asserted (wall-clock performance is not a test).
 *
 * Skipped when nats-server is not installed (failed under TP_TEST_REQUIRE_ALL).
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tp_testnats.h"

#define PARTITIONS "8"
#define N_PART     8
#define N_NODES    3
#define N_DAEMONS  3
#define HCPS       24 /* per round, one event each */
#define ROUNDS     24
#define T0         1772352000000LL    /* 2026-03-01 */
#define STEP_MS    (10 * 60 * 1000LL) /* event time between two events */
#define MAX_KEYS   4096

static const char s_full[] =
    "\"products\":[\"Cardiozan\"],\"topics\":[\"dosing\"],"
    "\"notes\":\"Reviewed the renal data.\",\"nextStep\":\"Send the reprint.\"";

static void s_call(FILE *f, unsigned *seq, long long t, unsigned h, const char *id,
                   const char *status, long long call_at, bool submitted, bool complete) {
    char sub[64] = "";
    if (submitted)
        snprintf(sub, sizeof sub, ",\"submittedAtMs\":\"%lld\"", t);
    fprintf(f,
            "{\"eventId\":\"e-%s-%s-%lld\",\"source\":\"crm\",\"sequence\":\"%u\","
            "\"occurredAtMs\":\"%lld\",\"call\":{\"callId\":\"%s\",\"hcpId\":\"HCP-%u\","
            "\"repId\":\"R-%u\",\"accountId\":\"ACC-%u\",\"territory\":\"DE-%u\","
            "\"channel\":\"%s\",\"status\":\"%s\",\"callAtMs\":\"%lld\"%s%s%s}}\n",
            id, status, t, ++*seq, t, id, h, h % 5, h, h % 3, h % 2 ? "IN_PERSON" : "PHONE", status,
            call_at, sub, complete ? "," : "", complete ? s_full : "");
}

static void s_step(FILE *f, unsigned *seq, long long t, unsigned h, unsigned g, const char *step,
                   const char *state, const char *owner) {
    fprintf(f,
            "{\"eventId\":\"k-%u-%u-%s-%s\",\"source\":\"contracts\",\"sequence\":\"%u\","
            "\"occurredAtMs\":\"%lld\",\"contracting\":{\"contractId\":\"K-%u-%u\","
            "\"hcpId\":\"HCP-%u\",\"repId\":\"R-%u\",\"contractType\":\"SPEAKER\","
            "\"step\":\"%s\",\"state\":\"%s\",\"ownerId\":\"%s\",\"atMs\":\"%lld\"%s}}\n",
            h, g, step, state, ++*seq, t, h, g, h, h % 5, step, state, owner, t,
            strcmp(state, "RETURNED") == 0 ? ",\"hcpAction\":true" : "");
}

static void s_watermark(FILE *f, unsigned *seq, long long t) {
    fprintf(f,
            "{\"eventId\":\"wm-%u\",\"source\":\"export\",\"sequence\":\"%u\","
            "\"occurredAtMs\":\"%lld\",\"watermark\":{\"nowMs\":\"%lld\"}}\n",
            *seq + 1, *seq + 1, t, t);
    ++*seq;
}

/* Rounds [r0, r1) of the stream into path: each round one event per HCP
 * (its kind staggered by HCP), then a watermark; `last` adds a final
 * watermark 30 days on, so every armed deadline fires. Event time only
 * grows, as in a CRM export. */
static void s_generate(const char *path, unsigned r0, unsigned r1, bool last) {
    static unsigned crm, contracts, survey, wm; /* sequences continue across parts */
    if (r0 == 0)
        crm = contracts = survey = wm = 0;
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    long long t = T0 + (long long)r0 * (HCPS + 1) * STEP_MS;
    for (unsigned r = r0; r < r1; r++) {
        for (unsigned h = 0; h < HCPS; h++, t += STEP_MS) {
            char id[64], prev[64];
            snprintf(id, sizeof id, "C-%u-%u", h, r);
            unsigned g = (r + h) / 8;
            switch ((r + h) % 8) {
            case 0: s_call(f, &crm, t, h, id, "PLANNED", t + 3600000, false, false); break;
            case 1:
                fprintf(f,
                        "{\"eventId\":\"fb-%u-%u\",\"source\":\"survey\",\"sequence\":\"%u\","
                        "\"occurredAtMs\":\"%lld\",\"feedback\":{\"feedbackId\":\"F-%u-%u\","
                        "\"hcpId\":\"HCP-%u\",\"subjectType\":\"general\",\"nps\":%u,"
                        "\"comment\":\"Too many visits.\",\"atMs\":\"%lld\"}}\n",
                        h, r, ++survey, t, h, r, h, h % 2 ? 3u : 9u, t);
                break;
            case 2: s_call(f, &crm, t, h, id, "SUBMITTED", t - 3600000, true, false); break;
            case 3:
                if (h % 2) { /* the incomplete call of the last round, completed */
                    snprintf(prev, sizeof prev, "C-%u-%u", h, r - 1);
                    s_call(f, &crm, t, h, prev, "SUBMITTED", t - 3600000, true, true);
                } else { /* the planned call of three rounds ago, cancelled */
                    snprintf(prev, sizeof prev, "C-%u-%u", h, r >= 3 ? r - 3 : r);
                    s_call(f, &crm, t, h, prev, "CANCELLED", t + 3600000, false, false);
                }
                break;
            case 4: s_call(f, &crm, t, h, id, "SAVED", t - 7200000, false, true); break;
            case 5: s_step(f, &contracts, t, h, g, "NOMINATION", "STARTED", "REP-1"); break;
            case 6: s_step(f, &contracts, t, h, g, "NOMINATION", "RETURNED", "REP-1"); break;
            default: s_step(f, &contracts, t, h, g, "FMV_REVIEW", "STARTED", "FMV-1"); break;
            }
        }
        s_watermark(f, &wm, t);
        t += STEP_MS;
    }
    if (last)
        s_watermark(f, &wm, t + 30LL * 86400000);
    fclose(f);
}

/* The partitions `log` says are served there now, as a bit set: "partition
 * N live" adds N, "partition N: no longer ours" removes it. */
static unsigned s_live(const char *log) {
    unsigned set = 0;
    for (const char *s = log; s && (s = strstr(s, "JetStream partition ")); s++) {
        unsigned p;
        char     word[8];
        if (sscanf(s, "JetStream partition %u%7s", &p, word) != 2 || p >= N_PART)
            continue;
        if (strcmp(word, "live:") == 0)
            set |= 1u << p;
        else if (strncmp(s + strcspn(s, ":"), ": no longer ours", 16) == 0)
            set &= ~(1u << p);
    }
    return set;
}

static unsigned s_live_of(tp_dfx_t *d) {
    char    *log = tp_read_file(d->err);
    unsigned set = s_live(log);
    free(log);
    return set;
}

/* The whole test's budget: its waits are sequential, and each one's own
 * limit (up to 2 min) added up exceeds ctest's 300 s. Every wait below
 * takes the smaller of its limit and what is left of BUDGET_MS, so a slow
 * run fails with the step that ran out rather than being killed by ctest
 * without a word. */
#define BUDGET_MS 240000
static long long s_end_ms;

static long long s_budget(long long want_ms, const char *what) {
    long long left = s_end_ms - tp_now_ms();
    if (left <= 0)
        fail_msg("the test's %d s budget is spent before: %s", BUDGET_MS / 1000, what);
    return want_ms < left ? want_ms : left;
}

/* tp-pub --nats with the whole file. While a stream elects a new leader
 * (a server was lost) PubAcks fail: a producer sends again, which
 * Nats-Msg-Id makes safe (what was stored is dropped as a duplicate). */
static void s_publish(tp_dfx_t *d, const char *urls, const char *path) {
    const char *args[] = { "--nats", urls, "--partitions", PARTITIONS, path, NULL };
    long long   deadline = tp_now_ms() + s_budget(3 * TP_WAIT_MS, "publishing");
    for (int attempt = 0;; attempt++) {
        char *err = NULL;
        int   r = tp_nats_tp_pub(d, args, &err);
        if (r != 0)
            print_message("tp-pub (attempt %d): %.300s\n", attempt + 1, err ? err : "");
        free(err);
        if (r == 0)
            return;
        assert_true(tp_now_ms() < deadline);
        usleep(1000 * 1000);
    }
}

/* Waits until every partition is live on exactly one instance and none
 * holds more than ceil(N_PART / N_DAEMONS) (and, unless `must_own` is
 * N_DAEMONS, instance `must_own` holds some); owned[] gets each one's set. */
static void s_wait_fair_split(tp_dfx_t *d[], unsigned owned[], unsigned must_own,
                              const char *when) {
    long long deadline = tp_now_ms() + s_budget(3 * TP_WAIT_MS, when);
    for (;;) {
        unsigned all = 0, overlap = 0;
        bool     fair = true;
        for (unsigned i = 0; i < N_DAEMONS; i++) {
            owned[i] = s_live_of(d[i]);
            overlap |= all & owned[i];
            all |= owned[i];
            fair &= __builtin_popcount(owned[i]) <= (N_PART + N_DAEMONS - 1) / N_DAEMONS;
        }
        if (all == (1u << N_PART) - 1 && fair && !overlap &&
            (must_own == N_DAEMONS || owned[must_own]))
            return;
        if (tp_now_ms() >= deadline)
            fail_msg("no fair split %s: i0 %#x, i1 %#x, i2 %#x", when, owned[0], owned[1],
                     owned[2]);
        usleep(50 * 1000);
    }
}

/* What a single node raises for the generated parts, per rule and status
 * (1 FIRING, 2 RESOLVED): the generator is deterministic, so the reference
 * run is checked against these before the cluster is checked against it. */
static const tp_test_count_t s_pinned[] = {
    { "call_incomplete|1", 72 }, { "call_incomplete|2", 33 },   { "call_unsubmitted|1", 111 },
    { "case_stalled|1", 78 },    { "negative_feedback|1", 36 }, { "negative_feedback|2", 36 },
    { "step_slow|1", 75 },
};

static void test_cluster_failover(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    s_end_ms = tp_now_ms() + BUDGET_MS;
    char *dir = tp_tmpdir(), *parts[3];
    for (unsigned i = 0; i < 3; i++) {
        char name[32];
        snprintf(name, sizeof name, "part%u.jsonl", i);
        parts[i] = tp_path(dir, name);
    }
    s_generate(parts[0], 0, 8, false);
    s_generate(parts[1], 8, 16, false);
    s_generate(parts[2], 16, ROUNDS, true);
    static char      *ref[MAX_KEYS];
    const char *const inputs[] = { parts[0], parts[1], parts[2], NULL };
    size_t            nref = tp_nats_reference(inputs, ref, MAX_KEYS);
    print_message("single-node reference: %zu alerts\n", nref);
    tp_test_expect_counts(ref, nref, s_pinned, sizeof s_pinned / sizeof s_pinned[0]);

    tp_nats_srv_t *srv[N_NODES];
    char          *urls = NULL;
    tp_nats_start_cluster(srv, N_NODES, &urls);
    tp_dfx_t *d[N_DAEMONS];
    for (unsigned i = 0; i < N_DAEMONS; i++) {
        char *yaml = NULL;
        assert_true(asprintf(&yaml,
                             "nats: { enabled: true, url: \"%s\", partition_count: " PARTITIONS
                             ", ownership: lease, instance: i%u, lease_ttl: 2s, ack_wait: 2s, "
                             "replicas: 3 }\n",
                             urls, i) > 0);
        d[i] = tp_dfx_setup(false);
        d[i]->http = true;
        tp_dfx_spawn(d[i], "event", yaml);
        free(yaml);
    }
    /* Every partition live somewhere, each on exactly one instance, and
     * the share fair: at most ceil(8 / 3) each (the daemons start one
     * after the other, so the first ones give some back). For a moment two
     * logs may both claim a partition: a lease lost while its worker was
     * busy in a rebuild is logged when the worker gets to it (the worker
     * checks before each batch; what matters, nothing lost or doubled, is
     * checked on TP_ALERTS). */
    unsigned owned[N_DAEMONS];
    s_wait_fair_split(d, owned, N_DAEMONS, "at start");
    print_message("partitions at start: i0 %#x, i1 %#x, i2 %#x\n", owned[0], owned[1], owned[2]);

    /* Part 1, then SIGKILL the instance with most partitions while the
     * others still work through it. */
    s_publish(d[0], urls, parts[0]);
    unsigned victim = 0;
    for (unsigned i = 1; i < N_DAEMONS; i++)
        if (__builtin_popcount(owned[i]) > __builtin_popcount(owned[victim]))
            victim = i;
    assert_int_equal(tp_proc_signal(&d[victim]->proc, SIGKILL), 0);
    long long killed = tp_now_ms();
    s_publish(d[(victim + 1) % N_DAEMONS], urls, parts[1]);

    /* Failover: every partition of the dead instance live on a survivor. */
    long long deadline = tp_now_ms() + s_budget(3 * TP_WAIT_MS, "failover");
    for (;;) {
        unsigned now = 0;
        for (unsigned i = 0; i < N_DAEMONS; i++)
            if (i != victim)
                now |= s_live_of(d[i]) & owned[victim];
        if (now == owned[victim])
            break;
        assert_true(tp_now_ms() < deadline);
        usleep(20 * 1000);
    }
    print_message("failover: partitions %#x of i%u live on the survivors %lld ms after SIGKILL "
                  "(lease_ttl 2 s)\n",
                  owned[victim], victim, tp_now_ms() - killed);
    /* /metrics says the same: the survivors serve all partitions, and
     * took some over. */
    double total = 0, rebuilds = 0;
    for (unsigned i = 0; i < N_DAEMONS; i++) {
        if (i == victim)
            continue;
        total += tp_nats_metric(d[i]->http_port, "touchpointd_nats_partitions_owned");
        rebuilds += tp_nats_metric(d[i]->http_port, "touchpointd_nats_rebuilds_total");
        assert_true(tp_nats_metric(d[i]->http_port, "touchpointd_nats_members") >= 2);
    }
    assert_true(total == N_PART);
    assert_true(rebuilds >= N_PART);

    /* Lose one nats-server (not the first URL, which tp-pub tries first),
     * then the rest of the stream. */
    tp_nats_kill(srv[N_NODES - 1]);
    tp_dfx_t *any = d[(victim + 1) % N_DAEMONS];
    s_publish(any, urls, parts[2]);
    tp_nats_expect_stream(urls, ref, nref,
                          s_budget(6 * TP_WAIT_MS, "TP_ALERTS after a server loss"));

    /* The killed instance comes back (same id, empty: no journal state):
     * the survivors give partitions back until the split is fair again, it
     * rebuilds them from the stream, and nothing is published twice. */
    tp_dfx_restart(d[victim], NULL);
    s_wait_fair_split(d, owned, victim, "after the rejoin");
    print_message("rejoined: i0 %#x, i1 %#x, i2 %#x\n", owned[0], owned[1], owned[2]);
    /* With a node down, reading TP_ALERTS can take several 5 s API timeouts. */
    tp_nats_expect_stream(urls, ref, nref, s_budget(6 * TP_WAIT_MS, "TP_ALERTS after the rejoin"));

    for (unsigned i = 0; i < N_DAEMONS; i++) {
        char *log = tp_dfx_stop(d[i]);
        assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
        print_message("i%u: received %llu acked %llu published %llu publish errors %llu "
                      "rebuilds %llu rebuild events %llu leases lost %llu\n",
                      i, tp_dfx_stat(log, "nats_received"), tp_dfx_stat(log, "nats_acked"),
                      tp_dfx_stat(log, "nats_alerts_published"),
                      tp_dfx_stat(log, "nats_publish_errors"), tp_dfx_stat(log, "nats_rebuilds"),
                      tp_dfx_stat(log, "nats_rebuild_events"),
                      tp_dfx_stat(log, "nats_leases_lost"));
        free(log);
    }
    /* Nothing more arrives after they stopped cleanly. */
    tp_nats_expect_stream(urls, ref, nref, s_budget(3 * TP_WAIT_MS, "TP_ALERTS after the stop"));
    print_message("done in %lld s of the %d s budget\n",
                  (tp_now_ms() - (s_end_ms - BUDGET_MS)) / 1000, BUDGET_MS / 1000);
    for (unsigned i = 0; i < N_DAEMONS; i++)
        tp_dfx_free(d[i]);
    for (unsigned i = 0; i < N_NODES; i++)
        tp_nats_stop(srv[i]);
    free(urls);
    tp_nats_free_keys(ref, nref);
    for (unsigned i = 0; i < 3; i++)
        free(parts[i]);
    tp_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cluster_failover),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
