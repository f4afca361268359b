/* test_http_limits — what the HTTP endpoint bounds, on the real daemon over
 * raw loopback sockets: the connection cap (http.max_connections, refused
 * with 503 and counted), slow requests closed at http.request_timeout
 * (slowloris: a byte at a time), silent connections at http.idle_timeout,
 * oversized headers and bodies refused. */
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "tp_testdaemon.h"
#include "tp_testhttp.h"
#include "tp_testutil.h"

/* True once the peer has closed fd (EOF or reset), reading and dropping
 * whatever it sent first; false if it is still open after timeout_ms. */
static bool s_closed_within(int fd, int timeout_ms) {
    long long end = tp_now_ms() + timeout_ms;
    for (;;) {
        long long     left = end - tp_now_ms();
        struct pollfd p = { .fd = fd, .events = POLLIN };
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return false;
        char    buf[4096];
        ssize_t n = read(fd, buf, sizeof buf);
        if (n == 0 || (n < 0 && errno == ECONNRESET))
            return true;
    }
}

/* SLOW connections that send a request a byte at a time hold every slot
 * of http.max_connections: one more is answered 503 and closed at once.
 * Each slow one is closed http.request_timeout after its accept, however
 * steadily it sends; then a normal client is served, and the counters
 * say exactly that. */
static void test_cap_and_slow_requests(void **state) {
    (void)state;
    enum { SLOW = 50 };
    tp_dfx_t *d = tp_dfx_start_http_with("max_connections: 50, request_timeout: 1s");
    int       slow[SLOW];
    for (int i = 0; i < SLOW; i++) {
        slow[i] = tp_test_connect(d->http_port, 0);
        assert_int_equal(write(slow[i], "G", 1), 1);
    }
    /* Accepted after them (the listen queue is FIFO): over the cap. */
    tp_test_get_expect(d->http_port, "/healthz", 503, "Retry-After: 1\r\n");

    /* The slow ones go on, a byte every 100 ms (each one restarts libevent's
     * own read timeout), until the daemon closes them. */
    static const char more[] = "ET /healthz HTTP/1.1\r\nX-Slow: ";
    bool              open[SLOW];
    int               left = SLOW;
    for (int i = 0; i < SLOW; i++)
        open[i] = true;
    long long end = tp_now_ms() + TP_WAIT_MS;
    for (size_t k = 0; left > 0; k++) {
        if (tp_now_ms() > end)
            fail_msg("%d of %d slow connections still open after %d ms", left, SLOW, TP_WAIT_MS);
        char c = k < sizeof more - 1 ? more[k] : 'a';
        for (int i = 0; i < SLOW; i++) {
            if (!open[i])
                continue;
            if (send(slow[i], &c, 1, MSG_NOSIGNAL) != 1 || s_closed_within(slow[i], 0)) {
                open[i] = false;
                left--;
            }
        }
        struct pollfd p = { .fd = -1 };
        poll(&p, 0, 100); /* the pace of the attack, not a wait for the daemon */
    }
    for (int i = 0; i < SLOW; i++)
        close(slow[i]);

    assert_int_equal(tp_test_get(d->http_port, "GET", "/healthz", NULL, NULL), 200);
    assert_true(tp_test_metric(d->http_port, "touchpointd_http_connections_refused_total") == 1);
    assert_true(tp_test_metric(d->http_port, "touchpointd_http_connections_timed_out_total") ==
                SLOW);
    /* The scrape's own connection is the one open. */
    assert_true(tp_test_metric(d->http_port, "touchpointd_http_connections") == 1);
    char *log = tp_dfx_stop(d);
    assert_non_null(strstr(log, "HTTP connection refused: http.max_connections (50) open"));
    assert_non_null(strstr(log, "HTTP connection closed: a request not received whole within "
                                "http.request_timeout (1000 ms)"));
    free(log);
    tp_dfx_free(d);
}

/* A connection that says nothing, or nothing more after an answer (keep-
 * alive), is closed after http.idle_timeout (1 s here; 10 s by default,
 * longer than the 5 s allowed). */
static void test_idle_timeout(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http_with("idle_timeout: 1s, request_timeout: 60s");
    int       silent = tp_test_connect(d->http_port, 0);
    int       kept = tp_test_connect(d->http_port, 0);
    tp_test_send_request(kept, "GET", "/healthz", NULL);
    tp_test_text_t t = { 0 };
    assert_true(tp_test_read_until(kept, &t, 0, "\r\n\r\nok\n", TP_WAIT_MS));
    free(t.buf);
    assert_true(s_closed_within(silent, 5000));
    assert_true(s_closed_within(kept, 5000));
    close(silent);
    close(kept);
    /* Closed by the idle timeout, not the request deadline. */
    assert_true(tp_test_metric(d->http_port, "touchpointd_http_connections_timed_out_total") == 0);
}

/* Headers over 8 KiB are refused (evhttp answers 400), a body over 1 KiB
 * where no body is expected (ingest off) too (413); the endpoint serves on. */
static void test_header_and_body_limits(void **state) {
    tp_dfx_t *d = *state = tp_dfx_start_http("event", NULL);
    char     *big = malloc(9001 + 32);
    strcpy(big, "X-Big: ");
    memset(big + 7, 'a', 9000);
    strcpy(big + 9007, "\r\n");
    assert_int_equal(tp_test_get(d->http_port, "GET", "/healthz", big, NULL), 400);
    free(big);
    /* 8 KiB is the whole header block: a 7 KiB header fits. */
    char fits[7200];
    strcpy(fits, "X-Big: ");
    memset(fits + 7, 'a', 7000);
    strcpy(fits + 7007, "\r\n");
    assert_int_equal(tp_test_get(d->http_port, "GET", "/healthz", fits, NULL), 200);

    char body[2049];
    memset(body, 'b', 2048);
    body[2048] = '\0';
    assert_int_equal(tp_test_request(d->http_port, "POST", "/metrics", NULL, body, NULL), 413);
    body[100] = '\0'; /* small enough to be read: then the method is refused */
    assert_int_equal(tp_test_request(d->http_port, "POST", "/metrics", NULL, body, NULL), 405);
    assert_int_equal(tp_test_get(d->http_port, "GET", "/healthz", NULL, NULL), 200);
}

TP_TEST_MAIN(cmocka_unit_test(test_cap_and_slow_requests),
             cmocka_unit_test_teardown(test_idle_timeout, tp_dfx_teardown),
             cmocka_unit_test_teardown(test_header_and_body_limits, tp_dfx_teardown))
