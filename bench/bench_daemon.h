/* bench_daemon — the real touchpointd for bench_e2e: started on a config
 * of its own in a fresh directory (every rule on, event clock, journal on
 * or off, input on ipc:// or tcp://), fed through an XPUB, its alerts
 * watched by bench_rx; markers "MARK-<n>" close each timed run (the
 * output is in order, so its alert means all before it was processed).
 * Failures during a timed run exit the program. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench_mix.h"
#include "bench_rx.h"

typedef struct {
    char       dir[256];
    pid_t      pid;
    int        pidfd;
    void      *ctx, *pub, *sub;
    bench_rx_t rx;
    uint64_t   mark;     /* markers sent */
    int64_t    event_ms; /* latest event time sent */
} bench_daemon_t;

/* Starts `bin` with its config and state in `dir` (created here), connects,
 * waits for the first marker's alert. 0 or negative errno. */
int bench_daemon_start(bench_daemon_t *d, const char *bin, const char *dir, bool tcp, bool journal);

/* More top-level YAML for the daemons bench_daemon_start starts (NULL: none). */
extern const char *bench_daemon_extra_yaml;

/* Sends marker MARK-<n> and waits for its alert; retried every 100 ms
 * until the subscription has propagated (first sync only). The arrival in
 * *ret_ns if not NULL. 0, -ENOMEM or -ETIMEDOUT. */
int bench_daemon_sync(bench_daemon_t *d, bool retry, int64_t *ret_ns);

/* Sends every frame as fast as zmq takes them, then a marker; events/s
 * from the first send to the marker's alert. */
double bench_daemon_blast(bench_daemon_t *d, const bench_frames_t *fr, int64_t last_ms);

/* Sends in windows of `window` frames, each closed by a marker, so the
 * daemon's input queue never holds more than a window (RSS measures state,
 * not queued messages). */
void bench_daemon_load(bench_daemon_t *d, const bench_frames_t *fr, size_t window, int64_t last_ms);

/* VmRSS of the daemon, bytes. */
long long bench_daemon_rss(const bench_daemon_t *d);

/* SIGTERM, wait for the exit (pidfd, with a deadline), and return its
 * `accepted` counter (the daemon logs its stats when it stops); its
 * alerts_dropped in *ret_dropped if not NULL. */
long long bench_daemon_stop(bench_daemon_t *d, long long *ret_dropped);
