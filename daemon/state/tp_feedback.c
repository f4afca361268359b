/* tp_feedback — see tp_feedback.h. */
#include "tp_feedback.h"

#include "tp_str.h"

void tp_feedback_judge(const tp_config_t *cfg, const char *source,
                       const Touchpoint__V1__Feedback *f, int nps_max, int effort_min,
                       tp_feedback_verdict_t *ret) {
    const tp_feedback_source_t *src = tp_config_feedback_source(cfg, source);
    tp_feedback_verdict_t       v = {
              .nps_max = src ? src->nps_max : nps_max,
              .effort_scale = src ? src->effort_scale : 7,
              .effort_high_is_hard = src ? src->effort_high_is_hard : true,
              .effort_threshold = src ? src->effort_threshold : effort_min,
    };
    if (f->nps_value_case == TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS)
        v.nps_bad = f->nps <= v.nps_max;
    if (f->effort_score_value_case == TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE &&
        f->effort_score >= 1 && f->effort_score <= v.effort_scale)
        v.effort_bad = v.effort_high_is_hard ? f->effort_score >= v.effort_threshold
                                             : f->effort_score <= v.effort_threshold;
    v.detractor = v.nps_bad || v.effort_bad;
    *ret = v;
}

void tp_feedback_scale_text(const tp_feedback_verdict_t *v, char *buf, size_t len) {
    char n[24];
    tp_str_int(n, sizeof n, v->effort_scale); /* no printf: built for every detractor alert */
    TP_STR_CAT(buf, len, "1-", n, ", ", v->effort_high_is_hard ? "high" : "low", " = hard");
}
