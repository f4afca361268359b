/* tp_testmonitor — a client socket whose CURVE handshakes are watched
 * (zmq_socket_monitor), so a test knows a refused peer's handshake failed
 * before it checks that nothing the peer sent arrived. */
#pragma once

#include "tp_testdaemon.h"

struct event_base;

/* A socket of `type` in ctx (linger 0) whose handshake events are reported
 * on *ret_mon. */
void *tp_test_monitored(void *ctx, int type, void **ret_mon);

/* The next handshake event on a monitor (ZMQ_EVENT_*), or 0 after
 * TP_WAIT_MS. `pump` (may be NULL) runs an event loop in between, for
 * handlers in the test's own process. */
int tp_test_handshake(void *mon, struct event_base *pump);

/* Stops monitoring and closes both. */
void tp_test_monitored_close(void *sock, void *mon);

/* A monitored socket of `type` that is a CURVE client of d's daemon with
 * keypair (pub, sec), connected to `ep`; its monitor in *ret_mon. */
void *tp_dfx_curve_connect(tp_dfx_t *d, int type, const char *ep, const char *pub, const char *sec,
                           void **ret_mon);

/* The same, closed once its handshake is over: the outcome (ZMQ_EVENT_*). */
int tp_dfx_curve_try(tp_dfx_t *d, int type, const char *ep, const char *pub, const char *sec);
