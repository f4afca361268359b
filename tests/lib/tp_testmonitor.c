/* tp_testmonitor — see tp_testmonitor.h. */
#include "tp_testmonitor.h"

#include <event2/event.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <zmq.h>

#include "tp_testdaemon.h"

#define HANDSHAKE_EVENTS                                                    \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

void *tp_test_monitored(void *ctx, int type, void **ret_mon) {
    static unsigned n;
    char            ep[64];
    snprintf(ep, sizeof ep, "inproc://test-monitor-%u", n++);
    void *s = zmq_socket(ctx, type);
    int   zero = 0;
    assert_non_null(s);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    assert_int_equal(zmq_socket_monitor(s, ep, HANDSHAKE_EVENTS), 0);
    *ret_mon = zmq_socket(ctx, ZMQ_PAIR);
    assert_int_equal(zmq_connect(*ret_mon, ep), 0);
    return s;
}

int tp_test_handshake(void *mon, struct event_base *pump) {
    long long deadline = tp_now_ms() + TP_WAIT_MS;
    while (tp_now_ms() < deadline) {
        if (pump)
            event_base_loop(pump, EVLOOP_NONBLOCK);
        zmq_pollitem_t it = { .socket = mon, .events = ZMQ_POLLIN };
        if (zmq_poll(&it, 1, pump ? 5 : 200) != 1)
            continue;
        uint8_t buf[6];
        char    addr[256];
        assert_int_equal(zmq_recv(mon, buf, sizeof buf, 0), 6);
        assert_true(zmq_recv(mon, addr, sizeof addr, 0) >= 0);
        uint16_t ev;
        memcpy(&ev, buf, 2);
        return ev;
    }
    return 0;
}

void tp_test_monitored_close(void *sock, void *mon) {
    zmq_socket_monitor(sock, NULL, 0);
    zmq_close(mon);
    zmq_close(sock);
}

void *tp_dfx_curve_connect(tp_dfx_t *d, int type, const char *ep, const char *pub, const char *sec,
                           void **ret_mon) {
    void *s = tp_test_monitored(d->zctx, type, ret_mon);
    tp_dfx_curve_client(d, s, pub, sec);
    assert_int_equal(zmq_connect(s, ep), 0);
    return s;
}

int tp_dfx_curve_try(tp_dfx_t *d, int type, const char *ep, const char *pub, const char *sec) {
    void *mon, *s = tp_dfx_curve_connect(d, type, ep, pub, sec, &mon);
    int   ev = tp_test_handshake(mon, NULL);
    tp_test_monitored_close(s, mon);
    return ev;
}
