/* friction.cycle_time — a contract that took longer than its type allows.
 *
 * A one-shot fact, judged once, on the event that closes the case
 * (change->closed_now; tp_cases closes a case once): cycle time is
 * closed_at - opened_at (the earliest step time seen), and it fires when
 * that exceeds cycle_time.targets[contract_type] (SPEAKER 14 d, ...;
 * exactly the target is on time). A cancelled contract is not judged, nor
 * one of unknown type (no target).
 *
 * A fact has no RESOLVED of its own, but an alert left FIRING would sit in
 * the open-alert table for ever: like call_late, it is resolved
 * ("expired") a week after the close, by a deadline "<contract_id>".
 */
#include <stdio.h>

#include "tp_clock.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE         "cycle_time"
#define SUBJ_MAX     (sizeof "contract/" + 128)
#define FACT_OPEN_MS (7 * 86400000LL) /* how long the FIRING stays open */

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->cycle_time.enabled;
}

static int64_t s_target(const tp_config_t *cfg, int contract_type) {
    if (contract_type <= 0 || contract_type >= TP_CONTRACT_TYPE_COUNT)
        return 0;
    return cfg->cycle_time.target_ms[contract_type];
}

/* The step whose current attempt ran longest (started -> its latest
 * event), or NULL if none was ever started. */
static const tp_step_t *s_slowest(const tp_case_t *c) {
    const tp_step_t *slow = NULL;
    for (unsigned i = 0; i < c->n_steps; i++) {
        const tp_step_t *st = &c->steps[i];
        if (!st->started_at_ms || st->last_at_ms < st->started_at_ms)
            continue;
        if (!slow || st->last_at_ms - st->started_at_ms > slow->last_at_ms - slow->started_at_ms)
            slow = st;
    }
    return slow;
}

static void s_fire(const tp_rule_ctx_t *ctx, const tp_event_t *ev, const tp_case_t *c,
                   int64_t cycle_ms, int64_t target_ms) {
    const tp_step_t *slow = s_slowest(c);
    char subject[SUBJ_MAX], summary[1024], opened[32], closed[32], cycle[32], target[32];
    char over_by[32], steps[16], slow_for[32] = "", owners[TP_CASE_MAX_OWNERS * (128 + 1) + 1];
    const char *type = tp_contract_type_name(c->contract_type);
    TP_STR_JOIN(subject, sizeof subject, "contract/", c->contract_id);
    tp_format_time(c->opened_at_ms, opened, sizeof opened);
    tp_format_time(c->closed_at_ms, closed, sizeof closed);
    tp_format_duration(cycle_ms, cycle, sizeof cycle);
    tp_format_duration(target_ms, target, sizeof target);
    tp_format_duration(cycle_ms - target_ms, over_by, sizeof over_by);
    snprintf(steps, sizeof steps, "%u", (unsigned)c->n_steps);
    if (slow)
        tp_format_duration(slow->last_at_ms - slow->started_at_ms, slow_for, sizeof slow_for);
    tp_case_owner_list(c, owners, sizeof owners);
    snprintf(
        summary, sizeof summary,
        "%s contract %s (HCP %s) took %s from first step to close, %s over its %s target%s%s%s%s.",
        type, c->contract_id, c->hcp_id ? c->hcp_id : "?", cycle, over_by, target,
        slow ? "; slowest step " : "", slow ? slow->name : "", slow ? " " : "", slow_for);
    const tp_kv_t evidence[] = {
        { "contract_type", type },
        { "opened_at", opened },
        { "closed_at", closed },
        { "cycle_time", cycle },
        { "target", target },
        { "over_by", over_by },
        { "steps", steps },
        { "owners", owners },
        { "slowest_step", slow ? slow->name : "" },
        { "slowest_step_time", slow_for },
    };
    /* slowest_step* only when a step was ever started */
    tp_rule_fire_case(ctx, RULE, c, NULL, subject, summary, evidence,
                      sizeof evidence / sizeof evidence[0] - (slow ? 0 : 2), ev->env->event_id);
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state;
    const tp_step_change_t *ch = ev->step;
    if (!ch || !ch->closed_now || ch->kase->cancelled)
        return;
    const tp_case_t *c = ch->kase;
    int64_t          target_ms = s_target(ctx->cfg, c->contract_type);
    int64_t          cycle_ms = c->closed_at_ms - c->opened_at_ms;
    if (target_ms <= 0 || cycle_ms <= target_ms)
        return;
    s_fire(ctx, ev, c, cycle_ms, target_ms);
    int64_t raised =
        c->closed_at_ms > ev->env->occurred_at_ms ? c->closed_at_ms : ev->env->occurred_at_ms;
    tp_rule_arm(ctx, c->contract_id, raised + FACT_OPEN_MS);
}

static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    (void)state;
    const char *contract_id = tp_deadline_key(d);
    char        subject[SUBJ_MAX], what[16 + 128 + 1];
    TP_STR_JOIN(subject, sizeof subject, "contract/", contract_id);
    TP_STR_JOIN(what, sizeof what, "Slow contract ", contract_id);
    tp_rule_resolve_fact(ctx, RULE, subject, what, FACT_OPEN_MS);
}

const tp_rule_t tp_rule_cycle_time = {
    .name = RULE,
    .description = "a contract closed later than its type's target (SPEAKER 14d, ... ISS 60d)",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
    .events = TP_EV_CONTRACTING,
    .enabled = s_enabled,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
};
