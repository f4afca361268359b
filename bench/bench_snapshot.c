/* bench_snapshot — what a snapshot costs and what it saves at restart.
 *
 * Builds an engine (every rule, event clock) holding M open calls
 * (PLANNED, each with two deadlines) and K events of the realistic mix,
 * then measures, in this process and on real files:
 *   - the snapshot as the daemon takes it (tp_snapshot_fork): how long
 *     fork() holds the caller (the event loop's stall), how long the child
 *     takes to write and fsync, the file's size; and, while the child
 *     writes, the time per event of events handled meanwhile (the
 *     copy-on-write faults the loop pays), as p50/p99/max of batches of
 *     100 events, against the same batches with no child running;
 *   - the restart: loading the snapshot into a fresh engine (what precedes
 *     READY=1, with the replay of the log after it), against handling
 *     every event again (the replay the log alone would need, without even
 *     reading SQLite: a lower bound for the restart without snapshots).
 * Not a test: prints a table and one JSON line.
 *
 * Usage: bench_snapshot [M [K]]   (defaults 1000000 200000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_mix.h"
#include "tp_engine.h"
#include "tp_log.h"
#include "tp_snapshot.h"

static double s_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static tp_engine_t *s_engine(tp_config_t **ret_cfg) {
    static const char *yaml = "clock: event\n";
    char               err[256];
    tp_engine_t       *e;
    if (tp_config_parse(yaml, strlen(yaml), "bench", err, sizeof err, ret_cfg) < 0 ||
        tp_engine_new(*ret_cfg, &e) < 0) {
        fprintf(stderr, "engine: %s\n", err);
        exit(1);
    }
    return e;
}

static void s_feed(tp_engine_t *e, const bench_frames_t *m, size_t from, size_t to) {
    for (size_t i = from; i < to; i++) {
        tp_frame_t fr[2] = { { m->f[i].topic, strlen(m->f[i].topic) },
                             { m->f[i].buf, m->f[i].len } };
        if (tp_engine_handle(e, fr, 2) < 0)
            exit(1);
    }
}

static void s_save_cb(void *ctx, tp_snapw_t *w) {
    tp_engine_save(ctx, w);
}

static int s_load_cb(void *ctx, tp_snapr_t *r) {
    return tp_engine_load(ctx, r);
}

static int s_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

#define BATCH 100

/* Minor page faults of this process so far (copy-on-write ones among them). */
static long s_minflt(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_minflt;
}

/* A "Name:   N kB" line of /proc/self/status, or -1. */
static long s_status_kb(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    char  line[256];
    long  v = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, name, strlen(name)) == 0)
            v = strtol(line + strlen(name), NULL, 10);
    if (f)
        fclose(f);
    return v;
}

/* Times batches of BATCH events from m[from..to) (ms per batch) into t. */
static size_t s_batches(tp_engine_t *e, const bench_frames_t *m, size_t from, size_t to, double *t,
                        size_t max, pid_t child) {
    size_t n = 0;
    for (size_t i = from; i + BATCH <= to && n < max; i += BATCH) {
        double t0 = s_now();
        s_feed(e, m, i, i + BATCH);
        t[n++] = (s_now() - t0) * 1e3;
        if (child > 0 && waitpid(child, NULL, WNOHANG) == child)
            break; /* only what ran while the child wrote */
    }
    qsort(t, n, sizeof *t, s_cmp);
    return n;
}

int main(int argc, char **argv) {
    size_t M = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
    size_t K = argc > 2 ? strtoull(argv[2], NULL, 10) : 200000;
    tp_log_set_max_level(TP_LOG_ERR);
    char dir[] = "/tmp/bench_snapshot.XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    bench_frames_t open_calls, mix, during;
    if (bench_open_calls(&open_calls, M, "O", BENCH_T0) < 0 ||
        bench_mix(&mix, K, "X", BENCH_T0, 0) < 0 ||
        bench_mix(&during, 400000, "Y", BENCH_T0 + (int64_t)K * BENCH_STEP_MS, 0) < 0)
        return 1;
    tp_config_t *cfg;
    tp_engine_t *e = s_engine(&cfg);
    double       t0 = s_now();
    s_feed(e, &open_calls, 0, open_calls.n);
    s_feed(e, &mix, 0, mix.n);
    double replay_s = s_now() - t0;
    printf("engine: %zu calls, %zu cases, %zu open alerts, %zu deadlines (%zu events in %.2f s)\n",
           tp_engine_calls(e), tp_engine_cases(e), tp_engine_open_alerts(e), tp_engine_deadlines(e),
           open_calls.n + mix.n, replay_s);

    /* Batches with no child, as the baseline. */
    static double base[4000], snap[4000];
    long          flt0 = s_minflt();
    size_t        nb = s_batches(e, &during, 0, 200000, base, 2000, 0);
    long          base_flt = s_minflt() - flt0;
    long          pte_kb = s_status_kb("VmPTE:");

    tp_snapshot_section_t sec = { TP_SNAP_TAG('E', 'N', 'G', 'N'), "engine", s_save_cb, s_load_cb,
                                  e };
    pid_t                 pid;
    int                   pidfd;
    double                f0 = s_now();
    if (tp_snapshot_fork(dir, 1, &sec, 1, &pid, &pidfd) < 0)
        return 1;
    double fork_ms = (s_now() - f0) * 1e3;
    flt0 = s_minflt();
    size_t ns = s_batches(e, &during, 200000, during.n, snap, 4000, pid);
    long   snap_flt = s_minflt() - flt0;
    int    status;
    waitpid(pid, &status, 0);
    double write_s = s_now() - f0;
    if (pidfd >= 0)
        close(pidfd);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || tp_snapshot_commit(dir, 1) < 0)
        return 1;
    char path[256];
    snprintf(path, sizeof path, "%s/snapshot-%020d.tpsnap", dir, 1);
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fclose(f);

    tp_config_t *cfg2;
    tp_engine_t *e2 = s_engine(&cfg2);
    sec.ctx = e2;
    double l0 = s_now();
    if (tp_snapshot_load(dir, 1, &sec, 1, NULL) < 0)
        return 1;
    double load_s = s_now() - l0;
    if (getenv("BENCH_SNAPSHOT_TIMES")) /* perf report --time FROM,TO (perf record -k mono) */
        fprintf(stderr, "load: %.6f,%.6f\n", l0, l0 + load_s);

    printf("snapshot: fork %.1f ms, written (fsync'd) in %.2f s, %.1f MB (%.0f bytes per open "
           "call)\n",
           fork_ms, write_s, (double)size / 1e6, (double)size / (double)(M ? M : 1));
    printf("page tables %ld kB; the loop's page faults per batch: %.1f while the child writes "
           "(copy-on-write), %.1f without\n",
           pte_kb, ns ? (double)snap_flt / (double)ns : 0, nb ? (double)base_flt / (double)nb : 0);
    printf("loop while the child writes: %zu batches of %d events, ms per batch p50 %.3f p99 "
           "%.3f max %.3f (no child: p50 %.3f p99 %.3f max %.3f)\n",
           ns, BATCH, ns ? snap[ns / 2] : 0, ns ? snap[ns * 99 / 100] : 0, ns ? snap[ns - 1] : 0,
           base[nb / 2], base[nb * 99 / 100], base[nb - 1]);
    printf("restart: load %.2f s (%zu calls back) vs handling the %zu events again %.2f s\n",
           load_s, tp_engine_calls(e2), open_calls.n + mix.n, replay_s);
    printf("{\"open_calls\":%zu,\"events\":%zu,\"fork_ms\":%.2f,\"write_s\":%.3f,\"bytes\":%ld,"
           "\"batch_p99_ms\":%.3f,\"batch_max_ms\":%.3f,\"base_p99_ms\":%.3f,\"load_s\":%.3f,"
           "\"replay_s\":%.3f,\"pte_kb\":%ld,\"cow_faults_per_batch\":%.1f}\n",
           M, open_calls.n + mix.n, fork_ms, write_s, size, ns ? snap[ns * 99 / 100] : 0,
           ns ? snap[ns - 1] : 0, base[nb * 99 / 100], load_s, replay_s, pte_kb,
           ns ? (double)snap_flt / (double)ns : 0);
    unlink(path);
    rmdir(dir);
    tp_engine_destroy(&e);
    tp_engine_destroy(&e2);
    tp_config_destroy(&cfg);
    tp_config_destroy(&cfg2);
    bench_frames_free(&open_calls);
    bench_frames_free(&mix);
    bench_frames_free(&during);
    return 0;
}
