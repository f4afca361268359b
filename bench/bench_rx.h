/* bench_rx — bench_e2e's receiving side: a thread that drains a SUB and
 * either counts messages (the raw baseline: the time of the last one) or
 * watches alerts for markers "MARK-<n>" (the time of the highest) and for
 * latency probes "LAT-<tag>-<index>" (the arrival of each). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    void           *sock;
    pthread_t       thread;
    atomic_bool     stop;
    size_t          want; /* baseline: messages to count; 0 = alert mode */
    size_t          got;
    pthread_mutex_t lock;
    pthread_cond_t  cond;
    uint64_t        last_mark;   /* highest MARK-<n> alert seen */
    int64_t         done_ns;     /* baseline: the last message; alerts: the last marker */
    int64_t        *lat_recv_ns; /* per event index: its LAT alert's arrival, or 0 */
    size_t          lat_n;
} bench_rx_t;

/* Starts the thread on `sock` (not owned): counting `want` messages, or
 * watching alerts when want is 0. lat_recv_ns and lat_n may be set after. */
void bench_rx_start(bench_rx_t *rx, void *sock, size_t want);

/* Stops and joins the thread. */
void bench_rx_stop(bench_rx_t *rx);

/* Waits until the receiver has counted `want` (baseline) or seen marker
 * `mark`; returns the arrival time, or -1 at the deadline. */
int64_t bench_rx_wait(bench_rx_t *rx, uint64_t mark, int timeout_ms);
