/* test_nats_quorum — two of three NATS servers lost: the daemon stops
 * serving (and so acking) within its lease's validity, loses nothing, and
 * resumes when quorum returns.
 *
 * Three nats-servers clustered on loopback (streams and lease bucket with 3
 * replicas), one daemon with nats.ownership: lease (lease_ttl 2 s, event
 * clock) serving all 8 partitions. Part 1 of the generated stream is
 * consumed; the daemon is then stopped (SIGSTOP) while part 2 is published,
 * so it has a backlog, two servers are SIGKILLed and the daemon continued:
 * without quorum no lease can be renewed, and it must serve no partition
 * within lease_ttl + 2 s (the acks counter then stays still). The two
 * servers come back on their storage; the daemon must take its partitions
 * again, and after part 3 TP_ALERTS must hold exactly what a single node
 * raises for the whole stream: nothing lost, nothing twice.
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

#define N_NODES     3
#define BUDGET_MS   120000
#define LEASE_TTL   2000
#define STOP_MAX_MS (LEASE_TTL + 2000) /* quorum lost -> no partition served */

static double s_acked(tp_dfx_t *d) {
    return tp_nats_metric(d->http_port, "touchpointd_nats_acked_total");
}

static void test_quorum_lost_and_back(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    tp_js_budget_start(BUDGET_MS);
    tp_js_stream_t *st = tp_js_stream_new();
    assert_true(st->nref > 100);

    tp_nats_srv_t *srv[N_NODES];
    char          *urls = NULL;
    tp_nats_start_cluster(srv, N_NODES, &urls);
    char     *yaml = tp_nats_yaml(urls, NULL,
                                  "partition_count: " TP_JS_PARTITIONS
                                  ", ownership: lease, instance: q0, lease_ttl: %dms, ack_wait: 2s, "
                                      "replicas: 3",
                                  LEASE_TTL);
    tp_dfx_t *d = tp_dfx_setup(false);
    d->http = true;
    tp_dfx_spawn(d, "event", yaml);
    free(yaml);
    unsigned owned;
    tp_js_wait_fair_split(&d, 1, &owned, 1, "at start");

    /* Part 1 consumed: every message acked. */
    unsigned long msgs = tp_js_publish(d, urls, st->parts[0]);
    assert_true(msgs > 0);
    long long deadline = tp_now_ms() + tp_js_budget(3 * TP_WAIT_MS, "part 1 acked");
    while (s_acked(d) < (double)msgs) {
        assert_true(tp_now_ms() < deadline);
        usleep(20 * 1000);
    }

    /* A backlog, then quorum lost under it. */
    assert_int_equal(tp_proc_signal(&d->proc, SIGSTOP), 0);
    tp_js_publish(d, urls, st->parts[1]);
    tp_nats_kill(srv[1]);
    tp_nats_kill(srv[2]);
    assert_int_equal(tp_proc_signal(&d->proc, SIGCONT), 0);
    long long lost = tp_now_ms();
    deadline = lost + tp_js_budget(STOP_MAX_MS, "serving nothing without quorum");
    unsigned serving;
    while ((serving = tp_js_live_of(d)) != 0) {
        if (tp_now_ms() >= deadline) {
            tp_js_dump_log("q0", d);
            fail_msg("without quorum the daemon still serves %#x %lld ms later (lease_ttl %d ms)",
                     serving, tp_now_ms() - lost, LEASE_TTL);
        }
        usleep(10 * 1000);
    }
    long long stopped_ms = tp_now_ms() - lost;
    double    acked = s_acked(d);
    usleep(1500 * 1000); /* a span with quorum still gone: no ack in it */
    assert_true(s_acked(d) == acked);
    assert_int_equal(tp_js_live_of(d), 0);
    print_message("quorum lost: serving nothing after %lld ms, %.0f of %lu messages acked\n",
                  stopped_ms, acked, msgs);

    /* Quorum back: the daemon takes its partitions again. */
    tp_js_restart_node(srv, N_NODES, 1);
    tp_js_restart_node(srv, N_NODES, 2);
    long long back = tp_now_ms();
    tp_js_wait_fair_split(&d, 1, &owned, 1, "after quorum returned");
    print_message("quorum back: all partitions served again after %lld ms\n", tp_now_ms() - back);
    tp_js_publish(d, urls, st->parts[2]);
    tp_nats_expect_stream(urls, st->ref, st->nref,
                          tp_js_budget(6 * TP_WAIT_MS, "TP_ALERTS after quorum returned"));

    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
    assert_true(tp_dfx_stat(log, "nats_rebuilds") >= 2 * TP_JS_N_PART);
    print_message("received %llu acked %llu published %llu publish errors %llu rebuilds %llu\n",
                  tp_dfx_stat(log, "nats_received"), tp_dfx_stat(log, "nats_acked"),
                  tp_dfx_stat(log, "nats_alerts_published"),
                  tp_dfx_stat(log, "nats_publish_errors"), tp_dfx_stat(log, "nats_rebuilds"));
    free(log);
    tp_dfx_free(d);
    for (unsigned i = 0; i < N_NODES; i++)
        tp_nats_stop(srv[i]);
    free(urls);
    tp_js_stream_free(&st);
}

TP_TEST_MAIN(cmocka_unit_test(test_quorum_lost_and_back))
