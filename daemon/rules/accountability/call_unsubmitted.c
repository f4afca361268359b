/* accountability.call_unsubmitted — a planned call that was never logged.
 *
 * "What happens if you don't put the call data into the CRM? Nothing."
 * This is the absence rule that makes something happen: a call PLANNED or
 * SAVED but not SUBMITTED by call_at_ms + submit_within (default 48 h) fires
 * at that deadline, with no further input needed. It resolves when the
 * submission arrives (however late) or the call is cancelled.
 *
 * The deadline comes from the call's own call_at_ms, so a backfill and a
 * live run agree; it moves if a later version reschedules the call.
 */
#include <stdio.h>

#include "tp_clock.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE "call_unsubmitted"

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->call_unsubmitted.enabled;
}

static bool s_open(const tp_call_t *call) {
    return call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_PLANNED ||
           call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SAVED;
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state;
    const tp_call_t *call = ev->call;
    if (!ev->applied)
        return;
    if (s_open(call)) {
        tp_rule_arm(ctx, call->call_id,
                    call->call_at_ms + ctx->cfg->call_unsubmitted.submit_within_ms);
        return;
    }
    /* A correction of a call already SUBMITTED: the first SUBMITTED
     * version cancelled its deadline and resolved its alert, and no open
     * version has been applied since (one would be stale), so there is
     * nothing to cancel or resolve (a lookup per correction saved). */
    if (call->ever_submitted && !call->first_submitted)
        return;
    tp_rule_cancel(ctx, call->call_id);

    char subject[8 + 128 + 1], summary[512], submitted[32];
    TP_STR_JOIN(subject, sizeof subject, "call/", call->call_id);
    if (!tp_alerts_is_firing(ctx->alerts, RULE, subject))
        return;
    bool cancelled = call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_CANCELLED;
    if (cancelled)
        snprintf(summary, sizeof summary, "Call %s was cancelled.", call->call_id);
    else
        snprintf(summary, sizeof summary, "Call %s has now been submitted.", call->call_id);
    const tp_kv_t evidence[] = {
        { "status", tp_call_status_name(call->status) },
        { "submitted_at",
          cancelled || !call->submitted_at_ms
              ? ""
              : tp_format_time(call->submitted_at_ms, submitted, sizeof submitted) },
        { "resolution", cancelled ? "cancelled" : "submitted" },
    };
    tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence,
                      sizeof evidence / sizeof evidence[0], ev->env->event_id, ctx->now_ms);
}

static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    (void)state;
    const tp_call_t *call = tp_state_find_call(ctx->state, tp_deadline_key(d));
    if (!call || !s_open(call))
        return;
    char summary[512], call_at[32], due[32], within[32];
    tp_format_time(call->call_at_ms, call_at, sizeof call_at);
    tp_format_time(d->timer.due_ms, due, sizeof due);
    tp_format_duration(ctx->cfg->call_unsubmitted.submit_within_ms, within, sizeof within);
    snprintf(summary, sizeof summary,
             "Call %s by rep %s with HCP %s on %s was not submitted within %s.", call->call_id,
             call->rep_id, call->hcp_id, call_at, within);
    const tp_kv_t evidence[] = {
        { "status", tp_call_status_name(call->status) },
        { "call_at", call_at },
        { "due_at", due },
        { "submit_within", within },
        { "channel", tp_channel_name(call->channel) },
    };
    const char *event_id = call->event_id;
    tp_rule_fire_call(ctx, RULE, TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING, call, summary,
                      evidence, sizeof evidence / sizeof evidence[0], event_id);
}

const tp_rule_t tp_rule_call_unsubmitted = {
    .name = RULE,
    .description = "a PLANNED or SAVED call not SUBMITTED by call_at + submit_within (48h)",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
    .events = TP_EV_CALL,
    .enabled = s_enabled,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
};
