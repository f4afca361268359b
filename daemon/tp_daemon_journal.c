/* tp_daemon_journal — the daemon's journal wiring: opening journal.db
 * (and moving a corrupt one aside), rebuilding state from its event log,
 * handing each turn's records to the journal's writer thread and
 * delivering what waited for their commit (the outbox: alerts to publish,
 * ACKs, HTTP replies, JetStream acks) when it reports, the retention and
 * checkpointer settings, and the journal's gauges on /metrics.
 * tp_daemon.c calls in through tp_daemon_internal.h. */
#include <errno.h>
#include <event2/event.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tp_clock.h"
#include "tp_daemon_internal.h"
#include "tp_json.h"
#include "tp_metrics.h"
#include "tp_outbox.h"

#define DRAIN_MS 5000 /* at shutdown, the writer gets this long to commit the rest */

/* Hand-over to the writer: at the end of this loop turn, or after
 * journal.commit_interval (fewer wake-ups of the writer; alerts and ACKs
 * wait up to that long more). */
static void s_schedule_flush(tp_daemon_t *d) {
    if (evtimer_pending(d->flush_ev, NULL))
        return;
    int64_t ms = d->cfg->journal.commit_interval_ms;
    if (ms <= 0) {
        event_active(d->flush_ev, EV_TIMEOUT, 0);
        return;
    }
    struct timeval tv = { .tv_sec = (time_t)(ms / 1000),
                          .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
    evtimer_add(d->flush_ev, &tv);
}

int tp_daemon_queued(tp_daemon_t *d, int r) {
    if (r >= 0)
        s_schedule_flush(d);
    return r;
}

void tp_daemon_log(tp_daemon_t *d, int kind, const char *topic, size_t topic_len, const void *body,
                   size_t len) {
    if (!d->journal || d->rebuilding)
        return;
    char   t[128]; /* NUL-terminated; memcpy, not "%.*s" (650 instructions) */
    size_t tl = topic_len < sizeof t - 1 ? topic_len : sizeof t - 1;
    if (tl)
        memcpy(t, topic, tl);
    t[tl] = '\0';
    if (tp_journal_log_event(d->journal, kind, d->now_ms, t, body, len) < 0) {
        log_error("An event of %zu bytes does not fit the journal's ring; it will not survive a "
                  "restart",
                  len);
        return;
    }
    /* What waits for this record (its alerts) goes to the writer now, not
     * at the end of the turn: the turn may have hundreds of events left,
     * and the alert would wait for all of them (half the latency at 50k
     * events/s). The writer commits it while the loop goes on; what the
     * rest of the turn logs piles up behind that commit, so commits still
     * grow with the load. With journal.commit_interval set, batching wins.
     * The end of the turn still flushes (snapshots are taken there). */
    if (d->cfg->journal.commit_interval_ms <= 0 && tp_outbox_unsealed(d->outbox))
        tp_outbox_seal(d->outbox, tp_journal_submit(d->journal));
    s_schedule_flush(d);
    /* What a commit stored meanwhile leaves now: the writer's eventfd is
     * only read between loop turns, and a turn under load is hundreds of
     * events (at 100k events/s the wait for it was most of an alert's p99). */
    tp_outbox_deliver_upto(d->outbox, tp_journal_committed(d->journal));
}

void tp_daemon_log_event(tp_daemon_t *d, const tp_frame_t frames[2]) {
    tp_daemon_log(d, TP_LOG_EVENT, frames[0].data, frames[0].len, frames[1].data, frames[1].len);
}

int tp_daemon_queue_nats_ack(tp_daemon_t *d, void *msg) {
    return tp_daemon_queued(d, tp_outbox_nats(d->outbox, msg));
}

/* The HTTP reply waits, like an ACK, for the commit that stores what was
 * submitted before it. Without a journal nothing is stored: answer now. */
int tp_daemon_ingest_when_durable_cb(void *ctx, tp_ingest_done_fn done, void *arg) {
    tp_daemon_t *d = ctx;
    if (!d->journal) {
        done(arg, 0);
        return 0;
    }
    return tp_daemon_queued(d, tp_outbox_http(d->outbox, done, arg));
}

static void s_publish(tp_daemon_t *d, const char *topic, const void *buf, size_t len) {
    if (d->http) /* the dashboard sees what subscribers see, when they see it */
        tp_http_publish_alert(d->http, topic, buf, len);
    int r = tp_bus_publish(d->bus, topic, buf, len);
    if (r == -EAGAIN) {
        tp_engine_counters(d->engine)->alerts_dropped++;
    } else if (r < 0) {
        tp_engine_counters(d->engine)->publish_errors++;
        log_warning_errno(r, "Failed to publish an alert on %s: %m", topic);
    }
}

/* What the outbox delivers after a successful commit. */
static void s_out_alert_cb(void *ctx, const char *topic, const void *body, size_t len) {
    tp_daemon_t *d = ctx;
    s_publish(d, topic, body, len);
    if (d->nats)
        tp_nats_publish_alert(d->nats, topic, body, len);
}

static void s_out_ack_cb(void *ctx, const void *identity, size_t len, const char *event_id) {
    tp_daemon_t *d = ctx;
    /* A lost ACK costs a resend, which dedup turns into another ACK. */
    tp_frame_t ack[3] = { { identity, len }, { "ACK", 3 }, { event_id, strlen(event_id) } };
    if (d->reliable)
        tp_bus_send(d->reliable, ack, 3);
}

static void s_out_nats_cb(void *ctx, void *msg, bool stored) {
    tp_daemon_t *d = ctx;
    if (stored)
        tp_nats_ack(d->nats, msg);
    else
        tp_nats_release(d->nats, msg); /* redelivered */
}

const tp_outbox_ops_t tp_daemon_outbox_ops = {
    .alert = s_out_alert_cb,
    .ack = s_out_ack_cb,
    .nats = s_out_nats_cb,
};

/* What the writer reported: its failures counted (and waiting HTTP
 * requests answered 503: the client sends again, dedup recognises what
 * was stored after all), what it committed delivered. */
static void s_progress(tp_daemon_t *d) {
    tp_stats_t           *st = tp_engine_counters(d->engine);
    tp_journal_progress_t p;
    tp_journal_progress(d->journal, &p);
    if (p.commits != d->seen_commits) {
        st->journal_commits += p.commits - d->seen_commits;
        d->seen_commits = p.commits;
        if (d->http)
            tp_http_observe_commit(d->http, p.last_seconds, true);
    }
    if (p.failures != d->seen_failures) {
        st->journal_errors += p.failures - d->seen_failures;
        d->seen_failures = p.failures;
        if (d->http && p.failing)
            tp_http_observe_commit(d->http, 0, false);
        uint64_t suppressed;
        if (p.failing && tp_ratelimit_below(&d->journal_rl, tp_monotonic_ms(), &suppressed))
            log_error("Failed to write %zu records to the journal (%s); retrying, not publishing "
                      "until they are stored",
                      tp_journal_pending(d->journal), p.err);
        tp_outbox_fail_http(d->outbox, -EIO);
    }
    d->committed = p.committed;
    tp_outbox_deliver_upto(d->outbox, p.committed);
    tp_daemon_snapshot_progress(d);
}

static void s_committed_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    s_progress(arg);
}

/* The end of a turn: every record it queued goes to the writer (one
 * transaction with whatever else piled up), and what waits for them is
 * sealed with their end; the writer's eventfd says when that is stored.
 * What waits for nothing new (an ACK of a duplicate) leaves at once. */
void tp_daemon_flush_cb(evutil_socket_t fd, short what, void *arg) {
    (void)fd;
    (void)what;
    tp_daemon_t *d = arg;
    uint64_t     pos = tp_journal_submit(d->journal);
    tp_outbox_seal(d->outbox, pos);
    if (pos <= d->committed)
        tp_outbox_deliver_upto(d->outbox, pos);
    /* The end of a turn: the engine's state is exactly the log's up to
     * its last record, the moment a snapshot can be taken. */
    tp_daemon_snapshot_flushed(d, pos);
}

void tp_daemon_journal_drain(tp_daemon_t *d) {
    tp_daemon_snapshot_closing(d);
    if (evtimer_pending(d->flush_ev, NULL))
        evtimer_del(d->flush_ev);
    tp_daemon_flush_cb(-1, 0, d);
    int r = tp_journal_drain(d->journal, DRAIN_MS);
    if (r < 0)
        log_error_errno(r, "Failed to store %zu journal records before stopping: %m",
                        tp_journal_pending(d->journal));
    s_progress(d);
}

/* Alerts leave here: printed (if asked), journaled, then published. */
int tp_daemon_alert_sink(void *ctx, const char *topic, const uint8_t *buf, size_t len,
                         const Touchpoint__V1__Alert *alert) {
    tp_daemon_t *d = ctx;
    tp_kpi_alert(d->kpi, alert); /* rebuilding too: time to resolution is durable */
    if (d->rebuilding) {         /* journaled and published before the restart */
        d->rebuilt_alerts++;
        return 0;
    }
    if (d->http) {
        tp_http_observe_alert(d->http, alert->rule, alert->status);
        tp_http_alert_raised(d->http, topic, buf, len, alert);
    }
    char *line;
    if (d->print_alerts && tp_json_dumps_alert(topic, strlen(topic), &alert->base, &line) == 0) {
        fprintf(d->print_alerts, "%s\n", line);
        fflush(d->print_alerts);
        free(line);
    }
    if (!d->journal) {
        s_publish(d, topic, buf, len);
        return 0;
    }
    /* Queued first, so an ENOMEM cannot leave a journaled alert that is
     * never published live. */
    int r = tp_outbox_alert(d->outbox, topic, buf, len);
    if (r < 0)
        return r;
    r = tp_journal_append(d->journal, alert->sequence, topic, alert->alert_id, (int)alert->status,
                          tp_realtime_ms(), buf, len);
    if (r < 0) {
        tp_outbox_drop_last(d->outbox);
        return r;
    }
    return tp_daemon_queued(d, 0);
}

/* Rebuild: every logged event and tick, replayed through the engine at the
 * wall-clock instant it was first processed; the alerts it raises are the
 * ones already journaled, so they are counted, not sent. */
static int s_rebuild_cb(void *ctx, int kind, int64_t processed_at_ms, const char *topic,
                        const void *body, size_t len) {
    tp_daemon_t *d = ctx;
    d->now_ms = processed_at_ms;
    if (kind == TP_LOG_TICK) {
        tp_engine_fire_due(d->engine);
        return 0;
    }
    tp_frame_t frames[2] = { { topic, strlen(topic) }, { body, len } };
    int        r = tp_engine_handle(d->engine, frames, 2);
    return r < 0 ? r : 0;
}

/* The newest good snapshot (if snapshots are on), then the log after it. */
static int s_rebuild(tp_daemon_t *d) {
    int64_t  t0 = tp_monotonic_ms();
    uint64_t after = 0;
    int      r = tp_daemon_snapshot_restore(d, &after);
    if (r < 0)
        return r;
    d->rebuilding = true;
    if (!after)
        tp_engine_set_next_sequence(d->engine, 1);
    int64_t n = tp_journal_for_each_event_after(d->journal, after, s_rebuild_cb, d);
    d->rebuilding = false;
    if (n < 0)
        return log_error_errno((int)n, "Failed to read the event log to rebuild state: %m");
    uint64_t journaled = tp_journal_last_seq(d->journal);
    if (n > 0 || after)
        log_info("Rebuilt state from %lld logged events after position %llu in %lld ms: %zu calls, "
                 "%zu contracts, "
                 "%zu open alerts, %zu deadlines; %llu alerts re-derived, %llu journaled",
                 (long long)n, (unsigned long long)after, (long long)(tp_monotonic_ms() - t0),
                 tp_engine_calls(d->engine), tp_engine_cases(d->engine),
                 tp_engine_open_alerts(d->engine), tp_engine_deadlines(d->engine),
                 (unsigned long long)d->rebuilt_alerts, (unsigned long long)journaled);
    /* Counters describe this run, not the rebuild. */
    *tp_engine_counters(d->engine) = (tp_stats_t){ 0 };
    return 0;
}

/* A corrupt journal stops the start with the way out; with
 * --move-aside-corrupt it is renamed and a new one started whose sequence
 * numbers continue above any a consumer may have stored. */
int tp_daemon_open_journal(tp_daemon_t *d, bool move_aside) {
    char path[4096], err[256];
    snprintf(path, sizeof path, "%s/journal.db", d->cfg->state_dir);
    int r = tp_journal_open(path, err, sizeof err, &d->journal);
    if (r == -EBADMSG && move_aside) {
        char    aside[4200];
        int64_t now = tp_realtime_ms();
        snprintf(aside, sizeof aside, "%s.corrupt-%lld", path, (long long)(now / 1000));
        if (rename(path, aside) < 0)
            return log_error_errno(errno, "Failed to move '%s' aside: %m", path);
        static const char *const sidecars[] = { "-wal", "-shm" };
        for (size_t i = 0; i < 2; i++) {
            char from[4200], to[4300];
            snprintf(from, sizeof from, "%s%s", path, sidecars[i]);
            snprintf(to, sizeof to, "%s%s", aside, sidecars[i]);
            rename(from, to);
        }
        log_warning("Moved the corrupt journal to '%s'; starting a new one", aside);
        r = tp_journal_open(path, err, sizeof err, &d->journal);
        /* Milliseconds since 1970 times 1000 stay above every sequence the
         * old journal can have handed out at up to 1,000 alerts per ms. */
        if (r == 0)
            r = tp_journal_seed_sequence(d->journal, (uint64_t)now * 1000);
    }
    if (r == -EBADMSG)
        return log_error_errno(r,
                               "The alert journal '%s' is corrupt or not a journal (%s). Start "
                               "with --move-aside-corrupt to rename it and begin a new journal, or "
                               "restore it from a backup",
                               path, err);
    if (r < 0)
        return log_error_errno(r, "Failed to open the alert journal '%s' (%s): %m", path, err);
    tp_daemon_journal_apply(d, d->cfg);
    d->flush_ev = evtimer_new(d->base, tp_daemon_flush_cb, d);
    if (!d->flush_ev)
        return log_error_errno(ENOMEM, "Out of memory");
    r = s_rebuild(d);
    if (r < 0)
        return r;
    tp_engine_set_next_sequence(d->engine, tp_journal_last_seq(d->journal) + 1);
    tp_journal_prune(d->journal, tp_realtime_ms(), d->cfg->journal.retention_ms,
                     d->cfg->journal.max_alerts);
    /* From here on the loop never commits: the writer thread does. */
    if ((r = tp_journal_start_writer(d->journal, d->cfg->max_message_bytes, err, sizeof err)) < 0)
        return log_error_errno(r, "Failed to start the journal writer: %s: %m", err);
    d->commit_ev =
        event_new(d->base, tp_journal_fd(d->journal), EV_READ | EV_PERSIST, s_committed_cb, d);
    if (!d->commit_ev || event_add(d->commit_ev, NULL) < 0)
        return log_error_errno(ENOMEM, "Out of memory");
    return tp_daemon_snapshot_start(d);
}


void tp_daemon_journal_apply(tp_daemon_t *d, const tp_config_t *cfg) {
    if (d->journal) {
        tp_journal_set_checkpoint(d->journal, cfg->journal.checkpoint_interval_ms,
                                  cfg->journal.wal_max_bytes);
        tp_journal_set_retention(d->journal, cfg->journal.retention_ms, cfg->journal.max_alerts,
                                 cfg->journal.event_retention_ms);
    }
    if (d->replay)
        tp_replay_server_set_limits(
            d->replay, &(tp_replay_limits_t){ .stall_timeout_ms = cfg->replay.stall_timeout_ms,
                                              .max_per_peer = cfg->replay.max_per_peer });
}

/* The journal's WAL on /metrics: how big it is and how far the
 * checkpointer is behind; then JetStream's families when it runs. */
void tp_daemon_collect_cb(void *ctx, tp_metrics_t *m, bool first) {
    tp_daemon_t *d = ctx;
    if (d->journal) {
        if (first) {
            d->wal_bytes = tp_metrics_add(m, TP_METRIC_GAUGE, "journal_wal_bytes",
                                          "Size of journal.db-wal (bytes)", NULL, NULL, 0);
            d->wal_lag = tp_metrics_add(m, TP_METRIC_GAUGE, "journal_checkpoint_lag_frames",
                                        "WAL frames not yet copied into journal.db, as of the "
                                        "last checkpoint",
                                        NULL, NULL, 0);
            d->wal_age = tp_metrics_add(m, TP_METRIC_GAUGE, "journal_checkpoint_age_seconds",
                                        "Seconds since a checkpoint last copied the whole WAL",
                                        NULL, NULL, 0);
            d->wal_truncations =
                tp_metrics_add(m, TP_METRIC_COUNTER, "journal_wal_truncations_total",
                               "Checkpoints that emptied a WAL over "
                               "journal.wal_max_bytes",
                               NULL, NULL, 0);
            d->wal_errors = tp_metrics_add(m, TP_METRIC_COUNTER, "journal_checkpoint_errors_total",
                                           "Checkpoints that failed", NULL, NULL, 0);
        }
        tp_journal_wal_t w;
        tp_journal_wal_stats(d->journal, &w);
        tp_metric_set(d->wal_bytes, NULL, (double)w.wal_bytes);
        tp_metric_set(d->wal_lag, NULL, (double)w.lag_frames);
        tp_metric_set(d->wal_age, NULL, (double)(tp_monotonic_ms() - w.last_caught_up_ms) / 1e3);
        tp_metric_set(d->wal_truncations, NULL, (double)w.truncations);
        tp_metric_set(d->wal_errors, NULL, (double)w.errors);
    }
    tp_daemon_snapshot_collect(d, m, first);
    if (d->cfg->nats.enabled)
        tp_daemon_nats_collect_cb(d, m, first);
}
