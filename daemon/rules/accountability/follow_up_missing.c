/* accountability.follow_up_missing — a detractor nobody called back.
 *
 * A detractor feedback (tp_feedback_judge: its source's scale from
 * feedback_sources, else nps <= nps_max or effort_score >= effort_min) wants
 * a SUBMITTED call to that HCP dated after it (call_at_ms > feedback at_ms)
 * within follow_up_within (7 d). Absence rule: the feedback arms a deadline
 * at at_ms + follow_up_within; a follow-up call before it cancels it
 * silently, and once it has fired any follow-up call, however late,
 * resolves it ("followed up"). A FIRING nobody follows up is dropped 90
 * days after its deadline (resolution "expired"), so memory stays bounded.
 *
 * Survey tools deliver feedback late, often after the rep has already
 * called back. So the rule remembers, per HCP, the latest call_at of a
 * SUBMITTED call for follow_up_within + call_retention after it; a
 * detractor dated before that call is followed up already and not tracked.
 * (Only the latest call is kept: such a follow-up counts even if it fell
 * outside the window.)
 *
 * Private state: feedback_id -> open feedback, and hcp_id -> its open
 * feedbacks (a list) and that last call; both uthash. Deadline keys are
 * "fb/<feedback_id>" (follow-up due, then expiry) and "hcp/<hcp_id>"
 * (the call memory runs out).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tp_hash.h"
#include <utlist.h>

#include "tp_clock.h"
#include "tp_feedback.h"
#include "tp_rule_index.h"
#include "tp_rules.h"
#include "tp_str.h"

#define RULE            "follow_up_missing"
#define EXPIRE_AFTER_MS (90 * 86400000LL) /* a FIRING is dropped this long past its deadline */
#define COMMENT_MAX     200               /* bytes of the comment kept for evidence */
#define KEY_MAX         (4 + 128 + 1)     /* "hcp/" or "fb/" + an id (TP_ID_MAX) */

typedef struct s_hcp s_hcp_t;

typedef struct s_feedback {
    UT_hash_handle     hh;          /* by feedback_id */
    struct s_feedback *prev, *next; /* in hcp->open */
    s_hcp_t           *hcp;
    int64_t            at_ms;    /* Feedback.at_ms */
    int64_t            due_ms;   /* at_ms + follow_up_within */
    const char        *event_id; /* these four point into id[] */
    const char        *subject_type;
    const char        *subject_id;
    const char        *comment; /* at most COMMENT_MAX bytes, whole UTF-8 characters */
    int8_t             nps;     /* -1: not given */
    int8_t             effort;  /* -1: not given */
    bool               fired;
    char               id[]; /* feedback_id, then the strings above, NUL-separated */
} s_feedback_t;

/* Per HCP (tp_rule_index). */
struct s_hcp {
    s_feedback_t *open;         /* its tracked feedbacks (utlist DL) */
    int64_t       last_call_at; /* latest call_at of a SUBMITTED call; 0: none known */
    int64_t       keep_until;   /* when that call memory runs out; 0: not kept */
    int64_t       armed_until;  /* due time of its "hcp/" deadline; 0: none armed */
};

typedef struct {
    s_feedback_t    *feedbacks;
    tp_rule_index_t *hcps;
} s_state_t;

static bool s_enabled(const tp_config_t *cfg) {
    return cfg->follow_up_missing.enabled;
}

static int s_init(const tp_rule_ctx_t *ctx, void **ret_state) {
    (void)ctx;
    s_state_t *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    int r = tp_rule_index_new(sizeof(s_hcp_t), NULL, &s->hcps);
    if (r < 0) {
        free(s);
        return r;
    }
    *ret_state = s;
    return 0;
}

static void s_key(char *buf, const char *prefix, const char *id) {
    TP_STR_JOIN(buf, KEY_MAX, prefix, id);
}

/* Frees an HCP entry that no longer tracks anything. */
static void s_hcp_release(s_state_t *s, s_hcp_t *h) {
    if (h->open || h->last_call_at)
        return;
    tp_rule_index_drop(s->hcps, h);
}

/* Arms the "hcp/" deadline of `h` at h->keep_until (none armed). May free h. */
static void s_arm_memory(s_state_t *s, const tp_rule_ctx_t *ctx, s_hcp_t *h) {
    char key[KEY_MAX];
    s_key(key, "hcp/", tp_rule_index_id(h));
    if (tp_rule_arm(ctx, key, h->keep_until) == 0) {
        h->armed_until = h->keep_until;
        return;
    }
    h->last_call_at = h->keep_until = 0; /* nothing would ever forget it: do not keep it */
    s_hcp_release(s, h);
}

static void s_forget(s_state_t *s, const tp_rule_ctx_t *ctx, s_feedback_t *fb) {
    char key[KEY_MAX];
    s_key(key, "fb/", fb->id);
    tp_rule_cancel(ctx, key);
    s_hcp_t *h = fb->hcp;
    DL_DELETE(h->open, fb);
    HASH_DEL(s->feedbacks, fb);
    free(fb);
    s_hcp_release(s, h);
}

/* Appends `src` (at most max bytes, cut on a UTF-8 character boundary:
 * tp_rule_utf8_cut) at *p; returns where it went. */
static const char *s_put(char **p, const char *src, size_t max) {
    size_t n = tp_rule_utf8_cut(src, max);
    char  *dst = *p;
    memcpy(dst, src, n);
    dst[n] = '\0';
    *p += n + 1;
    return dst;
}

static s_feedback_t *s_track(s_state_t *s, s_hcp_t *h, const Touchpoint__V1__Envelope *env,
                             int64_t due_ms) {
    const Touchpoint__V1__Feedback *f = env->feedback;
    const char                     *st = f->subject_type ? f->subject_type : "";
    const char                     *sid = f->subject_id ? f->subject_id : "";
    const char                     *comment = f->comment ? f->comment : "";
    size_t                          clen = strlen(comment);
    size_t len = strlen(f->feedback_id) + strlen(env->event_id) + strlen(st) + strlen(sid) +
                 (clen < COMMENT_MAX ? clen : COMMENT_MAX) + 5;
    s_feedback_t *fb = calloc(1, sizeof *fb + len);
    if (!fb)
        return NULL;
    char *p = fb->id;
    s_put(&p, f->feedback_id, SIZE_MAX);
    fb->event_id = s_put(&p, env->event_id, SIZE_MAX);
    fb->subject_type = s_put(&p, st, SIZE_MAX);
    fb->subject_id = s_put(&p, sid, SIZE_MAX);
    fb->comment = s_put(&p, comment, COMMENT_MAX);
    fb->hcp = h;
    fb->at_ms = f->at_ms;
    fb->due_ms = due_ms;
    fb->nps = f->nps_value_case == TOUCHPOINT__V1__FEEDBACK__NPS_VALUE_NPS ? (int8_t)f->nps : -1;
    fb->effort =
        f->effort_score_value_case == TOUCHPOINT__V1__FEEDBACK__EFFORT_SCORE_VALUE_EFFORT_SCORE
            ? (int8_t)f->effort_score
            : -1;
    HASH_ADD_KEYPTR(hh, s->feedbacks, fb->id, strlen(fb->id), fb);
    DL_APPEND(h->open, fb);
    return fb;
}

/* By the source's scoring convention (feedback_sources), else ours. */
static bool s_detractor(const tp_config_t *cfg, const char *source,
                        const Touchpoint__V1__Feedback *f) {
    tp_feedback_verdict_t v;
    tp_feedback_judge(cfg, source, f, cfg->follow_up_missing.nps_max,
                      cfg->follow_up_missing.effort_min, &v);
    return v.detractor;
}

static void s_on_feedback(s_state_t *s, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    const Touchpoint__V1__Feedback *f = ev->env->feedback;
    if (!s_detractor(ctx->cfg, ev->env->source, f))
        return;
    s_feedback_t *fb;
    HASH_FIND_STR(s->feedbacks, f->feedback_id, fb);
    if (fb)
        return; /* the first version of a feedback counts */
    s_hcp_t *h = tp_rule_index_get_key(s->hcps, &ev->hcp, NULL);
    if (!h)
        return;
    if (h->last_call_at > f->at_ms) {
        s_hcp_release(s, h); /* followed up before we heard of it */
        return;
    }
    int64_t due_ms = f->at_ms + ctx->cfg->follow_up_missing.follow_up_within_ms;
    if (due_ms + EXPIRE_AFTER_MS < ctx->now_ms) {
        s_hcp_release(s, h); /* older than anything still tracked */
        return;
    }
    char key[KEY_MAX];
    s_key(key, "fb/", f->feedback_id);
    fb = s_track(s, h, ev->env, due_ms);
    if (!fb || tp_rule_arm(ctx, key, due_ms) < 0) {
        if (fb)
            s_forget(s, ctx, fb);
        else
            s_hcp_release(s, h);
    }
}

static void s_resolve(const tp_rule_ctx_t *ctx, const s_feedback_t *fb, const tp_call_t *call,
                      const char *event_id) {
    char subject[16 + 128 + 1], summary[512], call_at[32];
    TP_STR_JOIN(subject, sizeof subject, "feedback/", fb->id);
    tp_format_time(call->call_at_ms, call_at, sizeof call_at);
    snprintf(summary, sizeof summary, "HCP %s was followed up by rep %s with call %s on %s.",
             tp_rule_index_id(fb->hcp), call->rep_id, call->call_id, call_at);
    const tp_kv_t evidence[] = {
        { "resolution", "followed up" },
        { "call_id", call->call_id },
        { "rep_id", call->rep_id },
        { "call_at", call_at },
    };
    tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence,
                      sizeof evidence / sizeof evidence[0], event_id, ctx->now_ms);
}

static void s_on_call(s_state_t *s, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    const tp_call_t *call = ev->call;
    if (!ev->applied || call->status != TOUCHPOINT__V1__CALL_STATUS__CALL_STATUS_SUBMITTED)
        return;
    s_hcp_t *h = tp_rule_index_get_key(s->hcps, &ev->hcp, NULL);
    if (!h)
        return;
    /* Remember the call for feedback that reaches us after it (set before
     * the loop: it keeps h alive while its feedbacks are forgotten). */
    if (call->call_at_ms > h->last_call_at)
        h->last_call_at = call->call_at_ms;
    s_feedback_t *fb, *tmp;
    DL_FOREACH_SAFE(h->open, fb, tmp) {
        if (call->call_at_ms <= fb->at_ms)
            continue;
        if (fb->fired)
            s_resolve(ctx, fb, call, ev->env->event_id);
        s_forget(s, ctx, fb);
    }
    int64_t from = call->call_at_ms > call->version_ms ? call->call_at_ms : call->version_ms;
    int64_t keep_until =
        from + ctx->cfg->follow_up_missing.follow_up_within_ms + ctx->cfg->call_retention_ms;
    if (keep_until > h->keep_until)
        h->keep_until = keep_until;
    /* An armed "hcp/" deadline is moved on when it comes due (s_on_deadline),
     * not on every call (a lookup and a heap move per call): it only clears
     * this rule's memory of the call, at the same moment either way. */
    if (!h->armed_until)
        s_arm_memory(s, ctx, h);
}

static void s_on_event(void *state, const tp_rule_ctx_t *ctx, const tp_event_t *ev) {
    if (ev->env->payload_case == TOUCHPOINT__V1__ENVELOPE__PAYLOAD_FEEDBACK)
        s_on_feedback(state, ctx, ev);
    else if (ev->call)
        s_on_call(state, ctx, ev);
}

static void s_fire(const tp_rule_ctx_t *ctx, const s_feedback_t *fb) {
    const tp_config_t *cfg = ctx->cfg;
    char subject[16 + 128 + 1], summary[512], nps[8], effort[8], at[32], due[32], within[32];
    TP_STR_JOIN(subject, sizeof subject, "feedback/", fb->id);
    tp_format_time(fb->at_ms, at, sizeof at);
    tp_format_time(fb->due_ms, due, sizeof due);
    tp_format_duration(cfg->follow_up_missing.follow_up_within_ms, within, sizeof within);
    snprintf(nps, sizeof nps, "%d", fb->nps);
    snprintf(effort, sizeof effort, "%d", fb->effort);
    snprintf(summary, sizeof summary,
             "HCP %s gave detractor feedback on %s (%s %s) and got no submitted call within %s.",
             tp_rule_index_id(fb->hcp), at, fb->nps >= 0 ? "nps" : "effort_score",
             fb->nps >= 0 ? nps : effort, within);
    tp_kv_t evidence[10];
    size_t  n = 0;
    if (fb->nps >= 0)
        evidence[n++] = (tp_kv_t){ "nps", nps };
    if (fb->effort >= 0)
        evidence[n++] = (tp_kv_t){ "effort_score", effort };
    evidence[n++] = (tp_kv_t){ "feedback_id", fb->id };
    evidence[n++] = (tp_kv_t){ "feedback_at", at };
    evidence[n++] = (tp_kv_t){ "due_at", due };
    evidence[n++] = (tp_kv_t){ "follow_up_within", within };
    evidence[n++] = (tp_kv_t){ "comment", fb->comment };
    evidence[n++] = (tp_kv_t){ "subject_type", fb->subject_type };
    evidence[n++] = (tp_kv_t){ "subject_id", fb->subject_id };
    const tp_alert_spec_t spec = {
        .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
        .rule = RULE,
        .subject = subject,
        .severity = TOUCHPOINT__V1__SEVERITY__SEVERITY_WARNING,
        .hcp_id = tp_rule_index_id(fb->hcp),
        .summary = summary,
        .evidence = evidence,
        .n_evidence = n,
    };
    tp_rule_fire(ctx, &spec, fb->event_id);
}

static void s_expire(const tp_rule_ctx_t *ctx, const s_feedback_t *fb) {
    char subject[16 + 128 + 1], summary[256], after[32];
    TP_STR_JOIN(subject, sizeof subject, "feedback/", fb->id);
    tp_format_duration(EXPIRE_AFTER_MS, after, sizeof after);
    snprintf(summary, sizeof summary,
             "Feedback %s of HCP %s: still no follow-up %s after the deadline; no longer tracked.",
             fb->id, tp_rule_index_id(fb->hcp), after);
    const tp_kv_t evidence[] = { { "resolution", "expired" } };
    tp_alerts_resolve(ctx->alerts, RULE, subject, summary, evidence, 1, NULL, ctx->now_ms);
}

static void s_on_deadline(void *state, const tp_rule_ctx_t *ctx, const tp_deadline_t *d) {
    s_state_t  *s = state;
    const char *key = tp_deadline_key(d);
    if (strncmp(key, "hcp/", 4) == 0) {
        s_hcp_t *h = tp_rule_index_find(s->hcps, key + 4);
        if (!h)
            return;
        h->armed_until = 0; /* this deadline is gone */
        if (h->keep_until > d->timer.due_ms) {
            s_arm_memory(s, ctx, h); /* a later call moved it on */
            return;
        }
        h->last_call_at = h->keep_until = 0;
        s_hcp_release(s, h);
        return;
    }
    if (strncmp(key, "fb/", 3) != 0)
        return;
    s_feedback_t *fb;
    HASH_FIND_STR(s->feedbacks, key + 3, fb);
    if (!fb)
        return;
    if (fb->fired) {
        s_expire(ctx, fb);
        s_forget(s, ctx, fb);
        return;
    }
    s_fire(ctx, fb);
    fb->fired = true;
    if (tp_rule_arm(ctx, key, fb->due_ms + EXPIRE_AFTER_MS) < 0)
        s_forget(s, ctx, fb); /* cannot expire it later: stop tracking now */
}

static void s_free(void *state) {
    s_state_t *s = state;
    if (!s)
        return;
    TP_HASH_FREE_ALL(s->feedbacks, s_feedback_t);
    tp_rule_index_destroy(&s->hcps);
    free(s);
}

/* Snapshot: the HCPs (their last call) in insertion order, then the
 * tracked feedbacks in tracking order, each naming its HCP: appended to
 * their HCP's list again in that order, the lists come back as they were. */
static void s_hcp_save(const void *rec, tp_snapw_t *w) {
    tp_snapw_i64(w, ((const s_hcp_t *)rec)->last_call_at);
}

static int s_hcp_load(void *rec, tp_snapr_t *r, void *arg) {
    (void)arg;
    return tp_snapr_i64(r, &((s_hcp_t *)rec)->last_call_at);
}

static void s_save(const void *state, tp_snapw_t *w) {
    const s_state_t *s = state;
    tp_rule_index_save(s->hcps, w, s_hcp_save);
    tp_snapw_u64(w, HASH_COUNT(s->feedbacks));
    for (const s_feedback_t *fb = s->feedbacks; fb; fb = fb->hh.next) {
        tp_snapw_str(w, tp_rule_index_id(fb->hcp));
        tp_snapw_i64(w, fb->at_ms);
        tp_snapw_i64(w, fb->due_ms);
        tp_snapw_i64(w, fb->nps);
        tp_snapw_i64(w, fb->effort);
        tp_snapw_bool(w, fb->fired);
        const char *const strs[] = { fb->id, fb->event_id, fb->subject_type, fb->subject_id,
                                     fb->comment };
        for (size_t i = 0; i < 5; i++)
            tp_snapw_str(w, strs[i]);
    }
}

static int s_load(void *state, const tp_rule_ctx_t *ctx, tp_snapr_t *r) {
    (void)ctx;
    s_state_t *s = state;
    uint64_t   n = 0;
    int        k = tp_rule_index_load(s->hcps, r, s_hcp_load, NULL);
    if (k < 0 || (k = tp_snapr_u64(r, &n)) < 0)
        return k;
    for (uint64_t i = 0; i < n; i++) {
        char    hcp_id[4096], strs[5][4096];
        int64_t at = 0, due = 0, nps = 0, effort = 0;
        bool    fired = false;
        if ((k = tp_snapr_strbuf(r, hcp_id, sizeof hcp_id)) < 0)
            return k;
        tp_snapr_i64(r, &at);
        tp_snapr_i64(r, &due);
        tp_snapr_i64(r, &nps);
        tp_snapr_i64(r, &effort);
        tp_snapr_bool(r, &fired);
        size_t len = 0;
        for (size_t j = 0; j < 5; j++) {
            if ((k = tp_snapr_strbuf(r, strs[j], sizeof strs[j])) < 0)
                return k;
            len += strlen(strs[j]) + 1;
        }
        s_hcp_t *h = tp_rule_index_find(s->hcps, hcp_id);
        if ((k = tp_snapr_error(r)) < 0)
            return k;
        if (!h)
            return -EBADMSG;
        s_feedback_t *fb = calloc(1, sizeof *fb + len);
        if (!fb)
            return -ENOMEM;
        char *p = fb->id;
        s_put(&p, strs[0], SIZE_MAX);
        fb->event_id = s_put(&p, strs[1], SIZE_MAX);
        fb->subject_type = s_put(&p, strs[2], SIZE_MAX);
        fb->subject_id = s_put(&p, strs[3], SIZE_MAX);
        fb->comment = s_put(&p, strs[4], SIZE_MAX);
        fb->hcp = h;
        fb->at_ms = at;
        fb->due_ms = due;
        fb->nps = (int8_t)nps;
        fb->effort = (int8_t)effort;
        fb->fired = fired;
        HASH_ADD_KEYPTR(hh, s->feedbacks, fb->id, strlen(fb->id), fb);
        DL_APPEND(h->open, fb);
    }
    return 0;
}

const tp_rule_t tp_rule_follow_up_missing = {
    .name = RULE,
    .description =
        "a detractor feedback with no SUBMITTED call to the HCP within follow_up_within (7d)",
    .kind = TOUCHPOINT__V1__ALERT_KIND__ALERT_KIND_ACCOUNTABILITY,
    .events = TP_EV_CALL | TP_EV_FEEDBACK,
    .enabled = s_enabled,
    .init = s_init,
    .on_event = s_on_event,
    .on_deadline = s_on_deadline,
    .free = s_free,
    .save = s_save,
    .load = s_load,
};
