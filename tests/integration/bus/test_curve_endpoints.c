/* test_curve_endpoints — CURVE where test_curve does not look: the daemon
 * as a CURVE client on a connect input, the allow-lists of the replay and
 * reliable endpoints, and a key taken off a list by a reload.
 *
 * Refusals are shown by the client's socket monitor (the handshake failed
 * for authentication) and the daemon's log naming the key and endpoint;
 * "nothing came through" by a sentinel on an allowed path arriving first.
 */
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
#include "tp_testmonitor.h"
#include "tp_testutil.h"

#define T0        1767225600000LL
#define SUBMITTED TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED
static void s_expect_refusal_logged(tp_dfx_t *d, const char *key, const char *endpoint) {
    char want[160];
    snprintf(want, sizeof want, "Refused CURVE client %s on %s", key, endpoint);
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    for (;;) {
        char *log = tp_read_file(d->err);
        bool  found = log && strstr(log, want);
        free(log);
        if (found)
            return;
        if (tp_now_ms() >= deadline)
            fail_msg("the log never said: %s", want);
        zmq_poll(NULL, 0, 10); /* a log line in a file: poll it briefly */
    }
}

/* The replay and reliable endpoints admit only listed keys: an unlisted
 * one fails its handshake for authentication, the refusal is logged with
 * the key and endpoint; the listed key gets through on both. */
static void test_unlisted_key_refused_on_replay_and_reliable(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_curve("event", NULL);
    char      pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    assert_int_equal(tp_dfx_curve_try(d, ZMQ_DEALER, d->replay_ep, pub, sec),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_expect_refusal_logged(d, pub, "replay");
    assert_int_equal(tp_dfx_curve_try(d, ZMQ_DEALER, d->reliable_ep, pub, sec),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_expect_refusal_logged(d, pub, "reliable_input");
    assert_int_equal(
        tp_dfx_curve_try(d, ZMQ_DEALER, d->replay_ep, d->client_public, d->client_secret),
        ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    assert_int_equal(
        tp_dfx_curve_try(d, ZMQ_DEALER, d->reliable_ep, d->client_public, d->client_secret),
        ZMQ_EVENT_HANDSHAKE_SUCCEEDED);
    char *log = tp_dfx_stop(d);
    assert_true(tp_dfx_stat(log, "zap_denied") >= 2);
    free(log);
}

/* A key on the list at start is admitted; once a reload took it off, a new
 * connection with it is refused, while the fixture's key still works. */
static void test_key_removed_by_reload_is_refused(void **state) {
    tp_dfx_t *d = *state = tp_dfx_setup(true);
    char      pub[41], sec[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    char *both = NULL, *one = tp_read_file(d->clients_file);
    assert_true(asprintf(&both, "%s%s\n", one, pub) > 0);
    assert_int_equal(tp_write_file(d->clients_file, both), 0);
    tp_dfx_spawn(d, "event", NULL);
    assert_int_equal(tp_dfx_curve_try(d, ZMQ_PUB, d->in_ep, pub, sec),
                     ZMQ_EVENT_HANDSHAKE_SUCCEEDED);

    assert_int_equal(tp_write_file(d->clients_file, one), 0);
    assert_true(tp_dfx_reload(d, "event", NULL));
    assert_int_equal(tp_dfx_curve_try(d, ZMQ_PUB, d->in_ep, pub, sec),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    s_expect_refusal_logged(d, pub, "inputs[0]");
    assert_int_equal(tp_dfx_curve_try(d, ZMQ_DEALER, d->reliable_ep, pub, sec),
                     ZMQ_EVENT_HANDSHAKE_FAILED_AUTH);
    /* The fixture's publisher and subscriber still work. */
    tp_dfx_expect_nothing_more(d);
    free(both);
    free(one);
}

/* inputs[1] connects to a publisher that binds as a CURVE server: the
 * daemon is the CURVE client (its key from curve.secret_key_file, the
 * server's from curve_server_key). Events sent there raise alerts. A
 * second connect input naming the wrong server key never completes its
 * handshake, and nothing sent there counts. */
static void test_connect_input_as_curve_client(void **state) {
    tp_dfx_t *d = *state = tp_dfx_setup(true);
    void     *zctx = zmq_ctx_new();
    char      srv_pub[41], srv_sec[41], other_pub[41], other_sec[41];
    assert_int_equal(zmq_curve_keypair(srv_pub, srv_sec), 0);
    assert_int_equal(zmq_curve_keypair(other_pub, other_sec), 0);
    char *ep_ok = NULL, *ep_bad = NULL, *inputs = NULL;
    assert_true(asprintf(&ep_ok, "ipc://%s/upstream.sock", d->dir) > 0);
    assert_true(asprintf(&ep_bad, "ipc://%s/impostor.sock", d->dir) > 0);
    assert_true(asprintf(&inputs,
                         "  - { endpoint: \"%s\", mode: connect, curve_server_key: \"%s\" }\n"
                         "  - { endpoint: \"%s\", mode: connect, curve_server_key: \"%s\" }\n",
                         ep_ok, srv_pub, ep_bad, srv_pub) > 0);
    d->inputs_yaml = inputs;

    /* The upstream publisher: a CURVE server with srv's keys; the impostor
     * has other keys, so the daemon's check of the server key fails. */
    int   one = 1, zero = 0;
    void *up = zmq_socket(zctx, ZMQ_XPUB), *mon, *bad = tp_test_monitored(zctx, ZMQ_XPUB, &mon);
    zmq_setsockopt(up, ZMQ_LINGER, &zero, sizeof zero);
    zmq_setsockopt(up, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(up, ZMQ_CURVE_SECRETKEY, srv_sec, 40);
    zmq_setsockopt(bad, ZMQ_CURVE_SERVER, &one, sizeof one);
    zmq_setsockopt(bad, ZMQ_CURVE_SECRETKEY, other_sec, 40);
    assert_int_equal(zmq_bind(up, ep_ok), 0);
    assert_int_equal(zmq_bind(bad, ep_bad), 0);
    tp_dfx_spawn(d, "event", NULL);

    /* The daemon's subscription arrives once the handshake succeeded. */
    zmq_pollitem_t item = { .socket = up, .events = ZMQ_POLLIN };
    assert_int_equal(zmq_poll(&item, 1, TP_WAIT_MS), 1);
    char sub[16];
    assert_int_equal(zmq_recv(up, sub, sizeof sub, 0), 5);
    assert_memory_equal(sub, "\1crm.", 5);
    assert_true(tp_test_handshake(mon, NULL) != ZMQ_EVENT_HANDSHAKE_SUCCEEDED);

    tp_test_call_t c = {
        .event_id = "up-1", .at_ms = T0, .call_id = "C-UPSTREAM", .status = SUBMITTED
    };
    uint8_t *buf;
    size_t   len = tp_test_pack_call(&c, &buf);
    for (void *s = up;; s = bad) {
        assert_int_equal(zmq_send(s, "crm.call", 8, ZMQ_SNDMORE), 8);
        assert_int_equal(zmq_send(s, buf, len, 0), (int)len);
        if (s == bad)
            break;
    }
    free(buf);
    assert_true(tp_dfx_recv_alert(d, TP_WAIT_MS));
    assert_string_equal(d->got.alerts[0]->call_id, "C-UPSTREAM");
    tp_dfx_expect_nothing_more(d);
    char *log = tp_dfx_stop(d);
    assert_int_equal(tp_dfx_stat(log, "accepted"), d->probes + 1);
    free(log);
    zmq_close(up);
    tp_test_monitored_close(bad, mon);
    zmq_ctx_term(zctx);
    free(ep_ok);
    free(ep_bad);
    free(inputs);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_unlisted_key_refused_on_replay_and_reliable,
                                       tp_dfx_teardown),
             cmocka_unit_test_teardown(test_key_removed_by_reload_is_refused, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_connect_input_as_curve_client, tp_dfx_teardown))
