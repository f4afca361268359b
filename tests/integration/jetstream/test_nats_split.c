/* test_nats_split — a network split: one touchpointd instance cut off from
 * a 3-node JetStream cluster must stop serving its partitions before their
 * leases can be taken by another instance: no partition served twice.
 *
 * Three nats-servers clustered on loopback, three daemons with
 * nats.ownership: lease (lease_ttl 2 s, replicas 3, event clock). i0 reaches
 * the cluster only through a TCP forwarder in this test (tp_testfwd); i1 and
 * i2 directly. After part 1 of the generated stream, the forwarder is cut
 * (a black hole: nothing closed, nothing answered, as on a real split).
 * Until i1 and i2 serve every partition i0 had, each poll reads their logs
 * first and i0's after: a partition live on a survivor and still live on
 * i0 read later was served twice at that moment, and the test fails. Part 2
 * is published during the split; then the forwarder is restored, i0 rejoins
 * and gets its share again, part 3 follows, and TP_ALERTS must hold exactly
 * what a single node raises for the whole stream.
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

#include "tp_testfwd.h"
#include "tp_testjs.h"

#define N_NODES   3
#define N_DAEMONS 3
#define BUDGET_MS 120000

/* Polls until i1 and i2 serve every partition in `moved`, failing if one
 * of them is also still live on i0. Returns the ms i0 took to let go of
 * all of them (from `cut_ms`), through *ret_drop_ms. */
static void s_wait_takeover(tp_dfx_t *d[], unsigned moved, long long cut_ms,
                            long long *ret_drop_ms) {
    long long deadline = tp_now_ms() + tp_js_budget(3 * TP_WAIT_MS, "take-over during the split");
    *ret_drop_ms = -1;
    for (;;) {
        unsigned others = tp_js_live_of(d[1]) | tp_js_live_of(d[2]);
        unsigned cut_off = tp_js_live_of(d[0]); /* read after: still live now */
        if (others & cut_off) {
            tp_js_dump_log("i0", d[0]);
            fail_msg("partitions %#x served twice: live on i1/i2 (%#x) while i0, cut off "
                     "%lld ms ago, still serves %#x",
                     others & cut_off, others, tp_now_ms() - cut_ms, cut_off);
        }
        if ((cut_off & moved) == 0 && *ret_drop_ms < 0)
            *ret_drop_ms = tp_now_ms() - cut_ms;
        if ((others & moved) == moved)
            return;
        if (tp_now_ms() >= deadline)
            fail_msg("no take-over of %#x: i1/i2 serve %#x, i0 %#x", moved, others, cut_off);
        usleep(10 * 1000);
    }
}

static void test_split_no_partition_served_twice(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    tp_js_budget_start(BUDGET_MS);
    tp_js_stream_t *st = tp_js_stream_new();
    assert_true(st->nref > 100);

    tp_nats_srv_t *srv[N_NODES];
    char          *urls = NULL, fwd_url[64];
    tp_nats_start_cluster(srv, N_NODES, &urls);
    tp_testfwd_t *fwd = tp_testfwd_start(srv[0]->port);
    snprintf(fwd_url, sizeof fwd_url, "nats://127.0.0.1:%u", tp_testfwd_port(fwd));
    tp_dfx_t *d[N_DAEMONS];
    for (unsigned i = 0; i < N_DAEMONS; i++) {
        char *yaml = tp_nats_yaml(
            i == 0 ? fwd_url : urls, NULL,
            "partition_count: " TP_JS_PARTITIONS
            ", ownership: lease, instance: i%u, lease_ttl: 2s, ack_wait: 2s, replicas: 3",
            i);
        d[i] = tp_dfx_setup(false);
        d[i]->http = true;
        tp_dfx_spawn(d[i], "event", yaml);
        free(yaml);
    }
    unsigned owned[N_DAEMONS];
    tp_js_wait_fair_split(d, N_DAEMONS, owned, 0, "at start");
    print_message("partitions at start: i0 %#x, i1 %#x, i2 %#x\n", owned[0], owned[1], owned[2]);
    tp_js_publish(d[1], urls, st->parts[0]);

    /* The split. */
    tp_testfwd_cut(fwd);
    long long cut = tp_now_ms(), drop_ms;
    s_wait_takeover(d, owned[0], cut, &drop_ms);
    print_message("split: i0 let go of %#x %lld ms after the cut, i1/i2 served them %lld ms "
                  "after it (lease_ttl 2 s)\n",
                  owned[0], drop_ms, tp_now_ms() - cut);
    assert_true(drop_ms >= 0);
    tp_js_publish(d[1], urls, st->parts[1]);
    assert_int_equal(tp_js_live_of(d[0]), 0); /* still cut off: serves nothing */

    /* Healed: i0 reconnects, rejoins and gets its share back. */
    tp_testfwd_restore(fwd);
    tp_js_wait_fair_split(d, N_DAEMONS, owned, 0, "after the split healed");
    print_message("healed: i0 %#x, i1 %#x, i2 %#x\n", owned[0], owned[1], owned[2]);
    tp_js_publish(d[1], urls, st->parts[2]);
    tp_nats_expect_stream(urls, st->ref, st->nref,
                          tp_js_budget(6 * TP_WAIT_MS, "TP_ALERTS after the split"));

    for (unsigned i = 0; i < N_DAEMONS; i++) {
        char *log = tp_dfx_stop(d[i]);
        assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
        print_message("i%u: received %llu acked %llu rebuilds %llu leases lost %llu\n", i,
                      tp_dfx_stat(log, "nats_received"), tp_dfx_stat(log, "nats_acked"),
                      tp_dfx_stat(log, "nats_rebuilds"), tp_dfx_stat(log, "nats_leases_lost"));
        free(log);
        tp_dfx_free(d[i]);
    }
    tp_testfwd_stop(&fwd);
    for (unsigned i = 0; i < N_NODES; i++)
        tp_nats_stop(srv[i]);
    free(urls);
    tp_js_stream_free(&st);
}

TP_TEST_MAIN(cmocka_unit_test(test_split_no_partition_served_twice))
