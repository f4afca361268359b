/* friction.case_stalled — an open contract nobody has touched for too long.
 *
 * An absence rule over the whole case: every step event of an open case
 * (re)arms the deadline "<contract_id>" at last_step + stall_after (10 d).
 * last_step is the latest step time tp_cases has seen, so a stale event
 * does not move it and re-arms the same deadline, never an earlier one. At
 * the deadline the case fires if it is still open and still silent; a step
 * event that makes it no longer silent resolves it ("moved again"), and so
 * does closing it ("case closed").
 *
 * While FIRING, the same key watches the case's retention: a stalled case
 * usually never moves again, and once the engine forgets it
 * (limits.open_case_horizon after its last step) the alert is resolved
 * ("case forgotten") instead of staying open for ever.
 */
#include <stdio.h>
#include <string.h>

#include "tp_clock.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE     "case_stalled"
#define SUBJ_MAX (sizeof "contract/" + 128)
#define LIST_MAX (TP_CASE_MAX_STEPS * (128 + 1) + 1)

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->case_stalled.enabled;
}

static void s_subject(char *buf, size_t len, const char *contract_id) {
    TP_STR_JOIN(buf, len, "contract/", contract_id);
}

static bool s_silent(const tp_rule_ctx_t *ctx, const tp_case_t *c) {
    return c->last_step_ms + ctx->cfg->case_stalled.stall_after_ms < ctx->now_ms;
}

/* The step whose event is the case's latest (ties: the first seen). */
static const tp_step_t *s_last_step(const tp_case_t *c) {
    const tp_step_t *last = NULL;
    for (unsigned i = 0; i < c->n_steps; i++)
        if (!last || c->steps[i].last_at_ms > last->last_at_ms)
            last = &c->steps[i];
    return last;
}

/* Steps currently STARTED, as "A,B". */
static void s_open_steps(const tp_case_t *c, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < c->n_steps && off < len; i++) {
        if (c->steps[i].state != TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED)
            continue;
        int n = snprintf(buf + off, len - off, "%s%s", off ? "," : "", c->steps[i].name);
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

static void s_fire(const tp_rule_ctx_t *ctx, const tp_case_t *c) {
    const tp_step_t *last = s_last_step(c);
    char subject[SUBJ_MAX], summary[1024], last_at[32], stalled_for[32], stall_after[32];
    char open_steps[LIST_MAX], owners[TP_CASE_MAX_OWNERS * (128 + 1) + 1];
    s_subject(subject, sizeof subject, c->contract_id);
    tp_format_time(c->last_step_ms, last_at, sizeof last_at);
    tp_format_duration(ctx->now_ms - c->last_step_ms, stalled_for, sizeof stalled_for);
    tp_format_duration(ctx->cfg->case_stalled.stall_after_ms, stall_after, sizeof stall_after);
    s_open_steps(c, open_steps, sizeof open_steps);
    tp_case_owner_list(c, owners, sizeof owners);
    const char *last_name = last ? last->name : "";
    const char *last_state = last ? tp_step_state_name(last->state) : "";
    const char *last_owner = last && last->owner_id ? last->owner_id : "";
    /* One sentence: a long open-step list is cut here, whole in evidence. */
    snprintf(summary, sizeof summary,
             "%s contract %s (HCP %s) has had no step event for %s (stall after %s); "
             "last: %s %s on %s, open steps: %.300s.",
             tp_contract_type_name(c->contract_type), c->contract_id, c->hcp_id ? c->hcp_id : "?",
             stalled_for, stall_after, last_name, last_state, last_at,
             open_steps[0] ? open_steps : "none");
    const tp_kv_t evidence[] = {
        { "last_step", last_name },
        { "last_step_state", last_state },
        { "last_step_at", last_at },
        { "last_step_owner", last_owner },
        { "stalled_for", stalled_for },
        { "stall_after", stall_after },
        { "open_steps", open_steps },
        { "owners", owners },
        { "contract_type", tp_contract_type_name(c->contract_type) },
    };
    tp_rule_fire_case(ctx, RULE, c, NULL, subject, summary, evidence,
                      sizeof evidence / sizeof evidence[0], c->event_id);
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state;
    const tp_step_change_t *ch = ev->step;
    if (!ch)
        return;
    const tp_case_t                       *c = ch->kase;
    const Touchpoint__V1__ContractingStep *s = ev->env->contracting;
    char                                   subject[SUBJ_MAX], summary[768], at[32];
    s_subject(subject, sizeof subject, c->contract_id);
    bool firing = tp_alerts_is_firing(ctx->alerts, RULE, subject);
    if (ch->closed_now) {
        tp_rule_cancel(ctx, c->contract_id);
        if (!firing)
            return;
        tp_format_time(c->closed_at_ms, at, sizeof at);
        snprintf(summary, sizeof summary, "Stalled contract %s was closed on %s.", c->contract_id,
                 at);
        const tp_kv_t evidence[] = {
            { "closed_at", at },
            { "resolution", "case closed" },
        };
        tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence,
                          sizeof evidence / sizeof evidence[0], ev->env->event_id, ctx->now_ms);
        return;
    }
    if (c->closed)
        return; /* a late event for a closed case */
    if (firing) {
        /* A stale event leaves the case as silent as it was (and the key
         * watching retention where it is). */
        if (s_silent(ctx, c))
            return;
        /* The RESOLVED keeps the FIRING's evidence (how long it was
         * silent); this adds what ended the silence. */
        tp_format_time(s->at_ms, at, sizeof at);
        snprintf(summary, sizeof summary, "Stalled contract %s moved again: %s %s on %s.",
                 c->contract_id, s->step, tp_step_state_name((int)s->state), at);
        const tp_kv_t evidence[] = {
            { "moved_step", s->step },
            { "moved_state", tp_step_state_name((int)s->state) },
            { "moved_at", at },
            { "resolution", "moved again" },
        };
        tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence,
                          sizeof evidence / sizeof evidence[0], ev->env->event_id, ctx->now_ms);
    }
    tp_rule_arm(ctx, c->contract_id, c->last_step_ms + ctx->cfg->case_stalled.stall_after_ms);
}

static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    (void)state;
    const char      *contract_id = tp_deadline_key(d);
    const tp_case_t *c = tp_cases_find(ctx->cases, contract_id);
    char             subject[SUBJ_MAX], summary[512];
    s_subject(subject, sizeof subject, contract_id);
    if (tp_alerts_is_firing(ctx->alerts, RULE, subject)) {
        /* The retention watch: resolve once the engine forgets the case. */
        if (c && !c->closed && ctx->now_ms <= tp_rule_case_forget_at(ctx->cfg, c)) {
            tp_rule_arm(ctx, contract_id, tp_rule_case_forget_at(ctx->cfg, c));
            return;
        }
        snprintf(summary, sizeof summary,
                 "Stalled contract %s is no longer tracked (nothing moved before the horizon).",
                 contract_id);
        const tp_kv_t evidence[] = { { "resolution", "case forgotten" } };
        tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence, 1, NULL, ctx->now_ms);
        return;
    }
    if (!c || c->closed)
        return;
    if (!s_silent(ctx, c)) {
        tp_rule_arm(ctx, contract_id, c->last_step_ms + ctx->cfg->case_stalled.stall_after_ms);
        return;
    }
    s_fire(ctx, c);
    tp_rule_arm(ctx, contract_id, tp_rule_case_forget_at(ctx->cfg, c));
}

const tp_rule_t tp_rule_case_stalled = {
    .name = RULE,
    .description = "an open contract with no step event for stall_after (10d)",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
    .events = TP_EV_CONTRACTING,
    .enabled = s_enabled,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
};
