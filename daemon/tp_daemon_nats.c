/* tp_daemon_nats — the daemon's JetStream wiring: the static mode's input
 * callback (the reliable input's path, acked after the commit), the set-up
 * of either mode, and their counters for /metrics and the stats line.
 * Called by tp_daemon.c; see docs/jetstream.md. */
#include <errno.h>
#include <string.h>

#include "tp_cluster.h"
#include "tp_daemon_internal.h"

/* JetStream input: the reliable input's path. Accepted (or already seen)
 * events are acked after the commit that stores them; events that can
 * never be accepted are terminated (no redelivery), with the reason logged
 * through the engine's rate limiter and counted. */
static void s_nats_cb(void *arg, void *msg, const tp_frame_t frames[2]) {
    tp_daemon_t *d = arg;
    char         why[256] = "", id[160] = "";
    d->now_ms = tp_realtime_ms();
    int r;
    if (frames[1].len > d->cfg->max_message_bytes) {
        tp_engine_counters(d->engine)->oversize++;
        r = TP_REFUSED;
    } else {
        r = tp_engine_handle_why(d->engine, frames, 2, why, sizeof why, id, sizeof id);
    }
    if (r == TP_ACCEPTED)
        tp_daemon_log_event(d, frames);
    if (r == TP_ACCEPTED || r == TP_DUPLICATE) {
        if (tp_daemon_queue_nats_ack(d, msg) < 0) {
            tp_nats_release(d->nats, msg); /* redelivered; dedup absorbs it */
            return;
        }
    } else if (r == TP_REFUSED) {
        tp_nats_term(d->nats, msg);
    } else {
        log_error_errno(r, "Failed to process event: %m");
        tp_nats_release(d->nats, msg);
    }
    tp_daemon_rearm(d);
}

/* The counters of whichever JetStream mode runs: *ret_ns / *ret_cs point
 * into ns / cs, or are NULL for the mode that does not. */
static void s_nats_stats(const tp_daemon_t *d, tp_nats_stats_t *ns, tp_cluster_stats_t *cs,
                         const tp_nats_stats_t **ret_ns, const tp_cluster_stats_t **ret_cs) {
    *ret_ns = NULL;
    *ret_cs = NULL;
    if (d->nats) {
        tp_nats_get_stats(d->nats, ns);
        *ret_ns = ns;
    }
    if (d->cluster) {
        tp_cluster_get_stats(d->cluster, cs);
        *ret_cs = cs;
    }
}

void tp_daemon_nats_collect_cb(void *ctx, tp_metrics_t *m, bool first) {
    tp_daemon_t              *d = ctx;
    tp_nats_stats_t           ns;
    tp_cluster_stats_t        cs;
    const tp_nats_stats_t    *pn;
    const tp_cluster_stats_t *pc;
    s_nats_stats(d, &ns, &cs, &pn, &pc);
    tp_nats_metrics_collect(&d->nats_metrics, m, first, pn, pc);
}

void tp_daemon_nats_format(const tp_daemon_t *d, char *buf, size_t len) {
    tp_nats_stats_t           ns;
    tp_cluster_stats_t        cs;
    const tp_nats_stats_t    *pn;
    const tp_cluster_stats_t *pc;
    s_nats_stats(d, &ns, &cs, &pn, &pc);
    if (len)
        buf[0] = '\0';
    tp_nats_metrics_format(buf, len, pn, pc);
}

static int s_republish_cb(void *ctx, uint64_t seq, const char *topic, const void *body,
                          size_t len) {
    (void)seq;
    tp_daemon_t *d = ctx;
    return tp_nats_publish_alert(d->nats, topic, body, len) < 0 ? 1 : 0;
}

int tp_daemon_open_nats(tp_daemon_t *d) {
    const tp_config_t *cfg = d->cfg;
    char               why[512];
    if (cfg->nats.ownership == TP_OWNERSHIP_LEASE) { /* state from the stream, not the journal */
        int r = tp_cluster_new(cfg, why, sizeof why, &d->cluster);
        if (r < 0)
            return log_error_errno(r, "Failed to set up JetStream on %s: %s", cfg->nats.url, why);
        log_info("JetStream on %s: instance %s shares %u partitions of %s through leases in %s "
                 "(ttl %lld ms), alerts to %s",
                 cfg->nats.url, tp_cluster_instance(d->cluster), cfg->nats.partition_count,
                 cfg->nats.events_stream, cfg->nats.lease_bucket, (long long)cfg->nats.lease_ttl_ms,
                 cfg->nats.alerts_stream);
        return 0;
    }
    if (!d->journal)
        return log_error_errno(EINVAL, "nats.enabled needs journal.enabled: an ack promises the "
                                       "event is stored");
    int r = tp_nats_new(d->base, cfg, s_nats_cb, d, why, sizeof why, &d->nats);
    if (r < 0)
        return log_error_errno(r, "Failed to set up JetStream on %s: %s", cfg->nats.url, why);
    /* At most the newest 10,000: a stream created today does not get the
     * journal's whole history. */
    uint64_t after = tp_nats_last_alert_sequence(d->nats), last = tp_journal_last_seq(d->journal);
    if (last > after + 10000)
        after = last - 10000;
    int64_t n = tp_journal_read_after(d->journal, after, 100000, s_republish_cb, d, &last);
    if (n < 0)
        log_warning_errno((int)n, "Failed to read the journal to republish alerts: %m");
    size_t np = cfg->nats.n_partitions ? cfg->nats.n_partitions : cfg->nats.partition_count;
    log_info("JetStream on %s: %zu of %u partitions from %s (consumers %s-p<N>), alerts to %s; "
             "%lld journaled alerts after sequence %llu published again",
             cfg->nats.url, np, cfg->nats.partition_count, cfg->nats.events_stream,
             cfg->nats.consumer, cfg->nats.alerts_stream, (long long)(n > 0 ? n : 0),
             (unsigned long long)after);
    return 0;
}
