/* tp_daemon_snapshot — the daemon's snapshot wiring: which sections a
 * snapshot holds, when one is taken (snapshot.every events or
 * snapshot.interval), the forked child that writes it, putting it in place
 * once the event log durably holds its position, keeping snapshot.keep of
 * them and cutting the log behind the oldest, loading the newest good one
 * at start-up, and the snapshot_* and loop_lag_seconds families on
 * /metrics. tp_daemon*.c call in through tp_daemon_internal.h. */
#include <errno.h>
#include <event2/event.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include "tp_clock.h"
#include "tp_daemon_internal.h"
#include "tp_metrics.h"
#include "tp_snapshot.h"

#define LAG_PROBE_MS 20   /* the loop-lag probe's period */
#define LAG_RING     4096 /* probes kept between two scrapes */
#define POLL_MS      100  /* reaping without a pidfd (kernels before 5.3) */

struct tp_daemon_snap {
    struct event *child_ev;    /* the child's pidfd (or a poll timer) */
    struct event *interval_ev; /* snapshot.interval */
    struct event *lag_ev;      /* the loop-lag probe */
    struct event *timeout_ev;  /* snapshot.timeout for the child writing */
    pid_t         pid;         /* the child writing, 0 if none */
    int           pidfd;
    uint64_t      pos;      /* the event-log position being written */
    uint64_t      ring;     /* the journal ring position that stores it */
    bool          written;  /* the child succeeded: waits for the log's commit */
    bool          time_due; /* snapshot.interval passed */
    bool          retry;    /* the last one failed: the next interval tries again */
    bool          warned;   /* the engine's state cannot be saved (logged once) */
    bool          closing;  /* shutting down: no new snapshot */
    uint64_t      last_pos; /* the position of the last snapshot started */
    int64_t       t0;       /* monotonic ms the current one started */
    int64_t       lag_next; /* monotonic µs the probe is due */
    double        lag[LAG_RING];
    size_t        lag_n;
    double        snap_lag[LAG_RING]; /* probes while the current snapshot is under way */
    size_t        snap_lag_n;
    double        idle_lag[LAG_RING]; /* probes since the last one ended: the comparison */
    size_t        idle_lag_n;
    double        last_lag_p99, last_lag_max, idle_lag_p99;
    uint64_t      n_written, n_failed, last_bytes, last_position;
    double        last_seconds, fork_seconds;
    tp_metric_t  *m_written, *m_failed, *m_seconds, *m_bytes, *m_position, *m_fork, *m_lag;
    tp_metric_t  *m_lag_p99, *m_lag_max;
};

/* ---- The sections a snapshot holds, in order ---- */

static void s_engine_save(void *ctx, tp_snapw_t *w) {
    tp_engine_save(((tp_daemon_t *)ctx)->engine, w);
}

static int s_engine_load(void *ctx, tp_snapr_t *r) {
    return tp_engine_load(((tp_daemon_t *)ctx)->engine, r);
}

static void s_kpi_save(void *ctx, tp_snapw_t *w) {
    tp_kpi_save(((tp_daemon_t *)ctx)->kpi, w); /* errors are the writer's, sticky */
}

static int s_kpi_load(void *ctx, tp_snapr_t *r) {
    return tp_kpi_load(((tp_daemon_t *)ctx)->kpi, r);
}

/* One entry per module that keeps state, in file order. A file written
 * with other sections is refused (-EPROTO) and the restart falls back to
 * the one before, or to the full log. */
static size_t s_sections(tp_daemon_t *d, tp_snapshot_section_t *ret, size_t max) {
    size_t n = 0;
    if (n < max)
        ret[n++] = (tp_snapshot_section_t){ TP_SNAP_TAG('E', 'N', 'G', 'N'), "engine",
                                            s_engine_save, s_engine_load, d };
    if (n < max) /* the KPIs count the whole log, which is gone behind a snapshot */
        ret[n++] = (tp_snapshot_section_t){ TP_SNAP_TAG('K', 'P', 'I', 'S'), "kpi", s_kpi_save,
                                            s_kpi_load, d };
    return n;
}

#define MAX_SECTIONS 8

/* ---- Start-up: the newest good snapshot ---- */

static void s_snap_path(char *buf, size_t len, const tp_daemon_t *d, uint64_t pos,
                        const char *ext) {
    snprintf(buf, len, "%s/snapshot-%020" PRIu64 "%s", d->cfg->state_dir, pos, ext);
}

/* A snapshot that can never be used goes aside (kept for a post-mortem,
 * no longer counted among the kept ones). */
static void s_set_aside(const tp_daemon_t *d, uint64_t pos, const char *why) {
    char from[4200], to[4300];
    s_snap_path(from, sizeof from, d, pos, ".tpsnap");
    snprintf(to, sizeof to, "%s.%s", from, why);
    if (rename(from, to) < 0)
        log_warning_errno(errno, "Failed to rename '%s': %m", from);
}

int tp_daemon_snapshot_restore(tp_daemon_t *d, uint64_t *ret_after) {
    *ret_after = 0;
    uint64_t *v = NULL;
    size_t    n = 0;
    int       r = tp_snapshot_list(d->cfg->state_dir, true, &v, &n);
    if (r < 0)
        return log_error_errno(r, "Failed to list the snapshots in '%s': %m", d->cfg->state_dir);
    uint64_t last = tp_journal_last_event(d->journal);
    uint64_t first = tp_journal_first_event(d->journal);
    /* Positions are never reused, even for a log that lost its records. */
    if (n > 0)
        tp_journal_seed_events(d->journal, v[0]);
    tp_snapshot_section_t sections[MAX_SECTIONS];
    size_t                ns = s_sections(d, sections, MAX_SECTIONS);
    for (size_t i = 0; i < n; i++) {
        uint64_t pos = v[i];
        if (pos > last) {
            /* Put in place only once the log held its position: this log
             * is not the one it was taken with (moved aside as corrupt). */
            log_warning("The snapshot at event-log position %" PRIu64 " is ahead of the log (last "
                        "%" PRIu64 "); setting it aside",
                        pos, last);
            s_set_aside(d, pos, "unused");
            continue;
        }
        if (first > pos + 1) {
            log_warning("The event log starts at position %" PRIu64
                        ", after the snapshot at %" PRIu64
                        " (journal.event_retention pruned what follows it); not using it",
                        first, pos);
            continue;
        }
        char        path[4200];
        struct stat sb;
        s_snap_path(path, sizeof path, d, pos, ".tpsnap");
        if (stat(path, &sb) == 0) /* a large one may outlast systemd's start timeout: */
            sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%llu",
                       (unsigned long long)(30000000 + (uint64_t)sb.st_size / 10)); /* 10 MB/s */
        int64_t  t0 = tp_monotonic_ms();
        uint64_t size = 0;
        r = tp_snapshot_load(d->cfg->state_dir, pos, sections, ns, &size);
        if (r == 0) {
            log_info("Loaded the snapshot at event-log position %" PRIu64 " (%" PRIu64
                     " bytes) in %lld ms: %zu calls, %zu contracts, %zu open alerts, %zu deadlines",
                     pos, size, (long long)(tp_monotonic_ms() - t0), tp_engine_calls(d->engine),
                     tp_engine_cases(d->engine), tp_engine_open_alerts(d->engine),
                     tp_engine_deadlines(d->engine));
            *ret_after = pos;
            free(v);
            return 0;
        }
        log_warning_errno(r, "The snapshot '%s' cannot be used (%s); %s", path,
                          r == -EBADMSG  ? "corrupt, truncated or wrong checksum"
                          : r == -EPROTO ? "another format, or taken with other rules or sections"
                                         : strerror(-r),
                          i + 1 < n ? "trying the one before it" : "replaying the whole event log");
        if (r == -EBADMSG)
            s_set_aside(d, pos, "bad");
        /* Half loaded: start over with a fresh engine. */
        if ((r = tp_daemon_new_engine(d)) < 0) {
            free(v);
            return r;
        }
    }
    if (n > 0 && first > 1)
        log_warning("No usable snapshot and the event log starts at position %" PRIu64
                    ": state before it is lost",
                    first);
    free(v);
    return 0;
}

/* ---- Taking snapshots ---- */

static void s_fail(tp_daemon_t *d, const char *why) {
    struct tp_daemon_snap *s = d->snap;
    s->n_failed++;
    /* Tried again at the next snapshot.interval even with no event since
     * (or after snapshot.every more), never at once: a fork that keeps
     * failing must not be retried every loop turn. */
    s->retry = true;
    log_warning("Failed to write the snapshot at event-log position %" PRIu64 ": %s", s->pos, why);
    tp_snapshot_discard(d->cfg->state_dir, s->pos);
}

static int s_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The loop lag from the fork to the rename: what a snapshot costs the
 * events that arrive meanwhile (the fork's page-table copy, then the
 * copy-on-write faults while the child writes). */
static double s_p99(double *v, size_t n_seen, double *ret_max) {
    size_t n = n_seen < LAG_RING ? n_seen : LAG_RING;
    qsort(v, n, sizeof *v, s_cmp_double);
    if (ret_max)
        *ret_max = n ? v[n - 1] : 0;
    return n ? v[n * 99 / 100] : 0;
}

/* The child wrote it and the log holds its position: in place, old ones
 * deleted, the log cut behind the oldest kept. */
static void s_commit(tp_daemon_t *d) {
    struct tp_daemon_snap *s = d->snap;
    s->written = false;
    int r = tp_snapshot_commit(d->cfg->state_dir, s->pos);
    if (r < 0) {
        s_fail(d, strerror(-r));
        return;
    }
    char        path[4200];
    struct stat sb;
    s_snap_path(path, sizeof path, d, s->pos, ".tpsnap");
    s->n_written++;
    s->last_bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
    s->last_position = s->pos;
    s->last_seconds = (double)(tp_monotonic_ms() - s->t0) / 1e3;
    s->last_lag_p99 = s_p99(s->snap_lag, s->snap_lag_n, &s->last_lag_max);
    log_info("Wrote the snapshot at event-log position %" PRIu64 ": %" PRIu64
             " bytes in %.3f s (fork %.1f ms; loop lag meanwhile p99 %.1f ms, max %.1f ms, %zu "
             "probes; before it p99 %.1f ms)",
             s->pos, s->last_bytes, s->last_seconds, s->fork_seconds * 1e3, s->last_lag_p99 * 1e3,
             s->last_lag_max * 1e3, s->snap_lag_n, s->idle_lag_p99 * 1e3);
    s->idle_lag_n = 0;
    int64_t oldest = tp_snapshot_prune(d->cfg->state_dir, d->cfg->snapshot.keep);
    /* Everything up to the oldest kept is in it; the record at its very
     * position stays, so the log always knows how far it went. */
    if (oldest > 1)
        tp_journal_truncate_events(d->journal, (uint64_t)oldest - 1,
                                   d->cfg->snapshot.log_retention_ms);
}

static void s_reap(tp_daemon_t *d) {
    struct tp_daemon_snap *s = d->snap;
    int                    status;
    pid_t                  w = waitpid(s->pid, &status, WNOHANG);
    if (w == 0)
        return;
    if (s->child_ev) {
        event_free(s->child_ev);
        s->child_ev = NULL;
    }
    if (s->timeout_ev)
        event_del(s->timeout_ev);
    if (s->pidfd >= 0)
        close(s->pidfd);
    s->pidfd = -1;
    s->pid = 0;
    if (w < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char why[64];
        snprintf(why, sizeof why, w < 0 ? "lost the child" : "the child %s %d",
                 WIFSIGNALED(status) ? "was killed by signal" : "exited with",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        s_fail(d, why);
        return;
    }
    s->written = true;
    tp_daemon_snapshot_progress(d);
}

static void s_child_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    s_reap(arg);
}

/* snapshot.timeout passed with the child still writing: a hung writer
 * (a stuck disk; a lock another thread held at the fork, which a child
 * cannot get back) must not block every later snapshot while the log
 * grows. Killed; its reaping counts the failure and discards the file. */
static void s_timeout_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_daemon_t           *d = arg;
    struct tp_daemon_snap *s = d->snap;
    if (!s->pid)
        return;
    log_warning("The snapshot writer (pid %d) is still running after %" PRId64
                " ms (snapshot.timeout): killed",
                (int)s->pid, d->cfg->snapshot.timeout_ms);
    kill(s->pid, SIGKILL);
}

static void s_begin(tp_daemon_t *d, uint64_t ring) {
    struct tp_daemon_snap *s = d->snap;
    const char            *unsaved = tp_engine_unsaved(d->engine);
    if (unsaved) {
        if (!s->warned)
            log_warning("No snapshots: rule %s keeps state that cannot be saved yet; a restart "
                        "replays the whole event log",
                        unsaved);
        s->warned = true;
        return;
    }
    tp_snapshot_section_t sections[MAX_SECTIONS];
    size_t                ns = s_sections(d, sections, MAX_SECTIONS);
    s->pos = tp_journal_last_event(d->journal);
    s->ring = ring;
    s->t0 = tp_monotonic_ms();
    s->time_due = false;
    s->retry = false;
    s->last_pos = s->pos;
    s->snap_lag_n = 0;
    s->idle_lag_p99 = s_p99(s->idle_lag, s->idle_lag_n, NULL);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int r = tp_snapshot_fork(d->cfg->state_dir, s->pos, sections, ns, &s->pid, &s->pidfd);
    clock_gettime(CLOCK_MONOTONIC, &b);
    s->fork_seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    if (r < 0) {
        s_fail(d, strerror(-r));
        return;
    }
    if (s->pidfd >= 0)
        s->child_ev = event_new(d->base, s->pidfd, EV_READ | EV_PERSIST, s_child_cb, d);
    else
        s->child_ev = event_new(d->base, -1, EV_PERSIST, s_child_cb, d);
    struct timeval poll = { 0, POLL_MS * 1000 };
    if (!s->child_ev || event_add(s->child_ev, s->pidfd >= 0 ? NULL : &poll) < 0)
        log_error("Out of memory watching the snapshot writer; it is reaped at shutdown");
    int64_t        t = d->cfg->snapshot.timeout_ms;
    struct timeval limit = { (time_t)(t / 1000), (suseconds_t)(t % 1000) * 1000 };
    if (!s->timeout_ev)
        s->timeout_ev = evtimer_new(d->base, s_timeout_cb, d);
    if (!s->timeout_ev || evtimer_add(s->timeout_ev, &limit) < 0)
        log_error("Out of memory timing the snapshot writer; snapshot.timeout is not enforced");
}

void tp_daemon_snapshot_flushed(tp_daemon_t *d, uint64_t ring) {
    struct tp_daemon_snap *s = d->snap;
    if (!s || s->pid || s->written || s->closing || !d->cfg->snapshot.enabled)
        return;
    uint64_t last = tp_journal_last_event(d->journal);
    if (last == s->last_pos && !s->retry)
        return;
    uint64_t every = d->cfg->snapshot.every;
    if (s->time_due || (every && last - s->last_pos >= every))
        s_begin(d, ring);
}

void tp_daemon_snapshot_progress(tp_daemon_t *d) {
    struct tp_daemon_snap *s = d->snap;
    if (s && s->written && d->committed >= s->ring)
        s_commit(d);
}

static void s_interval_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_daemon_t *d = arg;
    d->snap->time_due = true;
    /* Taken at the end of a turn (the flush), where state and log agree. */
    if (tp_journal_last_event(d->journal) != d->snap->last_pos || d->snap->retry)
        event_active(d->flush_ev, EV_TIMEOUT, 0);
}

static int64_t s_mono_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* How late the loop runs a timer due every LAG_PROBE_MS: what an event
 * arriving then waits, e.g. while the parent forks. */
static void s_lag_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    struct tp_daemon_snap *s = arg;
    int64_t                now = s_mono_us();
    int64_t                late = now - s->lag_next;
    double                 lag = late > 0 ? (double)late / 1e6 : 0;
    s->lag[s->lag_n++ % LAG_RING] = lag;
    if (s->pid || s->written)
        s->snap_lag[s->snap_lag_n++ % LAG_RING] = lag;
    else
        s->idle_lag[s->idle_lag_n++ % LAG_RING] = lag;
    s->lag_next = now + LAG_PROBE_MS * 1000;
}

int tp_daemon_snapshot_start(tp_daemon_t *d) {
    if (!d->journal)
        return 0;
    struct tp_daemon_snap *s = calloc(1, sizeof *s);
    if (!s)
        return log_error_errno(ENOMEM, "Out of memory");
    d->snap = s;
    s->pidfd = -1;
    s->last_pos = tp_journal_last_event(d->journal);
    s->lag_ev = event_new(d->base, -1, EV_PERSIST, s_lag_cb, s);
    struct timeval lag = { 0, LAG_PROBE_MS * 1000 };
    s->lag_next = s_mono_us() + LAG_PROBE_MS * 1000;
    if (!s->lag_ev || event_add(s->lag_ev, &lag) < 0)
        return log_error_errno(ENOMEM, "Out of memory");
    if (!d->cfg->snapshot.enabled)
        return 0;
    int64_t ms = d->cfg->snapshot.interval_ms;
    if (ms > 0) {
        s->interval_ev = event_new(d->base, -1, EV_PERSIST, s_interval_cb, d);
        struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
        if (!s->interval_ev || event_add(s->interval_ev, &tv) < 0)
            return log_error_errno(ENOMEM, "Out of memory");
    }
    return 0;
}

void tp_daemon_snapshot_closing(tp_daemon_t *d) {
    if (d->snap)
        d->snap->closing = true;
}

void tp_daemon_snapshot_stop(tp_daemon_t *d) {
    struct tp_daemon_snap *s = d->snap;
    if (!s)
        return;
    if (s->pid > 0) {
        /* Not worth waiting for: the next start takes another. */
        kill(s->pid, SIGKILL);
        waitpid(s->pid, NULL, 0);
        tp_snapshot_discard(d->cfg->state_dir, s->pos);
    } else if (s->written) {
        tp_daemon_snapshot_progress(d); /* after the drain: committed, maybe */
    }
    if (s->pidfd >= 0)
        close(s->pidfd);
    if (s->child_ev)
        event_free(s->child_ev);
    if (s->interval_ev)
        event_free(s->interval_ev);
    if (s->lag_ev)
        event_free(s->lag_ev);
    if (s->timeout_ev)
        event_free(s->timeout_ev);
    free(s);
    d->snap = NULL;
}

void tp_daemon_snapshot_collect(tp_daemon_t *d, tp_metrics_t *m, bool first) {
    struct tp_daemon_snap *s = d->snap;
    if (!s)
        return;
    if (first) {
        static const double lag_buckets[] = { 0.001, 0.002, 0.005, 0.01, 0.02,
                                              0.05,  0.1,   0.25,  0.5,  1 };
        s->m_written =
            tp_metrics_add(m, TP_METRIC_COUNTER, "snapshots_written_total",
                           "Snapshots of the engine's state put in place", NULL, NULL, 0);
        s->m_failed = tp_metrics_add(m, TP_METRIC_COUNTER, "snapshots_failed_total",
                                     "Snapshots that could not be written", NULL, NULL, 0);
        s->m_seconds =
            tp_metrics_add(m, TP_METRIC_GAUGE, "snapshot_last_duration_seconds",
                           "How long the last snapshot took, fork to rename", NULL, NULL, 0);
        s->m_fork = tp_metrics_add(m, TP_METRIC_GAUGE, "snapshot_last_fork_seconds",
                                   "How long the last fork() held the event loop", NULL, NULL, 0);
        s->m_bytes = tp_metrics_add(m, TP_METRIC_GAUGE, "snapshot_last_bytes",
                                    "Size of the last snapshot", NULL, NULL, 0);
        s->m_position = tp_metrics_add(m, TP_METRIC_GAUGE, "snapshot_last_position",
                                       "Event-log position of the last snapshot", NULL, NULL, 0);
        s->m_lag_p99 =
            tp_metrics_add(m, TP_METRIC_GAUGE, "snapshot_last_loop_lag_p99_seconds",
                           "99th percentile of loop_lag_seconds while the last snapshot was taken "
                           "(fork to rename)",
                           NULL, NULL, 0);
        s->m_lag_max =
            tp_metrics_add(m, TP_METRIC_GAUGE, "snapshot_last_loop_lag_max_seconds",
                           "Largest loop lag while the last snapshot was taken", NULL, NULL, 0);
        s->m_lag = tp_metrics_add(m, TP_METRIC_HISTOGRAM, "loop_lag_seconds",
                                  "How late the event loop ran a timer due every 20 ms", NULL,
                                  lag_buckets, sizeof lag_buckets / sizeof lag_buckets[0]);
    }
    tp_metric_set(s->m_written, NULL, (double)s->n_written);
    tp_metric_set(s->m_failed, NULL, (double)s->n_failed);
    tp_metric_set(s->m_seconds, NULL, s->last_seconds);
    tp_metric_set(s->m_fork, NULL, s->fork_seconds);
    tp_metric_set(s->m_bytes, NULL, (double)s->last_bytes);
    tp_metric_set(s->m_position, NULL, (double)s->last_position);
    tp_metric_set(s->m_lag_p99, NULL, s->last_lag_p99);
    tp_metric_set(s->m_lag_max, NULL, s->last_lag_max);
    size_t n = s->lag_n < LAG_RING ? s->lag_n : LAG_RING;
    for (size_t i = 0; i < n; i++)
        tp_metric_observe(s->m_lag, NULL, s->lag[(s->lag_n - n + i) % LAG_RING]);
    s->lag_n = 0;
}
