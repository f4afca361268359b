/* bench_zmq — see bench_zmq.h. */
#include "bench_zmq.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

int64_t bench_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void bench_send(void *pub, const bench_frame_t *f) {
    zmq_send(pub, f->topic, strlen(f->topic), ZMQ_SNDMORE);
    zmq_send(pub, f->buf, f->len, 0);
}

void *bench_socket(void *ctx, int type) {
    void *s = zmq_socket(ctx, type);
    int   zero = 0;
    zmq_setsockopt(s, ZMQ_SNDHWM, &zero, sizeof zero); /* unlimited: nothing dropped */
    zmq_setsockopt(s, ZMQ_RCVHWM, &zero, sizeof zero);
    zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
    return s;
}

int bench_wait_subscribed(void *xpub) {
    zmq_pollitem_t it = { .socket = xpub, .events = ZMQ_POLLIN };
    char           sub[64];
    if (zmq_poll(&it, 1, 10000) != 1 || zmq_recv(xpub, sub, sizeof sub, 0) < 1 || sub[0] != 1)
        return -ETIMEDOUT;
    return 0;
}
