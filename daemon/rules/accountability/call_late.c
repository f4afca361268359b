/* accountability.call_late — a call SUBMITTED after its due time.
 *
 * A one-shot fact: the version that first shows the call SUBMITTED decides
 * whether it was late, and corrections never judge it again (a CRM keeps
 * submitted_at across corrections; a producer that leaves it empty would
 * otherwise make every correction look later than the last). Two styles:
 *
 *   hours   — due at call_at + submit_within (48 h); exactly on it is on time.
 *   monthly — Veeva-style cut-off: a call of month M (UTC) is due by the end
 *             of day N of month M+1 (N = cutoff_by_month[M] or cutoff_day).
 *
 * The submission time is CallLogged.submitted_at_ms, or the version's
 * Envelope.occurred_at_ms where the producer leaves it empty.
 *
 * A fact has no RESOLVED of its own, but an alert left FIRING would sit in
 * the open-alert table for ever: it is resolved silently ("expired") a week
 * after it was raised. "Judged already" is remembered as this rule's
 * deadline for the call, kept until the engine forgets the call itself, so
 * a correction can never fire a second time while the call is known.
 */
#include <stdio.h>
#include <time.h>

#include "tp_clock.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE         "call_late"
#define FACT_OPEN_MS (7 * 86400000LL) /* how long the FIRING stays open */

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->call_late.enabled;
}

static bool s_submitted(const tp_call_t *call) {
    return call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED;
}

/* When the engine forgets this call (it arms that before rules run): the
 * "judged" marker must live exactly as long. */
static int64_t s_forget_at(const tp_config_t *cfg, const tp_call_t *call) {
    if (tp_timer_due(&call->retention))
        return tp_timer_due(&call->retention);
    /* The engine could not arm it (out of memory): a bounded stand-in. */
    return call->version_ms + tp_config_call_horizon(cfg) + cfg->call_retention_ms;
}

static void s_fire(const tp_rule_ctx_t *ctx, const tp_event_t *ev, const tp_call_t *call,
                   int64_t submitted_ms, int64_t due_ms) {
    const tp_config_t *cfg = ctx->cfg;
    bool               monthly = cfg->call_late.style == TP_LATE_MONTHLY;
    char               summary[512], call_at[32], submitted[32], due[32], late_by[32], rule_s[32];
    tp_format_time(call->call_at_ms, call_at, sizeof call_at);
    tp_format_time(submitted_ms, submitted, sizeof submitted);
    tp_format_time(due_ms, due, sizeof due);
    tp_format_duration(submitted_ms - due_ms, late_by, sizeof late_by);
    if (monthly) {
        time_t    secs = (time_t)(call->call_at_ms / 1000);
        struct tm tm = { 0 };
        gmtime_r(&secs, &tm);
        snprintf(rule_s, sizeof rule_s, "%u", tp_config_call_cutoff_day(cfg, tm.tm_mon));
    } else {
        tp_format_duration(cfg->call_late.submit_within_ms, rule_s, sizeof rule_s);
    }
    snprintf(summary, sizeof summary,
             "Call %s by rep %s with HCP %s on %s was submitted %s late (due %s).", call->call_id,
             call->rep_id, call->hcp_id, call_at, late_by, due);
    const tp_kv_t evidence[] = {
        { "call_at", call_at },
        { "submitted_at", submitted },
        { "due_at", due },
        { "late_by", late_by },
        { "style", monthly ? "monthly" : "hours" },
        { monthly ? "cutoff_day" : "submit_within", rule_s },
        { "channel", tp_channel_name(call->channel) },
    };
    const char *event_id = ev->env->event_id;
    tp_rule_fire_call(ctx, RULE, TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING, call, summary,
                      evidence, sizeof evidence / sizeof evidence[0], event_id);
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state;
    const tp_call_t *call = ev->call;
    if (!ev->applied)
        return;
    int64_t marker = tp_timers_due(ctx->timers, ctx->owner, call->call_id);
    if (marker != INT64_MIN) {
        /* Judged already. While the FIRING is open its deadline is the
         * expiry, which re-arms the marker itself. Otherwise the marker
         * must outlive this (newer) version as long as the engine keeps it:
         * it is moved on when it comes due (s_on_deadline re-arms it while
         * the engine holds the call; with no alert open that pop changes
         * nothing else), not on every correction (a heap move each). */
        return;
    }
    if (!s_submitted(call))
        return;
    int64_t submitted_ms = tp_call_submitted_at(call);
    int64_t due_ms = tp_config_call_due(ctx->cfg, call->call_at_ms);
    if (submitted_ms > due_ms) {
        s_fire(ctx, ev, call, submitted_ms, due_ms);
        int64_t raised = submitted_ms > call->version_ms ? submitted_ms : call->version_ms;
        tp_rule_arm(ctx, call->call_id, raised + FACT_OPEN_MS);
    } else {
        tp_rule_arm(ctx, call->call_id, s_forget_at(ctx->cfg, call));
    }
}

/* Either the FIRING's week is over (resolve it) or the marker has run out
 * with the call; while the engine still holds the call, keep the marker. */
static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    (void)state;
    const char *call_id = tp_deadline_key(d);
    char        subject[8 + 128 + 1], what[16 + 128 + 1];
    TP_STR_JOIN(subject, sizeof subject, "call/", call_id);
    TP_STR_JOIN(what, sizeof what, "Late call ", call_id);
    tp_rule_resolve_fact(ctx, RULE, subject, what, FACT_OPEN_MS);
    const tp_call_t *call = tp_state_find_call(ctx->state, call_id);
    if (call && s_forget_at(ctx->cfg, call) > d->timer.due_ms)
        tp_rule_arm(ctx, call_id, s_forget_at(ctx->cfg, call));
}

const tp_rule_t tp_rule_call_late = {
    .name = RULE,
    .description = "a call SUBMITTED after call_at + submit_within (48h) or its monthly cut-off",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
    .events = TP_EV_CALL,
    .enabled = s_enabled,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
};
