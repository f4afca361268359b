/* test_nats_settle — how the daemon settles JetStream messages, seen from
 * the server's side (consumer info, the lease bucket), against a real
 * nats-server:
 *
 *   - an event that can never be accepted is terminated (+TERM): nothing
 *     left pending, nothing redelivered;
 *   - an event not acknowledged within nats.ack_wait is redelivered by the
 *     server (the daemon is frozen with SIGSTOP meanwhile), and the
 *     redelivered copies change nothing: the alerts are the expected ones,
 *     once each;
 *   - SIGTERM in lease mode deletes the instance's leases and member key
 *     on the way out, so the others take over at once, not after lease_ttl.
 *
 * Skipped without nats-server (a failure under TP_TEST_REQUIRE_ALL).
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
#include <cmocka.h>
#include <zmq.h>

#include <nats/nats.h>

#include "tp_testnats.h"

#define CONSUMER "touchpointd-p0" /* nats.consumer "-p" partition, static mode */

/* The durable consumer's info (caller destroys); NULL if it does not exist. */
static jsConsumerInfo *s_consumer(const char *url) {
    natsConnection *nc = NULL;
    jsCtx          *js = NULL;
    jsConsumerInfo *ci = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    if (js_GetConsumerInfo(&ci, js, "TP_EVENTS", CONSUMER, NULL, NULL) != NATS_OK)
        ci = NULL;
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return ci;
}

/* Writes `text` to <d->dir>/name and publishes it with tp-pub --nats. */
static void s_publish_text(tp_dfx_t *d, const char *url, const char *name, const char *text) {
    char *path = tp_path(d->dir, name);
    assert_int_equal(tp_write_file(path, text), 0);
    const char *args[] = { "--nats", url, "--partitions", "1", path, NULL };
    char       *err = NULL;
    int         r = tp_nats_tp_pub(d, args, &err);
    if (r != 0)
        fail_msg("tp-pub --nats: %s", err ? err : "");
    free(err);
    free(path);
}

/* Two contracts for one HCP with limits.max_open_cases_per_hcp: 1: the
 * second can never be accepted. It is terminated, not left to ack_wait and
 * not NAKed into a redelivery loop. */
static void test_never_acceptable_is_terminated(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    tp_nats_srv_t *n = tp_nats_start();
    char          *yaml = tp_nats_yaml(n->url, "limits: { max_open_cases_per_hcp: 1 }\n",
                                       "partition_count: 1, ack_wait: 1s");
    tp_dfx_t      *d = tp_dfx_setup(false);
    d->http = true;
    tp_dfx_spawn(d, "event", yaml);
    s_publish_text(
        d, n->url, "two.jsonl",
        "{\"eventId\":\"k1\",\"source\":\"contracts\",\"occurredAtMs\":\"1772352000000\","
        "\"contracting\":{\"contractId\":\"K-1\",\"hcpId\":\"HCP-X\",\"repId\":\"R-1\","
        "\"contractType\":\"SPEAKER\",\"step\":\"NOMINATION\",\"state\":\"COMPLETED\","
        "\"ownerId\":\"O-1\",\"atMs\":\"1772352000000\"}}\n"
        "{\"eventId\":\"k2\",\"source\":\"contracts\",\"occurredAtMs\":\"1772352001000\","
        "\"contracting\":{\"contractId\":\"K-2\",\"hcpId\":\"HCP-X\",\"repId\":\"R-1\","
        "\"contractType\":\"SPEAKER\",\"step\":\"NOMINATION\",\"state\":\"COMPLETED\","
        "\"ownerId\":\"O-1\",\"atMs\":\"1772352001000\"}}\n");
    /* Both settled: the server has nothing pending for the consumer. */
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        jsConsumerInfo *ci = s_consumer(n->url);
        bool            done = ci && ci->Delivered.Consumer >= 2 && ci->NumAckPending == 0;
        int64_t         redelivered = ci ? ci->NumRedelivered : 0;
        jsConsumerInfo_Destroy(ci);
        assert_int_equal(redelivered, 0);
        if (done)
            break;
        assert_true(tp_now_ms() < deadline);
        zmq_poll(NULL, 0, 50); /* the server's state: polled, bounded */
    }
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "nats_received"), 2);
    assert_int_equal(tp_dfx_stat(log, "nats_acked"), 1);
    assert_int_equal(tp_dfx_stat(log, "nats_termed"), 1);
    assert_int_equal(tp_dfx_stat(log, "cases_over_hcp_limit"), 1);
    free(log);
    jsConsumerInfo *ci = s_consumer(n->url);
    assert_non_null(ci);
    assert_int_equal(ci->NumRedelivered, 0);
    assert_int_equal(ci->NumAckPending, 0);
    jsConsumerInfo_Destroy(ci);
    tp_dfx_free(d);
    free(yaml);
    tp_nats_stop(n);
}

/* Frozen (SIGSTOP) while the events arrive: nothing is acknowledged, so
 * after ack_wait (1 s) the server redelivers (its consumer info counts
 * them). Thawed, the daemon gets originals and copies; it raises each
 * alert once, the same as for a single delivery. */
static void test_unacked_is_redelivered_after_ack_wait(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    tp_nats_srv_t *n = tp_nats_start();
    char          *yaml = tp_nats_yaml(n->url, NULL, "partition_count: 1, ack_wait: 1s");
    tp_dfx_t      *d = tp_dfx_setup(false);
    tp_dfx_spawn(d, "event", yaml);
    /* Three incomplete calls: one call_incomplete alert each. */
    assert_int_equal(tp_proc_signal(&d->proc, SIGSTOP), 0);
    s_publish_text(d, n->url, "calls.jsonl",
                   "{\"eventId\":\"r1\",\"source\":\"crm\",\"occurredAtMs\":\"1772352000000\","
                   "\"call\":{\"callId\":\"C-R1\",\"hcpId\":\"HCP-1\",\"repId\":\"R-1\","
                   "\"status\":\"SUBMITTED\",\"callAtMs\":\"1772352000000\"}}\n"
                   "{\"eventId\":\"r2\",\"source\":\"crm\",\"occurredAtMs\":\"1772352001000\","
                   "\"call\":{\"callId\":\"C-R2\",\"hcpId\":\"HCP-2\",\"repId\":\"R-1\","
                   "\"status\":\"SUBMITTED\",\"callAtMs\":\"1772352001000\"}}\n"
                   "{\"eventId\":\"r3\",\"source\":\"crm\",\"occurredAtMs\":\"1772352002000\","
                   "\"call\":{\"callId\":\"C-R3\",\"hcpId\":\"HCP-3\",\"repId\":\"R-1\","
                   "\"status\":\"SUBMITTED\",\"callAtMs\":\"1772352002000\"}}\n");
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    int64_t   redelivered = 0;
    while (redelivered < 1) {
        jsConsumerInfo *ci = s_consumer(n->url);
        redelivered = ci ? ci->NumRedelivered : 0;
        jsConsumerInfo_Destroy(ci);
        if (tp_now_ms() >= deadline) {
            tp_proc_signal(&d->proc, SIGCONT);
            fail_msg("nothing redelivered within %d ms (ack_wait 1 s)", TP_WAIT_MS);
        }
        zmq_poll(NULL, 0, 50); /* the server's state: polled, bounded */
    }
    assert_int_equal(tp_proc_signal(&d->proc, SIGCONT), 0);

    static const char *const want[] = { "call_incomplete:call/C-R1|1",
                                        "call_incomplete:call/C-R2|1",
                                        "call_incomplete:call/C-R3|1", NULL };
    for (int i = 0; i < 3; i++)
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    tp_dfx_expect_nothing_more(d);
    char  *keys[8];
    size_t nkeys = 0;
    for (size_t i = 0; i < d->got.n; i++)
        nkeys = tp_nats_key(keys, nkeys, d->got.alerts[i]);
    tp_nats_expect_keys(keys, nkeys, want);
    tp_nats_free_keys(keys, nkeys);
    /* Every copy settled once the daemon runs again. */
    deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        jsConsumerInfo *ci = s_consumer(n->url);
        bool            settled = ci && ci->NumAckPending == 0;
        jsConsumerInfo_Destroy(ci);
        if (settled)
            break;
        assert_true(tp_now_ms() < deadline);
        zmq_poll(NULL, 0, 50);
    }
    char *log = tp_dfx_stop(d);
    assert_true(tp_dfx_stat(log, "nats_received") > 3); /* copies arrived */
    assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
    free(log);
    tp_nats_expect_stream(n->url, (char **)want, 3, TP_WAIT_MS);
    tp_dfx_free(d);
    free(yaml);
    tp_nats_stop(n);
}

/* The lease bucket's value of `key` (caller frees), NULL if absent. */
static char *s_kv_get(const char *url, const char *key) {
    natsConnection *nc = NULL;
    jsCtx          *js = NULL;
    kvStore        *kv = NULL;
    kvEntry        *e = NULL;
    char           *v = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    assert_int_equal(js_KeyValue(&kv, js, "TP_LEASES"), NATS_OK);
    if (kvStore_Get(&e, kv, key) == NATS_OK) {
        v = strdup(kvEntry_ValueString(e));
        kvEntry_Destroy(e);
    }
    kvStore_Destroy(kv);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    return v;
}

/* How many of the 4 partitions' lease keys name `instance`. */
static unsigned s_held_by(const char *url, const char *instance) {
    unsigned n = 0;
    for (unsigned p = 0; p < 4; p++) {
        char key[16];
        snprintf(key, sizeof key, "p.%u", p);
        char *v = s_kv_get(url, key);
        n += v && strcmp(v, instance) == 0;
        free(v);
    }
    return n;
}

/* Two instances split 4 partitions with a 9 s lease_ttl. i1 stops
 * (SIGTERM): by the time it has exited its lease keys and member key are
 * gone (left to expire they would stay up to 9 s), and i0 takes all four. */
static void test_sigterm_releases_leases(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    tp_nats_srv_t *n = tp_nats_start();
    tp_dfx_t      *d[2];
    for (unsigned i = 0; i < 2; i++) {
        char *yaml = tp_nats_yaml(
            n->url, NULL, "partition_count: 4, ownership: lease, instance: i%u, lease_ttl: 9s", i);
        d[i] = tp_dfx_setup(false);
        tp_dfx_spawn(d[i], "event", yaml);
        free(yaml);
    }
    long long deadline = tp_now_ms() + 3 * TP_WAIT_MS;
    while (s_held_by(n->url, "i0") != 2 || s_held_by(n->url, "i1") != 2) {
        assert_true(tp_now_ms() < deadline);
        zmq_poll(NULL, 0, 100); /* the bucket: polled, bounded */
    }
    char *log = tp_dfx_stop(d[1]); /* SIGTERM, exit 0 */
    free(log);
    assert_int_equal(s_held_by(n->url, "i1"), 0);
    char *member = s_kv_get(n->url, "m.i1");
    assert_null(member);
    deadline = tp_now_ms() + 3 * TP_WAIT_MS;
    while (s_held_by(n->url, "i0") != 4) {
        assert_true(tp_now_ms() < deadline);
        zmq_poll(NULL, 0, 100);
    }
    free(tp_dfx_stop(d[0]));
    tp_dfx_free(d[0]);
    tp_dfx_free(d[1]);
    tp_nats_stop(n);
}

TP_TEST_MAIN(cmocka_unit_test(test_never_acceptable_is_terminated),
             cmocka_unit_test(test_unacked_is_redelivered_after_ack_wait),
             cmocka_unit_test(test_sigterm_releases_leases))
