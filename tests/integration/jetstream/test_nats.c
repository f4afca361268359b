/* test_nats — JetStream mode end to end: a real nats-server (-js, file
 * storage in a temp dir, a free loopback port), the real touchpointd with
 * nats.enabled, tp-pub --nats as the producer.
 *
 * The reference for "which alerts" is the same input sent through a
 * single-node daemon's reliable ZeroMQ input; the JetStream run must put
 * exactly that multiset of (alert_id, status) into TP_ALERTS, also across a
 * SIGKILL of the daemon right after the events were published. Event
 * clock, so the alerts do not depend on timing.
 *
 * Skipped when nats-server is not installed (failed under TP_TEST_REQUIRE_ALL).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include <nats/nats.h>

#include "tp_partition.h"
#include "tp_testnats.h"

/* One partition: the comparison with the single-node run needs the same
 * processing order, and an engine consuming several partitions (each in
 * order, interleaved as delivered) with watermarks on every one moves event
 * time in another order. The partitioning itself: test_partition_hash. */
#define PARTITIONS "1"

static const char *const s_inputs[] = { TP_SOURCE_DIR "/tests/data/accountability.jsonl",
                                        TP_SOURCE_DIR "/tests/data/speaker_contract.jsonl", NULL };

/* What a single node raises for s_inputs with the default rules, sorted
 * "alert_id|status" (1 FIRING, 2 RESOLVED): fixed input, fixed answer,
 * written here rather than taken from a run of the daemon under test (the
 * same alerts test_daemon_rules and test_daemon_friction derive rule by
 * rule, plus what the rules of the other family add). */
static const char *const s_want[] = { "call_incomplete:call/C-B3|1",
                                      "call_incomplete:call/C-B3|2",
                                      "call_late:call/C-B2|1",
                                      "call_late:call/C-B2|2",
                                      "call_unsubmitted:call/C-B1|1",
                                      "call_unsubmitted:call/C-B2|1",
                                      "call_unsubmitted:call/C-B2|2",
                                      "case_stalled:contract/K-SPK-01|1",
                                      "case_stalled:contract/K-SPK-01|2",
                                      "channel_mismatch:hcp/HCP-A|1",
                                      "channel_mismatch:hcp/HCP-A|2",
                                      "cycle_time:contract/K-SPK-01|1",
                                      "cycle_time:contract/K-SPK-01|2",
                                      "follow_up_missing:feedback/FB-2|1",
                                      "handoffs:contract/K-SPK-01|1",
                                      "handoffs:contract/K-SPK-01|2",
                                      "hcp_burden:contract/K-SPK-01|1",
                                      "hcp_burden:contract/K-SPK-01|2",
                                      "negative_feedback:feedback/FB-1|1",
                                      "negative_feedback:feedback/FB-1|2",
                                      "negative_feedback:feedback/FB-2|1",
                                      "negative_feedback:feedback/FB-2|2",
                                      "negative_feedback:feedback/FB-SPK-01|1",
                                      "negative_feedback:feedback/FB-SPK-01|2",
                                      "rework:contract/K-SPK-01/step/FMV_REVIEW|1",
                                      "rework:contract/K-SPK-01/step/FMV_REVIEW|2",
                                      "step_slow:contract/K-SPK-01/step/CONTRACT_SENT|1",
                                      "step_slow:contract/K-SPK-01/step/CONTRACT_SENT|2",
                                      "uncoordinated_contact:hcp/HCP-A|1",
                                      "uncoordinated_contact:hcp/HCP-A|2",
                                      NULL };

static int s_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *s_nats_yaml(const tp_nats_srv_t *n) {
    return tp_nats_yaml(n->url, NULL, "partition_count: " PARTITIONS ", ack_wait: 2s");
}

/* Both inputs through tp-pub --nats into `partitions` partitions. */
static void s_publish_inputs(tp_dfx_t *d, const char *url, const char *partitions) {
    for (size_t i = 0; i < 2; i++) {
        const char *args[] = { "--nats", url, "--partitions", partitions, s_inputs[i], NULL };
        assert_int_equal(tp_nats_tp_pub(d, args, NULL), 0);
    }
}

/* One run: the single-node reference alerts, a NATS server and a daemon
 * consuming it with `yaml`, both inputs published into `partitions`. */
typedef struct {
    char          *ref[256];
    size_t         nref;
    tp_nats_srv_t *n;
    char          *yaml;
    tp_dfx_t      *d;
} s_run_t;

/* settings NULL: s_nats_yaml's (static ownership, PARTITIONS partitions). */
static void s_begin(s_run_t *r, const char *settings, const char *partitions) {
    tp_nats_skip_without_server();
    r->nref = tp_nats_reference(s_inputs, r->ref, 256);
    tp_nats_expect_keys(r->ref, r->nref, s_want);
    r->n = tp_nats_start();
    r->yaml = settings ? tp_nats_yaml(r->n->url, NULL, "%s", settings) : s_nats_yaml(r->n);
    r->d = tp_dfx_setup(false);
    tp_dfx_spawn(r->d, "event", r->yaml);
    s_publish_inputs(r->d, r->n->url, partitions);
}

static void s_end(s_run_t *r) {
    tp_dfx_free(r->d);
    free(r->yaml);
    tp_nats_stop(r->n);
    tp_nats_free_keys(r->ref, r->nref);
}

/* tp-pub --nats -> daemon -> alerts on the ZeroMQ PUB and in TP_ALERTS,
 * the same as a single-node run; sending the same events again is dropped
 * by the server (Nats-Msg-Id) before the daemon sees it. */
static void test_flow_and_server_dedup(void **state) {
    (void)state;
    s_run_t r;
    s_begin(&r, NULL, PARTITIONS);
    tp_dfx_t *d = r.d;
    char    **ref = r.ref;
    size_t    nref = r.nref;
    tp_nats_expect_stream(r.n->url, ref, nref, TP_WAIT_MS);
    /* The ZeroMQ PUB carried the same alerts. */
    while (d->got.n < nref && tp_dfx_recv_alert(d, TP_WAIT_MS))
        ;
    char  *pub[256];
    size_t npub = 0;
    for (size_t i = 0; i < d->got.n; i++)
        npub = tp_nats_key(pub, npub, d->got.alerts[i]);
    qsort(pub, npub, sizeof *pub, s_cmp);
    assert_int_equal(npub, nref);
    for (size_t i = 0; i < npub; i++)
        assert_string_equal(pub[i], ref[i]);
    tp_nats_free_keys(pub, npub);

    /* Again: every message is a server-side duplicate. */
    char       *err = NULL;
    const char *args[] = { "--nats", r.n->url, "--partitions", PARTITIONS, s_inputs[1], NULL };
    assert_int_equal(tp_nats_tp_pub(d, args, &err), 0);
    assert_non_null(strstr(err, "acknowledged 19 (duplicates 19)"));
    free(err);
    tp_dfx_expect_nothing_more(d);
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
    assert_int_equal(tp_dfx_stat(log, "nats_publish_errors"), 0);
    assert_int_equal(tp_dfx_stat(log, "nats_received"), tp_dfx_stat(log, "nats_acked"));
    free(log);
    tp_nats_expect_stream(r.n->url, ref, nref, TP_WAIT_MS);
    s_end(&r);
}

/* SIGKILL right after the events are in the stream: what the daemon had
 * not committed is redelivered (not acked), what it had is recognised
 * (journal + dedup), the alerts it had journaled but maybe not published
 * are published again and dropped by the server if they were: TP_ALERTS
 * ends up with the single-node multiset, nothing lost, nothing twice. */
static void test_sigkill_redelivers(void **state) {
    (void)state;
    s_run_t r;
    s_begin(&r, NULL, PARTITIONS);
    assert_int_equal(tp_proc_signal(&r.d->proc, SIGKILL), 0);
    tp_dfx_restart(r.d, NULL);
    tp_nats_expect_stream(r.n->url, r.ref, r.nref, TP_WAIT_MS);
    char *log = tp_dfx_stop(r.d);
    assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
    free(log);
    s_end(&r);
}

/* Stopping while libnats delivers: the daemon is restarted with a backlog
 * of 20,000 events in the stream and stopped (SIGTERM) as soon as it is up,
 * several times, so the stop lands while libnats' delivery thread is inside
 * the message handler. tp_nats_destroy used to free the handoff queue, its
 * lock and the wake-up event right after closing the connection, while that
 * thread could still be using them (libnats documents the risk: see
 * natsSubscription_SetOnCompleteCB); every stop must be clean (exit 0, no
 * ASan report). The window is a few instructions: this stress test did not
 * catch the old code in three ASan runs, it guards the shutdown path. */
static void test_stop_while_delivering(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    tp_nats_srv_t *n = tp_nats_start();
    char          *yaml = s_nats_yaml(n);
    tp_dfx_t      *d = tp_dfx_setup(false);
    tp_dfx_spawn(d, "event", yaml);
    char *path = tp_path(d->dir, "backlog.jsonl");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 0; i < 20000; i++)
        fprintf(f,
                "{\"eventId\":\"bl-%u\",\"source\":\"crm\",\"sequence\":\"%u\","
                "\"occurredAtMs\":\"1772352000000\",\"call\":{\"callId\":\"BL-%u\","
                "\"hcpId\":\"HCP-%u\",\"repId\":\"R-1\",\"channel\":\"PHONE\","
                "\"status\":\"PLANNED\",\"callAtMs\":\"1775000000000\"}}\n",
                i, i + 1, i, i % 97);
    fclose(f);
    char *log = tp_dfx_stop(d);
    free(log);
    const char *args[] = { "--nats", n->url, "--partitions", PARTITIONS, path, NULL };
    assert_int_equal(tp_nats_tp_pub(d, args, NULL), 0);
    for (int i = 0; i < 5; i++) {
        tp_dfx_restart(d, NULL);
        log = tp_dfx_stop(d); /* asserts exit status 0 */
        assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
        free(log);
    }
    free(path);
    tp_dfx_free(d);
    free(yaml);
    tp_nats_stop(n);
}

/* Lease mode on one instance: it takes every partition and its alerts
 * reach TP_ALERTS like the single-node run; a SIGHUP is refused (the
 * partition engines borrow the config on their own thread, and a reload
 * frees the old one: accepting it was a use-after-free) and the daemon
 * keeps running. */
static void test_lease_single_instance_and_reload(void **state) {
    (void)state;
    s_run_t r;
    /* Four partitions, one engine each: the same alerts as one engine. */
    s_begin(&r, "partition_count: 4, ownership: lease, lease_ttl: 1s", "4");
    tp_nats_expect_stream(r.n->url, r.ref, r.nref, TP_WAIT_MS);
    assert_false(tp_dfx_reload(r.d, "event", r.yaml));
    char *log = tp_dfx_stop(r.d);
    assert_non_null(strstr(log, "nats.ownership: lease takes no reload"));
    assert_int_equal(tp_dfx_stat(log, "nats_partitions_owned"), 4);
    free(log);
    s_end(&r);
}

/* The documented hash and subjects, which producers in other languages
 * reimplement: FNV-1a 32 test vectors, hcp_id keying, watermark broadcast. */
static void test_partition_hash(void **state) {
    (void)state;
    assert_int_equal(tp_fnv1a32(""), 0x811c9dc5u);
    assert_int_equal(tp_fnv1a32("a"), 0xe40c292cu);
    assert_int_equal(tp_fnv1a32("foobar"), 0xbf9cf968u);
    assert_int_equal(tp_partition_of("foobar", 16), 0xbf9cf968u % 16);
    char subj[64], topic[32];
    assert_int_equal(tp_partition_subject(subj, sizeof subj, 7, "crm.contracting"), 0);
    assert_string_equal(subj, "tp.events.7.contracting");
    assert_int_equal(tp_partition_topic(topic, sizeof topic, subj), 0);
    assert_string_equal(topic, "crm.contracting");
    assert_int_equal(tp_partition_subject(subj, sizeof subj, 0, "alerts.x"), -EINVAL);
    assert_int_equal(tp_partition_topic(topic, sizeof topic, "tp.events.3"), -EINVAL);
    Touchpoint__V1__ContractingStep st = TOUCHPOINT__V1__CONTRACTING_STEP__INIT;
    Touchpoint__V1__Envelope        env = TOUCHPOINT__V1__ENVELOPE__INIT;
    env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_CONTRACTING;
    env.contracting = &st;
    st.contract_id = "K-1";
    st.hcp_id = "";
    assert_string_equal(tp_partition_key(&env), "K-1");
    st.hcp_id = "HCP-1";
    assert_string_equal(tp_partition_key(&env), "HCP-1");
    env.payload_case = TOUCHPOINT__V1__ENVELOPE__PAYLOAD_WATERMARK;
    assert_null(tp_partition_key(&env));
}

/* tp-pub --nats decodes lines on worker threads, chunk by chunk: the
 * stream must still hold the events in the order of the file, and a bad
 * line must be reported with its own line number. 4,000 lines (many chunks,
 * each decode slot reused several times), a blank line and a bad one. */
static void test_tp_pub_keeps_file_order(void **state) {
    (void)state;
    tp_nats_skip_without_server();
    tp_nats_srv_t  *n = tp_nats_start();
    natsConnection *nc = NULL;
    jsCtx          *js = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, n->url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subjects[] = { "tp.events.>" };
    sc.Name = "TP_EVENTS";
    sc.Subjects = subjects;
    sc.SubjectsLen = 1;
    assert_int_equal(js_AddStream(NULL, js, &sc, NULL, NULL), NATS_OK);

    enum { LINES = 4000, BAD = 2001, BLANK = 10 };
    char    *dir = tp_tmpdir(), *path = tp_path(dir, "order.jsonl");
    tp_dfx_t fx = { .dir = dir }; /* no daemon: tp-pub's files go to dir */
    FILE    *f = fopen(path, "w");
    assert_non_null(f);
    for (unsigned i = 1; i <= LINES; i++) {
        if (i == BAD)
            fprintf(f, "{\"eventId\": \"bad\", \"call\": \n");
        else if (i == BLANK)
            fprintf(f, "   \n");
        else
            fprintf(f,
                    "{\"eventId\":\"o-%05u\",\"source\":\"crm\",\"sequence\":\"%u\","
                    "\"call\":{\"callId\":\"C-%u\",\"hcpId\":\"HCP-%u\",\"status\":\"PLANNED\"}}\n",
                    i, i, i, i % 7);
    }
    fclose(f);
    const char *args[] = { "--nats", n->url, "--partitions", "1", path, NULL };
    char       *err = NULL;
    assert_int_equal(tp_nats_tp_pub(&fx, args, &err), 1); /* a bad line */
    char where[600];
    snprintf(where, sizeof where, "%s:%u: ", path, BAD);
    assert_non_null(strstr(err, where));
    assert_non_null(strstr(err, "published 3998 events"));
    free(err);

    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Ordered = true;
    natsSubscription *sub = NULL;
    assert_int_equal(js_SubscribeSync(&sub, js, "tp.events.>", NULL, &so, NULL), NATS_OK);
    unsigned next = 1, got = 0;
    for (natsMsg *m = NULL; got < LINES - 2; got++) {
        assert_int_equal(natsSubscription_NextMsg(&m, sub, TP_WAIT_MS), NATS_OK);
        Touchpoint__V1__Envelope *env = touchpoint__v1__envelope__unpack(
            NULL, (size_t)natsMsg_GetDataLength(m), (const uint8_t *)natsMsg_GetData(m));
        assert_non_null(env);
        next += next == BLANK || next == BAD;
        char want[16];
        snprintf(want, sizeof want, "o-%05u", next++);
        assert_string_equal(env->event_id, want);
        touchpoint__v1__envelope__free_unpacked(env, NULL);
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    free(path);
    tp_rmrf(dir);
    free(dir);
    tp_nats_stop(n);
}

TP_TEST_MAIN(cmocka_unit_test(test_partition_hash), cmocka_unit_test(test_flow_and_server_dedup),
             cmocka_unit_test(test_sigkill_redelivers),
             cmocka_unit_test(test_stop_while_delivering),
             cmocka_unit_test(test_lease_single_instance_and_reload),
             cmocka_unit_test(test_tp_pub_keeps_file_order))
