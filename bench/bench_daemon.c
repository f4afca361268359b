/* bench_daemon — see bench_daemon.h. */
#include "bench_daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zmq.h>

#include "bench_zmq.h"

extern char **environ;


static int s_write(const char *path, const char *text) {
    FILE *f = fopen(path, "we");
    if (!f)
        return -errno;
    fputs(text, f);
    return fclose(f) == 0 ? 0 : -EIO;
}

/* A free loopback port for a tcp:// daemon input (the small race with
 * another binder is acceptable in a benchmark; the start fails loudly). */
static int s_free_port(void) {
    void  *ctx = zmq_ctx_new(), *s = zmq_socket(ctx, ZMQ_PULL);
    char   ep[64] = "";
    size_t len = sizeof ep;
    zmq_bind(s, "tcp://127.0.0.1:*");
    zmq_getsockopt(s, ZMQ_LAST_ENDPOINT, ep, &len);
    zmq_close(s);
    zmq_ctx_term(ctx);
    const char *colon = strrchr(ep, ':');
    return colon ? atoi(colon + 1) : -1;
}

int bench_daemon_sync(bench_daemon_t *d, bool retry, int64_t *ret_ns) {
    uint64_t first = d->mark + 1;
    int64_t  deadline = bench_now_ns() + (int64_t)BENCH_WAIT_MS * 1000000;
    for (;;) {
        char          id[32];
        bench_frame_t f;
        snprintf(id, sizeof id, "MARK-%" PRIu64, ++d->mark);
        if (bench_marker(&f, id, d->event_ms) < 0)
            return -ENOMEM;
        bench_send(d->pub, &f);
        free(f.buf);
        int64_t t = bench_rx_wait(&d->rx, first, retry ? 100 : BENCH_WAIT_MS);
        if (t >= 0) {
            if (ret_ns)
                *ret_ns = t;
            return 0;
        }
        if (!retry || bench_now_ns() > deadline)
            return -ETIMEDOUT;
    }
}

const char *bench_daemon_extra_yaml;

int bench_daemon_start(bench_daemon_t *d, const char *bin, const char *dir, bool tcp,
                       bool journal) {
    memset(d, 0, sizeof *d);
    d->event_ms = BENCH_T0;
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    char in[300], yaml[2048], cfg[300], err[300];
    if (mkdir(d->dir, 0700) < 0)
        return -errno;
    if (tcp)
        snprintf(in, sizeof in, "tcp://127.0.0.1:%d", s_free_port());
    else
        snprintf(in, sizeof in, "ipc://%s/in.sock", d->dir);
    /* Every rule is on by default; event clock: deadlines follow event time. */
    snprintf(yaml, sizeof yaml,
             "inputs:\n  - { endpoint: \"%s\", mode: bind, hwm: 0 }\n"
             "output: { endpoint: \"ipc://%s/out.sock\", mode: bind, hwm: 0 }\n"
             "replay: { enabled: %s, endpoint: \"ipc://%s/replay.sock\" }\n"
             "reliable_input: { enabled: %s, endpoint: \"ipc://%s/reliable.sock\" }\n"
             "clock: event\nstate_dir: %s/state\n"
             "journal: { enabled: %s }\nhttp: { enabled: false }\n%s",
             in, d->dir, journal ? "true" : "false", d->dir, journal ? "true" : "false", d->dir,
             d->dir, journal ? "true" : "false",
             bench_daemon_extra_yaml ? bench_daemon_extra_yaml : "");
    snprintf(cfg, sizeof cfg, "%s/touchpointd.yaml", d->dir);
    snprintf(err, sizeof err, "%s/stderr", d->dir);
    int r = s_write(cfg, yaml);
    if (r < 0)
        return r;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *argv[] = { (char *)bin, "--config", cfg, NULL };
    r = posix_spawn(&d->pid, bin, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (r != 0)
        return -r;
    d->pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
    d->ctx = zmq_ctx_new();
    d->pub = bench_socket(d->ctx, ZMQ_XPUB);
    d->sub = bench_socket(d->ctx, ZMQ_SUB);
    char out[300];
    snprintf(out, sizeof out, "ipc://%s/out.sock", d->dir);
    zmq_setsockopt(d->sub, ZMQ_SUBSCRIBE, "", 0);
    if (zmq_connect(d->pub, in) < 0 || zmq_connect(d->sub, out) < 0)
        return -EIO;
    if ((r = bench_wait_subscribed(d->pub)) < 0)
        return r;
    bench_rx_start(&d->rx, d->sub, 0);
    return bench_daemon_sync(d, true, NULL);
}

long long bench_daemon_rss(const bench_daemon_t *d) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)d->pid);
    FILE     *f = fopen(path, "re");
    long long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb * 1024;
}

/* One of the daemon's exit counters ("stats: ... key=N"), or -1. */
static long long s_stat(const char *log, const char *key) {
    const char *line = log ? strstr(log, "stats: ") : NULL;
    char        pat[64];
    snprintf(pat, sizeof pat, " %s=", key);
    const char *hit = line ? strstr(line, pat) : NULL;
    return hit ? strtoll(hit + strlen(pat), NULL, 10) : -1;
}

long long bench_daemon_stop(bench_daemon_t *d, long long *ret_dropped) {
    bench_rx_stop(&d->rx);
    kill(d->pid, SIGTERM);
    struct pollfd p = { .fd = d->pidfd, .events = POLLIN };
    if (poll(&p, 1, 60000) != 1) {
        kill(d->pid, SIGKILL);
        fprintf(stderr, "bench_e2e: touchpointd did not stop in 60 s\n");
    }
    waitpid(d->pid, NULL, 0);
    close(d->pidfd);
    zmq_close(d->pub);
    zmq_close(d->sub);
    zmq_ctx_term(d->ctx);
    char path[300], *log = NULL;
    snprintf(path, sizeof path, "%s/stderr", d->dir);
    FILE  *f = fopen(path, "re");
    size_t cap = 0;
    if (f) {
        getdelim(&log, &cap, '\0', f);
        fclose(f);
    }
    long long accepted = s_stat(log, "accepted");
    if (ret_dropped)
        *ret_dropped = s_stat(log, "alerts_dropped");
    free(log);
    return accepted;
}

double bench_daemon_blast(bench_daemon_t *d, const bench_frames_t *fr, int64_t last_ms) {
    int64_t t0 = bench_now_ns();
    for (size_t i = 0; i < fr->n; i++)
        bench_send(d->pub, &fr->f[i]);
    if (last_ms > d->event_ms)
        d->event_ms = last_ms;
    int64_t t1;
    if (bench_daemon_sync(d, false, &t1) < 0) {
        fprintf(stderr, "bench_e2e: no marker alert from touchpointd within %d s\n",
                BENCH_WAIT_MS / 1000);
        exit(1);
    }
    return (double)(fr->n + 1) * 1e9 / (double)(t1 - t0);
}

void bench_daemon_load(bench_daemon_t *d, const bench_frames_t *fr, size_t window,
                       int64_t last_ms) {
    for (size_t i = 0; i < fr->n; i += window) {
        bench_frames_t w = { fr->f + i, fr->n - i < window ? fr->n - i : window };
        bench_daemon_blast(d, &w, last_ms);
    }
}
