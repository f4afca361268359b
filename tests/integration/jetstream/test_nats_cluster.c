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

#include "tp_testjs.h"

#define N_NODES   3
#define N_DAEMONS 3
#define BUDGET_MS 240000 /* the waits are sequential: see tp_js_budget */

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
    tp_js_budget_start(BUDGET_MS);
    tp_js_stream_t *st = tp_js_stream_new();
    print_message("single-node reference: %zu alerts\n", st->nref);
    tp_test_expect_counts(st->ref, st->nref, s_pinned, sizeof s_pinned / sizeof s_pinned[0]);

    tp_nats_srv_t *srv[N_NODES];
    char          *urls = NULL;
    tp_nats_start_cluster(srv, N_NODES, &urls);
    tp_dfx_t *d[N_DAEMONS];
    for (unsigned i = 0; i < N_DAEMONS; i++) {
        char *yaml = tp_nats_yaml(
            urls, NULL,
            "partition_count: " TP_JS_PARTITIONS
            ", ownership: lease, instance: i%u, lease_ttl: 2s, ack_wait: 2s, replicas: 3",
            i);
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
    tp_js_wait_fair_split(d, N_DAEMONS, owned, N_DAEMONS, "at start");
    print_message("partitions at start: i0 %#x, i1 %#x, i2 %#x\n", owned[0], owned[1], owned[2]);

    /* Part 1, then SIGKILL the instance with most partitions while the
     * others still work through it. */
    tp_js_publish(d[0], urls, st->parts[0]);
    unsigned victim = 0;
    for (unsigned i = 1; i < N_DAEMONS; i++)
        if (__builtin_popcount(owned[i]) > __builtin_popcount(owned[victim]))
            victim = i;
    assert_int_equal(tp_proc_signal(&d[victim]->proc, SIGKILL), 0);
    long long killed = tp_now_ms();
    tp_js_publish(d[(victim + 1) % N_DAEMONS], urls, st->parts[1]);

    /* Failover: every partition of the dead instance live on a survivor. */
    long long deadline = tp_now_ms() + tp_js_budget(3 * TP_WAIT_MS, "failover");
    for (;;) {
        unsigned now = 0;
        for (unsigned i = 0; i < N_DAEMONS; i++)
            if (i != victim)
                now |= tp_js_live_of(d[i]) & owned[victim];
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
    assert_true(total == TP_JS_N_PART);
    assert_true(rebuilds >= TP_JS_N_PART);

    /* Lose one nats-server (not the first URL, which tp-pub tries first),
     * then the rest of the stream. */
    tp_nats_kill(srv[N_NODES - 1]);
    tp_dfx_t *any = d[(victim + 1) % N_DAEMONS];
    tp_js_publish(any, urls, st->parts[2]);
    tp_nats_expect_stream(urls, st->ref, st->nref,
                          tp_js_budget(6 * TP_WAIT_MS, "TP_ALERTS after a server loss"));

    /* The killed instance comes back (same id, empty: no journal state):
     * the survivors give partitions back until the split is fair again, it
     * rebuilds them from the stream, and nothing is published twice. */
    tp_dfx_restart(d[victim], NULL);
    tp_js_wait_fair_split(d, N_DAEMONS, owned, victim, "after the rejoin");
    print_message("rejoined: i0 %#x, i1 %#x, i2 %#x\n", owned[0], owned[1], owned[2]);
    /* With a node down, reading TP_ALERTS can take several 5 s API timeouts. */
    tp_nats_expect_stream(urls, st->ref, st->nref,
                          tp_js_budget(6 * TP_WAIT_MS, "TP_ALERTS after the rejoin"));

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
    tp_nats_expect_stream(urls, st->ref, st->nref,
                          tp_js_budget(3 * TP_WAIT_MS, "TP_ALERTS after the stop"));
    for (unsigned i = 0; i < N_DAEMONS; i++)
        tp_dfx_free(d[i]);
    for (unsigned i = 0; i < N_NODES; i++)
        tp_nats_stop(srv[i]);
    free(urls);
    tp_js_stream_free(&st);
}

TP_TEST_MAIN(cmocka_unit_test(test_cluster_failover))
