/* tp_kpi — what accepted events say beyond alerts: events per topic and
 * source, and the business KPIs integration leads ask for.
 *
 * The engine's observer (tp_engine_set_observer): after the rules ran on
 * an accepted event it looks at the event and the state it left, and
 * counts into a tp_metrics registry:
 *
 *   events_received_total{topic,source}   accepted events (sources bounded
 *                                         by limits.max_sources, then "_other")
 *   calls_submitted_total                 calls, each once, on the first
 *                                         SUBMITTED version applied
 *   calls_complete_total                  ... with every field that
 *                                         tp_config_required_fields asks for
 *                                         its channel
 *   calls_submitted_late_total            ... submitted after the call_late
 *                                         rule's due time (tp_config_call_due)
 *   calls_channel_known_total             ... to an HCP whose preferred channel
 *                                         is known (Feedback.preferred_channel,
 *                                         latest at_ms wins) at that moment
 *   calls_channel_matched_total           ... of those, on that channel
 *   crm_completeness_ratio, late_submission_ratio, channel_match_ratio
 *   contract_cycle_seconds{contract_type} closed_at - opened_at of a contract
 *                                         that closes (not cancelled)
 *   contract_step_seconds{step}           a step's attempt start to its
 *                                         COMPLETED (64 step names, then "_other")
 *
 * Counts describe this run: the daemon installs the observer after the
 * restart's rebuild, as its other counters start at zero.
 */
#pragma once

#include "tp_config.h"
#include "tp_metrics.h"

#define TP_KPI_MAX_HCPS  500000  /* preferred channels kept; later HCPs count as unknown */
#define TP_KPI_MAX_STEPS 64      /* distinct step labels of contract_step_seconds */

struct tp_event;
typedef struct tp_kpi tp_kpi_t;

/* Registers the KPI families in `m` (borrowed: must outlive the kpi, as
 * must cfg). 0 or -ENOMEM. */
int tp_kpi_new(const tp_config_t *cfg, tp_metrics_t *m, tp_kpi_t **ret);

/* A reloaded config: completeness and lateness are judged by its rules
 * from the next event on. */
void tp_kpi_set_config(tp_kpi_t *k, const tp_config_t *cfg);

/* The observer: `ctx` is the tp_kpi_t. */
void tp_kpi_observe(void *ctx, const struct tp_event *ev);

void tp_kpi_destroy(tp_kpi_t **p);
