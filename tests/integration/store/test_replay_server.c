/* test_replay_server — the replay endpoint under hostile or odd requests:
 * strict sequence parsing, END when nothing was sent, oversized requests
 * answered and counted, consumers that never read losing their slots
 * (a legitimate consumer still gets its whole replay) and one address's
 * share of the slots. Real daemon, real sockets, real SQLite file. */
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

#define N_STALLED 80    /* more than the daemon's 64 slots */
#define N_ALERTS  12000 /* more than a consumer's queues hold: one that never reads stalls */

static void *s_dealer(tp_dfx_t *d, const char *ep) {
    void *s = zmq_socket(d->zctx, ZMQ_DEALER);
    int   zero = 0;
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

static void s_send_request(void *s, const char *cmd, const void *arg, size_t len) {
    assert_true(zmq_send(s, cmd, strlen(cmd), arg ? ZMQ_SNDMORE : 0) >= 0);
    if (arg)
        assert_true(zmq_send(s, arg, len, 0) >= 0);
}

/* One request on a new DEALER; returns the alerts, `end` as above. */
static size_t s_replay(tp_dfx_t *d, const char *arg, size_t len, char *end, size_t endlen) {
    void *s = s_dealer(d, d->replay_ep);
    s_send_request(s, "REPLAY", arg, len);
    size_t n = tp_dfx_read_replay(s, NULL, NULL, end, endlen);
    zmq_close(s);
    return n;
}

static size_t s_replay_str(tp_dfx_t *d, const char *arg, char *end, size_t endlen) {
    return s_replay(d, arg, strlen(arg), end, endlen);
}

/* The running config with `lines` added under its replay: mapping, by reload. */
static void s_reload_replay(tp_dfx_t *d, const char *lines) {
    char *yaml = tp_read_file(d->cfg), *out = NULL;
    char *at = strstr(yaml, "replay:\n");
    assert_non_null(at);
    at += strlen("replay:\n");
    assert_true(asprintf(&out, "%.*sreplay:\n%s%s", (int)(at - yaml - strlen("replay:\n")), yaml,
                         lines, at) > 0);
    assert_true(tp_dfx_reload_yaml(d, out));
    free(out);
    free(yaml);
}

static void test_strict_requests_and_end(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
    tp_dfx_fire(d, "A", 3);
    unsigned long long last = d->probes + 3;
    char               end[128], want[128];

    /* 2^64-1 used to bind as -1 and replay everything. */
    assert_int_equal(s_replay_str(d, "18446744073709551615", end, sizeof end), 0);
    assert_string_equal(end, "ERROR sequence is past the journal's range (at most "
                             "9223372036854775807)");
    assert_int_equal(s_replay_str(d, "9223372036854775808", end, sizeof end), 0);
    assert_string_equal(end, "ERROR sequence is past the journal's range (at most "
                             "9223372036854775807)");
    assert_int_equal(s_replay_str(d, "99999999999999999999999999", end, sizeof end), 0);
    assert_string_equal(end, "ERROR sequence is past the journal's range (at most "
                             "9223372036854775807)");
    static const char *const bad[] = { "-1", "+1", " 1", "1 ", "0x10", "1e3", "" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(s_replay_str(d, bad[i], end, sizeof end), 0);
        assert_string_equal(end, "ERROR sequence must be a decimal number");
    }
    assert_int_equal(s_replay(d, "1\0", 2, end, sizeof end), 0);
    assert_string_equal(end, "ERROR sequence must be a decimal number");

    /* Nothing sent: END is the request's own n (past the end too, up to
     * the largest), never a number the consumer was not sent. */
    assert_int_equal(s_replay_str(d, "9223372036854775807", end, sizeof end), 0);
    assert_string_equal(end, "END 9223372036854775807");
    snprintf(want, sizeof want, "%llu", last + 100);
    assert_int_equal(s_replay_str(d, want, end, sizeof end), 0);
    snprintf(want, sizeof want, "END %llu", last + 100);
    assert_string_equal(end, want);
    /* Something sent: END is the last one sent. */
    assert_int_equal(s_replay_str(d, "0", end, sizeof end), last);
    snprintf(want, sizeof want, "END %llu", last);
    assert_string_equal(end, want);

    /* A 10 MB request is answered, and counted. */
    size_t big = 10u << 20;
    char  *huge = malloc(big);
    memset(huge, '1', big);
    assert_int_equal(s_replay(d, huge, big, end, sizeof end), 0);
    assert_string_equal(end, "ERROR request too large");
    free(huge);

    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "replay_refused", 3 + 7 + 1 + 1 }, { "replay_oversize", 1 },
                    { "replay_requests", 3 });
    free(log);
}

static long s_rss_kb(tp_dfx_t *d) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)d->proc.pid);
    char       *text = tp_read_file(path);
    const char *k = text ? strstr(text, "VmRSS:") : NULL;
    long        kb = k ? strtol(k + 6, NULL, 10) : -1;
    free(text);
    return kb;
}

/* More never-reading DEALERs than there are slots, each asking for
 * everything: each is dropped once it took nothing for stall_timeout, and
 * a consumer that reads gets its whole replay (retrying while busy). */
static void test_stalled_consumers_do_not_lock_others_out(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http("event", NULL);
    /* One process, so one peer address (ipc: uid:gid:pid) for all: the
     * per-address share is lifted to see the timeout alone. */
    s_reload_replay(d, "  stall_timeout: 3s\n  max_per_peer: 64\n");
    tp_dfx_fire(d, "A", N_ALERTS);
    unsigned long long last = d->probes + N_ALERTS;
    long               rss0 = s_rss_kb(d);

    void *stalled[N_STALLED];
    for (int i = 0; i < N_STALLED; i++) {
        stalled[i] = zmq_socket(d->zctx, ZMQ_DEALER);
        int zero = 0, one = 1, small = 4096;
        zmq_setsockopt(stalled[i], ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(stalled[i], ZMQ_RCVHWM, &one, sizeof one);
        zmq_setsockopt(stalled[i], ZMQ_RCVBUF, &small, sizeof small);
        assert_int_equal(zmq_connect(stalled[i], d->replay_ep), 0);
        s_send_request(stalled[i], "REPLAY", "0", 1);
    }
    /* Once the daemon has taken all 80 requests, 64 hold the slots and
     * 16 were told busy: everyone is locked out until a slot frees. */
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    while (tp_test_metric(d->http_port, "touchpointd_replay_requests_total") +
               tp_test_metric(d->http_port, "touchpointd_replay_busy_total") <
           N_STALLED)
        assert_true(tp_now_ms() < deadline);
    assert_true(tp_test_metric(d->http_port, "touchpointd_replay_busy_total") >= N_STALLED - 64);

    /* A consumer asks again (on its one connection) while told busy. */
    char   end[128];
    size_t n;
    void  *legit = s_dealer(d, d->replay_ep);
    do {
        assert_true(tp_now_ms() < deadline);
        s_send_request(legit, "REPLAY", "0", 1);
        n = tp_dfx_read_replay(legit, NULL, NULL, end, sizeof end);
    } while (strncmp(end, "ERROR busy", 10) == 0);
    zmq_close(legit);
    assert_int_equal(n, last);
    char want[64];
    snprintf(want, sizeof want, "END %llu", last);
    assert_string_equal(end, want);
    long rss1 = s_rss_kb(d);
    print_message("daemon RSS %ld kB before the stalled consumers, %ld kB with them\n", rss0, rss1);
    /* What a replay may queue is bounded (TP_REPLAY_WINDOW messages each):
     * 80 of them cost a few MB; with a 10,000-message window, 336 MB. */
#ifndef __SANITIZE_ADDRESS__ /* ASan's quarantine keeps freed memory resident */
    assert_true(rss0 > 0 && rss1 - rss0 < 64 * 1024);
#endif

    assert_true(tp_test_metric(d->http_port, "touchpointd_replay_timeouts_total") >= 1);
    for (int i = 0; i < N_STALLED; i++)
        zmq_close(stalled[i]);
    char *log = tp_dfx_stop(d);
    assert_true(tp_dfx_stat(log, "replay_timeouts") >= 1);
    assert_true(tp_dfx_stat(log, "replay_busy") >= 1);
    free(log);
}

/* Consumers from one IP address hold at most replay.max_per_peer slots:
 * more from there are told busy, one from another address is served at
 * once (no timeout could have freed a slot: stall_timeout is an hour). */
static void test_one_address_holds_a_share_of_the_slots(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start("event", NULL);
    unsigned  port = tp_free_port();
    assert_true(port > 0);
    char ep[64], lines[160], from2[96];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%u", port);
    snprintf(from2, sizeof from2, "tcp://127.0.0.2:0;127.0.0.1:%u", port);
    char *yaml = tp_read_file(d->cfg), *out = NULL;
    char *at = strstr(yaml, "replay:\n  endpoint: ");
    assert_non_null(at);
    char *eol = strchr(at + strlen("replay:\n  endpoint: "), '\n');
    snprintf(lines, sizeof lines, "replay:\n  endpoint: %s\n  stall_timeout: 1h\n  max_per_peer: 2",
             ep);
    assert_true(asprintf(&out, "%.*s%s%s", (int)(at - yaml), yaml, lines, eol) > 0);
    assert_true(tp_dfx_reload_yaml(d, out));
    free(out);
    free(yaml);
    tp_dfx_fire(d, "A", N_ALERTS);
    unsigned long long last = d->probes + N_ALERTS;

    void *stalled[3];
    char  end[160];
    for (int i = 0; i < 3; i++) {
        stalled[i] = zmq_socket(d->zctx, ZMQ_DEALER);
        int zero = 0, one = 1;
        zmq_setsockopt(stalled[i], ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt(stalled[i], ZMQ_RCVHWM, &one, sizeof one);
        assert_int_equal(zmq_connect(stalled[i], from2), 0);
        s_send_request(stalled[i], "REPLAY", "0", 1);
    }
    /* The third from 127.0.0.2 is refused; the first two read nothing more. */
    zmq_pollitem_t items[3];
    for (int i = 0; i < 3; i++)
        items[i] = (zmq_pollitem_t){ .socket = stalled[i], .events = ZMQ_POLLIN };
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    bool      refused = false;
    while (!refused) {
        assert_true(tp_now_ms() < deadline);
        assert_true(zmq_poll(items, 3, 100) >= 0);
        for (int i = 0; i < 3 && !refused; i++) {
            if (!(items[i].revents & ZMQ_POLLIN))
                continue;
            zmq_msg_t a;
            zmq_msg_init(&a);
            assert_true(zmq_msg_recv(&a, stalled[i], 0) >= 0);
            if (zmq_msg_size(&a) == 5 && memcmp(zmq_msg_data(&a), "ERROR", 5) == 0) {
                zmq_msg_t b;
                zmq_msg_init(&b);
                assert_true(zmq_msg_recv(&b, stalled[i], 0) >= 0);
                snprintf(end, sizeof end, "%.*s", (int)zmq_msg_size(&b),
                         (const char *)zmq_msg_data(&b));
                zmq_msg_close(&b);
                refused = true;
            }
            zmq_msg_close(&a);
            /* The others' alerts are left unread after this one. */
            items[i].events = refused ? ZMQ_POLLIN : 0;
        }
    }
    assert_non_null(strstr(end, "busy: too many replays from your address"));

    /* From 127.0.0.1: its whole replay, no busy. */
    void *s = s_dealer(d, ep);
    s_send_request(s, "REPLAY", "0", 1);
    assert_int_equal(tp_dfx_read_replay(s, NULL, NULL, end, sizeof end), last);
    char want[64];
    snprintf(want, sizeof want, "END %llu", last);
    assert_string_equal(end, want);
    zmq_close(s);
    for (int i = 0; i < 3; i++)
        zmq_close(stalled[i]);
    char *log = tp_dfx_stop(d);
    TP_EXPECT_STATS(log, { "replay_busy", 1 }, { "replay_timeouts", 0 });
    free(log);
}

TP_TEST_MAIN(cmocka_unit_test_teardown(test_strict_requests_and_end, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_stalled_consumers_do_not_lock_others_out,
                                       tp_dfx_teardown),
             cmocka_unit_test_teardown(test_one_address_holds_a_share_of_the_slots,
                                       tp_dfx_teardown))
