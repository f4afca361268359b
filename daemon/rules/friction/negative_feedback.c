/* friction.negative_feedback — an HCP told us it was painful.
 *
 * A feedback judged a detractor by tp_feedback_judge (its source's scoring
 * convention from feedback_sources, else rules.negative_feedback.nps_max /
 * effort_min on the default 1..7, high = hard scale) fires at once.
 * Subject "feedback/<feedback_id>". The alert is linked to what the
 * feedback is about:
 *
 *   contract — contract_id = subject_id; HCP, rep and contract type from the
 *              contracting case when it is known, else the feedback's HCP;
 *   call     — call_id = subject_id; HCP, rep, account and territory from
 *              the call when it is known, else the feedback's HCP;
 *   general  — (or no subject_type) the feedback's HCP.
 *
 * Severity CRITICAL when nps <= 3 or the effort score is the hardest of
 * its scale, else WARNING.
 *
 * A one-shot fact: the FIRING is resolved "expired" FACT_OPEN_MS after it
 * was detected. The first detractor version of a feedback_id decides;
 * "judged" is this rule's deadline for the feedback_id (the expiry, then a
 * marker kept REMEMBER_MS longer), so a resend with a new event_id does not
 * fire again, and memory stays bounded by the feedback rate.
 */
#include <stdio.h>
#include <string.h>

#include "tp_clock.h"
#include "tp_codec.h"
#include "tp_feedback.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE         "negative_feedback"
#define FACT_OPEN_MS (7 * 86400000LL)    /* how long the FIRING stays open */
#define REMEMBER_MS  (30 * 86400000LL)   /* a feedback_id is judged once within this */
#define COMMENT_MAX  200                 /* bytes of the comment kept for evidence */
#define SUBJECT_MAX  (9 + TP_ID_MAX + 1) /* feedback/<id> */
#define NPS_CRITICAL 3                   /* nps at or below this is CRITICAL */

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->negative_feedback.enabled;
}

static bool s_has_nps(const Touchpoint__V1__Feedback *f) {
    return f->nps_value_case == TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS;
}

static bool s_has_effort(const Touchpoint__V1__Feedback *f) {
    return f->effort_score_value_case == TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE;
}

/* The hardest score of the source's scale: 7 on 1..7 high = hard, 1 on a
 * scale where 1 = very hard. */
static bool s_hardest(const Touchpoint__V1__Feedback *f, const tp_feedback_verdict_t *v) {
    if (!s_has_effort(f) || f->effort_score < 1 || f->effort_score > v->effort_scale)
        return false;
    return f->effort_score == (v->effort_high_is_hard ? v->effort_scale : 1);
}

/* Copies at most max bytes of src, cut on a UTF-8 character boundary. */
static void s_excerpt(char *dst, const char *src, size_t max) {
    size_t n = tp_rule_utf8_cut(src, max);
    memcpy(dst, src, n);
    dst[n] = '\0';
}

/* Who and what the feedback is about. */
typedef struct {
    const char *hcp_id, *rep_id, *account_id, *territory, *call_id, *contract_id;
    const char *contract_type; /* NULL: not known */
    const char *about;         /* "contract K-1", "call C-1", "" */
} s_link_t;

static const char *s_or(const char *s, const char *fallback) {
    return s && *s ? s : fallback;
}

static void s_link(const tp_rule_ctx_t *ctx, const Touchpoint__V1__Feedback *f, s_link_t *l,
                   char *about, size_t about_len) {
    const char *type = s_or(f->subject_type, "general");
    const char *sid = s_or(f->subject_id, "");
    *l = (s_link_t){ .hcp_id = f->hcp_id, .about = about };
    about[0] = '\0';
    if (strcmp(type, "contract") == 0 && *sid) {
        l->contract_id = sid;
        TP_STR_CAT(about, about_len, " on contract ", sid);
        const tp_case_t *c = tp_cases_find(ctx->cases, sid);
        if (c) {
            l->hcp_id = s_or(c->hcp_id, f->hcp_id);
            l->rep_id = c->rep_id;
            l->contract_type = tp_contract_type_name(c->contract_type);
        }
    } else if (strcmp(type, "call") == 0 && *sid) {
        l->call_id = sid;
        TP_STR_CAT(about, about_len, " on call ", sid);
        const tp_call_t *call = tp_state_find_call(ctx->state, sid);
        if (call) {
            l->hcp_id = s_or(call->hcp_id, f->hcp_id);
            l->rep_id = call->rep_id;
            l->account_id = call->account_id;
            l->territory = call->territory;
        }
    }
}

static void s_fire(const tp_rule_ctx_t *ctx, const tp_event_t *ev, const tp_feedback_verdict_t *v,
                   const char *subject) {
    const Touchpoint__V1__Envelope *env = ev->env;
    const Touchpoint__V1__Feedback *f = env->feedback;
    char     summary[768], about[TP_ID_MAX + 32], nps[8], effort[8], nps_max[8], threshold[8];
    char     scale[64], at[32], comment[COMMENT_MAX + 1], scores[96];
    s_link_t l;
    s_link(ctx, f, &l, about, sizeof about);
    /* Without printf (built for every detractor: a few thousand
     * instructions per alert), the same bytes (tp_str). */
    tp_str_int(nps, sizeof nps, (int)f->nps);
    tp_str_int(effort, sizeof effort, (int)f->effort_score);
    tp_str_int(nps_max, sizeof nps_max, v->nps_max);
    tp_str_int(threshold, sizeof threshold, v->effort_threshold);
    tp_feedback_scale_text(v, scale, sizeof scale);
    tp_format_time(f->at_ms, at, sizeof at);
    s_excerpt(comment, s_or(f->comment, ""), COMMENT_MAX);
    bool critical = (s_has_nps(f) && f->nps <= NPS_CRITICAL) || s_hardest(f, v);

    if (s_has_nps(f) && s_has_effort(f))
        TP_STR_CAT(scores, sizeof scores, "nps ", nps, ", effort ", effort, " on ", scale);
    else if (s_has_nps(f))
        TP_STR_CAT(scores, sizeof scores, "nps ", nps);
    else
        TP_STR_CAT(scores, sizeof scores, "effort ", effort, " on ", scale);
    TP_STR_CAT(summary, sizeof summary, "HCP ", l.hcp_id, " gave negative feedback", l.about, " (",
               scores, ") on ", at, ".");

    tp_kv_t evidence[16];
    size_t  n = 0;
    if (s_has_nps(f)) {
        evidence[n++] = (tp_kv_t){ "nps", nps };
        evidence[n++] = (tp_kv_t){ "nps_max", nps_max };
    }
    if (s_has_effort(f)) {
        evidence[n++] = (tp_kv_t){ "effort_score", effort };
        evidence[n++] = (tp_kv_t){ "effort_threshold", threshold };
    }
    evidence[n++] = (tp_kv_t){ "effort_scale", scale };
    evidence[n++] = (tp_kv_t){ "judged_on", v->nps_bad && v->effort_bad ? "nps,effort"
                                            : v->nps_bad                ? "nps"
                                                                        : "effort" };
    evidence[n++] = (tp_kv_t){ "comment", comment };
    evidence[n++] = (tp_kv_t){ "subject_type", s_or(f->subject_type, "general") };
    evidence[n++] = (tp_kv_t){ "subject_id", s_or(f->subject_id, "") };
    evidence[n++] = (tp_kv_t){ "source", env->source };
    evidence[n++] = (tp_kv_t){ "feedback_id", f->feedback_id };
    evidence[n++] = (tp_kv_t){ "feedback_at", at };
    if (l.contract_type)
        evidence[n++] = (tp_kv_t){ "contract_type", l.contract_type };
    if (l.hcp_id != f->hcp_id && strcmp(l.hcp_id, f->hcp_id) != 0)
        evidence[n++] = (tp_kv_t){ "feedback_hcp_id", f->hcp_id };

    const tp_alert_spec_t spec = {
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
        .rule = RULE,
        .subject = subject,
        .severity = critical ? TOUCHPOINT__V1__SEVERITY__SEVERITY_CRITICAL
                             : TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING,
        .hcp_id = l.hcp_id,
        .rep_id = l.rep_id,
        .account_id = l.account_id,
        .territory = l.territory,
        .call_id = l.call_id,
        .contract_id = l.contract_id,
        .summary = summary,
        .evidence = evidence,
        .n_evidence = n,
    };
    tp_rule_fire(ctx, &spec, env->event_id);
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state;
    const Touchpoint__V1__Envelope *env = ev->env;
    const Touchpoint__V1__Feedback *f = env->feedback;
    if (!f)
        return;
    /* Judged first: most feedback is no detractor, and the verdict is
     * cheaper than the marker's lookup. */
    tp_feedback_verdict_t v;
    tp_feedback_judge(ctx->cfg, env->source, f, ctx->cfg->negative_feedback.nps_max,
                      ctx->cfg->negative_feedback.effort_min, &v);
    if (!v.detractor)
        return;
    if (tp_timers_due(ctx->timers, ctx->owner, f->feedback_id) != INT64_MIN)
        return; /* judged already: the first detractor version counts */
    char subject[SUBJECT_MAX];
    TP_STR_JOIN(subject, sizeof subject, "feedback/", f->feedback_id);
    /* Arm first: without the expiry deadline the FIRING would never close. */
    if (tp_rule_arm(ctx, f->feedback_id, ctx->now_ms + FACT_OPEN_MS) < 0)
        return;
    s_fire(ctx, ev, &v, subject);
}

/* The FIRING's week is over (resolve it and keep the marker a while), or
 * the marker has run out. */
static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    (void)state;
    const char *feedback_id = tp_deadline_key(d);
    char        subject[SUBJECT_MAX], what[24 + TP_ID_MAX];
    TP_STR_JOIN(subject, sizeof subject, "feedback/", feedback_id);
    TP_STR_JOIN(what, sizeof what, "Negative feedback ", feedback_id);
    if (tp_rule_resolve_fact(ctx, RULE, subject, what, FACT_OPEN_MS) == 1)
        tp_rule_arm(ctx, feedback_id, d->timer.due_ms - FACT_OPEN_MS + REMEMBER_MS);
}

const tp_rule_t tp_rule_negative_feedback = {
    .name = RULE,
    .description = "a detractor feedback (per-source scales; default nps <= 6 or effort >= 5)",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
    .events = TP_EV_FEEDBACK,
    .enabled = s_enabled,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
};
