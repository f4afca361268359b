/* friction.handoffs — too many people handling one contract.
 *
 * How many internal people the HCP deals with: tp_cases keeps the distinct
 * owner_ids of a case (first-seen order). The rule fires on the step event
 * whose new owner makes the count exceed rules.handoffs.max_owners
 * (default 3). Subject "contract/<id>". The count never goes down, so the
 * alert resolves only when the case closes ("case closed"). Nothing fires
 * for a closed case (a late event after the close).
 *
 * No private state. While FIRING the rule keeps a deadline (keyed by the
 * contract_id) just after the case's retention, so an alert on a case the
 * engine forgets without it ever closing is resolved "expired" rather than
 * left open for ever.
 */
#include <stdio.h>

#include "tp_clock.h"
#include "tp_codec.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE        "handoffs"
#define SUBJECT_MAX (9 + TP_ID_MAX + 1) /* contract/<id> */
#define OWNERS_MAX  (TP_CASE_MAX_OWNERS * (TP_ID_MAX + 1))

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->handoffs.enabled;
}

static void s_fire(const tp_rule_ctx_t *ctx, const tp_event_t *ev, const char *subject) {
    const tp_case_t                       *c = ev->step->kase;
    const Touchpoint__V1__ContractingStep *s = ev->env->contracting;
    char summary[768], owners[OWNERS_MAX], distinct[16], max[16], opened_at[32];
    tp_case_owner_list(c, owners, sizeof owners);
    snprintf(distinct, sizeof distinct, "%u", (unsigned)c->n_owners);
    snprintf(max, sizeof max, "%u", ctx->cfg->handoffs.max_owners);
    tp_format_time(c->opened_at_ms, opened_at, sizeof opened_at);
    const char *type = tp_contract_type_name(c->contract_type);
    snprintf(summary, sizeof summary,
             "%s contract %s (HCP %s) has passed through %s different people (more than %s); "
             "the latest, %s, took over at step %s.",
             type, c->contract_id, c->hcp_id ? c->hcp_id : "?", distinct, max, s->owner_id,
             s->step);
    const tp_kv_t evidence[] = {
        { "owners", owners },
        { "distinct_owners", distinct },
        { "max_owners", max },
        { "contract_type", type },
        { "new_owner", s->owner_id },
        { "at_step", s->step },
        { "case_opened_at", opened_at },
    };
    if (tp_rule_fire_case(ctx, RULE, c, NULL, subject, summary, evidence,
                          sizeof evidence / sizeof evidence[0], ev->env->event_id) == 1)
        tp_rule_arm(ctx, c->contract_id, tp_rule_case_forget_at(ctx->cfg, c) + 1);
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state;
    const tp_step_change_t *ch = ev->step;
    if (!ch)
        return;
    const tp_case_t *c = ch->kase;
    char             subject[SUBJECT_MAX];
    TP_STR_JOIN(subject, sizeof subject, "contract/", c->contract_id);
    if (ch->closed_now) {
        char detail[64];
        snprintf(detail, sizeof detail, " after %u different owners", (unsigned)c->n_owners);
        if (tp_rule_resolve_case_closed(ctx, RULE, subject, c, detail, ev->env->event_id) == 1)
            tp_rule_cancel(ctx, c->contract_id);
    } else if (ch->opened) {
        /* A FIRING left by an earlier case of this id that the engine
         * forgot a moment ago (our deadline runs 1 ms after it). */
        if (tp_rule_resolve_case_expired(ctx, RULE, subject, c->contract_id, "handoffs alert") == 1)
            tp_rule_cancel(ctx, c->contract_id);
    }
    if (c->closed || !ch->new_owner || c->n_owners <= ctx->cfg->handoffs.max_owners)
        return;
    s_fire(ctx, ev, subject); /* a no-op while it is FIRING already */
}

/* The case's retention has passed while FIRING: resolve if it is gone,
 * else follow its (moved) retention. */
static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    (void)state;
    const char *contract_id = tp_deadline_key(d);
    char        subject[SUBJECT_MAX];
    TP_STR_JOIN(subject, sizeof subject, "contract/", contract_id);
    if (tp_alerts_is_firing(ctx->alerts, RULE, subject) &&
        !tp_rule_case_follow(ctx, contract_id, contract_id, d->timer.due_ms))
        tp_rule_resolve_case_expired(ctx, RULE, subject, contract_id, "handoffs alert");
}

const tp_rule_t tp_rule_handoffs = {
    .name = RULE,
    .description = "more than max_owners (3) distinct owners on one contract",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_FRICTION,
    .events = TP_EV_CONTRACTING,
    .enabled = s_enabled,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
};
