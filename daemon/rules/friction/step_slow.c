/* friction.step_slow — a contracting step left open past its SLA.
 *
 * An absence rule over the case state tp_cases applied: when a step's
 * state becomes STARTED, a deadline "<contract_id>\x1f<step>" is armed at
 * started_at + SLA (tp_config_step_sla: by_step, then by_contract_type,
 * then default_sla, 5 d). It fires at that deadline if the step is still
 * STARTED in the same attempt; COMPLETED, RETURNED or CANCELLED disarm it
 * and resolve an open alert, and so does the case closing. A RETURNED step
 * that is STARTED again is a new attempt with a new deadline, but while the
 * alert is FIRING it is not raised again (dedup by alert_id).
 *
 * Only the step state that followed time counts (change->state_changed):
 * a COMPLETED that overtook its STARTED stays COMPLETED and arms nothing,
 * and a stale event changes nothing here.
 *
 * The key separator is a control byte, not '/': ids may contain '/', and
 * contract "A/B" step "C" must not share a deadline with contract "A" step
 * "B/C"; the codec refuses control bytes in ids.
 *
 * While FIRING, the same deadline key watches the case's retention: a case
 * nobody closes is forgotten by the engine (limits.open_case_horizon) and
 * its alert is then resolved ("case forgotten") instead of staying open.
 */
#include <stdio.h>
#include <string.h>

#include "tp_clock.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE     "step_slow"
#define KEY_SEP  '\x1f'        /* ids never hold control bytes (tp_codec) */
#define KEY_MAX  (2 * 128 + 2) /* "<contract_id>" KEY_SEP "<step>" */
#define SUBJ_MAX (sizeof "contract//step/" + KEY_MAX)

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->step_slow.enabled;
}

static int s_key(char *buf, size_t len, const char *contract_id, const char *step) {
    static const char sep[2] = { KEY_SEP, '\0' };
    return TP_STR_JOIN(buf, len, contract_id, sep, step) < 0 ? -1 : 0;
}

static void s_subject(char *buf, size_t len, const char *contract_id, const char *step) {
    TP_STR_JOIN(buf, len, "contract/", contract_id, "/step/", step);
}

static int64_t s_sla(const tp_config_t *cfg, const tp_case_t *c, const tp_step_t *st) {
    return tp_config_step_sla(cfg, st->name, c->contract_type);
}

static const char *s_resolution(uint8_t state) {
    switch (state) {
    case TOUCHPOINT__V1__STEP_STATE__STEP_STATE_COMPLETED: return "completed";
    case TOUCHPOINT__V1__STEP_STATE__STEP_STATE_RETURNED: return "returned";
    default: return "cancelled";
    }
}

/* Resolves the alert of one step if it is FIRING: `resolution` says why,
 * `at_ms` is when (open_for counts from the attempt's start to then). */
static void s_resolve(const tp_rule_ctx_t *ctx, const tp_case_t *c, const tp_step_t *st,
                      const char *resolution, int64_t at_ms, const char *event_id) {
    char subject[SUBJ_MAX], summary[768], open_for[32];
    s_subject(subject, sizeof subject, c->contract_id, st->name);
    if (!tp_alerts_is_firing(ctx->alerts, RULE, subject))
        return;
    tp_format_duration(at_ms - st->started_at_ms, open_for, sizeof open_for);
    if (strcmp(resolution, "case closed") == 0)
        snprintf(summary, sizeof summary, "Contract %s closed; step %s had been open %s.",
                 c->contract_id, st->name, open_for);
    else if (strcmp(resolution, "case forgotten") == 0)
        snprintf(summary, sizeof summary,
                 "Contract %s is no longer tracked; step %s had been open %s.", c->contract_id,
                 st->name, open_for);
    else
        snprintf(summary, sizeof summary, "Step %s of contract %s was %s after %s.", st->name,
                 c->contract_id, resolution, open_for);
    const tp_kv_t evidence[] = {
        { "state", tp_step_state_name(st->state) },
        { "open_for", open_for },
        { "resolution", resolution },
    };
    tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence,
                      sizeof evidence / sizeof evidence[0], event_id, ctx->now_ms);
}

static void s_fire(const tp_rule_ctx_t *ctx, const tp_case_t *c, const tp_step_t *st,
                   int64_t due_ms, int64_t sla_ms) {
    char subject[SUBJ_MAX], summary[1024], started[32], due[32], sla[32], open_for[32], returns[16];
    s_subject(subject, sizeof subject, c->contract_id, st->name);
    tp_format_time(st->started_at_ms, started, sizeof started);
    tp_format_time(due_ms, due, sizeof due);
    tp_format_duration(sla_ms, sla, sizeof sla);
    tp_format_duration(ctx->now_ms - st->started_at_ms, open_for, sizeof open_for);
    snprintf(returns, sizeof returns, "%u", (unsigned)st->returns);
    const char *owner = st->owner_id ? st->owner_id : "";
    snprintf(summary, sizeof summary,
             "Step %s of %s contract %s (HCP %s) has been open %s, past its %s SLA; "
             "owner %s, returned %u time(s).",
             st->name, tp_contract_type_name(c->contract_type), c->contract_id,
             c->hcp_id ? c->hcp_id : "?", open_for, sla, *owner ? owner : "unknown",
             (unsigned)st->returns);
    const tp_kv_t evidence[] = {
        { "step", st->name },
        { "owner", owner },
        { "started_at", started },
        { "due_at", due },
        { "sla", sla },
        { "open_for", open_for },
        { "returns", returns },
        { "contract_type", tp_contract_type_name(c->contract_type) },
    };
    tp_rule_fire_case(ctx, RULE, c, st->name, subject, summary, evidence,
                      sizeof evidence / sizeof evidence[0], c->event_id);
}

/* The case closed: nothing of it can be slow any more. */
static void s_close_all(const tp_rule_ctx_t *ctx, tp_case_t *c, const char *event_id) {
    char key[KEY_MAX];
    for (unsigned i = 0; i < c->n_steps; i++) {
        tp_step_t *st = &c->steps[i];
        if (s_key(key, sizeof key, c->contract_id, st->name) == 0)
            tp_rule_cancel(ctx, key);
        s_resolve(ctx, c, st, "case closed", c->closed_at_ms, event_id);
    }
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state;
    const tp_step_change_t *ch = ev->step;
    if (!ch)
        return;
    tp_case_t *c = ch->kase;
    tp_step_t *st = ch->step;
    if (ch->closed_now) {
        s_close_all(ctx, c, ev->env->event_id);
        return;
    }
    if (c->closed || !ch->state_changed)
        return; /* a late event for a closed case, or one time has overtaken */
    char key[KEY_MAX], subject[SUBJ_MAX];
    if (s_key(key, sizeof key, c->contract_id, st->name) < 0)
        return;
    if (st->state == TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED) {
        /* Still FIRING (a repeated STARTED): the alert stays open until
         * the step moves on, and the key keeps watching retention. */
        s_subject(subject, sizeof subject, c->contract_id, st->name);
        if (!tp_alerts_is_firing(ctx->alerts, RULE, subject))
            tp_rule_arm(ctx, key, st->started_at_ms + s_sla(ctx->cfg, c, st));
        return;
    }
    tp_rule_cancel(ctx, key);
    s_resolve(ctx, c, st, s_resolution(st->state), st->last_at_ms, ev->env->event_id);
}

/* Splits a deadline key into its contract id and step (in buf). */
static bool s_split(const char *key, char *buf, size_t len, const char **ret_contract,
                    const char **ret_step) {
    if (TP_STR_JOIN(buf, len, key) < 0)
        return false;
    char *sep = strchr(buf, KEY_SEP);
    if (!sep)
        return false;
    *sep = '\0';
    *ret_contract = buf;
    *ret_step = sep + 1;
    return true;
}

static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    (void)state;
    const char *key = tp_deadline_key(d);
    char        buf[KEY_MAX], subject[SUBJ_MAX], summary[768];
    const char *contract_id, *step;
    if (!s_split(key, buf, sizeof buf, &contract_id, &step))
        return;
    tp_case_t *c = tp_cases_find(ctx->cases, contract_id);
    tp_step_t *st = c ? tp_case_step(c, step) : NULL;
    s_subject(subject, sizeof subject, contract_id, step);
    if (!st) {
        snprintf(summary, sizeof summary,
                 "Slow step %s of contract %s: the contract is no longer tracked.", step,
                 contract_id);
        const tp_kv_t evidence[] = { { "resolution", "case forgotten" } };
        tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence, 1, NULL, ctx->now_ms);
        return;
    }
    if (tp_alerts_is_firing(ctx->alerts, RULE, subject)) {
        /* The retention watch: resolve once the engine forgets the case. */
        int64_t forget_at = tp_rule_case_forget_at(ctx->cfg, c);
        if (ctx->now_ms > forget_at)
            s_resolve(ctx, c, st, "case forgotten", ctx->now_ms, NULL);
        else
            tp_rule_arm(ctx, key, forget_at);
        return;
    }
    if (c->closed || st->state != TOUCHPOINT__V1__STEP_STATE__STEP_STATE_STARTED)
        return;
    /* Due from the state as it is now: a later attempt, or an SLA that grew
     * because the contract type became known, moves the deadline on. */
    int64_t sla_ms = s_sla(ctx->cfg, c, st);
    int64_t due_ms = st->started_at_ms + sla_ms;
    if (due_ms > d->timer.due_ms) {
        tp_rule_arm(ctx, key, due_ms);
        return;
    }
    s_fire(ctx, c, st, due_ms, sla_ms);
    tp_rule_arm(ctx, key, tp_rule_case_forget_at(ctx->cfg, c));
}

const tp_rule_t tp_rule_step_slow = {
    .name = RULE,
    .description = "a STARTED contracting step not COMPLETED within its SLA (5d, per step/type)",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
    .events = TP_EV_CONTRACTING,
    .enabled = s_enabled,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
};
