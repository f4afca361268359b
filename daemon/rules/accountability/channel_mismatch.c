/* accountability.channel_mismatch — reps ignore how the HCP wants to be met.
 *
 * An HCP who said (in feedback) "e-mail me" and keeps getting visits is
 * being ignored. Fires when the last `last_calls` (N, default 3) SUBMITTED
 * calls to an HCP, by call_at, all used a channel other than the HCP's
 * preferred one. The preference comes from Feedback.preferred_channel when
 * it is set (non-zero); the feedback with the latest at_ms wins. Resolves
 * when a SUBMITTED call on the preferred channel becomes one of the last N
 * ("preferred channel used"), when a new preference makes the condition
 * false ("preference changed"), or when a cancellation or correction leaves
 * fewer than N calls off the preferred channel ("cancelled" / "corrected").
 * The condition is re-evaluated on every call and feedback of the HCP, so a
 * preference arriving after the calls fires as well.
 *
 * Per HCP: the preference and the last N submitted calls (call_id, channel,
 * call_at), ordered by call_at. A late call older than all N of a full list
 * is not among the last N and is not kept; a correction of a call_id
 * replaces its entry; a CANCELLED version removes it (the list then holds
 * N - 1 until the next call: calls pushed out earlier are not remembered).
 * Calls with channel UNSPECIFIED say nothing about the channel and are
 * left out.
 *
 * Forgetting: an HCP with no call or feedback event for FORGET_AFTER (180
 * days of event time, from the latest occurred_at_ms seen for it) and no
 * open alert is dropped; with an alert open the entry is kept, so the
 * resolution can still be recognised, and checked again FORGET_AFTER later.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "tp_call_list.h"
#include "tp_codec.h"
#include "tp_rule_index.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE             "channel_mismatch"
#define FORGET_AFTER     (180LL * 86400000LL) /* 180 days without activity */
#define CHANNEL_NAME_MAX 16                   /* "MESSAGING," */

/* Per HCP, in the rule's state (a tp_rule_index). calls.max is N, the
 * last_calls of the config that started the rule (a new value restarts
 * it: s_needs_reset). */
typedef struct {
    int64_t        pref_at_ms; /* Feedback.at_ms the preference came from */
    int64_t        active_ms;  /* latest occurred_at_ms of an event for this HCP */
    int64_t        forget_ms;  /* due time of its armed forget deadline, INT64_MIN if none */
    uint8_t        preferred;  /* Channel; 0 = not known yet */
    tp_call_list_t calls;      /* the last last_calls submitted calls, by call_at */
} s_hcp_t;

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->channel_mismatch.enabled;
}

/* last_calls sizes every HCP's list of recent calls, so a new value needs
 * a fresh rule instance. */
static bool s_needs_reset(const tp_config_t *old, const tp_config_t *cfg) {
    return old->channel_mismatch.last_calls != cfg->channel_mismatch.last_calls;
}

static void s_hcp_clear(void *rec) {
    tp_call_list_clear(&((s_hcp_t *)rec)->calls);
}

static int s_init(const tp_rule_ctx_t *ctx, void **ret_state) {
    (void)ctx;
    return tp_rule_index_new(sizeof(s_hcp_t), s_hcp_clear, (tp_rule_index_t **)ret_state);
}

static s_hcp_t *s_hcp_get(tp_rule_index_t *hcps, const tp_rule_ctx_t *ctx, const tp_key_t *hcp) {
    bool     created;
    s_hcp_t *h = tp_rule_index_get_key(hcps, hcp, &created);
    if (h && created) {
        h->pref_at_ms = INT64_MIN;
        h->active_ms = INT64_MIN;
        h->forget_ms = INT64_MIN;
        h->calls.max = (uint8_t)ctx->cfg->channel_mismatch.last_calls;
    }
    return h;
}

static bool s_preferred_used(const s_hcp_t *h) {
    for (size_t i = 0; i < h->calls.n; i++)
        if (h->calls.v[i].channel == h->preferred)
            return true;
    return false;
}

static bool s_mismatch(const s_hcp_t *h) {
    return h->preferred && h->calls.n >= h->calls.max && !s_preferred_used(h);
}

static void s_fire(const s_hcp_t *h, const tp_rule_ctx_t *ctx, const char *subject,
                   const char *event_id) {
    char   used[100 * CHANNEL_NAME_MAX + 1], calls[100 * (TP_ID_MAX + 1) + 1];
    char   summary[512], n_s[16];
    size_t uo = 0, co = 0;
    used[0] = calls[0] = '\0';
    for (size_t i = 0; i < h->calls.n; i++) {
        int n = snprintf(used + uo, sizeof used - uo, "%s%s", i ? "," : "",
                         tp_channel_name(h->calls.v[i].channel));
        if (n > 0 && (size_t)n < sizeof used - uo)
            uo += (size_t)n;
        n = snprintf(calls + co, sizeof calls - co, "%s%s", i ? "," : "", h->calls.v[i].call_id);
        if (n > 0 && (size_t)n < sizeof calls - co)
            co += (size_t)n;
    }
    snprintf(n_s, sizeof n_s, "%u", (unsigned)h->calls.max);
    const char *preferred = tp_channel_name(h->preferred);
    snprintf(summary, sizeof summary,
             "The last %u calls to HCP %.128s used %.240s, never the preferred channel %s.",
             (unsigned)h->calls.max, tp_rule_index_id(h), used, preferred);
    const tp_kv_t evidence[] = {
        { "preferred", preferred },
        { "used", used },
        { "calls", calls },
        { "last_calls", n_s },
    };
    const tp_alert_spec_t spec = {
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
        .rule = RULE,
        .subject = subject,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_INFO,
        .hcp_id = tp_rule_index_id(h),
        .call_id = h->calls.v[h->calls.n - 1].call_id,
        .summary = summary,
        .evidence = evidence,
        .n_evidence = sizeof evidence / sizeof evidence[0],
    };
    tp_rule_fire(ctx, &spec, event_id);
}

/* Arms the forget deadline at the HCP's latest activity + FORGET_AFTER,
 * lazily: an armed deadline that is due earlier stays where it is and is
 * moved on when it comes due (s_on_deadline), instead of being moved on
 * every event of the HCP (a heap move per call and feedback). Forgetting
 * has no visible effect other than on this rule's own record, so when the
 * deadline pops in between does not matter; the record is dropped at the
 * same moment as before. A deadline due later (activity went back) is
 * moved, as it always was. */
static void s_arm_forget(s_hcp_t *h, const tp_rule_ctx_t *ctx, const char *hcp_id) {
    int64_t due = h->active_ms + FORGET_AFTER;
    if (h->forget_ms != INT64_MIN && due >= h->forget_ms)
        return;
    if (tp_rule_arm(ctx, hcp_id, due) == 0)
        h->forget_ms = due;
}

/* Fires or resolves after a change to `h` caused by `ev`, then arms the
 * forget deadline from the HCP's latest activity. */
static void s_evaluate(s_hcp_t *h, const tp_rule_ctx_t *ctx, const tp_event_t *ev,
                       const char *resolution) {
    const char *hcp_id = tp_rule_index_id(h);
    char        subject[4 + TP_ID_MAX + 1];
    TP_STR_JOIN(subject, sizeof subject, "hcp/", hcp_id);
    const char *event_id = ev->env->event_id;
    if (s_mismatch(h)) {
        if (!tp_alerts_is_firing(ctx->alerts, RULE, subject))
            s_fire(h, ctx, subject, event_id);
    } else if (tp_alerts_is_firing(ctx->alerts, RULE, subject)) {
        char        summary[512];
        const char *preferred = tp_channel_name(h->preferred);
        snprintf(summary, sizeof summary,
                 "HCP %s is no longer called only off the preferred channel %s (%s).", hcp_id,
                 preferred, resolution);
        const tp_kv_t evidence[] = {
            { "preferred", preferred },
            { "resolution", resolution },
        };
        tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence,
                          sizeof evidence / sizeof evidence[0], event_id, ctx->now_ms);
    }
    if (ev->env->occurred_at_ms > h->active_ms)
        h->active_ms = ev->env->occurred_at_ms;
    s_arm_forget(h, ctx, hcp_id);
}

static void s_on_feedback(tp_rule_index_t *hcps, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    const Touchpoint__V1__Feedback *fb = ev->env->feedback;
    if (!fb->preferred_channel)
        return; /* says nothing about channels */
    s_hcp_t *h = s_hcp_get(hcps, ctx, &ev->hcp);
    if (!h)
        return; /* out of memory: preference not recorded */
    if (fb->at_ms >= h->pref_at_ms) {
        h->preferred = (uint8_t)fb->preferred_channel;
        h->pref_at_ms = fb->at_ms;
    }
    s_evaluate(h, ctx, ev, "preference changed");
}

static void s_on_call(tp_rule_index_t *hcps, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    const tp_call_t *call = ev->call;
    if (!ev->applied)
        return;
    bool counts = call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED &&
                  call->channel != TOUCHPOINT__V1__CHANNEL__CHANNEL_UNSPECIFIED;
    s_hcp_t *h = tp_rule_index_find_key(hcps, &ev->hcp);
    int      i = h ? tp_call_list_find(&h->calls, call->call_id) : -1;
    if (!counts && i < 0)
        return; /* PLANNED / SAVED, or not among the last N */
    if (!h && !(h = s_hcp_get(hcps, ctx, &ev->hcp)))
        return; /* out of memory: this call is not counted */
    if (counts)
        tp_call_list_put(&h->calls, call, i);
    else
        tp_call_list_remove(&h->calls, (size_t)i);
    const char *resolution = s_preferred_used(h) ? "preferred channel used"
                             : call->status == TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_CANCELLED
                                 ? "cancelled"
                                 : "corrected";
    s_evaluate(h, ctx, ev, resolution);
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    if (ev->env->payload_case == TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK)
        s_on_feedback(state, ctx, ev);
    else if (ev->call)
        s_on_call(state, ctx, ev);
}

static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    tp_rule_index_t *hcps = state;
    s_hcp_t         *h = tp_rule_index_find(hcps, tp_deadline_key(d));
    if (!h)
        return;
    const char *hcp_id = tp_rule_index_id(h);
    h->forget_ms = INT64_MIN; /* this deadline is gone */
    if (h->active_ms + FORGET_AFTER > d->timer.due_ms) {
        s_arm_forget(h, ctx, hcp_id); /* active since it was armed: moved on */
        return;
    }
    char subject[4 + TP_ID_MAX + 1];
    TP_STR_JOIN(subject, sizeof subject, "hcp/", hcp_id);
    if (tp_alerts_is_firing(ctx->alerts, RULE, subject)) {
        if (tp_rule_arm(ctx, hcp_id, d->timer.due_ms + FORGET_AFTER) == 0)
            h->forget_ms = d->timer.due_ms + FORGET_AFTER;
    } else {
        tp_rule_index_drop(hcps, h);
    }
}

/* Snapshot: every HCP's preference, activity and last calls. */
static void s_hcp_save(const void *rec, tp_snapw_t *w) {
    const s_hcp_t *h = rec;
    tp_snapw_i64(w, h->pref_at_ms);
    tp_snapw_i64(w, h->active_ms);
    tp_snapw_u64(w, h->preferred);
    tp_call_list_save(&h->calls, w);
}

static int s_hcp_load(void *rec, tp_snapr_t *r, void *arg) {
    const tp_rule_ctx_t *ctx = arg;
    s_hcp_t             *h = rec;
    uint64_t             preferred = 0;
    tp_snapr_i64(r, &h->pref_at_ms);
    tp_snapr_i64(r, &h->active_ms);
    tp_snapr_u64(r, &preferred);
    h->preferred = (uint8_t)preferred;
    h->calls.max = (uint8_t)ctx->cfg->channel_mismatch.last_calls;
    return tp_call_list_load(&h->calls, r);
}

static void s_save(const void *state, tp_snapw_t *w) {
    tp_rule_index_save(state, w, s_hcp_save);
}

static int s_load(void *state, const tp_rule_ctx_t *ctx, tp_snapr_t *r) {
    return tp_rule_index_load(state, r, s_hcp_load, (void *)ctx);
}

const tp_rule_t tp_rule_channel_mismatch = {
    .name = RULE,
    .description = "the last last_calls (3) calls to an HCP all missed its preferred channel",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
    .events = TP_EV_CALL | TP_EV_FEEDBACK,
    .enabled = s_enabled,
    .init = s_init,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
    .free = tp_rule_index_free,
    .needs_reset = s_needs_reset,
    .save = s_save,
    .load = s_load,
};
