/* bench_restart — how long the real touchpointd takes to be back after a
 * SIGKILL, with snapshots (the default config: one every 1,000,000 logged
 * events) and without (snapshot.enabled false: the whole event log is
 * replayed), as history grows while what is open stays the same.
 *
 * For each N: a fresh daemon (journal on, every rule, event clock) is fed
 * M PLANNED calls (open, due a month on: they stay open whatever N) then
 * N - M events of the realistic mix, in windows closed by a marker
 * (nothing dropped). The mix's subjects recur every PERIOD cycles (its
 * calls, contracts and their alerts come back rather than pile up), so
 * the open state is the M calls plus at most PERIOD cycles of the mix at
 * any N: a longer history only lengthens the log behind it. With
 * snapshots it waits for one at the end of the log; SIGKILL; the daemon
 * is started again on the same state and the time from spawn to the alert
 * of the first marker it is sent is the restart (rebuild, READY, first
 * event).
 *
 * Usage: bench_restart [-s] M N1 [N2 ...]   (e.g. 1000000 1000000 10000000)
 *   -s: with snapshots only (a full replay of 10M events takes minutes).
 * The daemon inherits the environment (e.g. GLIBC_TUNABLES).
 * Not a test: prints one line per run and a JSON line each. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_daemon.h"
#include "bench_mix.h"
#include "bench_zmq.h"

extern char **environ;

#define PART   500000 /* history events packed and sent at a time */
#define PERIOD 2000   /* mix cycles (20 events each) before its subjects recur */

/* The position of the newest snapshot in place, 0 if none. */
static unsigned long long s_newest(const char *dir) {
    char path[300];
    snprintf(path, sizeof path, "%s/state", dir);
    DIR               *dh = opendir(path);
    unsigned long long newest = 0, p;
    char               tail[32];
    for (struct dirent *de; dh && (de = readdir(dh));)
        if (sscanf(de->d_name, "snapshot-%llu%31s", &p, tail) == 2 &&
            strcmp(tail, ".tpsnap") == 0 && p > newest)
            newest = p;
    if (dh)
        closedir(dh);
    return newest;
}

#define REPEAT 5
#define PACED  150000 /* events sent at PACE/s at the end of the history */
#define PACE   10000

/* Sends fr at PACE events/s (in steps of 100), then a marker. */
static void s_paced(bench_daemon_t *d, const bench_frames_t *fr, int64_t last_ms) {
    if (fr->n == 0)
        return;
    int64_t t0 = bench_now_ns();
    for (size_t i = 0; i < fr->n; i++) {
        if (i % 100 == 0) {
            int64_t due = t0 + (int64_t)(i * 1000000000.0 / PACE), now = bench_now_ns();
            if (due > now)
                usleep((useconds_t)((due - now) / 1000));
        }
        bench_send(d->pub, &fr->f[i]);
    }
    bench_frames_t none = { fr->f, 0 };
    bench_daemon_blast(d, &none, last_ms);
}

static int s_cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* CPU seconds (user + system) pid has used: what a restart costs,
 * whatever else the machine is doing (2 cores shared with other work make
 * the wall time vary by 2x from run to run). */
static double s_cpu(pid_t pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE  *f = fopen(path, "r");
    size_t k = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[k] = '\0';
    const char        *p = strrchr(buf, ')'); /* after the command name */
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Spawns the daemon on dir's config and state (stderr to err): seconds
 * until the alert of the first marker it is sent; its CPU seconds by then
 * in *ret_cpu. */
static double s_restart(bench_daemon_t *d, const char *bin, const char *dir, const char *err,
                        double *ret_cpu) {
    char cfg[300];
    snprintf(cfg, sizeof cfg, "%s/touchpointd.yaml", dir);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char           *argv[] = { (char *)bin, "--config", cfg, NULL };
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (posix_spawn(&d->pid, bin, &fa, NULL, argv, environ) != 0)
        exit(1);
    posix_spawn_file_actions_destroy(&fa);
    if (bench_daemon_sync(d, true, NULL) < 0) {
        fprintf(stderr, "no marker after the restart\n");
        exit(1);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *ret_cpu = s_cpu(d->pid);
    return (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
}

static double s_run(const char *bin, size_t m, size_t n, bool snapshots) {
    char dir[200];
    snprintf(dir, sizeof dir, "/tmp/bench_restart.%d.%zu.%d", (int)getpid(), n, snapshots);
    bench_daemon_t d;
    /* Every 1,000,000 events (the default), and 10 s after the last event
     * one at the end: the restart then loads it and replays nothing. */
    bench_daemon_extra_yaml =
        snapshots ? "snapshot: { interval: 10s }\n" : "snapshot: { enabled: false }\n";
    if (bench_daemon_start(&d, bin, dir, false, true) < 0)
        exit(1);
    bench_frames_t open;
    if (bench_open_calls(&open, m, "O", BENCH_T0) < 0)
        exit(1);
    bench_daemon_load(&d, &open, 20000, BENCH_T0);
    bench_frames_free(&open);
    /* The history in parts (10M events packed at once would be GBs), as
     * fast as the daemon takes them; its last PACED events at PACE/s, so a
     * snapshot (snapshot.interval) is taken under a steady load and its
     * log line tells the loop lag then, not a saturated loop's. */
    size_t paced = snapshots && n - m >= 2 * PACED ? PACED : 0;
    for (size_t first = 0; first < n - m; first += PART) {
        bench_frames_t mix;
        size_t         k = n - m - first < PART ? n - m - first : PART;
        if (bench_mix_part(&mix, first, k, "X", BENCH_T0, PERIOD) < 0)
            exit(1);
        int64_t        last = BENCH_T0 + (int64_t)(first + k) * BENCH_STEP_MS;
        size_t         edge = n - m - paced; /* where the paced part starts */
        size_t         fast = first >= edge ? 0 : edge - first < k ? edge - first : k;
        bench_frames_t head = { mix.f, fast }, tail = { mix.f + fast, k - fast };
        bench_daemon_load(&d, &head, 20000, last);
        s_paced(&d, &tail, last);
        bench_frames_free(&mix);
    }
    while (snapshots && s_newest(dir) < n)
        usleep(10000);
    /* REPEAT restarts on the same state (each killed again once back; the
     * markers they are sent add a few events to replay): the median. */
    double t[REPEAT], cpu[REPEAT];
    char   err[300];
    for (int i = 0; i < REPEAT; i++) {
        kill(d.pid, SIGKILL);
        waitpid(d.pid, NULL, 0);
        if (i == 0)
            close(d.pidfd);
        snprintf(err, sizeof err, "%s/stderr%d", dir, i + 2);
        t[i] = s_restart(&d, bin, dir, err, &cpu[i]);
    }
    qsort(t, REPEAT, sizeof *t, s_cmp);
    qsort(cpu, REPEAT, sizeof *cpu, s_cmp);
    double s = t[REPEAT / 2];
    printf("%s: %zu logged events, %zu open calls: back in %.2f s (median of %d, %.2f-%.2f), "
           "daemon CPU %.2f s (%.2f-%.2f); log: %s\n",
           snapshots ? "snapshot" : "full replay", n, m, s, REPEAT, t[0], t[REPEAT - 1],
           cpu[REPEAT / 2], cpu[0], cpu[REPEAT - 1], err);
    printf("{\"snapshots\":%s,\"logged\":%zu,\"open_calls\":%zu,\"restart_s\":%.3f,"
           "\"restart_min_s\":%.3f,\"restart_max_s\":%.3f,\"restart_cpu_s\":%.3f}\n",
           snapshots ? "true" : "false", n, m, s, t[0], t[REPEAT - 1], cpu[REPEAT / 2]);
    char grep[900];
    /* The snapshots taken while it was fed (fork, loop lag meanwhile),
     * then what the restart loaded. */
    snprintf(grep, sizeof grep,
             "grep -E 'Wrote the snapshot' %s/stderr | sed 's/^.*Wrote/  wrote/'; "
             "grep -E 'Loaded the snapshot|Rebuilt state' %s | sed 's/^/  /'",
             dir, err);
    fflush(stdout);
    if (system(grep) < 0)
        fprintf(stderr, "no grep\n");
    /* Stops it, its receiver thread and sockets (d is reused next run). */
    d.pidfd = (int)syscall(SYS_pidfd_open, d.pid, 0);
    bench_daemon_stop(&d, NULL);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return s;
}

int main(int argc, char **argv) {
    bool only_snapshots = argc > 1 && strcmp(argv[1], "-s") == 0;
    argv += only_snapshots;
    argc -= only_snapshots;
    if (argc < 3) {
        fprintf(stderr, "usage: bench_restart [-s] M N1 [N2 ...]\n");
        return 2;
    }
    size_t m = strtoull(argv[1], NULL, 10);
    for (int i = 2; i < argc; i++) {
        size_t n = strtoull(argv[i], NULL, 10);
        if (n < m) {
            fprintf(stderr, "N must be at least M\n");
            return 2;
        }
        s_run(TP_DAEMON_BIN, m, n, true);
        if (!only_snapshots)
            s_run(TP_DAEMON_BIN, m, n, false);
    }
    return 0;
}
