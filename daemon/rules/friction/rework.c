/* friction.rework — one contracting step sent back again and again.
 *
 * Fires on the RETURNED event that brings a step's RETURNED count on one
 * contract to rules.rework.min_returns (default 2). tp_cases counts every
 * RETURNED event, in arrival order, so an out-of-order RETURNED counts as
 * well. Subject "contract/<id>/step/<step>", one alert per step.
 *
 * Resolves when that step is COMPLETED (its state follows the event:
 * resolution "completed") or when the case closes (every step of the case:
 * "case closed"). Nothing fires for a closed case, nor for a step whose
 * state is COMPLETED already (a late RETURNED older than its completion):
 * there is nothing left to act on.
 *
 * No private state: what it needs is in tp_cases. An alert left FIRING on a
 * case the engine forgets (open_case_horizon without a step event) would
 * stay open for ever, so while FIRING the rule keeps a deadline just after
 * the case's retention; if the case is gone by then the alert is resolved
 * "expired", else the deadline moves on. Its key is "<n>:<contract_id>/<step>"
 * with n = strlen(contract_id): ids are free strings and may hold '/'.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tp_clock.h"
#include "tp_codec.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE        "rework"
#define SUBJECT_MAX (9 + TP_ID_MAX + 6 + TP_ID_MAX + 1) /* contract/<id>/step/<step> */
#define KEY_MAX     (4 + TP_ID_MAX + 1 + TP_ID_MAX + 1) /* <n>:<contract_id>/<step> */
#define OWNERS_MAX  (TP_CASE_MAX_OWNERS * (TP_ID_MAX + 1))

#define RETURNED  TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED
#define COMPLETED TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->rework.enabled;
}

static void s_subject(char *buf, const char *contract_id, const char *step) {
    TP_STR_JOIN(buf, SUBJECT_MAX, "contract/", contract_id, "/step/", step);
}

static void s_key(char *buf, const char *contract_id, const char *step) {
    char n[21];
    TP_STR_JOIN(buf, KEY_MAX, tp_str_u64(n, strlen(contract_id)), ":", contract_id, "/", step);
}

static void s_fire(const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    const tp_case_t *c = ev->step->kase;
    const tp_step_t *st = ev->step->step;
    char             subject[SUBJECT_MAX], key[KEY_MAX], summary[768], returns[16], min_returns[16];
    char             returned_at[32], opened_at[32], owners[OWNERS_MAX];
    s_subject(subject, c->contract_id, st->name);
    if (tp_alerts_is_firing(ctx->alerts, RULE, subject))
        return;
    snprintf(returns, sizeof returns, "%u", (unsigned)st->returns);
    snprintf(min_returns, sizeof min_returns, "%u", ctx->cfg->rework.min_returns);
    tp_format_time(ev->env->contracting->at_ms, returned_at, sizeof returned_at);
    tp_format_time(c->opened_at_ms, opened_at, sizeof opened_at);
    tp_case_owner_list(c, owners, sizeof owners);
    const char *owner = st->owner_id ? st->owner_id : "";
    const char *type = tp_contract_type_name(c->contract_type);
    snprintf(summary, sizeof summary,
             "Step %s of %s contract %s (HCP %s) was returned %s times (threshold %s); "
             "it is with %s.",
             st->name, type, c->contract_id, c->hcp_id ? c->hcp_id : "?", returns, min_returns,
             *owner ? owner : "no named owner");
    const tp_kv_t evidence[] = {
        { "step", st->name },           { "returns", returns },
        { "min_returns", min_returns }, { "owner", owner },
        { "owners", owners },           { "contract_type", type },
        { "returned_at", returned_at }, { "case_opened_at", opened_at },
    };
    s_key(key, c->contract_id, st->name);
    if (tp_rule_fire_case(ctx, RULE, c, st->name, subject, summary, evidence,
                          sizeof evidence / sizeof evidence[0], ev->env->event_id) == 1)
        tp_rule_arm(ctx, key, tp_rule_case_forget_at(ctx->cfg, c) + 1);
}

static void s_resolve(const tp_rule_ctx_t *ctx, const tp_case_t *c, const tp_step_t *st,
                      const char *resolution, const char *event_id) {
    char subject[SUBJECT_MAX], key[KEY_MAX], summary[512];
    s_subject(subject, c->contract_id, st->name);
    if (!tp_alerts_is_firing(ctx->alerts, RULE, subject))
        return;
    if (strcmp(resolution, "completed") == 0) {
        snprintf(summary, sizeof summary, "Step %s of contract %s is completed after %u returns.",
                 st->name, c->contract_id, (unsigned)st->returns);
        const tp_kv_t evidence[] = { { "resolution", resolution } };
        tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence, 1, event_id, ctx->now_ms);
    } else {
        snprintf(summary, sizeof summary, "; step %s had %u returns", st->name,
                 (unsigned)st->returns);
        tp_rule_resolve_case_closed(ctx, RULE, subject, c, summary, event_id);
    }
    s_key(key, c->contract_id, st->name);
    tp_rule_cancel(ctx, key);
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state;
    const tp_step_change_t *ch = ev->step;
    if (!ch)
        return;
    tp_case_t       *c = ch->kase;
    const tp_step_t *st = ch->step;
    const char      *event_id = ev->env->event_id;
    if (ch->state_changed && st->state == COMPLETED)
        s_resolve(ctx, c, st, "completed", event_id);
    if (ch->closed_now) {
        for (unsigned i = 0; i < c->n_steps; i++)
            s_resolve(ctx, c, &c->steps[i], "case closed", event_id);
        return;
    }
    if (c->closed || ev->env->contracting->state != RETURNED || st->state == COMPLETED ||
        st->returns < ctx->cfg->rework.min_returns)
        return;
    s_fire(ctx, ev); /* a no-op while it is FIRING already */
}

/* The case's retention has passed while FIRING: resolve if it is gone,
 * else follow its (moved) retention. */
static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    (void)state;
    const char   *key = tp_deadline_key(d);
    char         *rest;
    unsigned long len = strtoul(key, &rest, 10);
    if (*rest != ':' || len > TP_ID_MAX || strlen(rest + 1) < len + 1)
        return;
    char contract_id[TP_ID_MAX + 1], subject[SUBJECT_MAX];
    memcpy(contract_id, rest + 1, len);
    contract_id[len] = '\0';
    const char *step = rest + 1 + len + 1;
    s_subject(subject, contract_id, step);
    if (!tp_alerts_is_firing(ctx->alerts, RULE, subject) ||
        tp_rule_case_follow(ctx, key, contract_id, d->timer.due_ms))
        return;
    char what[32 + TP_ID_MAX];
    TP_STR_JOIN(what, sizeof what, "rework alert on step ", step);
    tp_rule_resolve_case_expired(ctx, RULE, subject, contract_id, what);
}

const tp_rule_t tp_rule_rework = {
    .name = RULE,
    .description = "one contracting step RETURNED min_returns (2) times or more",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
    .events = TP_EV_CONTRACTING,
    .enabled = s_enabled,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
};
