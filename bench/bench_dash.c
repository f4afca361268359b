/* bench_dash — does the dashboard slow the event path?
 *
 * The real touchpointd (every rule on, event clock, HTTP on) gets
 * bench_mix's realistic stream over ipc://, as fast as it takes it, with
 * the dashboard off, on with no page open, and on with 10 open: 10 clients on
 * /v1/alerts/stream, each reading everything it is sent (a thread polls
 * them all). Events/s is from the first send to the arrival, on the
 * alert PUB, of the alert of a marker event sent last (output is in
 * order). Interleaved, best of --reps, journal off and on; the ratios
 * against the dashboard off are the result. Each run has a fresh daemon.
 *
 * Usage: bench_dash [--events N] [--reps N] [--quick] [--json FILE] [--daemon PATH]
 * (--daemon: another touchpointd, or a wrapper such as a callgrind script)
 * Every wait has a deadline: it stops by itself.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "bench_mix.h"
#include "bench_zmq.h"

extern char **environ;

#define WAIT_MS 120000
#define CLIENTS 10

static const char *s_bin = TP_DAEMON_BIN;

static void s_die(const char *what) {
    fprintf(stderr, "bench_dash: %s\n", what);
    exit(1);
}

/* Reads alerts off `sub` until one names `mark`; its arrival, or -1. */
static int64_t s_wait_mark(void *sub, const char *mark, int timeout_ms) {
    int64_t   end = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    zmq_msg_t m;
    zmq_msg_init(&m);
    int64_t t = -1;
    while (t < 0 && bench_now_ns() < end) {
        zmq_pollitem_t it = { .socket = sub, .events = ZMQ_POLLIN };
        if (zmq_poll(&it, 1, 50) <= 0)
            continue;
        while (zmq_msg_recv(&m, sub, ZMQ_DONTWAIT) >= 0)
            if (memmem(zmq_msg_data(&m), zmq_msg_size(&m), mark, strlen(mark)))
                t = bench_now_ns();
    }
    zmq_msg_close(&m);
    return t;
}

/* --- the dashboards: stream readers on one thread ---------------------------- */

typedef struct {
    int         fd[CLIENTS];
    size_t      n;
    atomic_bool stop;
    size_t      bytes[CLIENTS];
    pthread_t   thread;
} s_readers_t;

static void *s_readers_main(void *arg) {
    s_readers_t *r = arg;
    char         buf[65536];
    while (!atomic_load(&r->stop)) {
        struct pollfd p[CLIENTS];
        for (size_t i = 0; i < r->n; i++)
            p[i] = (struct pollfd){ .fd = r->fd[i], .events = POLLIN };
        if (poll(p, r->n, 50) <= 0)
            continue;
        for (size_t i = 0; i < r->n; i++) {
            if (!(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            ssize_t k = read(r->fd[i], buf, sizeof buf);
            if (k > 0)
                r->bytes[i] += (size_t)k;
        }
    }
    return NULL;
}

/* Opens n streams and waits for each one's snapshot. */
static void s_readers_start(s_readers_t *r, unsigned port, size_t n) {
    memset(r, 0, sizeof *r);
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        int                fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
            s_die("cannot connect a dashboard stream");
        static const char req[] = "GET /v1/alerts/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        if (write(fd, req, sizeof req - 1) != (ssize_t)(sizeof req - 1))
            s_die("cannot send a stream request");
        char    buf[65536];
        size_t  got = 0;
        int64_t end = bench_now_ns() + 10000000000LL;
        while (got < sizeof buf - 1 && bench_now_ns() < end) {
            struct pollfd p = { .fd = fd, .events = POLLIN };
            if (poll(&p, 1, 100) <= 0)
                continue;
            ssize_t k = read(fd, buf + got, sizeof buf - 1 - got);
            if (k <= 0)
                s_die("a dashboard stream closed");
            got += (size_t)k;
            buf[got] = '\0';
            if (strstr(buf, "event: snapshot"))
                break;
        }
        if (!strstr(buf, "event: snapshot"))
            s_die("no snapshot on a dashboard stream");
        r->fd[i] = fd;
    }
    if (n)
        pthread_create(&r->thread, NULL, s_readers_main, r);
}

static size_t s_readers_stop(s_readers_t *r) {
    size_t total = 0;
    atomic_store(&r->stop, true);
    if (r->n)
        pthread_join(r->thread, NULL);
    for (size_t i = 0; i < r->n; i++) {
        total += r->bytes[i];
        close(r->fd[i]);
    }
    return r->n ? total / r->n : 0;
}

/* --- one run ----------------------------------------------------------------- */

static char     s_tmp[200];
static unsigned s_runs;

/* Events/s of `mix` through a fresh daemon with `clients` dashboards
 * open; *ret_bytes: what each dashboard received. */
static double s_run(const bench_frames_t *mix, size_t clients, bool journal, bool dash,
                    size_t *ret_bytes) {
    char dir[300], cfg[400], yaml[2048], err[400], portf[400];
    snprintf(dir, sizeof dir, "%s/r%u", s_tmp, s_runs++);
    if (mkdir(dir, 0700) < 0)
        s_die("mkdir");
    snprintf(yaml, sizeof yaml,
             "inputs:\n  - { endpoint: \"ipc://%s/in.sock\", mode: bind, hwm: 0 }\n"
             "output: { endpoint: \"ipc://%s/out.sock\", mode: bind, hwm: 0 }\n"
             "replay: { enabled: false }\nreliable_input: { enabled: false }\n"
             "clock: event\nstate_dir: %s/state\njournal: { enabled: %s }\n"
             "http: { enabled: true, listen: \"127.0.0.1:0\", dashboard: { enabled: %s } }\n",
             dir, dir, dir, journal ? "true" : "false", dash ? "true" : "false");
    snprintf(cfg, sizeof cfg, "%s/touchpointd.yaml", dir);
    snprintf(err, sizeof err, "%s/stderr", dir);
    snprintf(portf, sizeof portf, "%s/state/http.port", dir);
    FILE *f = fopen(cfg, "we");
    if (!f || fputs(yaml, f) < 0 || fclose(f) != 0)
        s_die("cannot write the config");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char *argv[] = { (char *)s_bin, "--config", cfg, NULL };
    pid_t pid;
    if (posix_spawn(&pid, s_bin, &fa, NULL, argv, environ) != 0)
        s_die("cannot start touchpointd");
    posix_spawn_file_actions_destroy(&fa);

    unsigned port = 0;
    for (int64_t end = bench_now_ns() + 10000000000LL; !port && bench_now_ns() < end;) {
        FILE *pf = fopen(portf, "re");
        if (!pf || fscanf(pf, "%u", &port) != 1)
            port = 0;
        if (pf)
            fclose(pf);
        if (!port)
            usleep(10000);
    }
    if (!port)
        s_die("the daemon wrote no http.port");

    void *ctx = zmq_ctx_new(), *pub = bench_socket(ctx, ZMQ_XPUB),
         *sub = bench_socket(ctx, ZMQ_SUB);
    char ep[400];
    snprintf(ep, sizeof ep, "ipc://%s/in.sock", dir);
    zmq_connect(pub, ep);
    snprintf(ep, sizeof ep, "ipc://%s/out.sock", dir);
    zmq_setsockopt(sub, ZMQ_SUBSCRIBE, "", 0);
    zmq_connect(sub, ep);
    /* Sync: markers until one's alert comes back (both subscriptions are up). */
    int64_t at = BENCH_T0;
    int64_t t = -1;
    for (unsigned k = 0; t < 0 && k < 100; k++) {
        char          id[32];
        bench_frame_t m;
        snprintf(id, sizeof id, "SYNC-%u", k);
        if (bench_marker(&m, id, at) < 0)
            s_die("ENOMEM");
        bench_send(pub, &m);
        free(m.buf);
        t = s_wait_mark(sub, id, 100);
    }
    if (t < 0)
        s_die("no alert back from the daemon");
    s_readers_t rd;
    s_readers_start(&rd, port, clients);

    bench_frame_t mark;
    if (bench_marker(&mark, "MARK-END", BENCH_T0 + 3600000 + (int64_t)mix->n * BENCH_STEP_MS) < 0)
        s_die("ENOMEM");
    int64_t t0 = bench_now_ns();
    for (size_t i = 0; i < mix->n; i++)
        bench_send(pub, &mix->f[i]);
    bench_send(pub, &mark);
    int64_t t1 = s_wait_mark(sub, "MARK-END", WAIT_MS);
    free(mark.buf);
    if (t1 < 0)
        s_die("the marker's alert never came");
    /* The dashboards get the turn's alerts just after the PUB does: give
     * them a moment so the byte count is whole (outside the timing). */
    usleep(200000);
    *ret_bytes = s_readers_stop(&rd);

    kill(pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    zmq_close(pub);
    zmq_close(sub);
    zmq_ctx_term(ctx);
    return (double)(mix->n + 1) * 1e9 / (double)(t1 - t0);
}

int main(int argc, char **argv) {
    size_t      events = 100000;
    int         reps = 3;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--events") && i + 1 < argc)
            events = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) {
            events = 20000;
            reps = 2;
        } else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--daemon") && i + 1 < argc)
            s_bin = argv[++i];
        else {
            fprintf(stderr, "usage: bench_dash [--events N] [--reps N] [--quick] [--json FILE] "
                            "[--daemon PATH]\n");
            return 2;
        }
    }
    snprintf(s_tmp, sizeof s_tmp, "%s/bench_dash.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(s_tmp))
        s_die("mkdtemp");
    bench_frames_t mix;
    if (bench_mix(&mix, events, "D", BENCH_T0 + 3600000, 0) < 0)
        s_die("ENOMEM");

    /* [journal][dashboard off, on with none open, on with 10 open] */
    static const char *const mode[] = { "dashboard off", "on, 0 open", "on, 10 open" };
    double                   best[2][3] = { { 0 } };
    size_t                   bytes[2] = { 0 };
    for (int j = 0; j < 2; j++)
        for (int r = 0; r < reps; r++)
            for (int m = 0; m < 3; m++) {
                size_t b = 0;
                double v = s_run(&mix, m == 2 ? CLIENTS : 0, j == 1, m > 0, &b);
                if (v > best[j][m])
                    best[j][m] = v;
                if (m == 2)
                    bytes[j] = b;
            }
    printf("dashboard cost: touchpointd events/s, dashboard off / on with no page / on with %d "
           "pages streaming (%zu events, best of %d)\n",
           CLIENTS, events, reps);
    printf("  %-8s %14s %14s %14s %10s %10s %16s\n", "journal", mode[0], mode[1], mode[2],
           "ratio 0", "ratio 10", "bytes/dashboard");
    for (int j = 0; j < 2; j++)
        printf("  %-8s %14.0f %14.0f %14.0f %10.3f %10.3f %16zu\n", j ? "on" : "off", best[j][0],
               best[j][1], best[j][2], best[j][1] / best[j][0], best[j][2] / best[j][0], bytes[j]);
    if (json) {
        FILE *f = fopen(json, "we");
        if (!f)
            s_die("cannot write the JSON");
        fprintf(f, "{\"bench\": \"dashboard\", \"events\": %zu, \"reps\": %d, \"dashboards\": %d",
                events, reps, CLIENTS);
        for (int j = 0; j < 2; j++)
            fprintf(f,
                    ", \"journal_%s\": {\"events_per_s_dashboard_off\": %.0f, "
                    "\"events_per_s_0_open\": %.0f, \"events_per_s_10_open\": %.0f, "
                    "\"ratio_0_open\": %.4f, \"ratio_10_open\": %.4f, "
                    "\"bytes_per_dashboard\": %zu}",
                    j ? "on" : "off", best[j][0], best[j][1], best[j][2], best[j][1] / best[j][0],
                    best[j][2] / best[j][0], bytes[j]);
        fprintf(f, "}\n");
        fclose(f);
    }
    bench_frames_free(&mix);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_tmp);
    return system(cmd) == 0 ? 0 : 1;
}
