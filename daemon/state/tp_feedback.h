/* tp_feedback — is a feedback a detractor? By its survey tool's convention.
 *
 * Survey tools differ: one scores effort 1..7 with 7 = very hard, another
 * 1..5 with 1 = very hard; NPS detractor bands differ too. The config's
 * feedback_sources.<source> says how each source scores; a source not
 * listed is judged with the calling rule's own nps_max / effort_min on the
 * DESIGN default scale (effort 1..7, high = hard). Used by every rule that
 * reacts to unhappy customers (follow_up_missing, negative_feedback).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "tp_config.h"
#include "tp_contract.h"

typedef struct {
    bool detractor;    /* nps_bad || effort_bad */
    bool nps_bad;      /* nps present and in the detractor band */
    bool effort_bad;   /* effort present and this hard or harder */
    int  nps_max;      /* the band applied */
    int  effort_scale; /* the scale applied: 1..effort_scale */
    bool effort_high_is_hard;
    int  effort_threshold;
} tp_feedback_verdict_t;

/* Judges `f` from `source` (Envelope.source). nps_max / effort_min are the
 * rule's thresholds for sources not listed in the config. An effort score
 * outside its source's scale is not judged (the codec accepts 1..10). */
void tp_feedback_judge(const tp_config_t *cfg, const char *source,
                       const Touchpoint__V1__Feedback *f, int nps_max, int effort_min,
                       tp_feedback_verdict_t *ret);

/* "1-7, high = hard" for evidence, into buf. */
void tp_feedback_scale_text(const tp_feedback_verdict_t *v, char *buf, size_t len);
