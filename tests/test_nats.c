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
 * Skipped (cmocka skip()) when /usr/sbin/nats-server is not installed.
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
#include "tp_testdaemon.h"

#define NATS_BIN "/usr/sbin/nats-server"
/* One partition: the comparison with the single-node run needs the same
 * processing order, and an engine consuming several partitions (each in
 * order, interleaved as delivered) with watermarks on every one moves event
 * time in another order. The partitioning itself: test_partition_hash. */
#define PARTITIONS "1"

typedef struct {
    char     *dir, *url;
    tp_proc_t proc;
} s_nats_t;

static unsigned s_free_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* nats-server -js on 127.0.0.1:<free port>, storage in a temp dir; returns
 * once a client can connect (deadline TP_WAIT_MS). */
static s_nats_t *s_nats_start(void) {
    s_nats_t *n = calloc(1, sizeof *n);
    assert_non_null(n);
    n->dir = tp_tmpdir();
    assert_non_null(n->dir);
    char port[16], *sd = tp_path(n->dir, "js"), *log = tp_path(n->dir, "nats.log");
    unsigned p = s_free_port();
    snprintf(port, sizeof port, "%u", p);
    assert_true(asprintf(&n->url, "nats://127.0.0.1:%u", p) > 0);
    const char *argv[] = { NATS_BIN, "-a", "127.0.0.1", "-p", port, "-js", "-sd", sd, NULL };
    assert_int_equal(tp_proc_spawn(&n->proc, argv, NULL, log, log), 0);
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        natsConnection *nc = NULL;
        if (natsConnection_ConnectTo(&nc, n->url) == NATS_OK) {
            natsConnection_Destroy(nc);
            break;
        }
        assert_true(tp_now_ms() < deadline);
        assert_int_equal(tp_proc_wait(&n->proc, 50), -ETIMEDOUT);   /* still running */
    }
    free(sd);
    free(log);
    return n;
}

static void s_nats_stop(s_nats_t *n) {
    tp_proc_reap(&n->proc);
    tp_rmrf(n->dir);
    free(n->dir);
    free(n->url);
    free(n);
}

/* Runs tp-pub with argv (NULL-terminated, after the binary); its exit code. */
static int s_tp_pub(const tp_dfx_t *d, const char *const *args, char **ret_err) {
    const char *argv[16] = { TP_PUB_BIN };
    size_t i = 1;
    for (; args[i - 1]; i++)
        argv[i] = args[i - 1];
    argv[i] = NULL;
    char *err = tp_path(d->dir, "tp-pub.err");
    tp_proc_t p;
    assert_int_equal(tp_proc_spawn(&p, argv, NULL, NULL, err), 0);
    int r = tp_proc_wait(&p, TP_WAIT_MS);
    if (ret_err)
        *ret_err = tp_read_file(err);
    free(err);
    return r;
}

static int s_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "alert_id|STATUS" of every non-probe alert, sorted, into keys. */
static size_t s_key(char **keys, size_t n, const Touchpoint__V1__Alert *a) {
    if (a->call_id && strncmp(a->call_id, "probe-", 6) == 0)
        return n;
    assert_true(asprintf(&keys[n], "%s|%d", a->alert_id, (int)a->status) > 0);
    return n + 1;
}

static void s_free_keys(char **keys, size_t n) {
    for (size_t i = 0; i < n; i++)
        free(keys[i]);
}

/* Everything in TP_ALERTS, read through an ephemeral JetStream consumer. */
static size_t s_stream_alerts(const char *url, char **keys, size_t max) {
    natsConnection *nc = NULL;
    jsCtx *js = NULL;
    natsSubscription *sub = NULL;
    assert_int_equal(natsConnection_ConnectTo(&nc, url), NATS_OK);
    assert_int_equal(natsConnection_JetStream(&js, nc, NULL), NATS_OK);
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = "TP_ALERTS";
    so.Config.AckPolicy = js_AckNone;
    so.Config.DeliverPolicy = js_DeliverAll;
    assert_int_equal(js_SubscribeSync(&sub, js, "tp.alerts.>", NULL, &so, NULL), NATS_OK);
    size_t n = 0;
    natsMsg *m = NULL;
    while (natsSubscription_NextMsg(&m, sub, 300) == NATS_OK) {
        Touchpoint__V1__Alert *a = touchpoint__v1__alert__unpack(
            NULL, (size_t)natsMsg_GetDataLength(m), (const uint8_t *)natsMsg_GetData(m));
        assert_non_null(a);
        assert_true(n < max);
        n = s_key(keys, n, a);
        touchpoint__v1__alert__free_unpacked(a, NULL);
        natsMsg_Destroy(m);
    }
    natsSubscription_Destroy(sub);
    jsCtx_Destroy(js);
    natsConnection_Destroy(nc);
    qsort(keys, n, sizeof *keys, s_cmp);
    return n;
}

static const char *const s_inputs[] = { TP_SOURCE_DIR "/tests/data/accountability.jsonl",
                                        TP_SOURCE_DIR "/tests/data/speaker_contract.jsonl" };

/* The reference: the inputs through a single-node daemon's reliable input. */
static size_t s_reference(char **keys, size_t max) {
    tp_dfx_t *ref = tp_dfx_start("event", NULL);
    for (size_t i = 0; i < 2; i++) {
        const char *args[] = { "--reliable", "-e", ref->reliable_ep, s_inputs[i], NULL };
        assert_int_equal(s_tp_pub(ref, args, NULL), 0);
    }
    while (tp_dfx_recv_alert(ref, 500))
        ;
    size_t n = 0;
    for (size_t i = 0; i < ref->got.n; i++) {
        assert_true(n < max);
        n = s_key(keys, n, ref->got.alerts[i]);
    }
    tp_dfx_free(ref);
    qsort(keys, n, sizeof *keys, s_cmp);
    assert_true(n > 5);
    return n;
}

static char *s_nats_yaml(const s_nats_t *n) {
    char *y = NULL;
    assert_true(asprintf(&y, "nats: { enabled: true, url: \"%s\", partition_count: " PARTITIONS
                         ", ack_wait: 2s }\n", n->url) > 0);
    return y;
}

/* Waits until TP_ALERTS holds exactly the reference (multiset); fails
 * with both lists at the deadline. */
static void s_expect_stream(const char *url, char **ref, size_t nref) {
    char *got[512];
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        size_t n = s_stream_alerts(url, got, 512);
        bool same = n == nref;
        for (size_t i = 0; same && i < n; i++)
            same = strcmp(got[i], ref[i]) == 0;
        if (same) {
            s_free_keys(got, n);
            return;
        }
        if (tp_now_ms() >= deadline) {
            for (size_t i = 0; i < n || i < nref; i++)
                print_message("%-60s %s\n", i < n ? got[i] : "-", i < nref ? ref[i] : "-");
            fail_msg("TP_ALERTS holds %zu alerts, the single-node run raised %zu", n, nref);
        }
        s_free_keys(got, n);
    }
}

static void s_skip_without_server(void) {
    if (access(NATS_BIN, X_OK) != 0) {
        print_message("skipped: " NATS_BIN " is not installed (apt-get install nats-server)\n");
        skip();
    }
}

/* tp-pub --nats -> daemon -> alerts on the ZeroMQ PUB and in TP_ALERTS,
 * the same as a single-node run; sending the same events again is dropped
 * by the server (Nats-Msg-Id) before the daemon sees it. */
static void test_flow_and_server_dedup(void **state) {
    (void)state;
    s_skip_without_server();
    char *ref[256];
    size_t nref = s_reference(ref, 256);
    s_nats_t *n = s_nats_start();
    char *yaml = s_nats_yaml(n);
    tp_dfx_t *d = tp_dfx_setup(false);
    tp_dfx_spawn(d, "event", yaml);
    for (size_t i = 0; i < 2; i++) {
        const char *args[] = { "--nats", n->url, "--partitions", PARTITIONS, s_inputs[i], NULL };
        assert_int_equal(s_tp_pub(d, args, NULL), 0);
    }
    s_expect_stream(n->url, ref, nref);
    /* The ZeroMQ PUB carried the same alerts. */
    while (d->got.n < nref && tp_dfx_recv_alert(d, TP_WAIT_MS))
        ;
    char *pub[256];
    size_t npub = 0;
    for (size_t i = 0; i < d->got.n; i++)
        npub = s_key(pub, npub, d->got.alerts[i]);
    qsort(pub, npub, sizeof *pub, s_cmp);
    assert_int_equal(npub, nref);
    for (size_t i = 0; i < npub; i++)
        assert_string_equal(pub[i], ref[i]);
    s_free_keys(pub, npub);

    /* Again: every message is a server-side duplicate. */
    char *err = NULL;
    const char *args[] = { "--nats", n->url, "--partitions", PARTITIONS, s_inputs[1], NULL };
    assert_int_equal(s_tp_pub(d, args, &err), 0);
    assert_non_null(strstr(err, "acknowledged 19 (duplicates 19)"));
    free(err);
    assert_false(tp_dfx_recv_alert(d, 500));
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
    assert_int_equal(tp_dfx_stat(log, "nats_publish_errors"), 0);
    assert_int_equal(tp_dfx_stat(log, "nats_received"), tp_dfx_stat(log, "nats_acked"));
    free(log);
    s_expect_stream(n->url, ref, nref);
    tp_dfx_free(d);
    free(yaml);
    s_nats_stop(n);
    s_free_keys(ref, nref);
}

/* SIGKILL right after the events are in the stream: what the daemon had
 * not committed is redelivered (not acked), what it had is recognised
 * (journal + dedup), the alerts it had journaled but maybe not published
 * are published again and dropped by the server if they were: TP_ALERTS
 * ends up with the single-node multiset, nothing lost, nothing twice. */
static void test_sigkill_redelivers(void **state) {
    (void)state;
    s_skip_without_server();
    char *ref[256];
    size_t nref = s_reference(ref, 256);
    s_nats_t *n = s_nats_start();
    char *yaml = s_nats_yaml(n);
    tp_dfx_t *d = tp_dfx_setup(false);
    tp_dfx_spawn(d, "event", yaml);
    for (size_t i = 0; i < 2; i++) {
        const char *args[] = { "--nats", n->url, "--partitions", PARTITIONS, s_inputs[i], NULL };
        assert_int_equal(s_tp_pub(d, args, NULL), 0);
    }
    assert_int_equal(tp_proc_signal(&d->proc, SIGKILL), 0);
    tp_dfx_restart(d, NULL);
    s_expect_stream(n->url, ref, nref);
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "nats_termed"), 0);
    free(log);
    tp_dfx_free(d);
    free(yaml);
    s_nats_stop(n);
    s_free_keys(ref, nref);
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
    Touchpoint__V1__Envelope env = TOUCHPOINT__V1__ENVELOPE__INIT;
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_partition_hash),
        cmocka_unit_test(test_flow_and_server_dedup),
        cmocka_unit_test(test_sigkill_redelivers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
