/* tp_nats_metrics — the nats_* families on /metrics and /status, for
 * either JetStream mode (static: tp_nats, lease: tp_cluster). tp_daemon
 * hands tp_nats_metrics_collect to tp_http as its collector.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "tp_cluster.h"
#include "tp_metrics.h"
#include "tp_nats.h"

enum { TP_NATS_METRIC_COUNT = 16 };

typedef struct {
    tp_metric_t *f[TP_NATS_METRIC_COUNT];
} tp_nats_metrics_t;

/* Registers the families in m when first, then sets them from whichever of
 * ns (static mode) or cs (lease mode) is not NULL. */
void tp_nats_metrics_collect(tp_nats_metrics_t *nm, tp_metrics_t *m, bool first,
                             const tp_nats_stats_t *ns, const tp_cluster_stats_t *cs);

/* The same counters for the stats line: " nats_received=N ..." into buf
 * ("" when neither mode runs). */
void tp_nats_metrics_format(char *buf, size_t len, const tp_nats_stats_t *ns,
                            const tp_cluster_stats_t *cs);
