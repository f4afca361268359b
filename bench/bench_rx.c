/* bench_rx — see bench_rx.h. */
#include "bench_rx.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zmq.h>

#include "bench_zmq.h"

static void s_rx_alert(bench_rx_t *rx, const uint8_t *b, size_t len, int64_t t) {
    const uint8_t *p = memmem(b, len, "MARK-", 5);
    if (p) {
        uint64_t k = strtoull((const char *)p + 5, NULL, 10); /* the body is no C string; */
        pthread_mutex_lock(&rx->lock);                        /* digits end before it does */
        if (k > rx->last_mark) {
            rx->last_mark = k;
            rx->done_ns = t;
        }
        pthread_cond_broadcast(&rx->cond);
        pthread_mutex_unlock(&rx->lock);
        return;
    }
    if (!rx->lat_recv_ns || !(p = memmem(b, len, "LAT-", 4)))
        return;
    const uint8_t *dash = memchr(p + 4, '-', len - (size_t)(p + 4 - b));
    if (!dash)
        return;
    size_t i = strtoull((const char *)dash + 1, NULL, 10);
    if (i < rx->lat_n && !rx->lat_recv_ns[i])
        rx->lat_recv_ns[i] = t;
}

static void *s_rx_main(void *arg) {
    bench_rx_t *rx = arg;
    zmq_msg_t   topic, body;
    zmq_msg_init(&topic);
    zmq_msg_init(&body);
    while (!atomic_load(&rx->stop)) {
        zmq_pollitem_t it = { .socket = rx->sock, .events = ZMQ_POLLIN };
        if (zmq_poll(&it, 1, 50) <= 0)
            continue;
        while (zmq_msg_recv(&topic, rx->sock, ZMQ_DONTWAIT) >= 0) {
            zmq_msg_recv(&body, rx->sock, 0);
            int64_t t = bench_now_ns();
            rx->got++;
            if (!rx->want) {
                s_rx_alert(rx, zmq_msg_data(&body), zmq_msg_size(&body), t);
            } else if (rx->got == rx->want) {
                pthread_mutex_lock(&rx->lock);
                rx->done_ns = t;
                pthread_cond_broadcast(&rx->cond);
                pthread_mutex_unlock(&rx->lock);
            }
        }
    }
    zmq_msg_close(&topic);
    zmq_msg_close(&body);
    return NULL;
}

void bench_rx_start(bench_rx_t *rx, void *sock, size_t want) {
    memset(rx, 0, sizeof *rx);
    rx->sock = sock;
    rx->want = want;
    pthread_mutex_init(&rx->lock, NULL);
    pthread_cond_init(&rx->cond, NULL);
    pthread_create(&rx->thread, NULL, s_rx_main, rx);
}

void bench_rx_stop(bench_rx_t *rx) {
    atomic_store(&rx->stop, true);
    pthread_join(rx->thread, NULL);
    pthread_mutex_destroy(&rx->lock);
    pthread_cond_destroy(&rx->cond);
}

int64_t bench_rx_wait(bench_rx_t *rx, uint64_t mark, int timeout_ms) {
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += timeout_ms / 1000;
    dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
    if (dl.tv_nsec >= 1000000000) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000;
    }
    int64_t t = -1;
    pthread_mutex_lock(&rx->lock);
    for (;;) {
        bool done = rx->want ? rx->done_ns != 0 : rx->last_mark >= mark;
        if (done) {
            t = rx->done_ns;
            break;
        }
        if (pthread_cond_timedwait(&rx->cond, &rx->lock, &dl) == ETIMEDOUT)
            break;
    }
    pthread_mutex_unlock(&rx->lock);
    return t;
}
