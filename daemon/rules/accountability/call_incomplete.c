/* accountability.call_incomplete — a SUBMITTED call lacks required data.
 *
 * "Logged without useful data": a call submitted without products, topics,
 * notes or a next step cannot be analysed or followed up. Required fields
 * come from rules.call_incomplete.required, overridden per channel by
 * rules.call_incomplete.by_channel (an e-mail has no attendees to list).
 *
 * Fires when the version held is SUBMITTED and misses a required field;
 * resolves when a later version (a correction) supplies them, or the call is
 * cancelled. The latest version wins (tp_state), so a stale version arriving
 * late changes nothing. No deadlines: it is decided on each version.
 */
#include <stdio.h>
#include <string.h>

#include "tp_clock.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE "call_incomplete"

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->call_incomplete.enabled;
}

/* "products,next_step" for a TP_FIELD_* mask. */
static void s_field_list(unsigned mask, char *buf, size_t len) {
    size_t off = 0;
    buf[0] = '\0';
    for (unsigned bit = 1; bit && off < len; bit <<= 1) {
        if (!(mask & bit))
            continue;
        int n = TP_STR_JOIN(buf + off, len - off, off ? "," : "", tp_config_field_name(bit));
        if (n < 0)
            break;
        off += (size_t)n;
    }
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    (void)state;
    const tp_call_t *call = ev->call;
    if (!ev->applied)
        return;

    char subject[8 + 128 + 1];
    TP_STR_JOIN(subject, sizeof subject, "call/", call->call_id);
    unsigned    required = tp_config_required_fields(ctx->cfg, call->channel);
    unsigned    missing = required & ~(unsigned)call->present;
    const char *event_id = ev->env->event_id;

    /* Formatting is most of a rule's cost: decide first, format only when
     * an alert actually changes state. */
    bool firing = tp_alerts_is_firing(ctx->alerts, RULE, subject);
    bool incomplete = call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED && missing;
    if (incomplete == firing)
        return;
    if (incomplete) {
        char missing_s[128], required_s[128], summary[512], call_at[32];
        s_field_list(missing, missing_s, sizeof missing_s);
        s_field_list(required, required_s, sizeof required_s);
        tp_format_time(call->call_at_ms, call_at, sizeof call_at);
        snprintf(summary, sizeof summary, "Call %s by rep %s with HCP %s was submitted without %s.",
                 call->call_id, call->rep_id, call->hcp_id, missing_s);
        const tp_kv_t evidence[] = {
            { "missing", missing_s },
            { "required", required_s },
            { "channel", tp_channel_name(call->channel) },
            { "status", tp_call_status_name(call->status) },
            { "call_at", call_at },
        };
        tp_rule_fire_call(ctx, RULE, TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING, call, summary,
                          evidence, sizeof evidence / sizeof evidence[0], event_id);
        return;
    }

    const char *resolution = "fields supplied";
    const char *what = "now carries all required fields";
    if (call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_CANCELLED) {
        resolution = "cancelled";
        what = "was cancelled";
    } else if (missing) {
        resolution = "no longer submitted";
        what = "was reopened in the CRM and is no longer submitted";
    }
    char summary[256];
    snprintf(summary, sizeof summary, "Call %s %s.", call->call_id, what);
    const tp_kv_t evidence[] = {
        { "missing", "" },
        { "status", tp_call_status_name(call->status) },
        { "resolution", resolution },
    };
    tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence,
                      sizeof evidence / sizeof evidence[0], event_id, ctx->now_ms);
}

const tp_rule_t tp_rule_call_incomplete = {
    .name = RULE,
    .description = "a SUBMITTED call lacks a required field (products, topics, notes, next_step)",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
    .events = TP_EV_CALL,
    .enabled = s_enabled,
    .on_event = s_on_event,
};
