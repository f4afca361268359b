/* test_notify — the watchdog's ping interval, against the real daemon.
 *
 * systemd kills a service that does not send WATCHDOG=1 within
 * WATCHDOG_USEC; the daemon pings at half of it (sd_watchdog_enabled(3)).
 * test_reload checks that pings come at all; this checks how often.
 *
 * With WATCHDOG_USEC = 1 s the interval must be 500 ms. The pings are a
 * persistent libevent timer, rescheduled from its due time, not from when
 * it ran: a ping can be late under load but the k-th one is never due
 * before k intervals, and lateness does not add up. So the span of
 * N intervals lies in [N * 500 ms, N * 500 ms + one ping's lateness]; it is
 * checked against [0.9, 1.5] x N x 500 ms. A wrong interval (the full
 * WATCHDOG_USEC, a quarter of it, a fixed second) is off by a factor of
 * 2 and cannot land in that range; a loaded machine would have to delay
 * one ping by 1.5 s to fail it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_testnotify.h"
#include "tp_testutil.h"

#define WATCHDOG_MS 1000
#define INTERVAL_MS (WATCHDOG_MS / 2)
#define N_INTERVALS 6

/* The next WATCHDOG=1 datagram; other messages (READY, STATUS) skipped. */
static long long s_next_ping(const tp_notify_t *n) {
    for (;;) {
        char msg[1024];
        tp_notify_recv(n, msg, sizeof msg);
        if (strcmp(msg, "WATCHDOG=1") == 0)
            return tp_now_ms();
    }
}

static void test_watchdog_pings_at_half_the_timeout(void **state) {
    (void)state;
    tp_notify_t n;
    tp_notify_open(&n);
    char usec[32];
    snprintf(usec, sizeof usec, "%d", WATCHDOG_MS * 1000);
    tp_dfx_t *d = tp_dfx_start_notified(&n, usec);

    long long first = s_next_ping(&n), last = first;
    for (int i = 0; i < N_INTERVALS; i++)
        last = s_next_ping(&n);
    long long span = last - first, want = (long long)N_INTERVALS * INTERVAL_MS;
    print_message("%d watchdog intervals: %lld ms (want %lld ms)\n", N_INTERVALS, span, want);
    assert_true(span >= want * 9 / 10);
    assert_true(span <= want * 3 / 2);

    char *log = tp_dfx_stop(d);
    char  line[64];
    snprintf(line, sizeof line, "pinging every %d ms", INTERVAL_MS);
    assert_non_null(strstr(log, line));
    free(log);
    tp_dfx_free(d);
    tp_notify_close(&n);
}

TP_TEST_MAIN(cmocka_unit_test(test_watchdog_pings_at_half_the_timeout))
