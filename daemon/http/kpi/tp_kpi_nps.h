/* tp_kpi_nps — NPS and customer effort from feedback, overall, by
 * territory and by contract type.
 *
 * Each feedback is judged on its survey tool's own scale
 * (feedback_sources, tp_feedback_judge): a detractor has nps at or below
 * the source's nps_max (6 for a source not listed), a promoter 9 or 10
 * (the NPS convention; no tool moves it). NPS = 100 * (promoters -
 * detractors) / answers with an nps. Effort scores are put on the DESIGN
 * scale 1..7, high = hard, before they are averaged (a 1..5 tool with
 * 1 = hard: 1 -> 7, 5 -> 1), so tools can be mixed; a score outside its
 * tool's scale is left out.
 *
 * A feedback counts for the territory of its HCP's latest call (by
 * call_at) if one was seen, and, when its subject_type is "contract", for
 * the type of that contract as its step events said. Both maps are
 * bounded (TP_KPI_MAX_HCPS, TP_KPI_MAX_CONTRACTS; later ones count as
 * unknown), and territories by TP_KPI_MAX_LABELS then "_other".
 *
 *   nps, effort_score_mean                 gauges, unlabelled = overall
 *   nps{territory}, effort_score_mean{territory}
 *   nps{contract_type}, effort_score_mean{contract_type}
 *
 * Per event: one hash lookup for a call or a step, two for a feedback;
 * memory only for an HCP, contract or territory seen for the first time.
 */
#pragma once

#include <stdint.h>

#include "tp_config.h"
#include "tp_kpi_trend.h"
#include "tp_metrics.h"

#define TP_KPI_MAX_CONTRACTS 200000 /* contract types kept for feedback on a contract */

struct tp_event;
struct json_t;
typedef struct tp_kpi_nps tp_kpi_nps_t;

/* Registers the gauges in `m` (borrowed, as cfg). 0 or -ENOMEM. */
int  tp_kpi_nps_new(const tp_config_t *cfg, tp_metrics_t *m, tp_kpi_nps_t **ret);
void tp_kpi_nps_set_config(tp_kpi_nps_t *n, const tp_config_t *cfg);

/* Every accepted event (calls, steps and feedback are looked at). True
 * for a feedback with an nps or effort counted, described in *ret (its
 * territory valid until the next call). */
bool tp_kpi_nps_observe(tp_kpi_nps_t *n, const struct tp_event *ev, tp_kpi_answer_t *ret);

struct tp_snapw;
struct tp_snapr;
/* Its section of a snapshot (counts, the HCP and contract maps, the
 * gauges' series); load into a new one. */
void tp_kpi_nps_save(const tp_kpi_nps_t *n, struct tp_snapw *w);
int  tp_kpi_nps_load(tp_kpi_nps_t *n, struct tp_snapr *r);

/* "feedback": {nps, effort_mean, answers, promoters, detractors, efforts,
 * by_territory: [{name, the same}], by_contract_type: [{name, ..}]}
 * set into `doc`; nps and effort_mean null without answers. 0 or -ENOMEM. */
int tp_kpi_nps_to_json(const tp_kpi_nps_t *n, struct json_t *doc);

void tp_kpi_nps_destroy(tp_kpi_nps_t **p);
