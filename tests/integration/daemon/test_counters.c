/* test_counters — the input counters add up, on the real daemon: a fixed
 * mix of good, duplicate, oversize, empty, malformed, wrong-topic,
 * mismatched, invalid, wrongly framed and over-limit messages, on the SUB
 * input and the reliable input, each lands in exactly one counter of
 * /metrics, and messages_received_total is their sum. Nothing sleeps: a
 * sentinel event sent last on the same socket is the proof that everything
 * before it was processed; the reliable input's NACKs prove the same. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_testdaemon.h"
#include "tp_testhttp.h"
#include "tp_testutil.h"

#define T0      1767225600000LL /* 2026-01-01T00:00:00Z, the probes' time */
#define PLANNED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED
#define SUBMIT  TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
#define STARTED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED

/* The value of the sample `name` (with its labels) in a /metrics body. */
static unsigned long long s_metric(const char *body, const char *name) {
    char want[256];
    snprintf(want, sizeof want, "\n%s ", name);
    const char *at = strstr(body, want);
    if (!at)
        fail_msg("no %s in /metrics:\n%s", name, body);
    return strtoull(at + strlen(want), NULL, 10);
}

/* Sends [topic, body] (body may be empty) on the SUB input. */
static void s_send(tp_dfx_t *d, const char *topic, const void *body, size_t len) {
    tp_dfx_send(d, topic, body, len);
}

/* Sends frames on the reliable input and waits for its NACK. */
static void s_reliable_nack(void *dealer, const char *const *frames, const size_t *lens, size_t n) {
    for (size_t i = 0; i < n; i++)
        assert_int_equal(zmq_send(dealer, frames[i], lens[i], i + 1 < n ? ZMQ_SNDMORE : 0),
                         (int)lens[i]);
    zmq_pollitem_t item = { .socket = dealer, .events = ZMQ_POLLIN };
    assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
    char kind[16];
    int  k = zmq_recv(dealer, kind, sizeof kind, 0);
    assert_int_equal(k, 4);
    assert_memory_equal(kind, "NACK", 4);
    int    more = 1;
    size_t ml = sizeof more;
    while (zmq_getsockopt(dealer, ZMQ_RCVMORE, &more, &ml) == 0 && more) {
        char scratch[512];
        zmq_recv(dealer, scratch, sizeof scratch, 0);
    }
}

static void test_every_message_counted_once(void **state) {
    (void)state;
    tp_dfx_t      *d = tp_dfx_start_http("event", "limits: { max_message_bytes: 1024, "
                                                       "max_open_cases_per_hcp: 1 }\n");
    uint8_t       *good;
    tp_test_call_t c = { .event_id = "good-0", .at_ms = T0, .call_id = "C-0", .status = PLANNED };
    size_t         glen = tp_test_pack_call(&c, &good);
    char           junk[2000];
    memset(junk, 'x', sizeof junk);

    /* 3 good calls, then good-0 twice more: 2 duplicates. */
    s_send(d, "crm.call", good, glen);
    for (int i = 1; i < 3; i++) {
        char id[16], call[16];
        snprintf(id, sizeof id, "good-%d", i);
        snprintf(call, sizeof call, "C-%d", i);
        tp_dfx_send_call(d, &(tp_test_call_t){
                                .event_id = id, .at_ms = T0, .call_id = call, .status = PLANNED });
    }
    s_send(d, "crm.call", good, glen);
    s_send(d, "crm.call", good, glen);
    s_send(d, "crm.call", junk, sizeof junk);     /* oversize */
    s_send(d, "crm.call", "", 0);                 /* empty */
    s_send(d, "crm.feedback", "", 0);             /* empty */
    s_send(d, "crm.call", "\x0a\xff\xff\xff", 4); /* decode */
    s_send(d, "crm.bogus", good, glen);           /* topic */
    s_send(d, "crm.feedback", good, glen);        /* mismatch */
    tp_dfx_send_call(d, &(tp_test_call_t){ .event_id = "bad-status",
                                           .at_ms = T0,
                                           .call_id = "C-X",
                                           .status = 9 });   /* invalid */
    assert_int_equal(zmq_send(d->pub, "crm.call", 8, 0), 8); /* frames: 1 */
    zmq_send(d->pub, "crm.call", 8, ZMQ_SNDMORE);            /* frames: 3 */
    zmq_send(d->pub, good, glen, ZMQ_SNDMORE);
    zmq_send(d->pub, "x", 1, 0);
    /* Two contracts for one HCP at max_open_cases_per_hcp 1: the second is
     * refused (cases_over_hcp_limit), and is not also counted accepted. */
    for (int i = 0; i < 2; i++) {
        char id[16], contract[16];
        snprintf(id, sizeof id, "step-%d", i);
        snprintf(contract, sizeof contract, "K-%d", i);
        tp_dfx_send_step(d, &(tp_test_step_t){ .event_id = id,
                                               .at_ms = T0,
                                               .contract_id = contract,
                                               .hcp_id = "HCP-1",
                                               .step = "NOMINATION",
                                               .state = STARTED });
    }
    /* The sentinel: an incomplete submitted call; its alert means all of
     * the above was processed. */
    tp_dfx_send_call(
        d, &(tp_test_call_t){
               .event_id = "sentinel", .at_ms = T0, .call_id = "C-SENTINEL", .status = SUBMIT });
    for (;;) {
        assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
        if (strcmp(d->got.alerts[d->got.n - 1]->call_id, "C-SENTINEL") == 0)
            break;
    }

    /* The reliable input: one frame (frames), and one over the limit. */
    void *dealer = zmq_socket(d->zctx, ZMQ_DEALER);
    assert_int_equal(zmq_connect(dealer, d->reliable_ep), 0);
    s_reliable_nack(dealer, (const char *const[]){ "crm.call" }, (const size_t[]){ 8 }, 1);
    s_reliable_nack(dealer, (const char *const[]){ "crm.call", junk },
                    (const size_t[]){ 8, sizeof junk }, 2);
    zmq_close(dealer);

    tp_test_resp_t r = tp_test_http_request(d->http_port, EVHTTP_REQ_GET, "/metrics");
    assert_int_equal(r.code, 200);
    unsigned long long received = s_metric(r.body, "touchpointd_messages_received_total");
    unsigned long long accepted = s_metric(r.body, "touchpointd_events_accepted_total");
    unsigned long long dups = s_metric(r.body, "touchpointd_duplicates_total");
    unsigned long long oversize = s_metric(r.body, "touchpointd_messages_oversize_total");
    unsigned long long over_hcp = s_metric(r.body, "touchpointd_cases_over_hcp_limit_total");
    unsigned long long steps = s_metric(r.body, "touchpointd_steps_dropped_total");
    static const struct {
        const char        *reason;
        unsigned long long want;
    } reasons[] = {
        { "frames", 3 },   { "topic", 1 },   { "decode", 1 },
        { "mismatch", 1 }, { "invalid", 1 }, { "empty", 2 },
    };
    unsigned long long refused = 0;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char name[128];
        snprintf(name, sizeof name, "touchpointd_events_refused_total{reason=\"%s\"}",
                 reasons[i].reason);
        unsigned long long got = s_metric(r.body, name);
        if (got != reasons[i].want)
            fail_msg("%s: %llu, want %llu", name, got, reasons[i].want);
        refused += got;
    }
    /* Probes (each accepted), 3 calls, 1 step, the sentinel. */
    assert_int_equal(accepted, d->probes + 3 + 1 + 1);
    assert_int_equal(dups, 2);
    assert_int_equal(oversize, 2);
    assert_int_equal(over_hcp, 1);
    assert_int_equal(steps, 0);
    assert_int_equal(received, accepted + dups + refused + oversize + over_hcp + steps);
    tp_test_resp_free(&r);
    free(good);
    char *log = tp_dfx_stop(d);
    free(log);
    tp_dfx_free(d);
}

TP_TEST_MAIN(cmocka_unit_test(test_every_message_counted_once))
