/* bench_baseline — see bench_baseline.h. */
#include "bench_baseline.h"

#include <stdio.h>
#include <stdlib.h>

#include <zmq.h>

#include "bench_rx.h"
#include "bench_zmq.h"

double bench_baseline(const char *ep, const bench_frames_t *mix) {
    void  *rctx = zmq_ctx_new(), *sctx = zmq_ctx_new(); /* one I/O thread each, as two processes */
    void  *sub = bench_socket(rctx, ZMQ_SUB), *pub = bench_socket(sctx, ZMQ_XPUB);
    char   bound[256];
    size_t blen = sizeof bound;
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "crm.", 4);
    if (zmq_bind(sub, ep) < 0 || zmq_getsockopt(sub, ZMQ_LAST_ENDPOINT, bound, &blen) < 0 ||
        zmq_connect(pub, bound) < 0) {
        fprintf(stderr, "bench_e2e: baseline on %s failed: %s\n", ep, zmq_strerror(zmq_errno()));
        exit(1);
    }
    /* The receiver first: a bound SUB attaches a new peer (and sends it the
     * subscription) only when its own thread next uses the socket. */
    bench_rx_t rx;
    bench_rx_start(&rx, sub, mix->n);
    if (bench_wait_subscribed(pub) < 0) {
        fprintf(stderr, "bench_e2e: baseline on %s: no subscription\n", ep);
        exit(1);
    }
    int64_t t0 = bench_now_ns();
    for (size_t i = 0; i < mix->n; i++)
        bench_send(pub, &mix->f[i]);
    int64_t t1 = bench_rx_wait(&rx, 0, BENCH_WAIT_MS);
    bench_rx_stop(&rx);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(sctx);
    zmq_ctx_term(rctx);
    if (t1 < 0) {
        fprintf(stderr, "bench_e2e: baseline on %s: %zu of %zu arrived\n", ep, rx.got, mix->n);
        exit(1);
    }
    return (double)mix->n * 1e9 / (double)(t1 - t0);
}
