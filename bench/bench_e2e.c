/* bench_e2e — what does touchpointd cost on top of the transport?
 *
 * One run measures, on this machine, with the same pre-packed frames:
 *  - the baseline: raw libzmq PUB -> SUB (a receiver that only counts) on
 *    ipc:// and tcp://127.0.0.1, the daemon's input frames, same count;
 *  - the real `touchpointd` end to end (producer -> daemon with every rule
 *    on, event clock -> subscriber), journal off and on, on both
 *    transports: events/s and the ratio to the baseline of its transport.
 *    A run ends with a marker event that raises a known alert: the clock
 *    stops when that alert arrives (the output is in order, so everything
 *    before it has been processed); the daemon's own counters, read from
 *    its exit log, confirm that no event was lost on the way in;
 *  - latency: the mix at fixed offered rates, every tenth event a call
 *    that fires call_incomplete at once; CLOCK_MONOTONIC from just before
 *    its zmq_send to the receipt of its alert (same host);
 *  - RSS per open call and per open case (VmRSS growth after loading 1M
 *    planned calls, then 1M cases with a started step), and the mix's
 *    events/s with 1k and with 1M of each open, interleaved, best of N.
 * It prints a table and writes JSON (--json FILE) so runs can be compared.
 * Every wait has a deadline: the benchmark stops by itself.
 *
 * Usage: bench_e2e [--events N] [--open N] [--reps N] [--quick] [--json FILE]
 *                  [--daemon PATH] [--throughput-only] [--latency-only]
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bench_baseline.h"
#include "bench_daemon.h"
#include "bench_mix.h"
#include "bench_report.h"
#include "bench_zmq.h"

extern char **environ;

#define LAT_EVERY    10                   /* latency probes: one event in ten */
#define PACE_TICK_NS 500000LL             /* the producer's pacing granularity */
#define MIX_T0       (BENCH_T0 + 3600000) /* the mix starts an hour after the open subjects */

static const char *s_bin = TP_DAEMON_BIN;
static char        s_tmp[200];
static unsigned    s_ndaemons;

static void s_die_if(int r, const char *what) {
    if (r < 0) {
        fprintf(stderr, "bench_e2e: %s: %s\n", what, strerror(-r));
        exit(1);
    }
}

/* A fresh daemon in the next directory under s_tmp. */
static int s_start(bench_daemon_t *d, bool tcp, bool journal) {
    char dir[256];
    snprintf(dir, sizeof dir, "%s/d%u", s_tmp, s_ndaemons++);
    return bench_daemon_start(d, s_bin, dir, tcp, journal);
}

/* End to end: a fresh daemon per repetition, best of reps. Checks that
 * the daemon accepted every event sent (n, markers and the probe). */
static double s_e2e(bool tcp, bool journal, const bench_frames_t *mix, int reps) {
    double best = 0;
    for (int i = 0; i < reps; i++) {
        bench_daemon_t d;
        s_die_if(s_start(&d, tcp, journal), "starting touchpointd");
        double    r = bench_daemon_blast(&d, mix, MIX_T0 + (int64_t)mix->n * BENCH_STEP_MS);
        long long want = (long long)(mix->n + d.mark);
        long long accepted = bench_daemon_stop(&d, NULL);
        if (accepted != want) {
            fprintf(stderr, "bench_e2e: touchpointd accepted %lld of %lld events\n", accepted,
                    want);
            exit(1);
        }
        best = r > best ? r : best;
    }
    return best;
}

static int s_cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The mix at `rate` events/s for about `secs`; latency of every tenth
 * event (send -> its alert). Paced by absolute sleeps, never spinning:
 * the producer must not take a core from the daemon on a 2-core box. It
 * sleeps only once it is PACE_TICK_NS ahead of the schedule, so at 50k/s
 * it sends bursts of up to 25 events every half millisecond instead of
 * sleeping 50,000 times a second (those wake-ups cost the daemon's machine
 * a quarter of a core). Latency is timed from each event's own send. */
static void s_latency(bool journal, double rate, double secs, bench_lat_t *ret) {
    size_t         n = (size_t)(rate * secs);
    bench_frames_t mix;
    s_die_if(bench_mix(&mix, n, "lat", MIX_T0, LAT_EVERY), "packing");
    int64_t       *sent = calloc(n, sizeof *sent), *recv = calloc(n, sizeof *recv);
    bench_daemon_t d;
    s_die_if(s_start(&d, false, journal), "starting touchpointd");
    d.rx.lat_recv_ns = recv; /* only the receiver writes it from now on */
    d.rx.lat_n = n;
    int64_t t0 = bench_now_ns();
    for (size_t i = 0; i < n; i++) {
        int64_t due = t0 + (int64_t)((double)i * 1e9 / rate), now = bench_now_ns();
        if (now + PACE_TICK_NS <= due) {
            struct timespec ts = { .tv_sec = due / 1000000000, .tv_nsec = due % 1000000000 };
            clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
            now = bench_now_ns();
        }
        sent[i] = now;
        bench_send(d.pub, &mix.f[i]);
    }
    double achieved = (double)n * 1e9 / (double)(bench_now_ns() - t0);
    d.event_ms = MIX_T0 + (int64_t)n * BENCH_STEP_MS;
    s_die_if(bench_daemon_sync(&d, false, NULL), "waiting for the last alert");
    bench_daemon_stop(&d, NULL);
    int64_t *lat = calloc(n / LAT_EVERY + 1, sizeof *lat);
    size_t   k = 0, probes = 0;
    for (size_t i = LAT_EVERY - 1; i < n; i += LAT_EVERY) {
        probes++;
        if (recv[i])
            lat[k++] = recv[i] - sent[i];
    }
    qsort(lat, k, sizeof *lat, s_cmp_i64);
    *ret = (bench_lat_t){
        .journal = journal, .rate = rate, .achieved = achieved, .samples = k, .lost = probes - k
    };
    if (k) {
        ret->p50_us = (double)lat[k / 2] / 1e3;
        ret->p99_us = (double)lat[(size_t)((double)k * 0.99)] / 1e3;
        ret->p999_us = (double)lat[(size_t)((double)k * 0.999)] / 1e3;
        ret->max_us = (double)lat[k - 1] / 1e3;
    }
    free(lat);
    free(sent);
    free(recv);
    bench_frames_free(&mix);
}

/* RSS per open call and case at `open` each, and the mix's events/s with
 * 1,000 vs `open` of each open, interleaved, best of reps. */
static void s_open_state(size_t open, const bench_frames_t *mix, int reps, bench_open_t *ret) {
    bench_daemon_t small, big;
    bench_frames_t calls, cases;
    s_die_if(s_start(&small, false, false), "starting touchpointd");
    s_die_if(s_start(&big, false, false), "starting touchpointd");
    s_die_if(bench_open_calls(&calls, 1000, "s", BENCH_T0), "packing");
    s_die_if(bench_open_cases(&cases, 1000, "s", BENCH_T0), "packing");
    bench_daemon_load(&small, &calls, 20000, BENCH_T0 + 1000);
    bench_daemon_load(&small, &cases, 20000, BENCH_T0 + 1000);
    bench_frames_free(&calls);
    bench_frames_free(&cases);

    long long rss0 = bench_daemon_rss(&big);
    s_die_if(bench_open_calls(&calls, open, "b", BENCH_T0), "packing");
    bench_daemon_load(&big, &calls, 20000, BENCH_T0 + 1000);
    bench_frames_free(&calls);
    long long rss1 = bench_daemon_rss(&big);
    s_die_if(bench_open_cases(&cases, open, "b", BENCH_T0), "packing");
    bench_daemon_load(&big, &cases, 20000, BENCH_T0 + 1000);
    bench_frames_free(&cases);
    long long rss2 = bench_daemon_rss(&big);
    *ret = (bench_open_t){ .open = open,
                           .bytes_per_call = (double)(rss1 - rss0) / (double)open,
                           .bytes_per_case = (double)(rss2 - rss1) / (double)open };

    /* The same mix, once per repetition on each daemon (ids repeat across
     * repetitions, so each repetition is its own tag: rebuilt per round). */
    for (int i = 0; i < reps; i++) {
        bench_frames_t m;
        char           tag[16];
        int64_t        t0 = MIX_T0 + (int64_t)i * (int64_t)mix->n * BENCH_STEP_MS;
        snprintf(tag, sizeof tag, "o%d", i);
        s_die_if(bench_mix(&m, mix->n, tag, t0, 0), "packing");
        int64_t end = t0 + (int64_t)mix->n * BENCH_STEP_MS;
        double  a = bench_daemon_blast(&small, &m, end), b = bench_daemon_blast(&big, &m, end);
        ret->small_per_s = a > ret->small_per_s ? a : ret->small_per_s;
        ret->big_per_s = b > ret->big_per_s ? b : ret->big_per_s;
        bench_frames_free(&m);
    }
    ret->calls_held = open;
    bench_daemon_stop(&small, NULL);
    bench_daemon_stop(&big, NULL);
}

static void s_rmrf(const char *dir) {
    char *argv[] = { "rm", "-rf", (char *)dir, NULL };
    pid_t pid;
    if (posix_spawnp(&pid, "rm", NULL, NULL, argv, environ) == 0)
        waitpid(pid, NULL, 0);
}

int main(int argc, char **argv) {
    bench_result_t res = { .events = 500000, .open = 1000000, .reps = 3 };
    const char    *json = NULL;
    bool           only_throughput = false; /* --throughput-only: for profiling the daemon */
    bool           only_latency = false;    /* --latency-only: comparing two daemons' latency */
    for (int i = 1; i < argc; i++) {
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--quick") == 0) {
            res.events = 100000;
            res.open = 100000;
            res.reps = 1;
        } else if (strcmp(argv[i], "--throughput-only") == 0) {
            only_throughput = true;
        } else if (strcmp(argv[i], "--latency-only") == 0) {
            only_latency = true;
        } else if (next && strcmp(argv[i], "--events") == 0) {
            res.events = strtoull(argv[++i], NULL, 10);
        } else if (next && strcmp(argv[i], "--open") == 0) {
            res.open = strtoull(argv[++i], NULL, 10);
        } else if (next && strcmp(argv[i], "--reps") == 0) {
            res.reps = atoi(argv[++i]);
        } else if (next && strcmp(argv[i], "--json") == 0) {
            json = argv[++i];
        } else if (next && strcmp(argv[i], "--daemon") == 0) {
            s_bin = argv[++i];
        } else {
            fprintf(stderr, "usage: bench_e2e [--events N] [--open N] [--reps N] [--quick] "
                            "[--json FILE] [--daemon PATH] [--throughput-only] [--latency-only]\n");
            return 2;
        }
    }
    if (res.events < 1000 || res.open < 1000 || res.reps < 1)
        return 2;
    snprintf(s_tmp, sizeof s_tmp, "/tmp/tp-bench-XXXXXX");
    if (!mkdtemp(s_tmp))
        return 1;
    signal(SIGPIPE, SIG_IGN);

    bench_frames_t mix;
    s_die_if(bench_mix(&mix, res.events, "m", MIX_T0, 0), "packing");
    for (size_t i = 0; i < mix.n; i++)
        res.frame_bytes += mix.f[i].len + strlen(mix.f[i].topic);
    res.frame_bytes /= (double)mix.n;

    /* Baselines and daemon runs alternate per transport, best of reps. */
    char ep[300];
    for (int t = 0; t < 2 && !only_latency; t++) {
        bench_tp_t *tp = &res.transport[t];
        tp->name = t ? "tcp" : "ipc";
        snprintf(ep, sizeof ep, t ? "tcp://127.0.0.1:*" : "ipc://%s/base.sock", s_tmp);
        for (int i = 0; i < res.reps; i++) {
            double r = bench_baseline(ep, &mix);
            tp->raw_per_s = r > tp->raw_per_s ? r : tp->raw_per_s;
        }
        tp->off_per_s = s_e2e(t == 1, false, &mix, res.reps);
        tp->on_per_s = s_e2e(t == 1, true, &mix, res.reps);
    }
    static const double rates[] = { 10000, 50000, 100000 };
    for (size_t i = 0; i < 3 && !only_throughput; i++) {
        s_latency(false, rates[i], res.reps > 1 ? 3 : 1, &res.lat[2 * i]);
        s_latency(true, rates[i], res.reps > 1 ? 3 : 1, &res.lat[2 * i + 1]);
    }
    if (!only_throughput && !only_latency)
        s_open_state(res.open, &mix, res.reps, &res.open_state);
    bench_frames_free(&mix);
    s_rmrf(s_tmp);

    bench_report_print(&res, stdout);
    if (json && bench_report_json(&res, json) < 0) {
        fprintf(stderr, "bench_e2e: cannot write %s\n", json);
        return 1;
    }
    return 0;
}
