/* tp_nats_metrics — see tp_nats_metrics.h. */
#include "tp_nats_metrics.h"

#include <stdio.h>

static const struct {
    tp_metric_type_t type;
    const char      *name, *help;
} s_families[TP_NATS_METRIC_COUNT] = {
    { TP_METRIC_COUNTER, "nats_received_total", "JetStream events received (live, not replayed)" },
    { TP_METRIC_COUNTER, "nats_acked_total", "JetStream events acknowledged" },
    { TP_METRIC_COUNTER, "nats_termed_total", "JetStream events terminated: never acceptable" },
    { TP_METRIC_COUNTER, "nats_alerts_published_total", "Alerts published to the alerts stream" },
    { TP_METRIC_COUNTER, "nats_publish_errors_total", "Alert publishes that failed (retried)" },
    { TP_METRIC_GAUGE, "nats_partitions_owned", "Partitions this instance serves now" },
    { TP_METRIC_GAUGE, "nats_members", "Live instances in the lease bucket (lease mode)" },
    { TP_METRIC_COUNTER, "nats_leases_claimed_total", "Partition leases claimed (lease mode)" },
    { TP_METRIC_COUNTER, "nats_leases_lost_total",
      "Partition leases lost: renew refused or not answered in time (lease mode)" },
    { TP_METRIC_COUNTER, "nats_rebuilds_total",
      "Partitions taken over: state rebuilt from the events stream (lease mode)" },
    { TP_METRIC_COUNTER, "nats_rebuild_events_total", "Events replayed by those rebuilds" },
    { TP_METRIC_COUNTER, "nats_rebuild_alerts_suppressed_total",
      "Alerts re-derived in rebuilds and not sent: their event was acked, so they are stored" },
    { TP_METRIC_GAUGE, "nats_last_rebuild_seconds",
      "Take-over of the last partition claimed: lease claimed to live (lease mode)" },
    { TP_METRIC_COUNTER, "nats_snapshots_saved_total",
      "Partition snapshots saved to nats.snapshot_stream (lease mode)" },
    { TP_METRIC_COUNTER, "nats_snapshots_loaded_total",
      "Take-overs that started from a partition snapshot (lease mode)" },
    { TP_METRIC_COUNTER, "nats_snapshots_bad_total",
      "Partition snapshots that could not be used: the take-over replayed the whole partition" },
};

void tp_nats_metrics_collect(tp_nats_metrics_t *nm, tp_metrics_t *m, bool first,
                             const tp_nats_stats_t *ns, const tp_cluster_stats_t *cs) {
    if (first)
        for (size_t i = 0; i < TP_NATS_METRIC_COUNT; i++)
            nm->f[i] = tp_metrics_add(m, s_families[i].type, s_families[i].name, s_families[i].help,
                                      NULL, NULL, 0);
    double v[TP_NATS_METRIC_COUNT] = { 0 };
    if (cs) {
        double c[] = { (double)cs->received,
                       (double)cs->acked,
                       (double)cs->termed,
                       (double)cs->alerts_published,
                       (double)cs->publish_errors,
                       (double)cs->owned,
                       (double)cs->members,
                       (double)cs->leases_claimed,
                       (double)cs->leases_lost,
                       (double)cs->rebuilds,
                       (double)cs->rebuild_events,
                       (double)cs->rebuild_suppressed,
                       (double)cs->last_rebuild_ms / 1000.0,
                       (double)cs->snapshots_saved,
                       (double)cs->snapshots_loaded,
                       (double)cs->snapshots_bad };
        for (size_t i = 0; i < TP_NATS_METRIC_COUNT; i++)
            v[i] = c[i];
    } else if (ns) {
        v[0] = (double)ns->received;
        v[1] = (double)ns->acked;
        v[2] = (double)ns->termed;
        v[3] = (double)ns->alerts_published;
        v[4] = (double)ns->publish_errors;
    }
    for (size_t i = 0; i < TP_NATS_METRIC_COUNT; i++)
        if (nm->f[i]) /* NULL: registering failed (ENOMEM) */
            tp_metric_set(nm->f[i], NULL, v[i]);
}

void tp_nats_metrics_format(char *buf, size_t len, const tp_nats_stats_t *ns,
                            const tp_cluster_stats_t *cs) {
    buf[0] = '\0';
    if (cs)
        snprintf(buf, len,
                 " nats_received=%llu nats_acked=%llu nats_termed=%llu "
                 "nats_alerts_published=%llu nats_publish_errors=%llu nats_partitions_owned=%u "
                 "nats_leases_claimed=%llu nats_leases_lost=%llu nats_rebuilds=%llu "
                 "nats_rebuild_events=%llu nats_snapshots_saved=%llu nats_snapshots_loaded=%llu "
                 "nats_snapshots_bad=%llu",
                 (unsigned long long)cs->received, (unsigned long long)cs->acked,
                 (unsigned long long)cs->termed, (unsigned long long)cs->alerts_published,
                 (unsigned long long)cs->publish_errors, cs->owned,
                 (unsigned long long)cs->leases_claimed, (unsigned long long)cs->leases_lost,
                 (unsigned long long)cs->rebuilds, (unsigned long long)cs->rebuild_events,
                 (unsigned long long)cs->snapshots_saved, (unsigned long long)cs->snapshots_loaded,
                 (unsigned long long)cs->snapshots_bad);
    else if (ns)
        snprintf(buf, len,
                 " nats_received=%llu nats_acked=%llu nats_termed=%llu "
                 "nats_released=%llu nats_alerts_published=%llu nats_publish_errors=%llu",
                 (unsigned long long)ns->received, (unsigned long long)ns->acked,
                 (unsigned long long)ns->termed, (unsigned long long)ns->released,
                 (unsigned long long)ns->alerts_published, (unsigned long long)ns->publish_errors);
}
